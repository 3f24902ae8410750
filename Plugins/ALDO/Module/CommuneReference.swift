import CarbonDomain
import CarbonPluginKit
import Foundation

/// Commune-level ALDO data too big to embed (zpc.csv 350 KB, communes_17122018.csv 1.3 MB,
/// clc18-change.csv 1.1 MB), read once at start-up from the directory named by the module
/// configuration `reference_dir`. Without it, a request gives zones, regions and changes itself.
struct CommuneReference: Sendable {
  /// A commune of ALDO's list.
  struct Commune: Sendable {
    var region: String
    var department: String
    var population: Double
  }

  /// INSEE code → pedoclimatic zone.
  var zoneOfCommune: [String: String] = [:]
  /// INSEE code → region, department, population.
  var communes: [String: Commune] = [:]
  /// INSEE code → CLC 2012→2018 change rows.
  var changes: [String: [Carbon_Aldo_V1_ClcChange]] = [:]
  /// Data files read, for the trace.
  var files: [Carbon_Aldo_V1_DataFile] = []

  /// Loads the three files from a directory; a missing or malformed file fails the module's init.
  init(directory: String) throws(ModuleError) {
    let zones = try Self.read(directory, "zpc.csv")
    for row in zones.table.records {
      if let insee = row["insee"], let zone = row["zpc"], !zone.isEmpty { zoneOfCommune[insee] = zone }
    }
    let communeTable = try Self.read(directory, "communes_17122018.csv")
    for row in communeTable.table.records {
      guard let insee = row["insee"] else { continue }
      communes[insee] = Commune(
        region: row["region"] ?? "", department: row["departement"] ?? "",
        population: Double(row["population"] ?? "") ?? 0)
    }
    let changeTable = try Self.read(directory, "clc18-change.csv")
    for row in changeTable.table.records {
      guard let insee = row["commune"], let area = Double(row["area"] ?? "") else { continue }
      var change = Carbon_Aldo_V1_ClcChange()
      change.code2012 = row["code12"] ?? ""
      change.code2018 = row["code18"] ?? ""
      change.areaHa = area
      changes[insee, default: []].append(change)
    }
    files = [zones.file, communeTable.file, changeTable.file]
  }

  private static func read(_ directory: String, _ name: String) throws(ModuleError) -> (table: ReferenceTable, file: Carbon_Aldo_V1_DataFile) {
    let path = (directory as NSString).appendingPathComponent(name)
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .invalidArgument("config.reference_dir", "cannot read \(path)")
    }
    do {
      // Some ALDO files use CRLF; ReferenceTable splits on "\n" only, and "\r\n" is one Character.
      let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
      let table = try ReferenceTable(csv: text)
      var file = Carbon_Aldo_V1_DataFile()
      file.name = "aldo-" + name.replacingOccurrences(of: ".csv", with: "")
      file.file = path
      file.source = "incubateur-ademe/aldo data/\(name) (MIT), read from config reference_dir"
      file.version = AldoReferenceData.version
      file.rows = Int32(clamping: table.rows.count)
      return (table, file)
    } catch {
      throw .invalidArgument("config.reference_dir", "\(path): \(error)")
    }
  }
}
