/// A BD Forêt row of a territory part: forest areas of one IGN location split.
struct Stand: Sendable {
  var groupeser: String
  var greco: String
  var rad13: String
  var bassinPopulicole: String
  /// Area by forest subtype, ha.
  var areas: [Leaf: Double]

  /// True for a location code ALDO's BD Forêt file leaves unknown: empty, or "NA" (R's missing
  /// value, as in the « NA,HDF » rows ALDO's comments mention); the look-up then skips the level.
  static func isMissing(_ code: String) -> Bool { code.isEmpty || code == "NA" }

  init(_ message: Carbon_Aldo_V1_ForestStand) {
    groupeser = Self.isMissing(message.groupeser) ? "" : message.groupeser
    greco = Self.isMissing(message.greco) ? "" : message.greco
    rad13 = message.rad13
    bassinPopulicole = Self.isMissing(message.bassinPopulicole) ? "" : message.bassinPopulicole
    areas = [
      .forestBroadleaf: message.broadleafHa, .forestConifer: message.coniferHa,
      .forestMixed: message.mixedHa, .forestPoplar: message.poplarHa,
    ]
  }

  init(groupeser: String = "", greco: String = "", rad13: String, bassinPopulicole: String = "", areas: [Leaf: Double]) {
    self.groupeser = groupeser
    self.greco = greco
    self.rad13 = rad13
    self.bassinPopulicole = bassinPopulicole
    self.areas = areas
  }
}

/// IGN forest-inventory lookup with ALDO's fallback chain (README §2.7):
/// groupeser → greco → rad13 (with its three substitutions) → bassin_populicole → France.
struct ForestInventory: Sendable {
  let data: AldoReferenceData

  /// The IGN location levels in fallback order.
  static let levels = ["groupeser", "greco", "rad13", "bassin_populicole", "France"]

  /// The row used for a stand and a forest subtype, with its key (always found while the
  /// France rows exist, which the data file guarantees).
  func row(for stand: Stand, _ leaf: Leaf) -> (key: ForestInventoryKey, row: ForestInventoryRow)? {
    guard let composition = data.compositions[leaf]?.ignComposition else { return nil }
    for level in Self.levels {
      var key: ForestInventoryKey
      switch level {
      case "groupeser": key = .init(level: level, code: stand.groupeser, composition: composition)
      case "greco": key = .init(level: level, code: stand.greco, composition: composition)
      case "rad13": key = Self.rad13Key(stand.rad13, composition)
      case "bassin_populicole": key = .init(level: level, code: stand.bassinPopulicole, composition: composition)
      default: key = .init(level: "France", code: "France", composition: composition)
      }
      guard !key.code.isEmpty, let row = data.forestRows[key] else { continue }
      return (key, row)
    }
    return nil
  }

  /// ALDO's substitutions at the rad13 step (data/shared.js getIgnLocalisation).
  static func rad13Key(_ code: String, _ composition: String) -> ForestInventoryKey {
    switch (code, composition) {
    case ("COR", "Conifere"), ("COR", "Mixte"): .init(level: "greco", code: "J", composition: composition)
    case ("HDF", "Conifere"), ("HDF", "Mixte"): .init(level: "greco", code: "B", composition: composition)
    case ("PDL", "Mixte"): .init(level: "greco", code: "A", composition: composition)
    default: .init(level: "rad13", code: code, composition: composition)
    }
  }

  /// Forest carbon density (live + dead wood, tC/ha) of a subtype in a part, for
  /// deforestation: area-weighted mean over the part's stands, plain mean when the subtype's
  /// area is 0, nil when the part has no stand.
  func deforestationDensity(_ leaf: Leaf, stands: [Stand]) -> (value: Double, reference: String)? {
    var weighted = 0.0, area = 0.0, plain = 0.0, count = 0.0
    var references: [String] = []
    for stand in stands {
      guard let found = row(for: stand, leaf) else { continue }
      let density = found.row.liveCarbon + found.row.deadWoodCarbon
      let standArea = stand.areas[leaf] ?? 0
      weighted += density * standArea
      area += standArea
      plain += density
      count += 1
      references.append("IGN \(found.key.name)")
    }
    guard count > 0 else { return nil }
    let mean = area > 0 ? weighted / area : plain / count
    let how = area > 0 ? "area-weighted mean of" : "plain mean (subtype area 0) of"
    return (mean, "\(how) carbone + bois_mort_carbone, " + references.joined(separator: ", "))
  }
}

/// How an IGN location code of a BD Forêt row is read, the same way for a request's rows and
/// for reference_dir's surface-foret.csv.
enum LocationCodeReading: Equatable {
  /// Empty or "NA": the look-up skips the level.
  case missing
  /// The IGN table has this code at this level.
  case inTable
  /// A SER group (GRECO letter + digit) the IGN table has no row for: it merges some groups
  /// (BX, AX, JX), so BD Forêt's B1, B2, A2, A3, J1… never match and ALDO falls back to the
  /// GRECO (reference pack README §5.3, §5.5).
  case serGroupWithoutRow
  /// Neither: refused.
  case unknown
}

extension AldoReferenceData {
  /// Reads a location code at an IGN level ("groupeser", "greco", "bassin_populicole").
  func reading(_ code: String, level: String) -> LocationCodeReading {
    if Stand.isMissing(code) { return .missing }
    if forestCodes[level]?.contains(code) == true { return .inTable }
    if level == "groupeser", code.count == 2, let letter = code.first, let digit = code.last,
      forestCodes["greco"]?.contains(String(letter)) == true, ("1"..."9").contains(digit)
    {
      return .serGroupWithoutRow
    }
    return .unknown
  }

  /// The trace rule's text for SER groups without an IGN row (`where`: the rows concerned).
  static func serGroupFallbackNote(_ where: String) -> String {
    "\(`where`): SER group(s) without a row in the IGN table (which merges some groups: BX, AX, JX), so the look-up "
      + "falls back to the GRECO, as ALDO does (reference pack README §5.3: « ALDO falls back to the GRECO »)"
  }
}
