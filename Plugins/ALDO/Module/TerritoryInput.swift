import CarbonDomain
import CarbonPluginKit

/// A validated territory part with its annual change areas, ready for the flux rules.
struct ResolvedPart: Sendable {
  var name: String
  var zone: String
  var regionCode: String
  var interRegion: String
  /// Annual change areas after the CLC division and the artificial split, ha/yr.
  var areas: [Leaf: [Leaf: Double]]
  var stands: [Stand]
  var population: Double
  /// Stands whose density a deforestation uses when the part has no BD Forêt row of its own
  /// (the EPCI forest substitute; empty otherwise), and the label saying it is an approximation.
  var densityStands: [Stand] = []
  var densityLabel = ""

  /// True for a forest part of the EPCI substitute: it carries growth and wood products only
  /// (no pedoclimatic zone, no land-use change), and is no commune.
  var isEpciForest: Bool { zone.isEmpty }
}

/// Validates the territory parts of a request and turns CLC change matrices into ALDO's
/// annual leaf-to-leaf areas (README §2.2).
struct TerritoryInput {
  let data: AldoReferenceData
  let communes: CommuneReference?
  let sealedShareFraction: Double
  let corrected: Bool
  var trace: TraceBuilder
  /// Prefix of every error path (e.g. "flux." when the request is nested).
  var fieldPrefix = ""
  /// For a territory of thousands of communes: per-part notes are collected and written once
  /// by ``flushSummaries()`` (naming every commune concerned) instead of once per part.
  var summarisePerPart = false
  private var unchangedRowsParts: [(part: String, rows: Int, area: Double)] = []
  private var artificialOriginParts: [String] = []

  init(
    data: AldoReferenceData, communes: CommuneReference?, sealedShareFraction: Double, corrected: Bool, trace: TraceBuilder,
    fieldPrefix: String = ""
  ) {
    self.data = data
    self.communes = communes
    self.sealedShareFraction = sealedShareFraction
    self.corrected = corrected
    self.trace = trace
    self.fieldPrefix = fieldPrefix
  }

  /// CLC level-3 codes that exist but are no ALDO category (beaches, rocks, sparse vegetation,
  /// burnt areas, glaciers): their changes are ignored, as ALDO does.
  static let clcCodesOutsideAldo: Set<String> = ["331", "332", "333", "334", "335"]

  mutating func resolve(_ part: Carbon_Aldo_V1_TerritoryPart, index: Int) throws(ModuleError) -> ResolvedPart {
    let path = "\(fieldPrefix)parts[\(index)]"
    var zone = part.pedoclimaticZone
    var region = part.regionCode
    var population = try Validate.nonNegative(part.population, "\(path).population")
    var clcChanges = part.clcChanges
    if !part.communeInsee.isEmpty {
      guard part.communeInsee.count == 5 else {
        throw .invalidArgument("\(path).commune_insee", "must be a 5-character INSEE code, got \(part.communeInsee.quoted)")
      }
      if let communes {
        guard let commune = communes.communes[part.communeInsee] else {
          throw .invalidArgument("\(path).commune_insee", "unknown commune \(part.communeInsee.quoted)")
        }
        if zone.isEmpty { zone = communes.zoneOfCommune[part.communeInsee] ?? "" }
        if region.isEmpty { region = commune.region }
        if population == 0 { population = commune.population }
        if clcChanges.isEmpty && part.annualChanges.isEmpty {
          clcChanges = communes.changes[part.communeInsee] ?? []
        }
      } else {
        // Without reference_dir the code is only a label, but still one of ALDO's communes:
        // checked against the commune list shipped beside the plugin.
        guard try CommuneReference.shippedFiles.get().communes[part.communeInsee] != nil else {
          throw .invalidArgument("\(path).commune_insee", "unknown commune \(part.communeInsee.quoted) (ALDO's communes_17122018.csv)")
        }
      }
    }
    guard !zone.isEmpty else {
      let hint = communes == nil ? " (no reference_dir is configured to derive it from commune_insee)" : ""
      throw .invalidArgument("\(path).pedoclimatic_zone", "is required\(hint)")
    }
    guard data.soilFlux[zone] != nil else {
      throw .invalidArgument(
        "\(path).pedoclimatic_zone",
        "unknown pedoclimatic zone \(zone.quoted) (known: \(data.soilFlux.keys.sorted().joined(separator: ", ")))")
    }
    guard !region.isEmpty else { throw .invalidArgument("\(path).region_code", "is required") }
    guard let interRegion = data.interRegionOfRegion[region] else {
      throw .invalidArgument("\(path).region_code", "unknown INSEE region code \(region.quoted)")
    }
    var stands: [Stand] = []
    for (j, stand) in part.forestStands.enumerated() {
      stands.append(try validate(stand, "\(path).forest_stands[\(j)]"))
    }
    let name = Self.displayName(part, index: index)
    var areas = try clcAreas(clcChanges, path: "\(path).clc_changes", partName: name)
    for (j, change) in part.annualChanges.enumerated() {
      let field = "\(path).annual_changes[\(j)]"
      let (from, to) = try Self.pair(change.fromLandUse, change.toLandUse, field)
      let area = try Validate.nonNegative(change.areaHaPerYr, "\(field).area_ha_per_yr")
      areas[from, default: [:]][to, default: 0] += area
    }
    return ResolvedPart(
      name: name, zone: zone, regionCode: region, interRegion: interRegion, areas: areas, stands: stands,
      population: population)
  }

