import CarbonDomain
import CarbonPluginKit

/// The guide's specific rules: gases above 10 %, natural sinks, items reported apart.
enum GuideRules {
  /// Share of the company's CO2e above which a non-CO2 gas is checked on its own budget
  /// (guide, « Liste des gaz à effet de serre »: « plus de 10% en CO2eq »).
  static let gasShareThreshold = 0.10
  /// How far the gases' CO2e may exceed the categories' gross total before the split is refused:
  /// room for masses rounded to the tonne, not for a second set of emissions.
  static let gasSplitRoundingAllowance = 0.01

  // MARK: - Gas-specific check

  /// The reference series of a gas: the sector's gas trajectory when the guide tabulates it
  /// (Annex II AMS for agriculture CH4/N2O and fluorinated gases of transport, industry and
  /// buildings; Annex I budget for waste CH4), else the national budget by gas (Annex I,
  /// excluding LULUCF).
  static func gasSeriesId(gas: Gas, sector: SnbcSector) -> (id: String, sectoral: Bool) {
    switch (gas, sector) {
    case (.ch4, .agriculture): return ("agriculture.ch4", true)
    case (.n2O, .agriculture): return ("agriculture.n2o", true)
    case (.ch4, .waste): return ("budget.waste.ch4", true)
    case (.fluorinatedCo2E, .transport): return ("transport.fluorinated", true)
    case (.fluorinatedCo2E, .industry): return ("industry.fluorinated", true)
    case (.fluorinatedCo2E, .buildings): return ("buildings.fluorinated", true)
    case (.ch4, _): return ("budget.gas.ch4_excl_lulucf", false)
    case (.n2O, _): return ("budget.gas.n2o_excl_lulucf", false)
    case (.fluorinatedCo2E, _): return ("budget.gas.fluorinated_excl_lulucf", false)
    default: return ("budget.gas.co2_excl_lulucf", false)
    }
  }

