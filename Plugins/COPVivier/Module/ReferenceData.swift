import CarbonDomain
import Foundation

typealias Project = Carbon_Cop_V1_Project
typealias Category = Carbon_Cop_V1_Category
typealias Maturity = Carbon_Cop_V1_Maturity
typealias Assessment = Carbon_Cop_V1_Assessment

/// A lever of the online form: the names projects carry and reports count.
struct FormLeverEntry: Sendable {
  /// Canonical name, e.g. "Rénovation (tertiaire)".
  let name: String
  /// Thematic the lever belongs to.
  let thematic: String
  /// The panorama lever it maps to ("" when none).
  let panoramaLever: String
  /// Whether the seed prints this lever name (false = reconstructed from the panorama).
  let printedInSeed: Bool
  /// Other accepted spellings.
  let aliases: [String]
  /// Position in the catalogue (the seed's order), used to break ties in rankings.
  let order: Int
}

/// The module's reference data, loaded once from the embedded `Data/*.csv` files.
enum ReferenceData {
  /// Region of the pool (INSEE code of Hauts-de-France).
  static let regionCode = "32"
  /// Version of every data file of the module (their `# version:` header).
  static let version = "cop-hdf-2024.2"
  /// The seed document all files come from.
  static let seedFile = "shared/seeds/cop-hauts-de-france-2024.txt"

  /// Data set entry of the traces.
  static let dataSet: DataSetVersion = {
    var version = DataSetVersion()
    version.name = "cop-hdf-2024"
    version.version = Self.version
    version.source = "\(seedFile): Partie 2 panoramas and effort shares, Partie 4 review of 06/12/2024"
    return version
  }()

  /// Loads an embedded CSV; a broken embedded file yields an empty table, caught by the tests.
  private static func table(_ bytes: [UInt8]) -> [[String: String]] {
    (try? ReferenceTable(bytes: bytes))?.records ?? []
  }

  /// Panorama levers (sector checked by hand).
  static let panoramaLevers: [Carbon_Cop_V1_PanoramaLever] = table(PackageResources.levers_csv).map {
    var lever = Carbon_Cop_V1_PanoramaLever()
    lever.panorama = $0["panorama"] ?? ""
    lever.sector = $0["sector"] ?? ""
    lever.lever = $0["lever"] ?? ""
    lever.tags = ($0["tags"] ?? "").split(separator: "|").map(String.init)
    return lever
  }

  /// Form levers in the seed's order.
  static let formLevers: [FormLeverEntry] = table(PackageResources.lever_aliases_csv).enumerated()
    .map { index, record in
      FormLeverEntry(
        name: record["name"] ?? "", thematic: record["thematic"] ?? "",
        panoramaLever: record["panorama_lever"] ?? "", printedInSeed: record["printed"] == "yes",
        aliases: (record["aliases"] ?? "").split(separator: "|").map(String.init), order: index)
    }

  /// Form levers by folded name and folded alias.
  private static let leverIndex: [String: FormLeverEntry] = {
    var index: [String: FormLeverEntry] = [:]
    for lever in formLevers {
      for spelling in [lever.name] + lever.aliases where index[fold(spelling)] == nil {
        index[fold(spelling)] = lever
      }
    }
    return index
  }()

  /// The form lever a name or alias designates (case, accents and spacing ignored).
  static func lever(named name: String) -> FormLeverEntry? { leverIndex[fold(name)] }

  /// The thematics of the form levers, in catalogue order: each lever belongs to one
  /// (« Le levier « vélo » ne représente qu'un des huit leviers attachés à cette thématique »).
  static let thematics: [String] = formLevers.reduce(into: []) { names, lever in
    if !lever.thematic.isEmpty && !names.contains(lever.thematic) { names.append(lever.thematic) }
  }

  /// Catalogue thematics by folded name.
  private static let thematicIndex: [String: String] = Dictionary(
    thematics.map { (fold($0), $0) }, uniquingKeysWith: { first, _ in first })

