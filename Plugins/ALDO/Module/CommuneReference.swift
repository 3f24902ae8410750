import CarbonDomain
import CarbonPluginKit
import Crypto
import Foundation

/// Commune-level ALDO data: the commune list (name, population, department, region, EPCI 2018),
/// each commune's pedoclimatic zone and CLC 2012→2018 changes, and the EPCI forest files of the
/// substitute (ign19.csv, derived-epci-greco-weights.csv) and, when a directory holds it, ALDO's
/// BD Forêt by commune (surface-foret.csv).
///
/// These files (2.9 MB) are too big to embed in code, so they ship beside the plugin: SwiftPM
/// copies `Module/Territory/` to `carbonhub_ALDOModule.resources/Territory/` next to the .so, and
/// the module checks each file's sha256 against the embedded `Data/territory-files.csv` when it
/// loads them (once per process, on the first call that needs them). The configuration
/// `reference_dir` replaces them with a directory of newer or fuller ALDO files (read at start-up,
/// sha256 reported, not checked).
struct CommuneReference: Sendable {
  /// A commune of ALDO's list (communes_17122018.csv).
  struct Commune: Sendable {
    var name: String
    var region: String
    var department: String
    /// SIREN of its EPCI (2018); empty for the four island communes outside any EPCI.
    var epci: String
    var population: Double
  }

  /// INSEE code → pedoclimatic zone.
  var zoneOfCommune: [String: String] = [:]
  /// INSEE code → commune.
  var communes: [String: Commune] = [:]
  /// INSEE code → CLC 2012→2018 change rows (arrondissement rows under their commune).
  var changes: [String: [Carbon_Aldo_V1_ClcChange]] = [:]
  /// EPCI, department and region → their communes (sorted INSEE codes).
  var communesOfEpci: [String: [String]] = [:]
  var communesOfDepartment: [String: [String]] = [:]
  var communesOfRegion: [String: [String]] = [:]
  /// EPCI SIREN → BD Forêt 2019 area by forest subtype, ha (ign19.csv; 2018 mergers rebuilt).
  /// Nil when the directory has no ign19.csv.
  var epciForest: [String: [Leaf: Double]]? = nil
  /// EPCI SIREN → GRECO weights per forest subtype (derived-epci-greco-weights.csv). Nil when absent.
  var grecoWeights: [String: [Leaf: [(greco: String, weight: Double)]]]? = nil
  /// INSEE code → ALDO's BD Forêt rows (surface-foret.csv), when the directory has that file.
  var forestStands: [String: [Stand]]? = nil
  /// Data files read, with their sha256, for the trace.
  var files: [Carbon_Aldo_V1_DataFile] = []
  /// True for the files shipped beside the plugin (checked against the manifest).
  var shipped = false

  /// The files shipped beside the plugin, loaded and checked once per process.
  static let shippedFiles: Result<CommuneReference, ModuleError> = {
    do throws(ModuleError) {
      let data = try AldoReferenceData.embedded.get()
      guard let directory = shippedDirectory() else {
        throw .failedPrecondition(
          rule: "aldo.territory_files",
          "the territory files are not installed: carbonhub_ALDOModule.resources/Territory/ must sit beside the plugin "
            + "library (swift build puts it there), or set [modules.aldo.config] reference_dir")
      }
      return .success(try CommuneReference(directory: directory, data: data, manifest: data.territoryManifest))
    } catch {
      return .failure(error)
    }
  }()

  /// `carbonhub_ALDOModule.resources/Territory` beside the library (the .so, or the test
  /// binary the module is linked into) that holds this code; `PluginImage` finds it also when
  /// the host runs a private in-memory copy of the library.
  static func shippedDirectory() -> String? {
    guard let directory = PluginImage.directory() else { return nil }
    let candidate = directory + "/carbonhub_ALDOModule.resources/Territory"
    return FileManager.default.fileExists(atPath: candidate) ? candidate : nil
  }