  /// Checks every gas given; the >10 % non-CO2 gases are compared with their budget.
  ///
  /// The 10 % test is on a gas's whole share of the company's emissions (« les émissions d'un
  /// gaz autre que le CO2 représenterait plus de 10% en CO2eq des émissions de l'entreprise »),
  /// so a gas given in several sectors is summed first; each sector's part is then compared with
  /// that sector's trajectory for the gas (« pour le secteur concerné si l'information est
  /// disponible en annexe, ou au niveau global sinon »).
  ///
  /// `totalsGwpSet` is the metric of the categories' CO2e totals (`emissions_gwp_set`, or the
  /// gas split's when not stated): the gases are weighed in it to check they fit in the totals.
  static func gasChecks(
    _ gases: [Carbon_Snbc_V1_GasEmissions], assessment: ValidatedAssessment, gwpSet: GwpSet,
    totalsGwpSet: GwpSet, tolerancePp: Double, catalog: ReferenceCatalog, trace: inout TraceBuilder
  ) throws(ModuleError) -> [Carbon_Snbc_V1_GasCheck] {
    var entries: [(check: Carbon_Snbc_V1_GasCheck, targetMass: [Horizon: Double])] = []
    var seen = Set<String>()
    var gasTotals: [Gas: Double] = [:]
    // The gases' CO2e in the totals' metric, to compare like with like.
    var gasesInTotalsMetric = 0.0
    for (index, gas) in gases.enumerated() {
      let path = "gases[\(index)]"
      try Validate.specified(gas.gas, path + ".gas") { [.co2, .ch4, .n2O, .fluorinatedCo2E].contains($0) }
      try Validate.inRange(gas.sector.rawValue, 0...7, path + ".sector")
      guard seen.insert("\(gas.gas.rawValue)/\(gas.sector.rawValue)").inserted else {
        throw .invalidArgument(path + ".gas", "this gas and sector are given twice")
      }
      let unit = GasUnit(gas.gas)
      let mass = try unit.reference(of: gas, path: path)
      guard let gwp = GlobalWarmingPotential.factor(for: gas.gas, in: gwpSet) else {
        throw .invalidArgument(path + ".gas", "no GWP for this gas in the chosen set")
      }
      var check = Carbon_Snbc_V1_GasCheck()
      check.gas = gas.gas
      check.gwpSet = gwpSet
      check.gwpKgCo2EPerKg = gwp
      check.referenceTCo2E = mass * gwp
      gasTotals[gas.gas, default: 0] += check.referenceTCo2E
      if unit == .tonnesOfGas, let totalsGwp = GlobalWarmingPotential.factor(for: gas.gas, in: totalsGwpSet) {
        gasesInTotalsMetric += mass * totalsGwp
      } else {
        gasesInTotalsMetric += check.referenceTCo2E
      }
      let label = "gas_\(gas.gas.rawValue)_\(gas.sector.rawValue)"
      let setName = "GWP100 " + GwpPolicy.name(gwpSet)
      trace.term(label + "_gwp", gwp, .ratio, formula: setName, source: "gwp-sets")
      trace.term(label + "_reference_t_co2e", check.referenceTCo2E, .tCo2E, formula: unit.co2eFormula(setName: setName, gwp: gwp))
      // Masses of other horizons are validated even when the check does not apply.
      var targetMass: [Horizon: Double] = [:]
      for (targetIndex, target) in gas.targets.enumerated() {
        let targetPath = "\(path).targets[\(targetIndex)]"
        let horizon = try Validate.specified(target.horizon, targetPath + ".horizon") { Horizon.required.contains($0) }
        guard targetMass[horizon] == nil else {
          throw .invalidArgument(targetPath + ".horizon", "\(horizon.protoName) is given twice")
        }
        targetMass[horizon] = try unit.planned(target, path: targetPath)
      }
      entries.append((check, targetMass))
    }
    guard !entries.isEmpty else { return [] }
    // The gases split the company's emissions: together, in the totals' metric, they cannot
    // exceed them (1 % is left for masses rounded to the tonne).
    if gasesInTotalsMetric > assessment.grossReferenceTotal * (1 + gasSplitRoundingAllowance) {
      throw .invalidArgument(
        "gases",
        "the gases add up to \(gasesInTotalsMetric) t CO2e (GWP100 \(GwpPolicy.name(totalsGwpSet)), the totals' metric), "
          + "more than the categories' gross reference emissions \(assessment.grossReferenceTotal) t CO2e: "
          + "the split by gas must be of the same emissions")
    }
    // The shares divide figures of one metric, the gas split's (the inventory's, which « le
    // budget carbone pour ce gaz » is in): the totals are restated in it by swapping the gases'
    // CO2e in the totals' metric for theirs in the split's (the same figure when the sets agree).
    let gasesInSplitMetric = gasTotals.values.reduce(0, +)
    let denominator = assessment.grossReferenceTotal - gasesInTotalsMetric + gasesInSplitMetric
    trace.decisionOnce(
      "gas_share_denominator", "GROSS_CATEGORY_TOTAL",
      reason: "« plus de 10% en CO2eq des émissions de l'entreprise »: the share is taken of the sum "
        + "of the categories' reference emissions before technological sinks, in the gas split's GWP set")
    if totalsGwpSet != gwpSet {
      trace.term(
        "gross_reference_in_gas_split_metric", denominator, .tCo2E,
        formula: "categories' gross total (GWP100 \(GwpPolicy.name(totalsGwpSet))) − the gases in that set "
          + "+ the gases in GWP100 \(GwpPolicy.name(gwpSet))")
    }
    var checks: [Carbon_Snbc_V1_GasCheck] = []
    for (index, entry) in entries.enumerated() {
      var check = entry.check
      let gas = gases[index]
      check.shareFraction = check.referenceTCo2E / denominator
      trace.term(
        "gas_\(gas.gas.rawValue)_\(gas.sector.rawValue)_share", check.shareFraction, .ratio,
        formula: "gas CO2e in this sector / gross company CO2e")
      check.gasShareFraction = (gasTotals[check.gas] ?? 0) / denominator
      check.checkRequired = check.gas != .co2 && check.gasShareFraction > gasShareThreshold
      if check.gasShareFraction != check.shareFraction {
        trace.term(
          "gas_\(check.gas.rawValue)_share", check.gasShareFraction, .ratio,
          formula: "Σ sectors' CO2e of the gas / gross company CO2e")
      }
      guard check.checkRequired else {
        checks.append(check)
        continue
      }
      let targetMass = entry.targetMass
      let gwp = check.gwpKgCo2EPerKg
      let (seriesId, sectoral) = gasSeriesId(gas: gas.gas, sector: gas.sector)
      guard let series = catalog.lookup(seriesId), let gasPath = SeriesPath.of(series, basis: .unspecified) else {
        throw .internal("gas series \(seriesId) missing from the embedded data")
      }
      check.seriesID = series.id
      trace.rule(
        "snbc.gas.share_above_10_percent",
        "gas \(gas.gas.rawValue) is \(check.gasShareFraction * 100) % of company CO2e (GWP100 \(GwpPolicy.name(gwpSet)))"
          + (check.gasShareFraction != check.shareFraction ? ", \(check.shareFraction * 100) % in this sector" : "")
          + ": checked against \(series.id)"
          + (sectoral ? " (sector trajectory)" : " (national budget by gas: no sector table in the guide)"))
      for horizon in Horizon.required {
        guard let mass = targetMass[horizon] else {
          throw .invalidArgument(
            "gases[\(index)].targets", "missing horizon \(horizon.protoName): the gas exceeds 10 % and is checked on its own budget")
        }
        guard let year = assessment.horizonYears[horizon] else { continue }
        let rate = ReferenceRate.of(gasPath, from: assessment.referenceYear, to: year)
        if rate?.extended == true { trace.recordPeriodExtension() }
        if rate == nil {
          trace.warning(
            "gas \(gas.gas.rawValue): \(series.id) does not cover \(assessment.referenceYear)-\(year) (\(gasPath.firstYear)-\(gasPath.lastYear)); not assessable at \(horizon.protoName)")
        }
        guard check.referenceTCo2E > 0 else { continue }
        check.horizons.append(
          ReductionComparison.assess(
            horizon: horizon, targetYear: year, companyReference: check.referenceTCo2E,
            companyTarget: mass * gwp, reference: rate, indirect: false, tolerancePp: tolerancePp))
      }
      checks.append(check)
    }
    return checks
  }