  /// The catalogue thematic a spelling designates (case, accents and spacing ignored), or nil.
  static func thematic(named name: String) -> String? { thematicIndex[fold(name)] }

  /// A form lever of an earlier data version that the seed does not support, and its replacement.
  struct RetiredLever: Sendable {
    /// The retired name.
    let name: String
    /// The canonical form lever that replaces it.
    let replacement: String
    /// Why (the seed's sentence it contradicts).
    let reason: String
  }

  /// Retired form levers by folded name (`Data/retired-levers.csv`).
  private static let retiredIndex: [String: RetiredLever] = Dictionary(
    table(PackageResources.retired_levers_csv).map {
      (fold($0["name"] ?? ""), RetiredLever(name: $0["name"] ?? "", replacement: $0["replacement"] ?? "", reason: $0["reason"] ?? ""))
    }, uniquingKeysWith: { first, _ in first })

  /// The retired lever a name designates, if any.
  static func retiredLever(named name: String) -> RetiredLever? { retiredIndex[fold(name)] }

  /// An EPCI of the region's embedded list (`Data/epci-hauts-de-france.csv`).
  struct Epci: Sendable {
    /// SIREN (9 digits).
    let siren: String
    /// Name, e.g. "CA du Beauvaisis".
    let name: String
    /// Nature: CA, CC, CU, ME.
    let nature: String
    /// Counted in the coverage's denominator (most of its communes in the region).
    let countedInRegion: Bool
  }

  /// The EPCIs with communes in the region.
  static let epcis: [Epci] = table(PackageResources.epci_hauts_de_france_csv).map {
    Epci(siren: $0["siren"] ?? "", name: $0["name"] ?? "", nature: $0["nature"] ?? "", countedInRegion: $0["counted_in_region"] == "yes")
  }

  /// EPCIs by SIREN and by normalized name.
  private static let epciIndex: [String: Epci] = {
    var index: [String: Epci] = [:]
    for epci in epcis {
      index[epci.siren] = epci
      index[epciNameKey(epci.name)] = epci
    }
    return index
  }()

  /// The EPCI of the region a SIREN or a name designates ("CA du Beauvaisis", "200067999" and
  /// "Communauté d'agglomération du Beauvaisis" are one EPCI), or nil.
  static func epci(_ text: String) -> Epci? {
    let digits = text.filter { !$0.isWhitespace }
    if digits.count == 9, digits.allSatisfy(\.isNumber) { return epciIndex[digits] }
    let key = epciNameKey(text)
    return key.isEmpty ? nil : epciIndex[key]
  }

  /// A name key: folded, hyphens and apostrophes as spaces, the long forms of the natures
  /// abbreviated as the list writes them.
  static func epciNameKey(_ name: String) -> String {
    // One pass over the folded bytes: "-" → " ", "'" → "' " (both ASCII, so never inside a
    // multi-byte character).
    var bytes: [UInt8] = []
    for byte in fold(name).utf8 {
      switch byte {
      case UInt8(ascii: "-"): bytes.append(UInt8(ascii: " "))
      case UInt8(ascii: "'"): bytes += [UInt8(ascii: "'"), UInt8(ascii: " ")]
      default: bytes.append(byte)
      }
    }
    let words = String(decoding: bytes, as: UTF8.self).split(separator: " ")
    var kept: [Substring] = []
    var index = 0
    words: while index < words.count {
      for (long, short) in natureAbbreviations where words[index...].starts(with: long) {
        kept.append(short)
        index += long.count
        continue words
      }
      // Articles and prepositions are dropped: "CC Oise Picarde" is "CC de l'Oise Picarde".
      if !particles.contains(words[index]) { kept.append(words[index]) }
      index += 1
    }
    return kept.joined(separator: " ")
  }

