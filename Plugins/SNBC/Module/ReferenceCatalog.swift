import Foundation
import CarbonDomain
import CarbonPluginKit

/// The guide's reference series (Annex I budgets and Annex II trajectories), loaded once
/// from the embedded data files `Data/snbc-series.csv` and `Data/snbc-annex-values.csv`.
struct ReferenceCatalog: Sendable {
  /// Id of the derived all-sectors AMS trajectory (sum of the Annex II sector totals,
  /// defined in `Data/snbc-combinations.csv`).
  static let allSectorsId = "all_sectors"

  /// Version of the embedded data, reported in every trace.
  static let dataSet: DataSetVersion = {
    var version = DataSetVersion()
    version.name = "snbc-annexes"
    version.version = "snbc2-guide-2021.2"
    version.source =
      "Guide national trajectoire de décarbonation (arrêté du 2 novembre 2021), Annexe I "
      + "(décret 2020-457 art. 4-6) and Annexe II (SECTEN 2020, AMS 2018); derived combinations "
      + "(all sectors, light vehicles) summed by the module"
    return version
  }()

  /// Every series in file order, the derived combinations last (in their file's order).
  let series: [ReferenceSeries]
  private let indexById: [String: Int]
  private let idByAlias: [String: String]

  /// The catalogue of the embedded files.
  static let shared: Result<ReferenceCatalog, ModuleError> = {
    do throws(ModuleError) {
      return .success(try ReferenceCatalog(
        seriesCSV: PackageResources.snbc_series_csv, valuesCSV: PackageResources.snbc_annex_values_csv,
        combinationsCSV: PackageResources.snbc_combinations_csv))
    } catch {
      return .failure(error)
    }
  }()

  /// Parses the three data files; a malformed file is a build defect (INTERNAL).
  init(seriesCSV: [UInt8], valuesCSV: [UInt8], combinationsCSV: [UInt8]) throws(ModuleError) {
    let catalogue: ReferenceTable
    let values: ReferenceTable
    let combinations: ReferenceTable
    do {
      catalogue = try ReferenceTable(bytes: seriesCSV)
      values = try ReferenceTable(bytes: valuesCSV)
      combinations = try ReferenceTable(bytes: combinationsCSV)
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
      item.labelFr = record["label_fr"] ?? ""
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
    for record in combinations.records {
      let combination = try Self.combination(record, from: list, index: index)
      guard index[combination.id] == nil else {
        throw .internal("snbc-combinations.csv: duplicate id \(combination.id)")
      }
      index[combination.id] = list.count
      for alias in combination.aliases { aliases[Self.normalise(alias)] = combination.id }
      list.append(combination)
    }
    guard index[Self.allSectorsId] != nil else { throw .internal("snbc-combinations.csv: no \(Self.allSectorsId)") }
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

  /// A derived series: the year-by-year sum of its components' AMS values. Summing
  /// trajectories weights each component's rate by its emissions, which is how the guide's
  /// aggregated references are built (Annex II totals are the sums of their sub-sectors):
  /// "all sectors" for composite categories (« tous secteurs confondus ») and « Transport
  /// routier – véhicules légers » (VP + VUL) for light vehicles. Only years printed for every
  /// component are kept.
  private static func combination(
    _ record: [String: String], from list: [ReferenceSeries], index: [String: Int]
  ) throws(ModuleError) -> ReferenceSeries {
    var item = ReferenceSeries()
    item.id = record["combination_id"] ?? ""
    item.label = record["label_en"] ?? ""
    item.labelFr = record["label_fr"] ?? ""
    item.sector = sectors[record["sector"] ?? ""] ?? .unspecified
    item.derived = true
    item.aliases = (record["aliases"] ?? "").split(separator: ";").map(String.init)
    item.componentIds = (record["components"] ?? "").split(separator: ";").map(String.init)
    guard !item.id.isEmpty, item.componentIds.count >= 2 else {
      throw .internal("snbc-combinations.csv: bad row \(record)")
    }
    var sums: [Int32: Double] = [:]
    var counts: [Int32: Int] = [:]
    var names: [String] = []
    for id in item.componentIds {
      guard let position = index[id], list.indices.contains(position) else {
        throw .internal("snbc-combinations.csv: unknown component \(id) of \(item.id)")
      }
      names.append(list[position].labelFr)
      for point in list[position].points where point.basis == .projectedAms2018 {
        sums[point.yearStart, default: 0] += point.valueMtCo2E
        counts[point.yearStart, default: 0] += 1
      }
    }
    for year in sums.keys.sorted() where counts[year] == item.componentIds.count {
      var point = SeriesPoint()
      point.yearStart = year
      point.yearEnd = year
      point.basis = .projectedAms2018
      point.valueMtCo2E = sums[year] ?? 0
      point.table = "derived: sum of " + item.componentIds.joined(separator: " + ") + " (Annexe II, AMS 2018)"
      point.labelFr = item.labelFr
      item.points.append(point)
    }
    guard item.points.count >= 2 else { throw .internal("snbc-combinations.csv: \(item.id) has no common years") }
    return item
  }
}