  /// The one unit a gas's figures are given in. CO2, CH4 and N2O are masses of the gas,
  /// weighted by the request's GWP set; fluorinated gases (HFC, PFC, SF6, NF3) are already in
  /// t CO2e, since each compound has its own GWP and the guide's budgets for them are in CO2e.
  /// A figure in the other unit is refused, never silently read as this one.
  enum GasUnit {
    case tonnesOfGas
    case tonnesCo2e

    init(_ gas: Gas) { self = gas == .fluorinatedCo2E ? .tonnesCo2e : .tonnesOfGas }

    /// Why this unit, for the refusal of the other one.
    private var reason: String {
      switch self {
      case .tonnesOfGas:
        "CO2, CH4 and N2O are given in tonnes of the gas itself and weighted by the request's GWP set"
      case .tonnesCo2e:
        "fluorinated gases are given in t CO2e: each compound has its own GWP and the guide's "
          + "fluorinated budgets are in CO2e"
      }
    }

    /// The reference-year figure of `gas`, in this unit.
    func reference(of gas: Carbon_Snbc_V1_GasEmissions, path: String) throws(ModuleError) -> Double {
      let expected = path + (self == .tonnesOfGas ? ".reference_mass_t_gas" : ".reference_t_co2e")
      switch gas.reference {
      case .referenceMassTGas(let value)? where self == .tonnesOfGas,
        .referenceTCo2E(let value)? where self == .tonnesCo2e:
        return try Validate.nonNegative(value, expected)
      case .referenceMassTGas?:
        throw .invalidArgument(path + ".reference_mass_t_gas", "\(reason): give reference_t_co2e instead")
      case .referenceTCo2E?:
        throw .invalidArgument(path + ".reference_t_co2e", "\(reason): give reference_mass_t_gas instead")
      case nil:
        throw .invalidArgument(expected, "is required (\(reason))")
      }
    }

