import CarbonDomain
import CarbonPluginKit

/// One IGN forest-inventory row (only rows with `surface_ic == "s"` are kept), per hectare.
struct ForestInventoryRow: Sendable, Equatable {
  /// Live carbon, t C/ha (`carbone_(tC∙ha-1)`).
  var liveCarbon: Double
  /// Dead-wood carbon, t C/ha (`bois_mort_carbone_(tC∙ha-1)`).
  var deadWoodCarbon: Double
  /// Net carbon balance, t C/ha/yr (`bilan_carbone_(tC∙ha-1∙an-1)` = production − mortality − removals).
  var carbonBalance: Double
  /// Removals (harvest), m³/ha/yr (`prelevement_volume_(m3∙ha-1∙an-1)`).
  var removalsVolume: Double
}

/// Key of an IGN row: location level, location code and composition.
struct ForestInventoryKey: Sendable, Hashable {
  var level: String
  var code: String
  var composition: String
  var name: String { "\(level)/\(code)/\(composition)" }
}

/// A forest subtype's IGN composition, BD Forêt column and harvest expansion factor.
struct ForestComposition: Sendable {
  var leaf: Leaf
  var ignComposition: String
  /// Stem (BFT) → total aerial volume (VAT) factor, used for the theoretical harvest only.
  var bftToVat: Double
}

/// Factors of an agricultural practice.
struct PracticeFactors: Sendable {
  /// Land use the flux is filed under (ALDO name: cultures, prairies, vignes, vergers).
  var landUse: String
  var soil: Double
  var biomass: Double
  /// False for the practices ALDO refuses (directSowing*).
  var inAldoList: Bool
}

/// Every reference value ALDO's flux and stocks use, loaded once from the embedded data files.
///
/// A request may replace any value by name (``apply(override:)``); the module works on a
/// copy, so the shared instance stays immutable.
struct AldoReferenceData: Sendable {
  /// Data-set version of every file (they come from one ALDO commit).
  static let version = "aldo-a8f42b2 (incubateur-ademe/aldo commit a8f42b2, 2024-11-18)"

  var constants: [String: Double] = [:]
  var constantUnits: [String: String] = [:]
  /// CLC codes of each leaf.
  var clcCodes: [Leaf: Set<String>] = [:]
  /// Soil-flux id (fluxId) and override id (altFluxId) of each leaf.
  var fluxId: [Leaf: String] = [:]
  var altFluxId: [Leaf: String] = [:]
  /// zpc → `<from>_<to>` column → soil unit flux (tC/ha/yr or tC/ha).
  var soilFlux: [String: [String: Double]] = [:]
  var soilFluxColumns: [String] = []
  /// zpc → land-use column → soil stock (tC/ha).
  var soilStocks: [String: [String: Double]] = [:]
  var soilStockColumns: [String] = []
  /// inter-region → column → value (stocks tC/ha, `<from> vers <to>` unit fluxes); empty cells absent.
  var biomass: [String: [String: Double]] = [:]
  var biomassColumns: [String] = []
  var biomassKeyReplacements: [String: String] = [:]
  /// INSEE region code → inter-region.
  var interRegionOfRegion: [String: String] = [:]
  var forestRows: [ForestInventoryKey: ForestInventoryRow] = [:]
  /// Location codes present in the IGN file, per level (any composition, any surface_ic).
  var forestCodes: [String: Set<String>] = [:]
  var compositions: [Leaf: ForestComposition] = [:]
  /// rad13 code → (% BO, % BI).
  var woodUse: [String: (sawnwood: Double, industrial: Double)] = [:]
  var practices: [String: PracticeFactors] = [:]
  /// Department → hedge carbon, tC/km (C_tot_km), for the rows ALDO's look-up finds.
  var hedgeCarbon: [String: Double] = [:]
  /// Department → carbone-haies.csv's row that ALDO's look-up misses (the file writes "2" and
  /// "3" for 02 and 03), with the file's key: as coded, those departments get the default per km.
  var hedgeRowsAldoMisses: [String: (fileKey: String, value: Double)] = [:]
  /// SIREN code → EPCI (epci.csv), to check a request's EPCI code and name the territory.
  var epcis: [String: Carbon_Aldo_V1_EpciInfo] = [:]
  /// INSEE region → IGN administrative region (rad13) and poplar basin, for the EPCI forest
  /// substitute (reference pack README §5.6 a).
  var regionForestCodes: [String: (rad13: String, bassin: String)] = [:]
  /// 2018 EPCI → its predecessors in ign19.csv (the two 2018 mergers, README §5.3).
  var epciPredecessors: [String: [String]] = [:]
  /// Arrondissement → its commune (Paris, Lyon, Marseille: clc18-change.csv uses arrondissements).
  var communeOfArrondissement: [String: String] = [:]
  /// The files of `Territory/` shipped beside the plugin, by file name, with their sha256.
  var territoryManifest: [String: Carbon_Aldo_V1_DataFile] = [:]
  /// Files loaded, for ListReferenceData and the trace.
  var files: [Carbon_Aldo_V1_DataFile] = []

