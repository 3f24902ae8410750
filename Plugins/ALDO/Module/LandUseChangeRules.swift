/// ALDO's rules for the unit fluxes of a land-use change (as coded in its `data/flux.js`),
/// described in /work/shared/aldo/README.md §2.3–2.6 and `aldo-constants.json`.
///
/// The rules are logic, not figures: every figure they read comes from the reference data.
struct LandUseChangeRules: Sendable {
  let data: AldoReferenceData
  /// Corrected mode: fix the litter asymmetry (README §3.5).
  let correctLitter: Bool

  /// A soil unit flux and the reference columns it came from.
  struct SoilUnit {
    var value: Double
    var reference: String
  }

  /// Soil unit flux (tC/ha or tC/ha/yr) for a pair in a zone, nil when ALDO has none.
  func soilUnit(from: Leaf, to: Leaf, zone: String) -> SoilUnit? {
    guard let columns = soilColumns(from: from, to: to) else { return nil }
    if columns.isEmpty { return SoilUnit(value: 0, reference: "rule: no soil flux for this pair") }
    var total = 0.0
    for column in columns {
      guard let value = data.soilFlux[zone]?[column] else { return nil }
      total += value
    }
    return SoilUnit(value: total, reference: "flux-zpc \(zone) " + columns.joined(separator: " + "))
  }

  /// The flux-zpc columns whose sum is the soil unit flux: [] = zero, nil = no soil flux.
  /// Substitutions are recursive, as ALDO's handleGroundCarbonFluxExceptions.
  func soilColumns(from: Leaf, to: Leaf) -> [String]? {
    let fromId = data.fluxId[from] ?? "", toId = data.fluxId[to] ?? ""
    if fromId == toId { return [] }
    let orchardOrVine: (Leaf) -> Bool = { $0 == .orchards || $0 == .vineyards }
    if from == .crops && orchardOrVine(to) { return [] }
    if from.isGrassland && to == .artificialWooded { return ["prai_for"] }
    if from.isGrassland && to == .artificialGrassed { return [] }
    if from.isForest && to == .artificialWooded { return [] }
    if from == .wetlands {
      if orchardOrVine(to) { return ["zh_cult"] }
      if to == .artificialSealed { return ["zh_cult", "cult_art_imp"] }
      if to == .artificialGrassed { return ["zh_prai"] }
      if to == .artificialWooded { return ["zh_for"] }
    }
    if orchardOrVine(from) && (to == .crops || orchardOrVine(to)) { return [] }
    if orchardOrVine(from) && (to == .wetlands || to.isArtificial) { return soilColumns(from: .crops, to: to) }
    if from == .artificialSealed { return soilColumns(from: .crops, to: to) }
    if from == .artificialGrassed { return soilColumns(from: .grasslandHerbaceous, to: to) }
    if from == .artificialWooded { return soilColumns(from: .forestBroadleaf, to: to) }
    let column = "\(fromId)_\(toId)"
    return data.soilFluxColumns.contains(column) ? [column] : nil
  }

  /// Years multiplier of the soil unit flux: 1 when the value is an instantaneous stock
  /// difference (wetlands, artificialisation), otherwise the transition period (20).
  func soilYears(from: Leaf, to: Leaf) -> Double {
    if from == .wetlands || to == .wetlands || to.isArtificial { return 1 }
    return data.constant("transition_years_default")
  }

  /// Litter unit flux (tC/ha, instantaneous), nil when none. Only for pairs whose soil ids differ.
  func litterUnit(from: Leaf, to: Leaf) -> Double? {
    guard data.fluxId[from] != data.fluxId[to] else { return nil }
    let litter = data.constant("forest_litter_flux")
    let toWoody = to.isForest || to == .artificialWooded
    if from.isForest && !toWoody { return -litter }
    if correctLitter && from == .artificialWooded && !toWoody { return -litter }
    if toWoody && !(from.isForest || from == .artificialWooded || (from == .artificialSealed && !correctLitter)) {
      return litter
    }
    return nil
  }

  /// The biomass-hors-forets column of a pair, after ALDO's replacements.
  func biomassColumn(from: Leaf, to: Leaf) -> String {
    let column = "\(from.aldoName) vers \(to.aldoName)"
    return data.biomassKeyReplacements[column] ?? column
  }

  /// Years multiplier of the non-forest biomass flux (ordered rules, first match wins):
  /// gains are spread over 20 years, losses are instantaneous. Nil for forest pairs.
  func biomassYears(from: Leaf, to: Leaf) -> Double? {
    if from.isForest || to.isForest { return nil }
    let spread = data.constant("transition_years_default")
    let rules: [(matches: Bool, years: Double)] = [
      (from == .artificialSealed, spread), (to == .artificialSealed, 1),
      (to == .grasslandWooded, spread), (from == .grasslandWooded, 1),
      (from == .wetlands, spread), (to == .wetlands, 1),
      (from == .crops, spread), (to == .crops, 1),
      (from == .artificialWooded, 1), (to == .artificialWooded, spread),
      (from == .grasslandHerbaceous, spread), (to == .grasslandHerbaceous, 1),
      (from == .orchards, 1), (to == .orchards, spread),
      (from == .vineyards, spread), (to == .vineyards, 1),
      (from == .grasslandShrubby, 1), (to == .grasslandShrubby, spread),
    ]
    return rules.first(where: { $0.matches })?.years ?? 1
  }

  /// Non-forest biomass unit flux of a pair in an inter-region, nil when the cell is empty.
  func biomassUnit(from: Leaf, to: Leaf, interRegion: String) -> (value: Double, reference: String)? {
    guard !from.isForest, !to.isForest else { return nil }
    let column = biomassColumn(from: from, to: to)
    guard let value = data.biomass[interRegion]?[column] else { return nil }
    return (value, "biomass-hors-forets \(interRegion) \"\(column)\"")
  }

  /// Biomass stock of a non-forest leaf in an inter-region (tC/ha; empty = 0).
  func biomassStock(_ leaf: Leaf, interRegion: String) -> Double {
    data.biomass[interRegion]?[leaf.aldoName] ?? 0
  }
}
