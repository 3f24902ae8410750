import CarbonDomain
import CarbonPluginKit

extension SNBCModule {
  public func assessTrajectory(_ request: Carbon_Snbc_V1_AssessTrajectoryRequest)
    throws(ModuleError) -> Carbon_Snbc_V1_AssessTrajectoryResponse
  {
    var trace = Self.newTrace()
    let assessment = try AssessmentValidation.validate(request, catalog: catalog, trace: &trace)
    let tolerance = try Validate.nonNegative(request.indirectTolerancePp, "indirect_tolerance_pp")
    recordCommonDecisions(tolerancePp: tolerance, trace: &trace)
    // Monitoring thresholds (and their decisions) matter only when actuals are given.
    try Validate.nonNegative(request.significantGapPercent, "significant_gap_percent")
    try Validate.inRange(request.repeatedOvershootYears, 0...100, "repeated_overshoot_years")
    var policy: MonitoringPolicy? = nil
    if assessment.categories.contains(where: { !$0.actuals.isEmpty }) {
      policy = try MonitoringPolicy.from(
        significantGapPercent: request.significantGapPercent,
        repeatedOvershootYears: request.repeatedOvershootYears, fieldPrefix: "", trace: &trace)
    }

    var response = Carbon_Snbc_V1_AssessTrajectoryResponse()
    for category in assessment.categories {
      response.categories.append(
        try assess(category, assessment: assessment, tolerancePp: tolerance, policy: policy, trace: &trace))
    }
    response.consolidated = consolidate(response.categories, assessment: assessment, trace: &trace)

    try Validate.inRange(request.gwpSet.rawValue, 0...2, "gwp_set")
    try Validate.inRange(request.emissionsGwpSet.rawValue, 0...2, "emissions_gwp_set")
    if request.dataYear != 0 { try Validate.inRange(request.dataYear, GwpPolicy.dataYears, "data_year") }
    response.emissionsGwpSet = request.emissionsGwpSet
    if !request.gases.isEmpty {
      let dataYear = try GwpPolicy.dataYear(
        requested: request.dataYear, referenceYear: assessment.referenceYear, trace: &trace)
      let gwpSet = try GwpPolicy.gasSplitSet(requested: request.gwpSet, dataYear: dataYear, trace: &trace)
      response.gwpSet = gwpSet
      response.gwpMetricMismatch = try GwpPolicy.emissionsMetricDiffers(
        declared: request.emissionsGwpSet, gasSplit: gwpSet, trace: &trace)
      trace.dataSet(GlobalWarmingPotential.dataSet)
      response.gasChecks = try GuideRules.gasChecks(
        request.gases, assessment: assessment, gwpSet: gwpSet,
        totalsGwpSet: request.emissionsGwpSet == .unspecified ? gwpSet : request.emissionsGwpSet,
        tolerancePp: tolerance, catalog: catalog, trace: &trace)
    }
    if request.hasNaturalSinks {
      response.naturalSinks = try GuideRules.naturalSinks(
        request.naturalSinks, assessment: assessment, catalog: catalog, trace: &trace)
    }
    if request.hasReportedApart {
      response.reportedApart = try GuideRules.reportedApart(
        request.reportedApart, referenceYear: assessment.referenceYear, trace: &trace)
    }
    if request.hasProduction {
      response.intensity = try IntensityReasoning.assess(
        request.production, consolidated: response.consolidated, assessment: assessment, trace: &trace)
    }
    let plan = consolidatedPlan(assessment)
    response.annualPlan = plan.years()
    response.companyVerdict = companyVerdict(response, trace: &trace)
    if request.includeChart {
      try Validate.inRange(request.language.rawValue, 0...2, "language")
      ConsolidatedChart.draw(
        company: request.company, plan: plan, assessment: assessment, language: request.language,
        into: &response, trace: &trace)
    }
    response.trace = trace.build()
    return response
  }

  /// Decisions that apply to every assessment.
  private func recordCommonDecisions(tolerancePp: Double, trace: inout TraceBuilder) {
    trace.decision(
      "sector_rate", "AMS_RATE_INTERPOLATED",
      reason: "Annexe II: « il est ainsi plus pertinent de raisonner en taux de variation des émissions "
        + "projetées »; AMS 2018 values interpolated linearly to the company's reference and target years")
    trace.decision(
      "budget_rate", "PERIOD_AVERAGES_AT_MID_PERIOD",
      reason: "the Annex I rate of the parent sector (information only) runs through the historical "
        + "years, the indicative annual parts where printed (national totals), otherwise the budget "
        + "averages placed at 2021/2026/2031; absent beyond the budgets")
    if tolerancePp > 0 {
      trace.decision(
        "indirect_tolerance_pp", "\(tolerancePp)",
        reason: "« l'appréciation de la cohérence ... pourra être plus souple » for indirect categories: "
          + "within the tolerance the verdict is TO_BE_JUSTIFIED, never ALIGNED")
    } else {
      trace.decision(
        "indirect_tolerance_pp", "0",
        reason: "no tolerance requested: indirect categories are judged as strictly as direct ones")
    }
    trace.decision(
      "consolidated_reference", "EMISSIONS_WEIGHTED_SECTOR_RATE",
      reason: "the guide asks for a consolidated trajectory; its reference rate is the average of the "
        + "categories' reference rates weighted by their net reference-year emissions")
  }

