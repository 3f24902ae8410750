import CarbonDomain
import CarbonPluginKit

/// The chart of AssessTrajectory: the company total against the reference the consolidated
/// verdict uses (`consolidated_reference`: the categories' reference trajectories weighted by
/// their net reference-year emissions), so the picture and the verdict tell the same story.
enum ConsolidatedChart {
  /// Draws the chart into the response (SVG and both index curves) and records its decisions.
  static func draw(
    company: String, plan: AnnualPlan, assessment: ValidatedAssessment,
    language: Carbon_Snbc_V1_ReportLanguage, into response: inout Carbon_Snbc_V1_AssessTrajectoryResponse,
    trace: inout TraceBuilder
  ) {
    let labels = ChartLabels(language)
    let parts = assessment.categories.compactMap { category in
      category.referencePath.map { WeightedReference.Part(weight: category.referenceNet, path: $0) }
    }
    let reference = WeightedReference(parts: parts, referenceYear: assessment.referenceYear)
    let horizonYears = Horizon.required.compactMap { assessment.horizonYears[$0] }
    let chart = TrajectoryChart(
      title: company.isEmpty ? labels.consolidatedTitle : "\(company) – \(labels.consolidatedTitle)",
      referenceYear: assessment.referenceYear,
      company: plan.anchors.map { TrajectoryChart.Point(year: $0.year, value: $0.value) }, actuals: [],
      reference: reference, referenceLabel: labels.consolidatedReference(
        assessment.categories.count, world: assessment.categories.filter(\.isWorld).count),
      tickYears: [assessment.referenceYear] + horizonYears, labels: labels)
    response.chartSvg = chart.svg()
    let years = Array(assessment.referenceYear...chart.lastYear)
    response.chartReferenceIndex = chart.referenceIndex(at: years).map { indexPoint($0.year, $0.index) }
    response.chartCompanyIndex = chart.companyIndex.map { indexPoint($0.year, $0.index) }
    trace.decision(
      "chart_reference", "CONSOLIDATED_REFERENCE",
      reason: "the consolidated chart draws the reference of the consolidated verdict: the categories' reference "
        + "trajectories rebased to 100 at \(assessment.referenceYear) and weighted by their net reference-year emissions")
    trace.decision(
      "chart_language", labels.french ? "FR" : "EN",
      reason: labels.french ? "French unless the request asks otherwise, as the guide" : "requested")
  }

  private static func indexPoint(_ year: Int32, _ index: Double) -> Carbon_Snbc_V1_IndexPoint {
    var point = Carbon_Snbc_V1_IndexPoint()
    point.year = year
    point.index = index
    return point
  }
}
