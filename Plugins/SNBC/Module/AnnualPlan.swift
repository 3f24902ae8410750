import CarbonDomain
import CarbonPluginKit

/// The annual planned trajectory of the guide ("Temporalité"): linear between the reference
/// year and the objectives, one value per year.
struct AnnualPlan: Sendable {
  /// Reference year and objectives, strictly increasing years.
  let anchors: [(year: Int32, value: Double)]

  /// The planned value of a year (linear between anchors), nil outside the plan.
  func planned(at year: Int32) -> Double? {
    guard let first = anchors.first, let last = anchors.last, year >= first.year, year <= last.year
    else { return nil }
    for index in anchors.indices where anchors[index].year >= year {
      let upper = anchors[index]
      if upper.year == year || index == 0 { return upper.value }
      let lower = anchors[index - 1]
      return lower.value + (upper.value - lower.value) * Double(year - lower.year) / Double(upper.year - lower.year)
    }
    return nil
  }

  /// Every year from the reference year to the last objective.
  func years() -> [PlannedYear] {
    guard let first = anchors.first, let last = anchors.last else { return [] }
    let objectiveYears = Set(anchors.map(\.year))
    var result: [PlannedYear] = []
    var year = first.year
    while year <= last.year {
      var item = PlannedYear()
      item.year = year
      item.plannedTCo2E = planned(at: year) ?? 0
      item.isObjective = objectiveYears.contains(year)
      result.append(item)
      year += 1
    }
    return result
  }
}

/// Monitoring thresholds, with the decisions that fixed them.
struct MonitoringPolicy: Sendable {
  /// A gap above this percent of the planned value is significant.
  let significantGapPercent: Double
  /// This many consecutive overshoot years make a repeated overshoot.
  let repeatedOvershootYears: Int

  /// Default significance threshold when the request leaves it at 0.
  static let defaultSignificantGapPercent = 5.0
  /// Default run length when the request leaves it at 0.
  static let defaultRepeatedOvershootYears = 2

  /// Reads the thresholds of a request (0 = default, recorded as a decision).
  static func from(
    significantGapPercent: Double, repeatedOvershootYears: Int32, fieldPrefix: String,
    trace: inout TraceBuilder
  ) throws(ModuleError) -> MonitoringPolicy {
    var percent = try Validate.nonNegative(significantGapPercent, fieldPrefix + "significant_gap_percent")
    if percent == 0 {
      percent = defaultSignificantGapPercent
      trace.decision(
        "monitoring.significant_gap_percent", "5",
        reason: "the guide (art. 4 of the arrêté) asks to explain any « écart annuel significatif » "
          + "without a figure; 5 % of the planned value is used unless the request sets one")
    }
    var run = Int(try Validate.inRange(repeatedOvershootYears, 0...100, fieldPrefix + "repeated_overshoot_years"))
    if run == 0 {
      run = defaultRepeatedOvershootYears
      trace.decision(
        "monitoring.repeated_overshoot_years", "2",
        reason: "« dépassement répété sur plusieurs années »: two consecutive years above plan "
          + "unless the request sets another count")
    }
    trace.term("significant_gap_threshold", percent, .percent, formula: "request or decision")
    return MonitoringPolicy(significantGapPercent: percent, repeatedOvershootYears: run)
  }
}