  /// One category at every horizon, with its monitoring.
  private func assess(
    _ category: ValidatedCategory, assessment: ValidatedAssessment, tolerancePp: Double,
    policy: MonitoringPolicy?, trace: inout TraceBuilder
  ) throws(ModuleError) -> Carbon_Snbc_V1_CategoryAssessment {
    var result = Carbon_Snbc_V1_CategoryAssessment()
    result.name = category.name
    result.kind = category.kind
    result.indirect = category.kind.isIndirect
    result.worldPerimeter = category.isWorld
    let prefix = "c\(category.index)"
    trace.term(
      prefix + "_reference_net_t_co2e", category.referenceNet, .tCo2E,
      formula: category.referenceSink > 0 ? "gross − technological sink (\(category.referenceSink))" : "gross")
    guard let path = category.referencePath else {
      throw .internal("category \(category.index) has no reference trajectory")
    }
    var budgetPath: SeriesPath? = nil
    if category.isWorld {
      result.seriesID = "global_trajectory"
      trace.rule(
        "snbc.perimeter.world",
        "\(category.name): world emissions compared with the supplied global trajectory (derogation for indirect emissions, flagged)")
      trace.warning("\(category.name): world perimeter — French emissions could not be isolated")
    } else if let series = category.series {
      result.seriesID = series.id
      trace.dataSet(ReferenceCatalog.dataSet)
      if let budget = catalog.budgetSeries(for: series) { budgetPath = SeriesPath.of(budget, basis: .unspecified) }
      if series.derived {
        trace.decisionOnce(
          "all_sectors_trajectory", "SUM_OF_ANNEX_II_SECTOR_TOTALS",
          reason: "the guide prints no national AMS total; composite categories compare with the sum of the Annex II sector totals")
      }
      let targetYears = Horizon.required.compactMap { assessment.horizonYears[$0] }
      result.referenceComponents = ReferenceCombination.components(
        of: series, catalog: catalog, referenceYear: assessment.referenceYear, targetYears: targetYears)
      ReferenceCombination.record(
        result.referenceComponents, of: series, categoryName: category.name,
        referenceYear: assessment.referenceYear, trace: &trace)
    }
    let ams2015 = category.isWorld ? nil : path.evaluate(at: 2015)
    for horizon in Horizon.required {
      guard let year = assessment.horizonYears[horizon], let target = category.targetNet[horizon] else { continue }
      let rate = ReferenceRate.of(path, from: assessment.referenceYear, to: year)
      var item = ReductionComparison.assess(
        horizon: horizon, targetYear: year, companyReference: category.referenceNet, companyTarget: target,
        reference: rate, indirect: category.kind.isIndirect, tolerancePp: tolerancePp)
      if let ams2015, let end = path.evaluate(at: year), ams2015.value > 0 {
        item.sectorAms2015ReductionFraction = (ams2015.value - end.value) / ams2015.value
      }
      if let budgetPath, let budget = ReferenceRate.of(budgetPath, from: assessment.referenceYear, to: year) {
        item.sectorBudgetReductionFraction = budget.reduction
        if budget.extended { trace.recordPeriodExtension() }
      }
      if let justification = category.justification,
        let alternative = ReferenceRate.of(justification, from: assessment.referenceYear, to: year)
      {
        item.justificationReductionFraction = alternative.reduction
        item.justificationGapPp = (item.companyReductionFraction - alternative.reduction) * 100
        trace.rule(
          "snbc.justification.alternative_trajectory",
          "\(category.name) \(horizon.protoName): \(category.justificationSource) reduction \(alternative.reduction), "
            + "gap \(item.justificationGapPp) pp, for the justification only; the verdict stays the national one")
      }
      if item.sectorValuesInterpolated {
        trace.decisionOnce(
          "interpolation", "LINEAR",
          reason: "reference values between printed years are interpolated linearly; the guide notes the SNBC path is not exactly linear")
      }
      if item.verdict == .notAssessable {
        trace.warning("\(category.name) \(horizon.protoName): the reference trajectory does not cover \(assessment.referenceYear)-\(year)")
      }
      let label = "\(prefix)_h\(horizon.rawValue)"
      trace.term(label + "_company_reduction", item.companyReductionFraction, .ratio, formula: "(E_ref − E_target)/E_ref")
      trace.term(label + "_sector_reduction", item.sectorReductionFraction, .ratio, formula: "(S_ref − S_target)/S_ref", source: result.seriesID)
      trace.term(label + "_gap", item.gapPp, .percent, formula: "(company − sector) × 100, percentage points")
      trace.rule(item.verdictRule, "\(category.name) \(horizon.protoName): \(item.verdict.protoName)")
      result.horizons.append(item)
    }
    if !category.actuals.isEmpty, let policy {
      // Actuals are emissions as reported, gross like the reference (they carry no sink): the
      // plan they are compared with is the gross one, each objective before its sink.
      var anchors: [(year: Int32, value: Double)] = [
        (assessment.referenceYear, category.referenceNet + category.referenceSink)
      ]
      for horizon in Horizon.required {
        if let year = assessment.horizonYears[horizon], let value = category.targetNet[horizon] {
          anchors.append((year, value + (category.targetSink[horizon] ?? 0)))
        }
      }
      if category.referenceSink > 0 || category.targetSink.values.contains(where: { $0 > 0 }) {
        trace.decisionOnce(
          "monitoring_gross", "ACTUALS_AGAINST_GROSS_PLAN",
          reason: "actuals are reported emissions, gross like reference_emissions_t_co2e: they are compared with the "
            + "plan of gross emissions (objectives before technological sinks), not with the net one")
      }
      result.monitoring = try Monitoring.monitor(
        actuals: category.actuals, plan: AnnualPlan(anchors: anchors), policy: policy,
        field: "categories[\(category.index)].actuals", trace: &trace)
    }
    return result
  }

