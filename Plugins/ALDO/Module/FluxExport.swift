import CarbonDomain
import CarbonPluginKit
import Foundation

/// ExportFlux: the diagnostic as files planners use (issue 18 point 4), written with the plugin
/// kit's CSV writer (dialects, formula neutralisation) and xlsx workbook.
extension AldoModule {
  /// The 35 columns of ALDO's open-data flux export (export-flux-commune-34201.csv, generated
  /// by ALDO's scripts/csv-generation.js in July 2023), in its order and spelling.
  static let openDataFluxColumns = [
    "insee", "nom", "epci", "departement", "region", "zpc", "inter_region", "groupe_ser", "greco", "rad_13",
    "bassin_populicole", "population", "gaz", "reservoir", "usage_produits_bois", "approche_calculation_produits_bois",
    "recolte_locale_m3_an-1", "ratio_recolte_France", "ratio_population_France", "occupation_du_sol_initiale_1",
    "occupation_du_sol_initiale_2", "occupation_du_sol_finale_1", "occupation_du_sol_finale_2",
    "surface_moyenne_convertie_ha_an-1", "occupation_du_sol_1", "occupation_du_sol_2", "surface_ha",
    "accroissement_biologique_unitaire_m3_BFT_ha-1_an-1", "mortalite_biologique_unitaire_m3_BFT_ha-1_an-1",
    "prelevements_de_bois_unitaire_m3_BFT_ha-1_an-1", "prelevements_de_bois_unitaire_m3_BFT_ha-1_an-1",
    "bilan_total_unitaire_m3_BFT_ha-1_an-1", "facteur_de_conversion_tC_m3_BFT-1", "flux_unitaire_tCO2e_ha-1_an-1",
    "flux_tCO2e_an-1",
  ]

  public func exportFlux(_ request: Carbon_Aldo_V1_ExportFluxRequest) throws(ModuleError) -> Carbon_Aldo_V1_ExportFluxResponse {
    guard [.csv, .xlsx].contains(request.format) else {
      throw .invalidArgument("format", "must be EXPORT_FORMAT_CSV or EXPORT_FORMAT_XLSX")
    }
    let dialect: CSVDialect
    switch request.csvDialect {
    case .unspecified, .standard: dialect = .standard
    case .frenchSpreadsheet: dialect = .frenchSpreadsheet
    default: throw .invalidArgument("csv_dialect", "has an unknown value \(request.csvDialect.rawValue)")
    }
    guard request.hasFlux else { throw .invalidArgument("flux", "is required (parts or territory)") }
    var trace = newTrace()
    let outcome = try fluxOutcome(request.flux, field: "flux.", trace: &trace)
    let detail = try openDataTable(outcome)
    var response = Carbon_Aldo_V1_ExportFluxResponse()
    response.balance = outcome.response.balance
    response.rows = Int32(clamping: detail.rows.count)
    let stem = Self.fileStem(outcome.response)
    trace.decision(
      "export_sign", "negative = net sequestration",
      reason: "every flux column follows the module's convention (the seed's); ALDO's own open-data files use the opposite sign")
    do throws(ExportError) {
      if request.format == .csv {
        response.content = Data(try CSVWriter.text(of: detail, dialect: dialect).utf8)
        response.fileName = stem + ".csv"
        response.mediaType = "text/csv; charset=utf-8"
        trace.decision("export_format", "CSV \(dialect.name)", reason: "requested; ALDO's open-data flux layout, 35 columns")
      } else {
        let sheets = [summarySheet(outcome.response), communeSheet(outcome), detail, Self.traceSheet(trace.build())]
        response.content = Data(try XLSXWorkbook(sheets: sheets).data())
        response.fileName = stem + ".xlsx"
        response.mediaType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        trace.decision("export_format", "XLSX", reason: "requested; sheets Synthèse, Communes, Détail, Trace")
      }
    } catch {
      throw error.moduleError
    }
    response.trace = trace.build()
    return response
  }