  /// Loads a directory's files. `manifest` (shipped files) names every file that must be there
  /// with its sha256; without it (reference_dir) zpc.csv, communes_17122018.csv and
  /// clc18-change.csv are required and the forest files optional.
  init(directory: String, data: AldoReferenceData, manifest: [String: Carbon_Aldo_V1_DataFile]? = nil) throws(ModuleError) {
    shipped = manifest != nil
    let reader = FileReader(directory: directory, manifest: manifest)
    let zones = try reader.table("zpc.csv", required: true)!
    if let insee = zones.columnIndex("insee"), let zone = zones.columnIndex("zpc") {
      for row in zones.rows where !row[zone].isEmpty { zoneOfCommune[row[insee]] = row[zone] }
    }
    let communeTable = try reader.table("communes_17122018.csv", required: true)!
    let column = { (name: String) throws(ModuleError) -> Int in
      guard let index = communeTable.columnIndex(name) else {
        throw reader.error("communes_17122018.csv has no column \(name)")
      }
      return index
    }
    let (nameColumn, inseeColumn, populationColumn) = (try column("nom"), try column("insee"), try column("population"))
    let (departmentColumn, regionColumn, epciColumn) = (try column("departement"), try column("region"), try column("epci"))
    for row in communeTable.rows {
      let insee = row[inseeColumn]
      let commune = Commune(
        name: row[nameColumn], region: row[regionColumn], department: row[departmentColumn], epci: row[epciColumn],
        population: Double(row[populationColumn]) ?? 0)
      communes[insee] = commune
      if !commune.epci.isEmpty { communesOfEpci[commune.epci, default: []].append(insee) }
      communesOfDepartment[commune.department, default: []].append(insee)
      communesOfRegion[commune.region, default: []].append(insee)
    }
    for key in communesOfEpci.keys { communesOfEpci[key]?.sort() }
    for key in communesOfDepartment.keys { communesOfDepartment[key]?.sort() }
    for key in communesOfRegion.keys { communesOfRegion[key]?.sort() }

    let changeTable = try reader.table("clc18-change.csv", required: true)!
    if let from = changeTable.columnIndex("code12"), let to = changeTable.columnIndex("code18"),
      let commune = changeTable.columnIndex("commune"), let area = changeTable.columnIndex("area")
    {
      for row in changeTable.rows {
        guard let hectares = Double(row[area]) else { continue }
        var change = Carbon_Aldo_V1_ClcChange()
        change.code2012 = row[from]
        change.code2018 = row[to]
        change.areaHa = hectares
        // Paris, Lyon and Marseille are given by arrondissement; ALDO computes them under the commune.
        let insee = data.communeOfArrondissement[row[commune]] ?? row[commune]
        changes[insee, default: []].append(change)
      }
    }
    if let ign = try reader.table("ign19.csv", required: manifest != nil) {
      epciForest = try Self.epciForest(ign, data: data, reader: reader)
    }
    if let weights = try reader.table("derived-epci-greco-weights.csv", required: manifest != nil) {
      grecoWeights = Self.grecoWeights(weights)
    }
    if let areas = epciForest, var weights = grecoWeights {
      for (epci, predecessors) in data.epciPredecessors.sorted(by: { $0.key < $1.key }) where weights[epci] == nil {
        weights[epci] = Self.mergedWeights(of: predecessors, areas: areas, weights: weights)
      }
      grecoWeights = weights
    }
    if let stands = try reader.table("surface-foret.csv", required: false) {
      forestStands = try Self.forestStands(stands, data: data, reader: reader)
    }
    files = reader.files
  }

  /// ign19.csv: one row per EPCI (duplicates are identical; the first is kept), with the two
  /// 2018 mergers rebuilt as the sum of their predecessors (reference pack README §5.3).
  private static func epciForest(
    _ table: ReferenceTable, data: AldoReferenceData, reader: FileReader
  ) throws(ModuleError) -> [String: [Leaf: Double]] {
    let columns: [(Leaf, String)] = [
      (.forestBroadleaf, "feuillus"), (.forestConifer, "coniferes"), (.forestMixed, "mixtes"), (.forestPoplar, "peupleraies"),
    ]
    guard let siren = table.columnIndex("siren") else { throw reader.error("ign19.csv has no column siren") }
    var indices: [(Leaf, Int)] = []
    for (leaf, name) in columns {
      guard let index = table.columnIndex(name) else { throw reader.error("ign19.csv has no column \(name)") }
      indices.append((leaf, index))
    }
    var result: [String: [Leaf: Double]] = [:]
    for row in table.rows where !row[siren].isEmpty && result[row[siren]] == nil {
      var areas: [Leaf: Double] = [:]
      for (leaf, index) in indices { areas[leaf] = Double(row[index]) ?? 0 }
      result[row[siren]] = areas
    }
    for (epci, predecessors) in data.epciPredecessors where result[epci] == nil {
      var areas: [Leaf: Double] = [:]
      for predecessor in predecessors {
        for (leaf, area) in result[predecessor] ?? [:] { areas[leaf, default: 0] += area }
      }
      result[epci] = areas
    }
    return result
  }

