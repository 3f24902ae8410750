import CarbonDomain
import CarbonPluginKit

/// A flux calculation's response with its per-part entries and parts (for the exports).
struct FluxOutcome {
  var response: Carbon_Aldo_V1_ComputeFluxResponse
  /// Every non-zero entry, per part (a territory's communes not summed).
  var items: [FluxItem]
  var parts: [ResolvedPart]
  var territory: TerritoryParts?
}

extension AldoModule {
  public func computeFlux(_ request: Carbon_Aldo_V1_ComputeFluxRequest) throws(ModuleError)
    -> Carbon_Aldo_V1_ComputeFluxResponse
  {
    var trace = newTrace()
    let outcome = try flux(request, field: "", trace: &trace)
    var response = outcome
    response.trace = trace.build()
    return response
  }

  /// The whole flux calculation; `field` prefixes error paths (e.g. "flux." for RenderFluxChart).
  func flux(
    _ request: Carbon_Aldo_V1_ComputeFluxRequest, field prefix: String, trace: inout TraceBuilder
  ) throws(ModuleError) -> Carbon_Aldo_V1_ComputeFluxResponse {
    try fluxOutcome(request, field: prefix, trace: &trace).response
  }

  /// The flux calculation with what the exports need besides the response: the entries of
  /// every part (not summed over a territory's communes) and the parts themselves.
  func fluxOutcome(
    _ request: Carbon_Aldo_V1_ComputeFluxRequest, field prefix: String, trace: inout TraceBuilder
  ) throws(ModuleError) -> FluxOutcome {
    if !request.hasTerritory { try Validate.nonEmpty(request.parts, "\(prefix)parts") }
    let mode: Carbon_Aldo_V1_CalculationMode = request.mode == .unspecified ? .asCoded : request.mode
    guard [.asCoded, .corrected].contains(mode) else {
      throw .invalidArgument("\(prefix)mode", "has an unknown value \(request.mode.rawValue)")
    }
    let woodMethod = try WoodProductShares.method(request.woodProductsMethod, field: "\(prefix)wood_products_method")
    let epci = try epciInfo(request.epciSiren, field: "\(prefix)epci_siren", trace: &trace)
    let corrected = mode == .corrected

    var reference = data
    let overrides = try reference.apply(request.factorOverrides, field: "\(prefix)factor_overrides")
    let sealedShareFraction =
      request.hasSealedShareFraction
      ? try Validate.inRange(request.sealedShareFraction, 0...1, "\(prefix)sealed_share_fraction")
      : try Validate.inRange(
        reference.constant("default_proportion_sealed"), 0...1, "\(prefix)factor_overrides")

    recordDecisions(&trace, mode: mode, woodMethod: woodMethod, sealedShareFraction: sealedShareFraction, explicit: request.hasSealedShareFraction)

    var input = TerritoryInput(
      data: reference, communes: communes, sealedShareFraction: sealedShareFraction, corrected: corrected, trace: trace, fieldPrefix: prefix)
    var parts: [ResolvedPart] = []
    var territory: TerritoryParts? = nil
    if request.hasTerritory {
      guard request.parts.isEmpty else {
        throw .invalidArgument("\(prefix)parts", "give either parts or territory, not both")
      }
      let resolved = try territoryParts(request.territory, field: "\(prefix)territory", input: &input, trace: &trace)
      input.trace = trace
      parts = resolved.communeParts + resolved.forestParts
      territory = resolved
    }
    for (index, part) in request.parts.enumerated() {
      var resolved = try input.resolve(part, index: index)
      if parts.contains(where: { $0.name == resolved.name }) { resolved.name += " #\(index + 1)" }
      parts.append(resolved)
    }
    trace = input.trace
    var applied = overrides
    applied += try applyAreaOverrides(request.areaOverrides, to: &parts, field: "\(prefix)area_overrides", reference: reference)

    trace.term("c_to_co2_factor", reference.constant("c_to_co2_factor"), .ratio, formula: "44/12", source: "Data/aldo-constants.csv")
    trace.term("sealed_share_fraction", sealedShareFraction, .ratio, source: request.hasSealedShareFraction ? "request" : "Data/aldo-constants.csv")
    trace.term(
      "n2o_gwp", corrected ? reference.constant("n2o_gwp_ar5_corrected") : reference.constant("n2o_gwp"), .ratio,
      formula: corrected ? "AR5 (corrected mode)" : "AR6 as ALDO codes it", source: "Data/aldo-constants.csv")
    trace.term(
      "n2o_direct_n_to_n2o_factor",
      corrected ? reference.constant("n2o_direct_n_to_n2o_factor_corrected") : reference.constant("n2o_direct_n_to_n2o_factor_as_coded"),
      .ratio, formula: corrected ? "44/28" : "44/25 as ALDO codes it", source: "Data/aldo-constants.csv")
    trace.term("transition_years", reference.constant("transition_years_default"), .year, source: "Data/aldo-constants.csv")
    var calculator = FluxCalculator(data: reference, corrected: corrected, trace: trace)
    for part in parts {
      calculator.landUseChanges(part)
      calculator.forestGrowth(part)
    }
    let wood = calculator.woodProducts(parts, method: woodMethod)
    var practiceIndex: [Carbon_Aldo_V1_Practice: Int] = [:]
    for (index, practice) in request.practices.enumerated() {
      let field = "\(prefix)practices[\(index)]"
      try Validate.specified(practice.practice, "\(field).practice") { $0.aldoName != nil }
      // ALDO keys practices by name, so it takes one area each: a second entry would be summed
      // silently, as a pair given twice in area_overrides would; both are refused.
      if let first = practiceIndex[practice.practice] {
        throw .invalidArgument("\(field).practice", "\(practice.practice) is already given in \(prefix)practices[\(first)]")
      }
      practiceIndex[practice.practice] = index
      let area = try Validate.nonNegative(practice.areaHa, "\(field).area_ha")
      guard let name = practice.practice.aldoName, let factors = reference.practices[name] else {
        throw .invalidArgument("\(field).practice", "has no factors")
      }
      guard factors.inAldoList else {
        throw .failedPrecondition(
          rule: "aldo.practices.not_in_aldo_list",
          "\(field).practice \(name): ALDO has factors for it but refuses it (not in its AgriculturalPractices list)")
      }
      calculator.practice(practice.practice, name: name, factors: factors, area: area)
    }
    trace = calculator.trace
    if corrected { recordCorrections(&trace) }

    let items = calculator.items.filter { $0.storedCo2e != 0 }
    var response = Carbon_Aldo_V1_ComputeFluxResponse()
    response.territoryName = request.territoryName.isEmpty ? (territory?.info.label ?? epci?.name ?? "") : request.territoryName
    if let epci { response.epci = epci }
    response.balance = BalanceBuilder.balance(of: items)
    if let territory {
      let communeNames = Set(territory.communeParts.map(\.name))
      response.entries = Self.territoryEntries(items, communeParts: communeNames, label: territory.info.label).map(\.message)
      response.territory = territory.info
      for index in response.territory.epcis.indices {
        let prefix = "EPCI \(response.territory.epcis[index].siren) forest"
        let stored = items.filter { $0.pool == .forestGrowth && $0.part.hasPrefix(prefix) }.reduce(0) { $0 + $1.storedCo2e }
        response.territory.epcis[index].growthFluxTCo2EPerYr = ObservatorySign.flux(fromStored: stored)
      }
      Self.recordBoundarySpread(response.territory, in: &trace)
      if request.territory.perCommune {
        response.communes = Self.communeFluxes(items, communeOfPart: territory.communeOfPart)
      }
    } else {
      response.entries = items.map(\.message)
    }
    response.annualAreas = Self.annualAreas(parts, territoryLabel: territory?.info.label)
    response.woodProducts = wood
    response.n2OTPerYr = items.reduce(0) { $0 + $1.n2oEmitted }
    response.overrides = applied
    response.dataSetVersion = AldoReferenceData.version
    response.mode = mode
    Self.recordOverrides(applied, in: &trace)
    trace.term("n2o_emitted", response.n2OTPerYr, .t, formula: "Σ N2O entries (t N2O/yr)")
    Self.recordTotals(response.balance, in: &trace)
    return FluxOutcome(response: response, items: items, parts: parts, territory: territory)
  }