/// Compares actual emissions with a plan.
enum Monitoring {
  /// Validates the actuals (years inside the plan, unique, emissions ≥ 0) and compares each
  /// with the plan. `field` is the path of the actuals list.
  static func monitor(
    actuals: [YearValue], plan: AnnualPlan, policy: MonitoringPolicy, field: String,
    trace: inout TraceBuilder
  ) throws(ModuleError) -> MonitoringResult {
    var result = MonitoringResult()
    var seen = Set<Int32>()
    var sorted: [(Int, YearValue)] = []
    for (index, actual) in actuals.enumerated() {
      let path = "\(field)[\(index)]"
      try Validate.nonNegative(actual.emissionsTCo2E, path + ".emissions_t_co2e")
      guard let first = plan.anchors.first, let last = plan.anchors.last,
        actual.year > first.year, actual.year <= last.year
      else {
        throw .invalidArgument(
          path + ".year", "must be after the reference year and not after the last objective, got \(actual.year)")
      }
      guard seen.insert(actual.year).inserted else {
        throw .invalidArgument(path + ".year", "year \(actual.year) appears twice")
      }
      sorted.append((index, actual))
    }
    sorted.sort { $0.1.year < $1.1.year }
    var run: [Int32] = []
    func closeRun() {
      if run.count >= policy.repeatedOvershootYears {
        var overshoot = Carbon_Snbc_V1_OvershootRun()
        overshoot.years = run
        result.repeatedOvershoots.append(overshoot)
      }
      run = []
    }
    var significantOvershoot = false
    for (_, actual) in sorted {
      let planned = plan.planned(at: actual.year) ?? 0
      var year = Carbon_Snbc_V1_MonitoredYear()
      year.year = actual.year
      year.plannedTCo2E = planned
      year.actualTCo2E = actual.emissionsTCo2E
      year.gapTCo2E = actual.emissionsTCo2E - planned
      year.overshoot = year.gapTCo2E > 0
      if planned > 0 {
        year.gapPercent = year.gapTCo2E / planned * 100
        year.significant = abs(year.gapPercent) > policy.significantGapPercent
      } else {
        // Nothing planned: any emission is a significant gap (no percentage exists).
        year.significant = year.overshoot
      }
      if year.significant {
        result.significantGapYears.append(actual.year)
        if year.overshoot { significantOvershoot = true }
      }
      if year.overshoot {
        if let previous = run.last, previous + 1 != actual.year { closeRun() }
        run.append(actual.year)
      } else {
        closeRun()
      }
      result.years.append(year)
    }
    closeRun()
    result.explanationRequired = significantOvershoot || !result.repeatedOvershoots.isEmpty
    if !result.significantGapYears.isEmpty {
      trace.rule(
        "snbc.monitoring.significant_gap",
        "significant annual gap in \(result.significantGapYears.map(String.init).joined(separator: ", "))")
    }
    for overshoot in result.repeatedOvershoots {
      trace.rule(
        "snbc.monitoring.repeated_overshoot",
        "actual above plan in consecutive years \(overshoot.years.map(String.init).joined(separator: ", "))")
    }
    return result
  }
}

extension SNBCModule {
  public func planAndMonitor(_ request: Carbon_Snbc_V1_PlanAndMonitorRequest)
    throws(ModuleError) -> Carbon_Snbc_V1_PlanAndMonitorResponse
  {
    var trace = TraceBuilder(method: Self.methodName, version: Self.methodVersion)
    try Validate.inRange(request.referenceYear, 1990...2049, "reference_year")
    let reference = try Validate.nonNegative(request.referenceEmissionsTCo2E, "reference_emissions_t_co2e")
    // A plan starts from the company's emissions: 0 is a missing value here, not a company
    // that emits nothing (its trajectory would rise towards its objectives).
    guard reference > 0 else {
      throw .invalidArgument("reference_emissions_t_co2e", "is required: the plan starts from the reference year's emissions (> 0)")
    }
    try Validate.nonEmpty(request.objectives, "objectives")
    var anchors: [(year: Int32, value: Double)] = [(request.referenceYear, reference)]
    for (index, objective) in request.objectives.enumerated() {
      let path = "objectives[\(index)]"
      let previous = anchors.last?.year ?? request.referenceYear
      guard objective.year > previous else {
        throw .invalidArgument(
          path + ".year",
          index == 0 ? "must be after the reference year \(request.referenceYear), got \(objective.year)"
            : "objective years must be strictly increasing, got \(objective.year) after \(previous)")
      }
      try Validate.inRange(objective.year, 1991...AssessmentValidation.amsLastYear, path + ".year")
      anchors.append((objective.year, try Validate.nonNegative(objective.emissionsTCo2E, path + ".emissions_t_co2e")))
    }
    // « au moins trois objectifs […] et un objectif de long terme pour 2050 » (Temporalité): the
    // plan runs from the reference year to the 2050 objective, through at least two before it.
    guard anchors.count - 1 >= 3, anchors.last?.year == AssessmentValidation.amsLastYear else {
      throw .invalidArgument(
        "objectives",
        "the arrêté sets at least three objectives, the last one for 2050 (short term, medium term, 2050); got "
          + request.objectives.map { String($0.year) }.joined(separator: ", "))
    }
    let plan = AnnualPlan(anchors: anchors)
    trace.decision(
      "annual_plan", "LINEAR_BETWEEN_OBJECTIVES",
      reason: "guide, Temporalité: « extrapolation linéaire entre les années définies pour les objectifs »")
    let policy = try MonitoringPolicy.from(
      significantGapPercent: request.significantGapPercent,
      repeatedOvershootYears: request.repeatedOvershootYears, fieldPrefix: "", trace: &trace)
    var response = Carbon_Snbc_V1_PlanAndMonitorResponse()
    response.annualPlan = plan.years()
    response.monitoring = try Monitoring.monitor(
      actuals: request.actuals, plan: plan, policy: policy, field: "actuals", trace: &trace)
    response.trace = trace.build()
    return response
  }
}