  /// The embedded data, parsed once.
  static let embedded: Result<AldoReferenceData, ModuleError> = {
    do throws(ModuleError) { return .success(try AldoReferenceData(loadingEmbedded: ())) } catch {
      return .failure(error)
    }
  }()

  /// A constant by name (0 if absent; every name used by the code is checked at load time).
  func constant(_ name: String) -> Double { constants[name] ?? 0 }

  private init(loadingEmbedded: Void) throws(ModuleError) {
    let constantsTable = try table(PackageResources.aldo_constants_csv, "aldo-constants", "Data/aldo-constants.csv")
    for row in constantsTable.records {
      guard let name = row["name"], let value = Double(row["value"] ?? "") else { continue }
      constants[name] = value
      constantUnits[name] = row["unit"] ?? ""
    }
    for required in Self.requiredConstants where constants[required] == nil {
      throw .internal("Data/aldo-constants.csv lacks \(required)")
    }

    let landUses = try table(PackageResources.land_uses_csv, "aldo-land-uses", "Data/land-uses.csv")
    for row in landUses.records {
      guard let leaf = Leaf(rawValue: row["aldo_name"] ?? "") else { continue }
      clcCodes[leaf] = Set((row["clc_codes"] ?? "").split(separator: " ").map(String.init))
      fluxId[leaf] = row["flux_id"]
      altFluxId[leaf] = row["alt_flux_id"]
    }
    guard Leaf.allCases.allSatisfy({ fluxId[$0] != nil }) else {
      throw .internal("Data/land-uses.csv lacks a leaf land use")
    }

    let flux = try table(PackageResources.flux_zpc_csv, "aldo-flux-zpc", "Data/flux-zpc.csv")
    (soilFlux, soilFluxColumns) = Self.numericByKey(flux, key: "zpc")
    let stocks = try table(PackageResources.stocks_zpc_csv, "aldo-stocks-zpc", "Data/stocks-zpc.csv")
    (soilStocks, soilStockColumns) = Self.numericByKey(stocks, key: "zpc")
    let biomassTable = try table(
      PackageResources.biomass_hors_forets_csv, "aldo-biomass-hors-forets", "Data/biomass-hors-forets.csv")
    (biomass, biomassColumns) = Self.numericByKey(biomassTable, key: "INTER_REG")
    let replacements = try table(
      PackageResources.biomass_key_replacements_csv, "aldo-biomass-key-replacements",
      "Data/biomass-key-replacements.csv")
    for row in replacements.records {
      if let column = row["column"], let replacement = row["replaced_by"] { biomassKeyReplacements[column] = replacement }
    }
    let regions = try table(
      PackageResources.region_to_inter_region_csv, "aldo-region-to-inter-region", "Data/region-to-inter-region.csv")
    for row in regions.records {
      if let code = row["region_code"], let inter = row["inter_region"] { interRegionOfRegion[code] = inter }
    }

    let forest = try table(
      PackageResources.bilan_carbone_foret_par_localisation_csv, "ign-bilan-carbone-foret",
      "Data/bilan-carbone-foret-par-localisation.csv")
    for row in forest.records {
      let level = row["type_localisation"] ?? "", code = row["code_localisation"] ?? ""
      forestCodes[level, default: []].insert(code)
      guard row["surface_ic"] == "s",
        let live = Double(row["carbone_(tC∙ha-1)"] ?? ""),
        let dead = Double(row["bois_mort_carbone_(tC∙ha-1)"] ?? ""),
        let balance = Double(row["bilan_carbone_(tC∙ha-1∙an-1)"] ?? ""),
        let removals = Double(row["prelevement_volume_(m3∙ha-1∙an-1)"] ?? "")
      else { continue }
      let key = ForestInventoryKey(level: level, code: code, composition: row["composition"] ?? "")
      forestRows[key] = ForestInventoryRow(
        liveCarbon: live, deadWoodCarbon: dead, carbonBalance: balance, removalsVolume: removals)
    }
    let compositionTable = try table(
      PackageResources.forest_compositions_csv, "aldo-forest-compositions", "Data/forest-compositions.csv")
    for row in compositionTable.records {
      guard let leaf = Leaf(rawValue: row["aldo_name"] ?? ""), let factor = Double(row["bft_to_vat"] ?? "") else { continue }
      compositions[leaf] = ForestComposition(leaf: leaf, ignComposition: row["ign_composition"] ?? "", bftToVat: factor)
    }
    guard Leaf.forests.allSatisfy({ compositions[$0] != nil }) else {
      throw .internal("Data/forest-compositions.csv lacks a forest subtype")
    }
    for leaf in Leaf.forests {
      let composition = compositions[leaf]?.ignComposition ?? ""
      guard forestRows[ForestInventoryKey(level: "France", code: "France", composition: composition)] != nil else {
        throw .internal("Data/bilan-carbone-foret-par-localisation.csv lacks the France row of \(composition)")
      }
    }
    let wood = try table(
      PackageResources.proportion_usage_bois_par_region_csv, "aldo-proportion-usage-bois",
      "Data/proportion-usage-bois-par-region.csv")
    for row in wood.records {
      guard let code = row["code_localisation"], let bo = Double(row["% BO"] ?? ""), let bi = Double(row["% BI"] ?? "")
      else { continue }
      woodUse[code] = (bo, bi)
    }
    let practiceTable = try table(
      PackageResources.agricultural_practices_csv, "aldo-agricultural-practices", "Data/agricultural-practices.csv")
    for row in practiceTable.records {
      guard let name = row["practice"], let soil = Double(row["soil_t_c_per_ha_yr"] ?? ""),
        let biomass = Double(row["biomass_t_c_per_ha_yr"] ?? "")
      else { continue }
      practices[name] = PracticeFactors(
        landUse: row["land_use"] ?? "", soil: soil, biomass: biomass, inAldoList: row["in_aldo_practice_list"] == "yes")
    }
    let hedges = try table(PackageResources.carbone_haies_csv, "aldo-carbone-haies", "Data/carbone-haies.csv")
    for row in hedges.records {
      guard let dep = row["dep"], let value = Double(row["C_tot_km"] ?? "") else { continue }
      // The file writes Aisne and Allier without their leading zero ("2", "3"); ALDO looks them
      // up as "02" / "03", misses them and uses its default (its own export gives 02198 Clamecy
      // 101.347 t C/km). As coded, those rows are kept apart, used only through `hedge/02|03`.
      if dep.count == 1 { hedgeRowsAldoMisses["0" + dep] = (dep, value) } else { hedgeCarbon[dep] = value }
    }
    let epciTable = try table(PackageResources.epci_csv, "aldo-epci", "Data/epci.csv")
    for row in epciTable.records {
      guard let code = row["code"], !code.isEmpty else { continue }
      var epci = Carbon_Aldo_V1_EpciInfo()
      epci.siren = code
      epci.name = row["nom"] ?? ""
      epci.nature = row["nature"] ?? ""
      epci.communeCount = Int32(row["nombreCommunes"] ?? "") ?? 0
      epci.populationTotal = Int64(row["populationTotale"] ?? "") ?? 0
      epcis[code] = epci
    }
    let regionForest = try table(
      PackageResources.region_forest_codes_csv, "region-forest-codes", "Data/region-forest-codes.csv")
    for row in regionForest.records {
      guard let region = row["region_code"], let rad13 = row["rad13"], woodUse[rad13] != nil else {
        throw .internal("Data/region-forest-codes.csv: unknown rad13 in \(row)")
      }
      regionForestCodes[region] = (rad13, row["bassin_populicole"] ?? "")
    }
    let mergers = try table(PackageResources.epci_mergers_2018_csv, "epci-mergers-2018", "Data/epci-mergers-2018.csv")
    for row in mergers.records {
      if let epci = row["epci_2018"], let predecessor = row["predecessor"] { epciPredecessors[epci, default: []].append(predecessor) }
    }
    let arrondissements = try table(PackageResources.arrondissements_csv, "arrondissements", "Data/arrondissements.csv")
    for row in arrondissements.records {
      if let code = row["arrondissement"], let commune = row["commune"] { communeOfArrondissement[code] = commune }
    }
    let manifest = try table(PackageResources.territory_files_csv, "territory-files", "Data/territory-files.csv")
    for row in manifest.records {
      guard let file = row["file"], let sha = row["sha256"], sha.count == 64 else {
        throw .internal("Data/territory-files.csv: malformed row \(row)")
      }
      var entry = Carbon_Aldo_V1_DataFile()
      entry.name = row["name"] ?? file
      entry.file = "Territory/" + file
      entry.source = row["source"] ?? ""
      entry.version = row["version"] ?? Self.version
      entry.sha256 = sha
      territoryManifest[file] = entry
    }
  }