  /// The spread the reference pack asks to report for EPCIs across the territory's boundary
  /// (README §5.6 b): standing-forest growth with whole EPCIs and with the majority rule (an EPCI
  /// counts whole when most of its communes are inside, else not at all), next to the share of
  /// communes used. Growth is linear in the share, so each EPCI's growth at share 1 is growth / share.
  static func recordBoundarySpread(_ territory: Carbon_Aldo_V1_TerritoryInfo, in trace: inout TraceBuilder) {
    let straddling = territory.epcis.filter { $0.shareFraction > 0 && $0.shareFraction < 1 }
    guard !straddling.isEmpty else { return }
    let used = territory.epcis.reduce(0) { $0 + $1.growthFluxTCo2EPerYr }
    let whole = territory.epcis.reduce(0) { $0 + ($1.shareFraction > 0 ? $1.growthFluxTCo2EPerYr / $1.shareFraction : 0) }
    let majority = territory.epcis.reduce(0) { $0 + ($1.shareFraction > 0.5 ? $1.growthFluxTCo2EPerYr / $1.shareFraction : 0) }
    trace.term("forest_growth_share_of_communes", used, .tCo2EPerYr, formula: "EPCIs across the boundary × share of communes inside (used)")
    trace.term("forest_growth_whole_epcis", whole, .tCo2EPerYr, formula: "every EPCI touched counted whole (spread, not used)")
    trace.term("forest_growth_majority_rule", majority, .tCo2EPerYr, formula: "an EPCI counted whole if most of its communes are inside, else 0 (spread, not used)")
    trace.warning(
      "\(straddling.count) EPCI(s) straddle the territory's boundary (\(straddling.map { "\($0.siren) \($0.communesInside)/\($0.communesTotal)" }.joined(separator: ", "))): "
        + "their forest counts with their share of communes inside; spread of the growth: whole EPCIs \(Int(whole.rounded())), "
        + "majority rule \(Int(majority.rounded())), used \(Int(used.rounded())) t CO2e/yr (reference pack README §5.6 b)")
  }

