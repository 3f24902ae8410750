import CarbonDomain
import CarbonPluginKit

typealias ClimateZone = Carbon_Esca_V1_ClimateZone
typealias SoilType = Carbon_Esca_V1_SoilType
typealias CroplandUse = Carbon_Esca_V1_CroplandUse
typealias Tillage = Carbon_Esca_V1_Tillage
typealias InputLevel = Carbon_Esca_V1_InputLevel

/// Keys shared by the data files and the proto enums (the CSV spelling of each value).
extension ClimateZone {
  /// Key in the IPCC data files, nil for unspecified/unknown values.
  var dataKey: String? {
    switch self {
    case .warmTemperateMoist: return "warm_temperate_moist"
    case .warmTemperateDry: return "warm_temperate_dry"
    case .coolTemperateMoist: return "cool_temperate_moist"
    case .coolTemperateDry: return "cool_temperate_dry"
    case .borealMoist: return "boreal_moist"
    case .borealDry: return "boreal_dry"
    case .tropicalMoist: return "tropical_moist"
    case .tropicalWet: return "tropical_wet"
    case .tropicalDry: return "tropical_dry"
    case .tropicalMontane: return "tropical_montane"
    case .unspecified, .UNRECOGNIZED: return nil
    }
  }
}

extension SoilType {
  /// Key in the SOC_REF data file.
  var dataKey: String? {
    switch self {
    case .highActivityClay: return "high_activity_clay"
    case .lowActivityClay: return "low_activity_clay"
    case .sandy: return "sandy"
    case .spodic: return "spodic"
    case .volcanic: return "volcanic"
    case .wetland: return "wetland"
    case .unspecified, .UNRECOGNIZED: return nil
    }
  }
}

extension CroplandUse {
  /// Key of the F_LU level.
  var dataKey: String? {
    switch self {
    case .longTermCultivated: return "long_term_cultivated"
    case .perennialTreeCrop: return "perennial_tree_crop"
    case .paddyRice: return "paddy_rice"
    case .setAside: return "set_aside"
    case .unspecified, .UNRECOGNIZED: return nil
    }
  }
}

extension Tillage {
  /// Key of the F_MG level.
  var dataKey: String? {
    switch self {
    case .full: return "full_tillage"
    case .reduced: return "reduced_tillage"
    case .noTill: return "no_till"
    case .unspecified, .UNRECOGNIZED: return nil
    }
  }
}

extension InputLevel {
  /// Key of the F_I level.
  var dataKey: String? {
    switch self {
    case .low: return "low"
    case .medium: return "medium"
    case .highWithoutManure: return "high_without_manure"
    case .highWithManure: return "high_with_manure"
    case .unspecified, .UNRECOGNIZED: return nil
    }
  }
}

/// One row of Annex 3 (regional CSR table).
struct RegionalCsrRow: Sendable {
  let code: String
  let printedName: String
  let maximum: Double
  let minimum: Double
  let median: Double
  let mean: Double
}

/// The module's reference data, parsed once from the embedded data files.
struct ReferenceData: Sendable {
  /// SOC_REF, t C/ha, by "climate|soil".
  let socRef: [String: Double]
  /// Stock-change factors by "factor|level|climate".
  let factors: [String: Double]
  /// SOC_REF by integer key (climate, soil raw values) for cheap lookups in batches.
  let socRefByKey: [Int: Double]
  /// Factors by integer key (factor, level raw value, climate raw value).
  let factorsByKey: [Int: Double]
  /// Annex 3 rows by former-region code.
  let regional: [String: RegionalCsrRow]
  /// Data set descriptions for traces.
  let socRefDataSet: DataSetVersion
  let factorsDataSet: DataSetVersion
  let regionalDataSet: DataSetVersion

