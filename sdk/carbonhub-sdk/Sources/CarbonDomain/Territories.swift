/// A French region, current or former (before the 2016 merger).
public struct Region: Sendable, Hashable {
  /// INSEE code, e.g. "32" (Hauts-de-France) or "22" (Picardie, former).
  public let code: String
  public let name: String
  /// True for a region that existed before 1 January 2016.
  public let isFormer: Bool
  /// For a former region, the code of the current region that absorbed it.
  public let successorCode: String?
}

/// A French department.
public struct Department: Sendable, Hashable {
  /// INSEE code, e.g. "02", "2A", "971".
  public let code: String
  public let name: String
  /// Code of its current region.
  public let regionCode: String
  /// Code of its region before 2016.
  public let formerRegionCode: String
}

/// The French administrative geography (regions, former regions, departments), from the
/// embedded data files `Data/regions.csv` and `Data/departments.csv` (INSEE COG).
public enum FrenchTerritories {
  /// Version of the territory data set, reported in traces.
  public static let dataSet: DataSetVersion = {
    var version = DataSetVersion()
    version.name = "insee-cog"
    version.version = "2024"
    version.source = "INSEE Code officiel géographique 2024 (regions, departments); COG 2015 (former regions)"
    return version
  }()

  /// Current regions (18).
  public static let regions: [Region] = allRegions.filter { !$0.isFormer }
  /// Regions before the 2016 merger (27).
  public static let formerRegions: [Region] = allRegions.filter { $0.isFormer }
  /// Departments (101).
  public static let departments: [Department] = {
    guard let table = try? ReferenceTable(bytes: PackageResources.departments_csv) else { return [] }
    return table.records.compactMap { r in
      guard let code = r["code"], let name = r["name"], let region = r["region"],
        let former = r["former_region"]
      else { return nil }
      return Department(code: code, name: name, regionCode: region, formerRegionCode: former)
    }
  }()

  /// The current region with this code.
  public static func region(code: String) -> Region? { regions.first { $0.code == code } }
  /// The former region with this code.
  public static func formerRegion(code: String) -> Region? {
    formerRegions.first { $0.code == code }
  }
  /// The department with this code ("2" is not "02": codes are exact).
  public static func department(code: String) -> Department? {
    departments.first { $0.code == code }
  }
  /// Departments of a current region.
  public static func departments(inRegion code: String) -> [Department] {
    departments.filter { $0.regionCode == code }
  }

  /// Whether a territory reference names a known region, former region or department, or has
  /// the right shape for an EPCI (9-digit SIREN) or commune (5-character INSEE code).
  public static func isKnown(_ territory: Territory) -> Bool {
    switch territory.kind {
    case .region: return region(code: territory.code) != nil
    case .formerRegion: return formerRegion(code: territory.code) != nil
    case .department: return department(code: territory.code) != nil
    case .epci: return territory.code.count == 9 && territory.code.allSatisfy(\.isNumber)
    case .commune:
      return territory.code.count == 5
        && territory.code.allSatisfy { $0.isNumber || $0 == "A" || $0 == "B" }
    case .country: return territory.code.isEmpty || territory.code == "FR"
    case .unspecified, .UNRECOGNIZED: return false
    }
  }

  private static let allRegions: [Region] = {
    guard let table = try? ReferenceTable(bytes: PackageResources.regions_csv) else { return [] }
    return table.records.compactMap { r in
      guard let code = r["code"], let kind = r["kind"], let name = r["name"] else { return nil }
      let successor = r["successor"].flatMap { $0.isEmpty ? nil : $0 }
      return Region(code: code, name: name, isFormer: kind == "former", successorCode: successor)
    }
  }()
}