  /// derived-epci-greco-weights.csv: the per-subtype weights, or `greco_weights` when the
  /// subtype's column is empty (README §5.6 a step 2); poplar has none (it goes by basin).
  private static func grecoWeights(_ table: ReferenceTable) -> [String: [Leaf: [(greco: String, weight: Double)]]] {
    func parse(_ text: String) -> [(greco: String, weight: Double)] {
      text.split(separator: "|").compactMap { pair in
        let parts = pair.split(separator: ":")
        guard parts.count == 2, let weight = Double(parts[1]) else { return nil }
        return (String(parts[0]), weight)
      }
    }
    var result: [String: [Leaf: [(greco: String, weight: Double)]]] = [:]
    guard let siren = table.columnIndex("siren"), let combined = table.columnIndex("greco_weights") else { return result }
    let perType: [(Leaf, Int?)] = [
      (.forestBroadleaf, table.columnIndex("w_feuillu")), (.forestConifer, table.columnIndex("w_conifere")),
      (.forestMixed, table.columnIndex("w_mixte")),
    ]
    for row in table.rows {
      var weights: [Leaf: [(greco: String, weight: Double)]] = [:]
      let fallback = parse(row[combined])
      for (leaf, index) in perType {
        let own = index.map { parse(row[$0]) } ?? []
        weights[leaf] = own.isEmpty ? fallback : own
      }
      result[row[siren]] = weights
    }
    return result
  }