  /// Loads and checks every data file; a malformed file is a module defect (INTERNAL).
  static func load() throws(ModuleError) -> ReferenceData {
    let soc = try table(PackageResources.ipcc_2019_soc_ref_csv, "ipcc-2019-soc-ref.csv")
    let fac = try table(PackageResources.ipcc_2019_cropland_factors_csv, "ipcc-2019-cropland-factors.csv")
    let reg = try table(PackageResources.esca_annex3_regional_csr_csv, "esca-annex3-regional-csr.csv")

    var socRef: [String: Double] = [:]
    for record in soc.records {
      guard let climate = record["climate_region"], let soil = record["soil_type"],
        let value = record["soc_ref_t_c_per_ha"].flatMap(Double.init)
      else { throw .internal("ipcc-2019-soc-ref.csv: malformed row \(record)") }
      socRef["\(climate)|\(soil)"] = value
    }
    var factors: [String: Double] = [:]
    let climateColumns = fac.columns.dropFirst(2)
    for record in fac.records {
      guard let factor = record["factor"], let level = record["level"] else {
        throw .internal("ipcc-2019-cropland-factors.csv: malformed row \(record)")
      }
      for climate in climateColumns {
        guard let value = record[climate].flatMap(Double.init) else {
          throw .internal("ipcc-2019-cropland-factors.csv: \(factor) \(level) \(climate) is not a number")
        }
        factors["\(factor)|\(level)|\(climate)"] = value
      }
    }
    var regional: [String: RegionalCsrRow] = [:]
    for record in reg.records {
      guard let code = record["former_region_code"], let name = record["printed_name"],
        let maximum = record["maximum_t_c_per_ha"].flatMap(Double.init),
        let minimum = record["minimum_t_c_per_ha"].flatMap(Double.init),
        let median = record["median_t_c_per_ha"].flatMap(Double.init),
        let mean = record["mean_t_c_per_ha"].flatMap(Double.init), minimum <= maximum
      else { throw .internal("esca-annex3-regional-csr.csv: malformed row \(record)") }
      regional[code] = RegionalCsrRow(
        code: code, printedName: name, maximum: maximum, minimum: minimum, median: median, mean: mean)
    }
    // An empty table means a broken data file (e.g. CRLF line ends), never a valid state.
    guard !socRef.isEmpty, !factors.isEmpty, !regional.isEmpty else {
      throw .internal("ESCA reference data files parsed empty (SOC_REF \(socRef.count), factors \(factors.count), Annex 3 \(regional.count))")
    }
    var socRefByKey: [Int: Double] = [:]
    var factorsByKey: [Int: Double] = [:]
    for climate in ClimateZone.allCases {
      guard let c = climate.dataKey else { continue }
      for soil in SoilType.allCases {
        if let s = soil.dataKey, let value = socRef["\(c)|\(s)"] { socRefByKey[key(climate, soil)] = value }
      }
      for use in CroplandUse.allCases {
        if let l = use.dataKey, let value = factors["F_LU|\(l)|\(c)"] { factorsByKey[key(.landUse, use.rawValue, climate)] = value }
      }
      for tillage in Tillage.allCases {
        if let l = tillage.dataKey, let value = factors["F_MG|\(l)|\(c)"] { factorsByKey[key(.tillage, tillage.rawValue, climate)] = value }
      }
      for input in InputLevel.allCases {
        if let l = input.dataKey, let value = factors["F_I|\(l)|\(c)"] { factorsByKey[key(.input, input.rawValue, climate)] = value }
      }
    }
    return ReferenceData(
      socRef: socRef, factors: factors, socRefByKey: socRefByKey, factorsByKey: factorsByKey, regional: regional,
      socRefDataSet: dataSet("ipcc-2019-soc-ref", soc),
      factorsDataSet: dataSet("ipcc-2019-cropland-factors", fac),
      regionalDataSet: dataSet("2bs-esca-annex3-regional-csr", reg))
  }

  /// The three stock-change factors of IPCC Table 5.5.
  enum Factor: Int {
    case landUse = 1, tillage, input
    /// Its name in the data file and traces.
    var name: String { self == .landUse ? "F_LU" : self == .tillage ? "F_MG" : "F_I" }
  }

  private static func key(_ climate: ClimateZone, _ soil: SoilType) -> Int { climate.rawValue << 8 | (soil.rawValue & 0xFF) }
  private static func key(_ factor: Factor, _ level: Int, _ climate: ClimateZone) -> Int {
    factor.rawValue << 24 | (level & 0xFF) << 16 | (climate.rawValue & 0xFFFF)
  }

  /// SOC_REF for a climate and soil, nil when the table has no value.
  func socRef(_ climate: ClimateZone, _ soil: SoilType) -> Double? {
    socRefByKey[Self.key(climate, soil)]
  }

  /// A stock-change factor for a level (raw value of its enum) and climate.
  func factor(_ factor: Factor, _ level: Int, _ climate: ClimateZone) -> Double? {
    factorsByKey[Self.key(factor, level, climate)]
  }

  private static func table(_ bytes: [UInt8], _ file: String) throws(ModuleError) -> ReferenceTable {
    do {
      return try ReferenceTable(bytes: bytes)
    } catch {
      throw .internal("\(file): \(error)")
    }
  }

  /// Builds a data-set description from the file's `# source:` and `# version:` lines.
  private static func dataSet(_ name: String, _ table: ReferenceTable) -> DataSetVersion {
    var version = DataSetVersion()
    version.name = name
    let versions = table.comments.filter { $0.hasPrefix("version:") }
    version.version = versions.first.map { String($0.dropFirst("version:".count)).trimmed } ?? ""
    version.source = table.comments.filter { $0.hasPrefix("source:") }
      .map { String($0.dropFirst("source:".count)).trimmed }.joined(separator: "; ")
    return version
  }
}

extension String {
  /// Without leading and trailing spaces.
  var trimmed: String {
    String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
  }
}