  /// Constants the code reads by name.
  static let requiredConstants = [
    "c_to_co2_factor", "n2o_gwp", "n2o_soil_c_to_n_ratio", "n2o_direct_emission_factor",
    "n2o_direct_n_to_n2o_factor_as_coded", "n2o_leaching_fraction", "n2o_leaching_emission_factor",
    "n2o_indirect_n_to_n2o_factor", "clc_years_between_inventories", "transition_years_default",
    "forest_litter_flux", "forest_litter_stock_density", "default_proportion_sealed",
    "wood_products_france_sink_bo", "wood_products_france_sink_bi", "wood_products_france_harvest_bo",
    "wood_products_france_harvest_bi", "france_total_population", "harvest_recovery_rate_stem",
    "harvest_recovery_rate_branches", "hedge_default_carbon_per_km", "n2o_gwp_ar5_corrected",
    "n2o_direct_n_to_n2o_factor_corrected",
  ]

  private mutating func register(_ table: ReferenceTable, _ name: String, _ file: String) {
    var entry = Carbon_Aldo_V1_DataFile()
    entry.name = name
    entry.file = file
    entry.source = table.comments.first(where: { $0.hasPrefix("source:") }).map { String($0.dropFirst(7)).trimmedSpaces } ?? ""
    entry.version = table.comments.first(where: { $0.hasPrefix("version:") }).map { String($0.dropFirst(8)).trimmedSpaces } ?? Self.version
    entry.rows = Int32(clamping: table.rows.count)
    files.append(entry)
  }

  private mutating func table(_ bytes: [UInt8], _ name: String, _ file: String) throws(ModuleError) -> ReferenceTable {
    do {
      let table = try ReferenceTable(bytes: bytes)
      register(table, name, file)
      return table
    } catch {
      throw .internal("\(file): \(error)")
    }
  }

  /// Rows keyed by one column; numeric cells only (empty cells are "no value").
  private static func numericByKey(_ table: ReferenceTable, key: String) -> ([String: [String: Double]], [String]) {
    var result: [String: [String: Double]] = [:]
    for row in table.records {
      guard let id = row[key] else { continue }
      var values: [String: Double] = [:]
      for (column, text) in row where column != key {
        if let value = Double(text) { values[column] = value }
      }
      result[id] = values
    }
    return (result, table.columns.filter { $0 != key })
  }
}

extension String {
  var trimmedSpaces: String {
    String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
  }
}