  /// The annual change areas used: per part, or summed over the communes of a territory.
  static func annualAreas(_ parts: [ResolvedPart], territoryLabel: String?) -> [Carbon_Aldo_V1_AnnualArea] {
    if let territoryLabel {
      var sums: [Leaf: [Leaf: Double]] = [:]
      for part in parts {
        for (from, targets) in part.areas { for (to, area) in targets where area > 0 { sums[from, default: [:]][to, default: 0] += area } }
      }
      return Leaf.allCases.flatMap { from in
        Leaf.allCases.compactMap { to -> Carbon_Aldo_V1_AnnualArea? in
          guard let area = sums[from]?[to] else { return nil }
          var entry = Carbon_Aldo_V1_AnnualArea()
          entry.part = territoryLabel
          entry.fromLandUse = from.landUse
          entry.toLandUse = to.landUse
          entry.areaHaPerYr = area
          return entry
        }
      }
    }
    return parts.flatMap { part in
      Leaf.allCases.flatMap { from in
        Leaf.allCases.compactMap { to -> Carbon_Aldo_V1_AnnualArea? in
          guard let area = part.areas[from]?[to], area > 0 else { return nil }
          var entry = Carbon_Aldo_V1_AnnualArea()
          entry.part = part.name
          entry.fromLandUse = from.landUse
          entry.toLandUse = to.landUse
          entry.areaHaPerYr = area
          return entry
        }
      }
    }
  }