  /// The long forms of the EPCI natures, as words, and the list's abbreviation.
  private static let natureAbbreviations: [([Substring], Substring)] = [
    (["communaute", "d'", "agglomeration"], "ca"), (["communaute", "de", "communes"], "cc"),
    (["communaute", "urbaine"], "cu"),
  ]

  private static let particles: Set<Substring> = ["de", "du", "des", "la", "le", "les", "l'", "d'", "et"]

  /// SGPE lever values (tagged "not retained").
  static let sgpeLeverValues: [Carbon_Cop_V1_SgpeLeverValue] = table(
    PackageResources.sgpe_lever_values_csv
  ).map {
    var value = Carbon_Cop_V1_SgpeLeverValue()
    value.lever = $0["lever"] ?? ""
    value.valueKtCo2E = Double($0["value_kt_co2e"] ?? "") ?? .nan
    value.panorama = $0["panorama"] ?? ""
    return value
  }

  /// SGPE vs SRADDET effort shares.
  static let effortShares: [Carbon_Cop_V1_EffortShare] = table(PackageResources.effort_shares_csv).map {
    var share = Carbon_Cop_V1_EffortShare()
    share.sector = $0["sector"] ?? ""
    share.sgpeSharePercent = Double($0["sgpe_share_percent"] ?? "") ?? .nan
    share.sraddetSharePercent = Double($0["sraddet_share_percent"] ?? "") ?? .nan
    share.differenceKtCo2E = Double($0["difference_kt_co2e"] ?? "") ?? .nan
    return share
  }

  /// Departments of the region, by code.
  static let departments: [Department] = FrenchTerritories.departments(inRegion: regionCode)
    .sorted { $0.code < $1.code }

  /// The department of the region a code or a name designates.
  static func department(_ text: String) -> Department? { departmentIndex[fold(text)] }

  /// The departments by folded code and folded name.
  private static let departmentIndex: [String: Department] = {
    var index: [String: Department] = [:]
    for department in departments {
      index[fold(department.code)] = department
      index[fold(department.name)] = department
    }
    return index
  }()

  /// The seed's 06/12/2024 review: counts by department (carry, work, outside CRTE, not
  /// carried) and primary-lever counts of the carried + to-work projects.
  static let seedRound: (departments: [(code: String, counts: [Int])], levers: [(lever: String, count: Int)]) = {
    var departments: [(String, [Int])] = []
    var levers: [(String, Int)] = []
    for record in table(PackageResources.seed_round_2024_csv) {
      let key = record["key"] ?? ""
      let counts = ["carry", "work", "outside_crte", "not_carried"].map { Int(record[$0] ?? "") ?? 0 }
      if record["kind"] == "department" { departments.append((key, counts)) }
      if record["kind"] == "lever" { levers.append((key, counts.first ?? 0)) }
    }
    return (departments, levers)
  }()

  /// Case-, accent- and space-insensitive key.
  ///
  /// Runs several times per imported CSV row: ASCII text (most cells) is lowercased and its
  /// spaces collapsed byte by byte; other text goes through Foundation's folding (with a
  /// `Locale` made per call, folding took a quarter of a 20 MB import).
  static func fold(_ text: String) -> String {
    if text.utf8.allSatisfy({ $0 < 0x80 }) {
      var folded: [UInt8] = []
      folded.reserveCapacity(text.utf8.count)
      var pendingSpace = false
      for byte in text.utf8 {
        if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
          pendingSpace = !folded.isEmpty
          continue
        }
        if pendingSpace {
          folded.append(UInt8(ascii: " "))
          pendingSpace = false
        }
        folded.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
      }
      return String(decoding: folded, as: UTF8.self)
    }
    // No locale: case and accent folding of French text needs none, and bridging one to
    // CoreFoundation on every call cost as much as the folding.
    let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
      .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\u{00A0}" }).joined(separator: " ")
    return folded.unicodeScalars.contains("’") ? folded.replacing("’", with: "'") : folded
  }
}