  /// GRECO weights of a 2018 merger that derived-epci-greco-weights.csv lacks (200077014,
  /// 200077055): per subtype, each predecessor's own weights mixed by its area of that subtype
  /// (ign19.csv), so that merged area × weight = Σ predecessor area × its own weight — what the
  /// pack's check computes, each predecessor at its own GRECO mix (README §5.6 a steps 1–2). A
  /// subtype none of them holds only sets a deforestation density: its mix follows the
  /// predecessors' forest areas (broadleaf + conifer + mixed), or equal shares when they have none.
  /// Nil when a predecessor has no weights (the stand then falls back to rad13, labelled so).
  static func mergedWeights(
    of predecessors: [String], areas: [String: [Leaf: Double]], weights: [String: [Leaf: [(greco: String, weight: Double)]]]
  ) -> [Leaf: [(greco: String, weight: Double)]]? {
    let subtypes: [Leaf] = [.forestBroadleaf, .forestConifer, .forestMixed]
    guard !predecessors.isEmpty, predecessors.allSatisfy({ weights[$0] != nil }) else { return nil }
    func forestArea(_ epci: String) -> Double { subtypes.reduce(0) { $0 + (areas[epci]?[$1] ?? 0) } }
    var result: [Leaf: [(greco: String, weight: Double)]] = [:]
    for leaf in subtypes {
      var keys: [Double] = predecessors.map { areas[$0]?[leaf] ?? 0 }
      if keys.reduce(0, +) == 0 { keys = predecessors.map(forestArea) }
      if keys.reduce(0, +) == 0 { keys = predecessors.map { _ in 1 } }
      let total = keys.reduce(0, +)
      var mixed: [String: Double] = [:]
      for (predecessor, key) in zip(predecessors, keys) {
        for (greco, weight) in weights[predecessor]?[leaf] ?? [] { mixed[greco, default: 0] += weight * key / total }
      }
      result[leaf] = mixed.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
    return result
  }

  /// ALDO's surface-foret.csv (BD Forêt by commune and IGN location; INSEE without leading zero).
  private static func forestStands(
    _ table: ReferenceTable, data: AldoReferenceData, reader: FileReader
  ) throws(ModuleError) -> [String: [Stand]] {
    let names = [
      "INSEE_COM", "SUR_FEUILLUS", "SUR_RESINEUX", "SUR_MIXTES", "SUR_PEUPLERAIES", "code_groupeser", "code_greco",
      "code_rad13", "code_bassin_populicole",
    ]
    var index: [String: Int] = [:]
    for name in names {
      guard let column = table.columnIndex(name) else { throw reader.error("surface-foret.csv has no column \(name)") }
      index[name] = column
    }
    func cell(_ row: [String], _ name: String) -> String { row[index[name]!] }
    var result: [String: [Stand]] = [:]
    for (number, row) in table.rows.enumerated() {
      var insee = cell(row, "INSEE_COM")
      while insee.count < 5 { insee = "0" + insee }
      let rad13 = cell(row, "code_rad13")
      guard data.woodUse[rad13] != nil else {
        throw reader.error("surface-foret.csv row \(number + 1): unknown code_rad13 \(rad13.quoted)")
      }
      // The same reading of the location codes as a request's rows (TerritoryInput.validate).
      for (level, name) in [("groupeser", "code_groupeser"), ("greco", "code_greco"), ("bassin_populicole", "code_bassin_populicole")]
      where data.reading(cell(row, name), level: level) == .unknown {
        throw reader.error("surface-foret.csv row \(number + 1): unknown \(name) \(cell(row, name).quoted)")
      }
      func code(_ name: String) -> String { Stand.isMissing(cell(row, name)) ? "" : cell(row, name) }
      let stand = Stand(
        groupeser: code("code_groupeser"), greco: code("code_greco"), rad13: rad13,
        bassinPopulicole: code("code_bassin_populicole"),
        areas: [
          .forestBroadleaf: Double(cell(row, "SUR_FEUILLUS")) ?? 0, .forestConifer: Double(cell(row, "SUR_RESINEUX")) ?? 0,
          .forestMixed: Double(cell(row, "SUR_MIXTES")) ?? 0, .forestPoplar: Double(cell(row, "SUR_PEUPLERAIES")) ?? 0,
        ])
      result[insee, default: []].append(stand)
    }
    return result
  }
}

/// Reads the CSV files of a directory, records each with its sha256, and checks the sha256
/// against a manifest when one is given.
private final class FileReader {
  let directory: String
  let manifest: [String: Carbon_Aldo_V1_DataFile]?
  var files: [Carbon_Aldo_V1_DataFile] = []

  init(directory: String, manifest: [String: Carbon_Aldo_V1_DataFile]?) {
    self.directory = directory
    self.manifest = manifest
  }

  /// The error of this directory: FAILED_PRECONDITION for the shipped files (an installation
  /// fault), INVALID_ARGUMENT `config.reference_dir` for a configured directory.
  func error(_ message: String) -> ModuleError {
    manifest == nil
      ? .invalidArgument("config.reference_dir", message)
      : .failedPrecondition(rule: "aldo.territory_files", "\(directory): \(message)")
  }

  /// The file parsed, or nil when it is absent and not required.
  func table(_ name: String, required: Bool) throws(ModuleError) -> ReferenceTable? {
    let path = (directory as NSString).appendingPathComponent(name)
    guard let bytes = FileManager.default.contents(atPath: path) else {
      if required { throw error("cannot read \(path)") }
      return nil
    }
    let sha = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    var file = manifest?[name] ?? Carbon_Aldo_V1_DataFile()
    if let manifest {
      guard let expected = manifest[name]?.sha256 else { throw error("\(name) is not in Data/territory-files.csv") }
      guard expected == sha else {
        throw error("\(name) has sha256 \(sha), Data/territory-files.csv expects \(expected): the file was changed")
      }
      file.file = path
    } else {
      file.name = "aldo-" + name.replacingOccurrences(of: ".csv", with: "")
      file.file = path
      file.source = "\(name), read from config reference_dir"
      file.version = "supplied by reference_dir (sha256 \(sha.prefix(12)))"
      file.sha256 = sha
    }
    do {
      let table = try ReferenceTable(csv: String(decoding: bytes, as: UTF8.self))
      file.rows = Int32(clamping: table.rows.count)
      files.append(file)
      return table
    } catch {
      throw self.error("\(path): \(error)")
    }
  }
}