  /// The name a part carries in entries and warnings: its own name, else its commune code,
  /// else "part N" (a warning never names an empty part).
  static func displayName(_ part: Carbon_Aldo_V1_TerritoryPart, index: Int) -> String {
    if !part.name.isEmpty { return part.name }
    return part.communeInsee.isEmpty ? "part \(index + 1)" : "commune \(part.communeInsee)"
  }

  /// A from→to pair of leaf land uses, different from each other.
  static func pair(_ from: LandUse, _ to: LandUse, _ field: String) throws(ModuleError) -> (Leaf, Leaf) {
    guard let fromLeaf = Leaf(from) else {
      throw .invalidArgument("\(field).from_land_use", "must be a leaf land use (not \(from), not unspecified)")
    }
    guard let toLeaf = Leaf(to) else {
      throw .invalidArgument("\(field).to_land_use", "must be a leaf land use (not \(to), not unspecified)")
    }
    guard fromLeaf != toLeaf else { throw .invalidArgument("\(field).to_land_use", "equals from_land_use: a change needs two land uses") }
    return (fromLeaf, toLeaf)
  }

  mutating func validate(_ stand: Carbon_Aldo_V1_ForestStand, _ field: String) throws(ModuleError) -> Stand {
    try Validate.nonNegative(stand.broadleafHa, "\(field).broadleaf_ha")
    try Validate.nonNegative(stand.coniferHa, "\(field).conifer_ha")
    try Validate.nonNegative(stand.mixedHa, "\(field).mixed_ha")
    try Validate.nonNegative(stand.poplarHa, "\(field).poplar_ha")
    guard data.woodUse[stand.rad13] != nil else {
      throw .invalidArgument(
        "\(field).rad13", "unknown IGN administrative region \(stand.rad13.quoted) (known: \(data.woodUse.keys.sorted().joined(separator: ", ")))")
    }
    let codes: [(String, String, String)] = [
      ("groupeser", stand.groupeser, "groupeser"), ("greco", stand.greco, "greco"),
      ("bassin_populicole", stand.bassinPopulicole, "bassin_populicole"),
    ]
    for (level, code, name) in codes {
      switch data.reading(code, level: level) {
      case .missing, .inTable: break
      case .serGroupWithoutRow:
        trace.rule("aldo.forest.ser_group_not_in_ign_table", AldoReferenceData.serGroupFallbackNote("\(field).\(name) \(code.quoted)"))
      case .unknown:
        throw .invalidArgument(
          "\(field).\(name)",
          level == "groupeser"
            ? "unknown SER-group code \(code.quoted): neither in the IGN table nor a GRECO letter followed by a digit"
            : "unknown IGN \(level) code \(code.quoted)")
      }
    }
    let missing = codes.filter { !$0.1.isEmpty && Stand.isMissing($0.1) }.map(\.2)
    if !missing.isEmpty {
      trace.rule(
        "aldo.forest.na_location_code",
        "\(field): \(missing.joined(separator: ", ")) \"NA\" read as no code, so the IGN look-up falls back to the next "
          + "level, as ALDO does for BD Forêt rows coded NA (README §2.7, §5.7)")
    }
    return Stand(stand)
  }