    /// The figure planned at one horizon, in this unit.
    func planned(_ target: Carbon_Snbc_V1_GasTarget, path: String) throws(ModuleError) -> Double {
      let expected = path + (self == .tonnesOfGas ? ".mass_t_gas" : ".t_co2e")
      switch target.planned {
      case .massTGas(let value)? where self == .tonnesOfGas, .tCo2E(let value)? where self == .tonnesCo2e:
        return try Validate.nonNegative(value, expected)
      case .massTGas?:
        throw .invalidArgument(path + ".mass_t_gas", "\(reason): give t_co2e instead, as the reference")
      case .tCo2E?:
        throw .invalidArgument(path + ".t_co2e", "\(reason): give mass_t_gas instead, as the reference")
      case nil:
        throw .invalidArgument(expected, "is required (\(reason))")
      }
    }

    /// How the trace shows the conversion to CO2e.
    func co2eFormula(setName: String, gwp: Double) -> String {
      switch self {
      case .tonnesOfGas: "reference_mass_t_gas × \(setName) (\(gwp))"
      case .tonnesCo2e: "reference_t_co2e, given in CO2e"
      }
    }
  }

  // MARK: - Natural sinks

  /// Natural sinks: counted only within the company's perimeter, compared with the LULUCF
  /// AMS trajectory (growth of removals), never deducted from emissions.
  static func naturalSinks(
    _ sinks: Carbon_Snbc_V1_NaturalSinks, assessment: ValidatedAssessment, catalog: ReferenceCatalog,
    trace: inout TraceBuilder
  ) throws(ModuleError) -> Carbon_Snbc_V1_NaturalSinkAssessment {
    var result = Carbon_Snbc_V1_NaturalSinkAssessment()
    let reference = try Validate.nonNegative(sinks.referenceRemovalsTCo2E, "natural_sinks.reference_removals_t_co2e")
    var targets: [Horizon: Double] = [:]
    for (index, target) in sinks.targets.enumerated() {
      let path = "natural_sinks.targets[\(index)]"
      let horizon = try Validate.specified(target.horizon, path + ".horizon") { Horizon.required.contains($0) }
      guard targets[horizon] == nil else { throw .invalidArgument(path + ".horizon", "\(horizon.protoName) is given twice") }
      targets[horizon] = try Validate.nonNegative(target.removalsTCo2E, path + ".removals_t_co2e")
    }
    guard sinks.withinCompanyPerimeter else {
      trace.rule(
        "snbc.sinks.natural_outside_perimeter",
        "natural sinks outside the company's activity perimeter are not counted (guide, « Puits de carbone »)")
      return result
    }
    result.counted = true
    trace.rule(
      "snbc.sinks.natural_compared_with_lulucf",
      "natural sinks are compared with the LULUCF trajectory and never deducted from emissions")
    guard reference > 0 else {
      throw .invalidArgument("natural_sinks.reference_removals_t_co2e", "must be > 0 to compare the growth of removals")
    }
    guard let lulucf = catalog.lookup("lulucf"), let lulucfPath = SeriesPath.of(lulucf, basis: .projectedAms2018) else {
      throw .internal("LULUCF series missing from the embedded data")
    }
    for horizon in Horizon.required {
      guard let removals = targets[horizon] else {
        throw .invalidArgument("natural_sinks.targets", "missing horizon \(horizon.protoName)")
      }
      guard let year = assessment.horizonYears[horizon],
        let start = lulucfPath.evaluate(at: assessment.referenceYear), let end = lulucfPath.evaluate(at: year)
      else { continue }
      // Removals are the negated LULUCF net flux; growth = (R_t − R_ref)/R_ref.
      let sectorStart = -start.value
      let sectorEnd = -end.value
      var item = HorizonAssessment()
      item.horizon = horizon
      item.targetYear = year
      item.companyReferenceTCo2E = reference
      item.companyTargetTCo2E = removals
      item.companyReductionFraction = (removals - reference) / reference
      item.sectorReferenceValue = start.value
      item.sectorTargetValue = end.value
      item.sectorValuesInterpolated = start.interpolated || end.interpolated
      item.sectorReductionFraction = sectorStart > 0 ? (sectorEnd - sectorStart) / sectorStart : 0
      item.gapPp = (item.companyReductionFraction - item.sectorReductionFraction) * 100
      if item.gapPp >= -VerdictRule.numericalTolerancePp {
        item.verdict = .aligned
        item.verdictRule = "snbc.sinks.removal_growth_at_least_lulucf"
      } else {
        item.verdict = .notAligned
        item.verdictRule = "snbc.sinks.removal_growth_below_lulucf"
      }
      result.horizons.append(item)
    }
    return result
  }