  /// ALDO's `areaChanges`: replaces a leaf pair's annual area over the territory; each part's
  /// share follows its default area (area-weighted unit flux), or is equal when all are 0 —
  /// « plain mean if all areas are 0 » over the communes (reference pack README §2.2 step 3).
  func applyAreaOverrides(
    _ overrides: [Carbon_Aldo_V1_AreaOverride], to parts: inout [ResolvedPart], field: String,
    reference: AldoReferenceData
  ) throws(ModuleError) -> [Carbon_Aldo_V1_AppliedOverride] {
    var applied: [Carbon_Aldo_V1_AppliedOverride] = []
    var seen: Set<String> = []
    for (index, override) in overrides.enumerated() {
      let path = "\(field)[\(index)]"
      let (from, to) = try TerritoryInput.pair(override.fromLandUse, override.toLandUse, path)
      let area = try Validate.nonNegative(override.areaHaPerYr, "\(path).area_ha_per_yr")
      let name = "area/\(reference.altFluxId[from] ?? from.aldoName)_\(reference.altFluxId[to] ?? to.aldoName)"
      guard seen.insert(name).inserted else { throw .invalidArgument("\(path).to_land_use", "the pair is overridden twice") }
      // ALDO spreads over its communes: the EPCI substitute's forest parts (no zone, no land-use
      // change) take no share, else the plain mean would give them area without soil flux.
      let communes = parts.indices.filter { !parts[$0].isEpciForest }
      guard !communes.isEmpty else {
        throw .invalidArgument("\(path).area_ha_per_yr", "no part of the territory has a pedoclimatic zone to carry the area")
      }
      let total = communes.reduce(0) { $0 + (parts[$1].areas[from]?[to] ?? 0) }
      for index in communes {
        let current = parts[index].areas[from]?[to] ?? 0
        let share = total > 0 ? current / total : 1 / Double(communes.count)
        parts[index].areas[from, default: [:]][to] = area * share
      }
      var entry = Carbon_Aldo_V1_AppliedOverride()
      entry.name = name
      entry.defaultValue = total
      entry.value = area
      entry.unit = "ha/yr"
      applied.append(entry)
    }
    return applied
  }

  private func recordDecisions(
    _ trace: inout TraceBuilder, mode: Carbon_Aldo_V1_CalculationMode, woodMethod: Carbon_Aldo_V1_WoodProductsMethod,
    sealedShareFraction: Double, explicit: Bool
  ) {
    trace.decision(
      "calculation_mode", mode == .corrected ? "CORRECTED" : "AS_CODED",
      reason: mode == .corrected
        ? "requested: each documented ALDO oddity is fixed and listed in the rules"
        : "default (METHODS.md §3): reproduce ALDO as coded so the territory gets the official tool's figures")
    WoodProductShares.recordMethod(woodMethod, in: &trace)
    trace.decision(
      "sealed_share_fraction", "\(sealedShareFraction)",
      reason: explicit ? "given by the request" : "ALDO default (aldo-constants.csv default_proportion_sealed)")
    trace.decision(
      "practices_years", "no ×20",
      reason: "ALDO's code applies area × factor per year; the 20 years of its documentation is the saturation period (README §3.2)")
    trace.decision(
      "forest_biomass_factors", "IGN bilan_carbone column",
      reason: "ALDO applies no expansion factor, density or carbon fraction: the IGN per-ha carbon balance is used (README §3.3)")
    trace.decision(
      "pedoclimatic_zone", "each part its own zone",
      reason: "ALDO's code uses each commune's zone, not the EPCI majority zone its chart note mentions (README §3.8)")
    trace.decision(
      "summary_without_forests", "guarded",
      reason: "ALDO crashes when no flux goes to forests (README §3.7); the module reports 0 for the group")
    trace.decision(
      "hedges_flux", "0",
      reason: "ALDO computes no hedge flux; hedge practices count under crops or grasslands (README §2.11)")
  }

  private func recordCorrections(_ trace: inout TraceBuilder) {
    trace.rule("aldo.corrected.n2o_direct_factor", "direct N2O term uses 44/28 instead of ALDO's 44/25 (README §3.1)")
    trace.rule("aldo.corrected.n2o_gwp", "N2O GWP 265 (AR5, METHODS.md) instead of ALDO's 273 (README §3.1)")
    trace.rule("aldo.corrected.litter", "wooded artificial soils lose litter and sealed → forest gains it (README §3.5)")
    trace.rule("aldo.corrected.artificial_split_from_forest", "the split from a forest origin is area-conserving (README §3.6)")
    trace.rule("aldo.corrected.artificial_origin", "a CLC row leaving a shared artificial code counts once, as sealed")
    trace.rule("aldo.corrected.deforestation_density", "a part without forest stand uses France's IGN density (README §3.4)")
  }
}
