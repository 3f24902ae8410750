import CarbonDomain
import CarbonPluginKit

/// SNBC alignment module: a company's decarbonisation trajectory against the French carbon
/// budgets (national guide under the arrêté of 2 November 2021; METHODS.md §4).
///
/// The instance is immutable: the reference catalogue is parsed once (static) and every
/// method is a pure function of its request.
public struct SNBCModule: CarbonModule {
  public static let name = "snbc"
  public static let version = "1.2.0"
  public static let summary =
    "SNBC alignment: company decarbonisation trajectory vs the carbon budgets (arrêté 2 Nov 2021 guide)"
  public static let descriptorSet = PackageResources.descriptor_set_binpb
  public static let methods: [ModuleMethod<SNBCModule>] = [
    .unary("/carbon.snbc.v1.Snbc/ListReferenceSeries", SNBCModule.listReferenceSeries),
    .unary("/carbon.snbc.v1.Snbc/GetReferenceSeries", SNBCModule.getReferenceSeries),
    .unary("/carbon.snbc.v1.Snbc/AssessTrajectory", SNBCModule.assessTrajectory),
    .unary("/carbon.snbc.v1.Snbc/PlanAndMonitor", SNBCModule.planAndMonitor),
    .unary("/carbon.snbc.v1.Snbc/RenderTrajectoryChart", SNBCModule.renderTrajectoryChart),
  ]

  /// Name and version of the methodology in traces.
  static let methodName = "Guide national trajectoire de décarbonation cohérente avec les budgets carbone"
  static let methodVersion = "arrêté du 2 novembre 2021; SNBC 2 (décret 2020-457)"

  let catalog: ReferenceCatalog

  /// Refuses to start when the embedded data is malformed (a build defect).
  public init(context: ModuleContext) throws(ModuleError) {
    catalog = try ReferenceCatalog.shared.get()
  }

  /// A trace started with the method and the data set.
  static func newTrace() -> TraceBuilder {
    var trace = TraceBuilder(method: methodName, version: methodVersion)
    trace.dataSet(ReferenceCatalog.dataSet)
    return trace
  }

  public func listReferenceSeries(_ request: Carbon_Snbc_V1_ListReferenceSeriesRequest)
    throws(ModuleError) -> Carbon_Snbc_V1_ListReferenceSeriesResponse
  {
    var response = Carbon_Snbc_V1_ListReferenceSeriesResponse()
    response.series = catalog.series
    var trace = Self.newTrace()
    trace.decision(
      "all_sectors_trajectory", "SUM_OF_ANNEX_II_SECTOR_TOTALS",
      reason: "the guide prints no national AMS total; series all_sectors sums the six Annex II "
        + "sector totals (LULUCF and bunkers excluded), flagged derived")
    trace.decision(
      "reference_combination", "SUM_OF_AMS_COMPONENTS",
      reason: "derived series (component_ids) are the year-by-year sums of their components' AMS values, e.g. "
        + "« Transport routier – véhicules légers » = VP + VUL: each component's rate weighted by its emissions")
    response.trace = trace.build()
    return response
  }

  public func getReferenceSeries(_ request: Carbon_Snbc_V1_GetReferenceSeriesRequest)
    throws(ModuleError) -> Carbon_Snbc_V1_GetReferenceSeriesResponse
  {
    try Validate.nonEmpty(request.seriesID, "series_id")
    guard let series = catalog.lookup(request.seriesID) else {
      throw .invalidArgument("series_id", "unknown reference series \(request.seriesID.quoted) (see ListReferenceSeries)")
    }
    try Validate.inRange(request.basis.rawValue, 0...5, "basis")
    var response = Carbon_Snbc_V1_GetReferenceSeriesResponse()
    response.series = series
    var trace = Self.newTrace()
    if request.year != 0 {
      try Validate.inRange(request.year, 1990...2050, "year")
      guard let path = SeriesPath.of(series, basis: request.basis) else {
        throw .invalidArgument("basis", "series \(series.id) has no value on this basis")
      }
      guard let evaluation = path.evaluate(at: request.year) else {
        throw .invalidArgument(
          "year", "\(request.year) is outside the series \(series.id) on this basis (\(path.firstYear)-\(path.lastYear)); no extrapolation beyond a budget period")
      }
      var value = Carbon_Snbc_V1_SeriesValue()
      value.year = request.year
      value.valueMtCo2E = evaluation.value
      value.interpolated = evaluation.interpolated
      value.extended = evaluation.extended
      value.lowerYear = evaluation.lowerYear
      value.upperYear = evaluation.upperYear
      value.basis = path.basis
      response.value = value
      trace.term(
        "value_t_co2e_per_yr", evaluation.value * 1e6, .tCo2EPerYr,
        formula: evaluation.extended
          ? "line through \(evaluation.lowerYear) and \(evaluation.upperYear), carried on to the budget period's bound"
          : evaluation.interpolated ? "linear between \(evaluation.lowerYear) and \(evaluation.upperYear)" : "printed value",
        source: "\(series.id)")
      if path.basis == .unspecified {
        trace.decision(
          "budget_path", "HISTORICAL_ANNUAL_PARTS_OR_MID_PERIOD_AVERAGES",
          reason: "Annex I series: historical years, indicative annual parts where printed, "
            + "otherwise budget-period averages placed at mid-period (2021/2026/2031), the last one carried on to 2033")
      }
      if evaluation.extended { trace.recordPeriodExtension() }
      if evaluation.interpolated && !evaluation.extended {
        trace.decision(
          "interpolation", "LINEAR",
          reason: "Annexe II: « raisonner par interpolation si nécessaire, en notant toutefois "
            + "que la trajectoire globale d'émissions dans la SNBC n'est pas tout à fait linéaire »")
        trace.warning("value interpolated linearly between printed years: the SNBC path is not exactly linear")
      }
    }
    if series.derived {
      trace.decision(
        "reference_combination", "SUM_OF_AMS_COMPONENTS",
        reason: "\(series.id) is derived: the year-by-year sum of " + series.componentIds.joined(separator: " + ")
          + " (AMS 2018), which weights each component's rate by its emissions")
    }
    response.trace = trace.build()
    return response
  }
}