  // MARK: - Reported apart

  /// Offsets, avoided emissions, bunkers and market-based energy: validated, echoed and never
  /// added to any total.
  static func reportedApart(
    _ items: Carbon_Snbc_V1_ReportedApart, referenceYear: Int32, trace: inout TraceBuilder
  ) throws(ModuleError) -> Carbon_Snbc_V1_ReportedApart {
    var items = items
    if items.hasPeriod {
      guard items.period.firstYear > 0, items.period.firstYear <= items.period.lastYear else {
        throw .invalidArgument(
          "reported_apart.period", "first_year (\(items.period.firstYear)) must be given and not after last_year (\(items.period.lastYear))")
      }
    } else {
      items.period.firstYear = referenceYear
      items.period.lastYear = referenceYear
      if items.offsetsTCo2E > 0 || items.avoidedEmissionsTCo2E > 0 {
        trace.decision(
          "reported_apart_period", "REFERENCE_YEAR",
          reason: "no period given: the offsets and avoided emissions are taken as the reference year's (\(referenceYear))")
      }
    }
    let period = items.period.firstYear == items.period.lastYear
      ? "in \(items.period.firstYear)" : "over \(items.period.firstYear)-\(items.period.lastYear)"
    try Validate.nonNegative(items.offsetsTCo2E, "reported_apart.offsets_t_co2e")
    try Validate.nonNegative(items.avoidedEmissionsTCo2E, "reported_apart.avoided_emissions_t_co2e")
    try Validate.nonNegative(items.internationalBunkersTCo2E, "reported_apart.international_bunkers_t_co2e")
    try Validate.nonNegative(items.marketBasedEnergyTCo2E, "reported_apart.market_based_energy_t_co2e")
    if items.offsetsTCo2E > 0 {
      trace.rule(
        "snbc.offsets.excluded",
        "\(items.offsetsTCo2E) t CO2e of offset credits \(period) reported apart, not in any total (guide, « Emissions évitées et compensation »)")
    }
    if items.avoidedEmissionsTCo2E > 0 {
      trace.rule(
        "snbc.avoided_emissions.excluded",
        "\(items.avoidedEmissionsTCo2E) t CO2e of avoided emissions \(period) reported apart, not in any total")
    }
    if items.internationalBunkersTCo2E > 0 {
      trace.rule(
        "snbc.bunkers.outside_budgets",
        "\(items.internationalBunkersTCo2E) t CO2e of international bunkers reported apart, never compared (outside the budgets)")
    }
    if items.marketBasedEnergyTCo2E > 0 {
      trace.rule(
        "snbc.energy.market_based_informative",
        "market-based energy figure (guarantees of origin, PPAs) shown for information; assessed figures use location-based factors")
    }
    return items
  }
}
