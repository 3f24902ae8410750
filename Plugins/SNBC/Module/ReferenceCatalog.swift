import Foundation
import CarbonDomain
import CarbonPluginKit

/// The guide's reference series (Annex I budgets and Annex II trajectories), loaded once
/// from the embedded data files `Data/snbc-series.csv` and `Data/snbc-annex-values.csv`.
struct ReferenceCatalog: Sendable {
  /// Id of the derived all-sectors AMS trajectory (sum of the Annex II sector totals).
  static let allSectorsId = "all_sectors"
  /// The Annex II sector totals summed into ``allSectorsId`` (LULUCF and bunkers excluded).
  static let allSectorsComponents = [
    "transport", "buildings", "agriculture", "industry", "energy_production", "waste",
  ]

  /// Version of the embedded data, reported in every trace.
  static let dataSet: DataSetVersion = {
    var version = DataSetVersion()
    version.name = "snbc-annexes"
    version.version = "snbc2-guide-2021.1"
    version.source =
      "Guide national trajectoire de décarbonation (arrêté du 2 novembre 2021), Annexe I "
      + "(décret 2020-457 art. 4-6) and Annexe II (SECTEN 2020, AMS 2018)"
    return version
  }()

  /// Every series in file order, the derived all-sectors series last.
  let series: [ReferenceSeries]
  private let indexById: [String: Int]
  private let idByAlias: [String: String]

  /// The catalogue of the embedded files.
  static let shared: Result<ReferenceCatalog, ModuleError> = {
    do throws(ModuleError) {
      return .success(try ReferenceCatalog(
        seriesCSV: PackageResources.snbc_series_csv, valuesCSV: PackageResources.snbc_annex_values_csv))
    } catch {
      return .failure(error)
    }
  }()

  /// Parses the two data files; a malformed file is a build defect (INTERNAL).
  init(seriesCSV: [UInt8], valuesCSV: [UInt8]) throws(ModuleError) {
    let catalogue: ReferenceTable
    let values: ReferenceTable
    do {
      catalogue = try ReferenceTable(bytes: seriesCSV)
      values = try ReferenceTable(bytes: valuesCSV)
    } catch {
      throw .internal("embedded SNBC data file is malformed: \(error)")
    }
    var list: [ReferenceSeries] = []
    var index: [String: Int] = [:]
    var aliases: [String: String] = [:]
    for record in catalogue.records {
      var item = ReferenceSeries()
      item.id = record["series_id"] ?? ""
      item.label = record["label_en"] ?? ""
      item.sector = Self.sectors[record["sector"] ?? ""] ?? .unspecified
      item.parentID = record["parent_id"] ?? ""
      item.gas = Self.gases[record["gas"] ?? ""] ?? .unspecified
      item.outsideBudgets = record["outside_budgets"] == "true"
      item.aliases = (record["aliases"] ?? "").split(separator: ";").map(String.init)
      guard !item.id.isEmpty, index[item.id] == nil else {
        throw .internal("snbc-series.csv: empty or duplicate id \(item.id)")
      }
      index[item.id] = list.count
      for alias in item.aliases { aliases[Self.normalise(alias)] = item.id }
      list.append(item)
    }
    for record in values.records {
      guard let id = record["series_id"], let position = index[id],
        let basis = Self.bases[record["basis"] ?? ""],
        let start = Int32(record["year_start"] ?? ""), let end = Int32(record["year_end"] ?? ""),
        let value = Double(record["value_mt_co2e"] ?? ""), value.isFinite
      else { throw .internal("snbc-annex-values.csv: bad row \(record)") }
      var point = SeriesPoint()
      point.yearStart = start
      point.yearEnd = end
      point.basis = basis
      point.valueMtCo2E = value
      point.table = record["table"] ?? ""
      point.labelFr = record["label_fr"] ?? ""
      list[position].points.append(point)
    }
    list.append(try Self.allSectors(from: list, index: index))
    index[Self.allSectorsId] = list.count - 1
    aliases[Self.normalise("tous secteurs")] = Self.allSectorsId
    series = list
    indexById = index
    idByAlias = aliases
  }