  /// "aldo-flux-<territory>", file-name safe.
  static func fileStem(_ response: Carbon_Aldo_V1_ComputeFluxResponse) -> String {
    let name = response.territoryName.isEmpty ? "territoire" : response.territoryName
    let safe = name.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil).lowercased()
      .map { $0.isLetter || $0.isNumber ? $0 : "-" }
    let collapsed = String(safe).split(separator: "-").prefix(8).joined(separator: "-")
    return "aldo-flux-" + collapsed
  }

  /// One row per part, gas, pool and land-use pair, in ALDO's open-data layout.
  func openDataTable(_ outcome: FluxOutcome) throws(ModuleError) -> ExportTable {
    var table = ExportTable(name: "Détail", header: Self.openDataFluxColumns)
    let partsByName = Dictionary(outcome.parts.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    let communeOf = outcome.territory?.communeOfPart ?? [:]
    let reference = outcome.territory == nil ? nil : try territoryReference()
    let wood = outcome.response.woodProducts
    let co2PerC = data.constant("c_to_co2_factor")
    for item in outcome.items {
      var row = [ExportCell](repeating: .empty, count: Self.openDataFluxColumns.count)
      func set(_ column: String, _ cell: ExportCell) {
        if let index = Self.openDataFluxColumns.firstIndex(of: column) { row[index] = cell }
      }
      let part = partsByName[item.part]
      if let commune = communeOf[item.part] {
        set("insee", .text(commune.insee))
        set("nom", .text(commune.name))
        set("epci", .text(commune.epci))
        set("departement", .text(reference?.communes[commune.insee]?.department ?? ""))
      } else {
        set("nom", .text(item.part))
      }
      if let part {
        set("region", .text(part.regionCode))
        set("zpc", .text(part.zone))
        set("inter_region", .text(part.interRegion))
        if let stand = part.stands.first {
          set("groupe_ser", .text(stand.groupeser))
          set("greco", .text(stand.greco))
          set("rad_13", .text(stand.rad13))
          set("bassin_populicole", .text(stand.bassinPopulicole))
        }
        if part.population > 0 { set("population", .number(part.population, decimals: 0)) }
      }
      let flux = ObservatorySign.flux(fromStored: item.storedCo2e)
      switch item.pool {
      case .woodProductsSawnwood, .woodProductsIndustrial:
        let sawnwood = item.pool == .woodProductsSawnwood
        set("gaz", "CO2")
        set("reservoir", "produits bois")
        set("usage_produits_bois", .text(sawnwood ? "BO" : "BI"))
        if wood.method == .population {
          set("approche_calculation_produits_bois", "consommmation")  // ALDO's spelling in its export
          set("ratio_population_France", .number(sawnwood ? wood.sawnwoodShareFraction : wood.industrialShareFraction))
        } else {
          set("approche_calculation_produits_bois", "production")
          set("recolte_locale_m3_an-1", .number(sawnwood ? wood.harvestSawnwoodM3PerYr : wood.harvestIndustrialM3PerYr))
          set("ratio_recolte_France", .number(sawnwood ? wood.sawnwoodShareFraction : wood.industrialShareFraction))
        }
      case .forestGrowth:
        set("gaz", "C")
        set("reservoir", "biomasse vivante")
        if let to = item.to {
          set("occupation_du_sol_1", .text(to.group.label.lowercased()))
          set("occupation_du_sol_2", .text(to.aldoName))
        }
        set("surface_ha", .number(item.area))
        set("flux_unitaire_tCO2e_ha-1_an-1", .number(ObservatorySign.flux(fromStored: item.unit * co2PerC)))
      default:
        set("gaz", .text(item.pool == .n2O ? "N2O" : "C"))
        set("reservoir", .text(Self.reservoirName(item.pool)))
        if let from = item.from {
          set("occupation_du_sol_initiale_1", .text(from.group.label.lowercased()))
          set("occupation_du_sol_initiale_2", .text(from.aldoName))
        }
        if let to = item.to {
          set("occupation_du_sol_finale_1", .text(to.group.label.lowercased()))
          set("occupation_du_sol_finale_2", .text(to.aldoName))
        } else if item.practice != .unspecified {
          set("occupation_du_sol_finale_1", .text(item.group.label.lowercased()))
          set("occupation_du_sol_finale_2", .text("pratique \(item.practice)"))
        }
        if item.practice != .unspecified {
          // A practice's area is ha (no change per year): ALDO's ha column, not the ha/yr one.
          set("surface_ha", .number(item.area))
        } else {
          set("surface_moyenne_convertie_ha_an-1", .number(item.area))
        }
        // ALDO's unit flux is the reference unit × 44/12, without the years factor (its export for
        // 34201: soil cultures → prairies zones arborées 0.88 = 0.24 × 44/12, litter 33 = 9 × 44/12).
        // An N2O row has no unit per ha (ALDO's file has no N2O rows): left empty.
        if item.pool != .n2O { set("flux_unitaire_tCO2e_ha-1_an-1", .number(ObservatorySign.flux(fromStored: item.unit * co2PerC))) }
      }
      set("flux_tCO2e_an-1", .number(flux))
      table.append(row)
    }
    return table
  }

  /// ALDO's reservoir names (« sol », « litière », « biomasse vivante »).
  static func reservoirName(_ pool: Carbon_Aldo_V1_Pool) -> String {
    switch pool {
    case .soil, .practiceSoil, .n2O: "sol"
    case .litter: "litière"
    default: "biomasse vivante"
    }
  }

  /// The seed's table: one row per land-use group, then the totals, then what the figures are.
  func summarySheet(_ response: Carbon_Aldo_V1_ComputeFluxResponse) -> ExportTable {
    var sheet = ExportTable(
      name: "Synthèse", header: ["Occupation du sol", "Flux net (t CO2e/an)", "Part de la séquestration", "Part des émissions"])
    for row in response.balance.landUses {
      sheet.append([
        .text(row.label), .number(row.netFluxTCo2EPerYr, decimals: 0), .number(row.sequestrationShareFraction, decimals: 4),
        .number(row.emissionShareFraction, decimals: 4),
      ])
    }
    sheet.append([])
    sheet.append([.text("Séquestration (Σ flux négatifs)"), .number(response.balance.sequesteredTCo2EPerYr, decimals: 0)])
    sheet.append([.text("Émissions (Σ flux positifs)"), .number(response.balance.emittedTCo2EPerYr, decimals: 0)])
    sheet.append([.text("Bilan net"), .number(response.balance.netTCo2EPerYr, decimals: 0)])
    sheet.append([])
    sheet.append([.text("Territoire"), .text(response.territoryName)])
    sheet.append([.text("Convention de signe"), .text("négatif = séquestration nette, positif = émission nette")])
    sheet.append([.text("Période"), .text("moyenne annuelle 2012-2018 (CORINE Land Cover)")])
    sheet.append([.text("Données"), .text(response.dataSetVersion)])
    if response.hasTerritory {
      sheet.append([.text("Forêt"), .text("\(response.territory.forestStatus): \(response.territory.forestMethod)")])
    }
    return sheet
  }

  /// Net flux per commune (or part) and group; forest growth and wood products of the EPCI
  /// substitute are EPCI-level and appear under their EPCI's row.
  func communeSheet(_ outcome: FluxOutcome) -> ExportTable {
    let groups = Carbon_Aldo_V1_LandUseGroup.balanceOrder
    var sheet = ExportTable(
      name: "Communes", header: ["INSEE", "Commune / partie", "EPCI"] + groups.map { "\($0.label) (t CO2e/an)" } + ["Total (t CO2e/an)"])
    var order: [String] = []
    var sums: [String: [Carbon_Aldo_V1_LandUseGroup: Double]] = [:]
    for item in outcome.items {
      let key = item.part.isEmpty ? "Territoire (produits bois, pratiques)" : item.part
      if sums[key] == nil { order.append(key) }
      sums[key, default: [:]][item.group, default: 0] += ObservatorySign.flux(fromStored: item.storedCo2e)
    }
    let communeOf = outcome.territory?.communeOfPart ?? [:]
    for key in order {
      let values = sums[key] ?? [:]
      let commune = communeOf[key]
      var row: [ExportCell] = [.text(commune?.insee ?? ""), .text(commune?.name ?? key), .text(commune?.epci ?? "")]
      row += groups.map { .number(values[$0] ?? 0) }
      // The row's own cells, in column order: the same bits in every process.
      row.append(.number(values.sorted { $0.key.rawValue < $1.key.rawValue }.reduce(0) { $0 + $1.value }))
      sheet.append(row)
    }
    return sheet
  }

  /// Every decision, rule, warning, data set and term of the trace, one per row.
  static func traceSheet(_ trace: Carbon_Domain_V1_CalculationTrace) -> ExportTable {
    var sheet = ExportTable(name: "Trace", header: ["Type", "Nom", "Valeur", "Détail"])
    sheet.append([.text("méthode"), .text(trace.method), .text(trace.methodVersion)])
    for set in trace.dataSets { sheet.append([.text("données"), .text(set.name), .text(set.version), .text(set.source)]) }
    for decision in trace.decisions {
      sheet.append([.text("décision"), .text(decision.rule), .text(decision.choice), .text(decision.reason)])
    }
    for rule in trace.rules { sheet.append([.text("règle"), .text(rule.rule), .empty, .text(rule.effect)]) }
    for warning in trace.warnings { sheet.append([.text("avertissement"), .empty, .empty, .text(warning)]) }
    for term in trace.terms {
      sheet.append([.text("terme"), .text(term.name), term.value.isFinite ? .number(term.value) : .empty, .text(term.formula)])
    }
    return sheet
  }
}