  /// Company totals per horizon against the emissions-weighted reference rate.
  private func consolidate(
    _ categories: [Carbon_Snbc_V1_CategoryAssessment], assessment: ValidatedAssessment,
    trace: inout TraceBuilder
  ) -> [Carbon_Snbc_V1_ConsolidatedHorizon] {
    var result: [Carbon_Snbc_V1_ConsolidatedHorizon] = []
    for horizon in Horizon.required {
      var item = Carbon_Snbc_V1_ConsolidatedHorizon()
      item.horizon = horizon
      var weighted = 0.0
      var weights = 0.0
      var worst = Verdict.unspecified
      for category in categories {
        guard let one = category.horizons.first(where: { $0.horizon == horizon }) else { continue }
        item.companyReferenceTCo2E += one.companyReferenceTCo2E
        item.companyTargetTCo2E += one.companyTargetTCo2E
        if one.verdict != .notAssessable {
          weighted += one.companyReferenceTCo2E * one.sectorReductionFraction
          weights += one.companyReferenceTCo2E
        }
        if one.verdict.severity > worst.severity { worst = one.verdict }
      }
      guard item.companyReferenceTCo2E > 0 else { continue }
      item.companyReductionFraction = (item.companyReferenceTCo2E - item.companyTargetTCo2E) / item.companyReferenceTCo2E
      item.weightedSectorReductionFraction = weights > 0 ? weighted / weights : 0
      item.gapPp = (item.companyReductionFraction - item.weightedSectorReductionFraction) * 100
      item.verdict = worst == .unspecified ? .notAssessable : worst
      let label = "total_h\(horizon.rawValue)"
      trace.term(label + "_reference_t_co2e", item.companyReferenceTCo2E, .tCo2E, formula: "Σ categories, net of technological sinks")
      trace.term(label + "_target_t_co2e", item.companyTargetTCo2E, .tCo2E, formula: "Σ categories, net of technological sinks")
      trace.term(label + "_company_reduction", item.companyReductionFraction, .ratio, formula: "(E_ref − E_target)/E_ref")
      trace.term(label + "_weighted_sector_reduction", item.weightedSectorReductionFraction, .ratio, formula: "Σ E_ref,i × r_i / Σ E_ref,i")
      result.append(item)
    }
    return result
  }

  /// The company total's annual plan: linear between the reference year and the objectives.
  private func consolidatedPlan(_ assessment: ValidatedAssessment) -> AnnualPlan {
    var anchors: [(year: Int32, value: Double)] = [
      (assessment.referenceYear, assessment.categories.reduce(0) { $0 + $1.referenceNet })
    ]
    for horizon in Horizon.required {
      guard let year = assessment.horizonYears[horizon] else { continue }
      anchors.append((year, assessment.categories.reduce(0) { $0 + ($1.targetNet[horizon] ?? 0) }))
    }
    return AnnualPlan(anchors: anchors)
  }

  /// The company verdict: the worst verdict of every category, horizon and required gas
  /// check, and of natural sinks when counted.
  private func companyVerdict(
    _ response: Carbon_Snbc_V1_AssessTrajectoryResponse, trace: inout TraceBuilder
  ) -> Verdict {
    var all: [Verdict] = response.categories.flatMap { $0.horizons.map(\.verdict) }
    all += response.gasChecks.filter(\.checkRequired).flatMap { $0.horizons.map(\.verdict) }
    all += response.naturalSinks.horizons.map(\.verdict)
    let worst = all.max { $0.severity < $1.severity } ?? .notAssessable
    if all.contains(.notAssessable) {
      trace.warning("some comparisons are not assessable (see verdict_rule); they do not change the company verdict")
    }
    trace.decision(
      "company_verdict", "WORST_OF_CATEGORIES_GASES_SINKS",
      reason: "a company is aligned only when every category, horizon and required gas check is")
    return worst.severity == 0 ? .notAssessable : worst
  }
}