  /// The series with this id or alias (case and accents of aliases as written), or nil.
  func lookup(_ idOrAlias: String) -> ReferenceSeries? {
    let key = idOrAlias.trimmingCharacters(in: .whitespaces)
    if let position = indexById[key], series.indices.contains(position) { return series[position] }
    if let id = idByAlias[Self.normalise(key)], let position = indexById[id],
      series.indices.contains(position)
    {
      return series[position]
    }
    return nil
  }

  /// The Annex II total of a domain SNBC sector.
  static func sectorTotalId(_ sector: SnbcSector) -> String? {
    switch sector {
    case .transport: return "transport"
    case .buildings: return "buildings"
    case .agriculture: return "agriculture"
    case .industry: return "industry"
    case .energyProduction: return "energy_production"
    case .waste: return "waste"
    case .lulucf: return "lulucf"
    default: return nil
    }
  }

  /// The Annex I budget series of the sector a series belongs to (nil for bunkers).
  func budgetSeries(for series: ReferenceSeries) -> ReferenceSeries? {
    if series.id == Self.allSectorsId { return lookup("budget.all_excl_lulucf") }
    if series.id.hasPrefix("budget.") { return series }
    switch series.sector {
    case .transport: return lookup("budget.transport")
    case .buildings: return lookup("budget.buildings")
    case .agriculture: return lookup("budget.agriculture")
    case .industry: return lookup("budget.industry")
    case .energyProduction: return lookup("budget.energy_production")
    case .waste: return lookup("budget.waste")
    case .lulucf: return lookup("budget.lulucf")
    default: return nil
    }
  }

  // MARK: - Parsing helpers

  private static let sectors: [String: SnbcSector] = [
    "TRANSPORT": .transport, "BUILDINGS": .buildings, "AGRICULTURE": .agriculture,
    "INDUSTRY": .industry, "ENERGY_PRODUCTION": .energyProduction, "WASTE": .waste,
    "LULUCF": .lulucf,
  ]
  private static let gases: [String: Gas] = [
    "CO2": .co2, "CH4": .ch4, "N2O": .n2O, "FLUORINATED_CO2E": .fluorinatedCo2E,
  ]
  private static let bases: [String: SeriesBasis] = [
    "HISTORICAL": .historical, "BUDGET_PERIOD_AVERAGE": .budgetPeriodAverage,
    "INDICATIVE_ANNUAL_PART": .indicativeAnnualPart, "OBSERVED_SECTEN_2020": .observedSecten2020,
    "PROJECTED_AMS_2018": .projectedAms2018,
  ]

  /// Aliases compare lower-cased and trimmed.
  static func normalise(_ text: String) -> String {
    text.lowercased().trimmingCharacters(in: .whitespaces)
  }

  /// The derived all-sectors AMS trajectory: the guide prints no national AMS total, so the
  /// six Annex II sector totals (excluding LULUCF, hence gross like the budgets "hors UTCATF")
  /// are summed year by year. Composite categories ("tous secteurs confondus") compare with it.
  private static func allSectors(
    from list: [ReferenceSeries], index: [String: Int]
  ) throws(ModuleError) -> ReferenceSeries {
    var years: [Int32: Double] = [:]
    for id in allSectorsComponents {
      guard let position = index[id], list.indices.contains(position) else {
        throw .internal("snbc data: missing sector total \(id)")
      }
      for point in list[position].points where point.basis == .projectedAms2018 {
        years[point.yearStart, default: 0] += point.valueMtCo2E
      }
    }
    var item = ReferenceSeries()
    item.id = allSectorsId
    item.label = "All sectors excl. LULUCF (AMS 2018, sum of the Annex II sector totals)"
    item.derived = true
    item.aliases = ["tous secteurs"]
    for year in years.keys.sorted() {
      var point = SeriesPoint()
      point.yearStart = year
      point.yearEnd = year
      point.basis = .projectedAms2018
      point.valueMtCo2E = years[year] ?? 0
      point.table = "derived: sum of Annexe II sector totals (II.1 to II.6)"
      point.labelFr = "Tous secteurs (somme des totaux sectoriels, hors UTCATF)"
      item.points.append(point)
    }
    return item
  }
}