  /// CLC 2012→2018 rows → annual leaf areas with ALDO's artificial split.
  mutating func clcAreas(
    _ changes: [Carbon_Aldo_V1_ClcChange], path: String, partName: String
  ) throws(ModuleError) -> [Leaf: [Leaf: Double]] {
    guard !changes.isEmpty else { return [:] }
    let years = data.constant("clc_years_between_inventories")
    var raw: [Leaf: [Leaf: Double]] = [:]
    var artificialOriginCounted = false
    var unchangedRows = 0, unchangedArea = 0.0
    for (j, change) in changes.enumerated() {
      let field = "\(path)[\(j)]"
      let area = try Validate.nonNegative(change.areaHa, "\(field).area_ha")
      let fromLeaves = try leaves(of: change.code2012, "\(field).code_2012")
      let toLeaves = try leaves(of: change.code2018, "\(field).code_2018")
      // ALDO's own clc18-change.csv has 1 257 such rows (73 communes of Hauts-de-France): ALDO
      // pairs distinct leaves only, so a row whose code did not change gives no flux.
      if change.code2012 == change.code2018 {
        unchangedRows += 1
        unchangedArea += area
        continue
      }
      guard years > 0 else { continue }
      for from in fromLeaves {
        // Corrected mode: an artificial origin code (shared by sealed and grassed) counts once, as sealed.
        if corrected && from == .artificialGrassed && fromLeaves.contains(.artificialSealed) { continue }
        for to in toLeaves where to != from {
          raw[from, default: [:]][to, default: 0] += area / years
          if from == .artificialGrassed && !to.isArtificial && area > 0 { artificialOriginCounted = true }
        }
      }
    }
    if unchangedRows > 0 && summarisePerPart {
      unchangedRowsParts.append((partName, unchangedRows, unchangedArea))
    } else if unchangedRows > 0 {
      trace.rule(
        "aldo.clc.unchanged_rows_ignored",
        "\(partName): \(unchangedRows) CLC row(s) whose 2018 code equals the 2012 code (\(unchangedArea) ha) ignored: "
          + "no land-use change, no flux, as ALDO pairs only distinct land uses (README §2.2 step 1)")
    }
    if artificialOriginCounted && summarisePerPart {
      artificialOriginParts.append(partName)
    } else if artificialOriginCounted {
      trace.warning(
        "\(partName): CLC rows leaving an artificial code other than 141 are counted from both sealed and grassed "
          + "artificial soils, as ALDO sums every leaf whose CLC list holds the code (README §2.2 step 1); "
          + "CALCULATION_MODE_CORRECTED counts them once, as sealed.")
    }
    return split(raw)
  }

  /// Writes the notes collected while `summarisePerPart` was set, one per kind, naming the parts.
  mutating func flushSummaries() {
    if !unchangedRowsParts.isEmpty {
      let rows = unchangedRowsParts.reduce(0) { $0 + $1.rows }
      let area = unchangedRowsParts.reduce(0) { $0 + $1.area }
      trace.rule(
        "aldo.clc.unchanged_rows_ignored",
        "\(rows) CLC row(s) whose 2018 code equals the 2012 code (\(area) ha) ignored: no land-use change, no flux, as ALDO "
          + "pairs only distinct land uses (README §2.2 step 1); in \(unchangedRowsParts.count) part(s): "
          + unchangedRowsParts.map { "\($0.part) (\($0.rows))" }.joined(separator: ", "))
      unchangedRowsParts = []
    }
    if !artificialOriginParts.isEmpty {
      trace.warning(
        "CLC rows leaving an artificial code other than 141 are counted from both sealed and grassed artificial soils, as "
          + "ALDO sums every leaf whose CLC list holds the code (README §2.2 step 1; CALCULATION_MODE_CORRECTED counts them "
          + "once, as sealed), in \(artificialOriginParts.count) part(s): " + artificialOriginParts.joined(separator: ", "))
      artificialOriginParts = []
    }
  }

  private func leaves(of code: String, _ field: String) throws(ModuleError) -> [Leaf] {
    let found = Leaf.allCases.filter { data.clcCodes[$0]?.contains(code) == true }
    if found.isEmpty && !Self.clcCodesOutsideAldo.contains(code) {
      throw .invalidArgument(field, "unknown Corine Land Cover level-3 code \(code.quoted)")
    }
    return found
  }

  /// ALDO's artificial split (`artificial_split_rules`): C = raw change to artificial codes
  /// other than 141 (stored under both sealed and grassed), A = raw change to 141.
  func split(_ raw: [Leaf: [Leaf: Double]]) -> [Leaf: [Leaf: Double]] {
    let p = sealedShareFraction
    var result: [Leaf: [Leaf: Double]] = [:]
    for (from, targets) in raw {
      for (to, area) in targets where !to.isArtificial { result[from, default: [:]][to] = area }
      let c = targets[.artificialSealed] ?? targets[.artificialGrassed] ?? 0
      let a = targets[.artificialWooded] ?? 0
      let vegetatedShareHolds = a < (1 - p) * (c + a)
      let sealed: Double = from == .artificialGrassed ? 0 : (vegetatedShareHolds ? p * (c + a) : c)
      let grassed: Double
      if from == .artificialSealed {
        grassed = 0
      } else if from.isForest && !corrected {
        grassed = (1 - p) * c  // as coded: A is ignored, the split is not area-conserving (README §3.6)
      } else {
        grassed = vegetatedShareHolds ? (1 - p) * (c + a) - a : 0
      }
      let noWoodedFrom: Set<Leaf> = [.artificialGrassed, .grasslandWooded, .grasslandShrubby, .orchards, .vineyards, .wetlands]
      let wooded = noWoodedFrom.contains(from) ? 0 : a
      for (to, area) in [(Leaf.artificialSealed, sealed), (.artificialGrassed, grassed), (.artificialWooded, wooded)]
      where to != from && area != 0 {
        result[from, default: [:]][to] = area
      }
    }
    return result
  }
}
