import CarbonDomain
import CarbonPluginKit
import Foundation

/// A reference curve as an index (reference year = 100): the mean of rebased trajectories
/// weighted by the company's emissions. With one trajectory it is that trajectory rebased;
/// with the categories' trajectories and their net reference-year emissions it is the
/// consolidated reference of the verdict (`consolidated_reference`): at a horizon year,
/// 100 × (1 − Σ E_ref,i × r_i / Σ E_ref,i).
struct WeightedReference: Sendable {
  /// A trajectory and its weight (t CO2e/yr of the company, or 1).
  struct Part: Sendable {
    let weight: Double
    let path: SeriesPath
  }

  let parts: [Part]
  let referenceYear: Int32

  /// The index at a year over the trajectories that cover the reference year and that year
  /// with a positive reference value (the comparisons the verdict counts), nil when none does.
  func index(at year: Int32) -> Double? {
    var sum = 0.0
    var weights = 0.0
    for part in parts {
      guard let start = part.path.evaluate(at: referenceYear), start.value > 0,
        let end = part.path.evaluate(at: year)
      else { continue }
      sum += part.weight * end.value / start.value
      weights += part.weight
    }
    return weights > 0 ? sum / weights * 100 : nil
  }
}

/// The labels of a chart in the response's language (French by default, as the seeds).
struct ChartLabels: Sendable {
  let french: Bool

  init(_ language: Carbon_Snbc_V1_ReportLanguage) { french = language != .en }

  var companyPlan: String { french ? "Entreprise : trajectoire prévue" : "Company: planned trajectory" }
  var actuals: String { french ? "Entreprise : émissions réalisées" : "Company: actual emissions" }
  func yAxis(_ referenceYear: Int32) -> String {
    french ? "Indice (\(referenceYear) = 100)" : "Index (\(referenceYear) = 100)"
  }
  var consolidatedTitle: String {
    french ? "Trajectoire consolidée de l'entreprise" : "Company consolidated trajectory"
  }
  /// The consolidated reference's label; `world` of the `categories` are compared with a
  /// supplied global trajectory instead of an AMS one, and the label says so.
  func consolidatedReference(_ categories: Int, world: Int) -> String {
    let kinds: String
    switch world {
    case 0: kinds = french ? "AMS 2018" : "AMS 2018"
    case categories: kinds = french ? "trajectoires mondiales fournies" : "supplied global trajectories"
    default:
      kinds = french
        ? "AMS 2018 ; trajectoire mondiale fournie pour \(world) d'entre elles"
        : "AMS 2018; a supplied global trajectory for \(world) of them"
    }
    return french
      ? "Référence consolidée : trajectoires des \(categories) catégories (\(kinds)), pondérées par leurs émissions de l'année de référence (celle du verdict consolidé)"
      : "Consolidated reference: the \(categories) categories' trajectories (\(kinds)) weighted by their reference-year emissions (the consolidated verdict's reference)"
  }
  func seriesReference(_ series: ReferenceSeries) -> String {
    french ? "\(series.labelFr) (AMS 2018)" : "\(series.label) (AMS 2018)"
  }
  func seriesTitle(_ series: ReferenceSeries) -> String {
    french ? "Trajectoire de l'entreprise et \(series.labelFr)" : "Company trajectory and \(series.label)"
  }
  var source: String {
    french
      ? "Source : Guide national sur la construction d'une trajectoire de décarbonation cohérente avec les budgets carbone (arrêté du 2 novembre 2021), annexe II, scénario AMS 2018 ; valeurs interpolées linéairement entre 2015, 2025, 2030 et 2050 (la trajectoire SNBC n'est pas tout à fait linéaire)."
      : "Source: national guide on building a decarbonisation trajectory consistent with the carbon budgets (arrêté of 2 November 2021), Annex II, AMS 2018 scenario; values interpolated linearly between 2015, 2025, 2030 and 2050 (the SNBC path is not exactly linear)."
  }
  var dataVersion: String {
    let data = ReferenceCatalog.dataSet
    return french
      ? "Données : \(data.name) version \(data.version) ; module snbc \(SNBCModule.version)."
      : "Data: \(data.name) version \(data.version); module snbc \(SNBCModule.version)."
  }
}

/// An SVG line chart of a company trajectory against a reference trajectory, both rebased to
/// 100 at the reference year (the guide compares rates, not levels), in the plugin kit's
/// chart frame: title, ticks at the objectives' years, legend that wraps, source and data
/// version.
struct TrajectoryChart: Sendable {
  /// A yearly value in the company's unit.
  struct Point: Sendable {
    let year: Int32
    let value: Double
  }

  let title: String
  let referenceYear: Int32
  /// Company points, the reference year first (value > 0).
  let company: [Point]
  /// Actual emissions to overlay.
  let actuals: [Point]
  /// The reference curve (evaluated every year).
  let reference: WeightedReference
  let referenceLabel: String
  /// Years that get a tick: the reference year and the objectives.
  let tickYears: [Int32]
  let labels: ChartLabels

  /// Company index (reference year = 100) at each company point.
  var companyIndex: [(year: Int32, index: Double)] {
    guard let base = company.first?.value, base > 0 else { return [] }
    return company.map { ($0.year, $0.value / base * 100) }
  }

  /// Actuals as indexes.
  var actualIndex: [(year: Int32, index: Double)] {
    guard let base = company.first?.value, base > 0 else { return [] }
    return actuals.map { ($0.year, $0.value / base * 100) }
  }

  /// Reference index at the given years (nil where not covered).
  func referenceIndex(at years: [Int32]) -> [(year: Int32, index: Double)] {
    years.compactMap { year in reference.index(at: year).map { (year, $0) } }
  }

  /// Last year drawn.
  var lastYear: Int32 {
    max(company.last?.year ?? referenceYear + 1, tickYears.max() ?? referenceYear, referenceYear + 1)
  }

  /// Width of the charts, px.
  static let width = 760.0
  /// Height of the plot itself, px.
  static let plotHeight = 300.0

  /// The SVG document, in the plugin kit's frame (title, source and data-version lines),
  /// value axis and legend; years on this module's ``YearAxis``.
  func svg() -> String {
    let lastYear = lastYear
    let companyLine = companyIndex
    let referenceLine = referenceIndex(at: Array(referenceYear...lastYear))
    let actualDots = actualIndex
    // An absurd (but finite) request can put the index near Double's limit: keep the axis
    // finite, so that its ticks stay few (found by fuzzing).
    let maxIndex = min(max(100, (companyLine + referenceLine + actualDots).map(\.index).max() ?? 100), 1e15)
    var entries = [
      ChartLegend.Entry(labels.companyPlan, color: "#d62728"),
      ChartLegend.Entry(referenceLabel, color: "#1f77b4", dashed: true),
    ]
    if !actualDots.isEmpty { entries.append(ChartLegend.Entry(labels.actuals, color: "#2ca02c")) }
    let legend = ChartLegend(entries)
    let margins = (left: 70.0, right: 24.0, top: 10.0, bottom: 10.0)
    let legendWidth = Self.width - margins.left - margins.right
    let legendHeight = legend.height(width: legendWidth)
    // The frame's plot area holds the plot, the year labels and the legend, top to bottom.
    let frame = ChartFrame(
      title: title, sourceLines: [labels.source, labels.dataVersion], width: Self.width,
      plotHeight: Self.plotHeight + YearAxis.height + legendHeight, margins: margins)
    let area = frame.plot
    let plotBottom = area.top + Self.plotHeight
    let axis = ValueAxis(covering: 0, maxIndex, top: area.top, bottom: plotBottom)
    let years = YearAxis(
      years: Array(Set(tickYears + [referenceYear]).filter { $0 >= referenceYear && $0 <= lastYear }).sorted(),
      first: referenceYear, last: lastYear, left: area.left, width: area.width)
    let c = SVGText.coordinate
    func polyline(_ points: [(year: Int32, index: Double)]) -> String {
      points.map { "\(c(years.x($0.year))),\(c(axis.y(max($0.index, 0))))" }.joined(separator: " ")
    }
    var svg = frame.open()
    svg += axis.svg(x: area.left, gridRight: area.right, title: labels.yAxis(referenceYear)) { SVGText.grouped($0, french: labels.french) }
    svg += years.svg(top: area.top, bottom: plotBottom)
    svg += "<polyline id=\"reference\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" stroke-dasharray=\"6 4\" points=\"\(polyline(referenceLine))\"/>\n"
    svg += "<polyline id=\"company\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2.5\" points=\"\(polyline(companyLine))\"/>\n"
    for dot in actualDots {
      svg += "<circle class=\"actual\" cx=\"\(c(years.x(dot.year)))\" cy=\"\(c(axis.y(max(dot.index, 0))))\" r=\"4\" fill=\"#2ca02c\"/>\n"
    }
    svg += legend.svg(x: area.left, y: plotBottom + YearAxis.height, width: legendWidth)
    svg += frame.close()
    return svg
  }
}

extension SNBCModule {
  public func renderTrajectoryChart(_ request: Carbon_Snbc_V1_RenderTrajectoryChartRequest)
    throws(ModuleError) -> Carbon_Snbc_V1_RenderTrajectoryChartResponse
  {
    var trace = Self.newTrace()
    let referenceYear = try ReferenceYearRule.validate(request.referenceYear, field: "reference_year")
    try Validate.inRange(request.language.rawValue, 0...2, "language")
    try Validate.nonEmpty(request.seriesID, "series_id")
    guard let series = catalog.lookup(request.seriesID) else {
      throw .invalidArgument("series_id", "unknown sector or sub-sector \(request.seriesID.quoted)")
    }
    guard let path = SeriesPath.of(series, basis: .projectedAms2018) else {
      throw .invalidArgument("series_id", "\(series.id) has no AMS projection to chart")
    }
    guard let base = path.evaluate(at: referenceYear), base.value > 0 else {
      throw .invalidArgument("series_id", "\(series.id) has no positive value at \(referenceYear) to rebase on")
    }
    guard request.companyPoints.count >= 2 else {
      throw .invalidArgument("company_points", "needs the reference year and at least one later point")
    }
    var points: [TrajectoryChart.Point] = []
    for (index, point) in request.companyPoints.enumerated() {
      let field = "company_points[\(index)]"
      let value = try Validate.nonNegative(point.emissionsTCo2E, field + ".emissions_t_co2e")
      if index == 0 {
        guard point.year == referenceYear else {
          throw .invalidArgument(field + ".year", "the first point is the reference year \(referenceYear), got \(point.year)")
        }
        guard value > 0 else { throw .invalidArgument(field + ".emissions_t_co2e", "must be > 0 to rebase on") }
      } else {
        guard let previous = points.last, point.year > previous.year else {
          throw .invalidArgument(field + ".year", "years must be strictly increasing after the reference year")
        }
        try Validate.inRange(point.year, referenceYear...2050, field + ".year")
      }
      points.append(TrajectoryChart.Point(year: point.year, value: value))
    }
    var actuals: [TrajectoryChart.Point] = []
    for (index, actual) in request.actuals.enumerated() {
      let value = try Validate.nonNegative(actual.emissionsTCo2E, "actuals[\(index)].emissions_t_co2e")
      try Validate.inRange(actual.year, referenceYear...2050, "actuals[\(index)].year")
      actuals.append(TrajectoryChart.Point(year: actual.year, value: value))
    }
    let labels = ChartLabels(request.language)
    let chart = TrajectoryChart(
      title: request.title.isEmpty ? labels.seriesTitle(series) : request.title,
      referenceYear: referenceYear, company: points, actuals: actuals,
      reference: WeightedReference(parts: [.init(weight: 1, path: path)], referenceYear: referenceYear),
      referenceLabel: labels.seriesReference(series), tickYears: points.map(\.year), labels: labels)
    var response = Carbon_Snbc_V1_RenderTrajectoryChartResponse()
    response.svg = chart.svg()
    let years = points.map(\.year)
    response.companyIndex = chart.companyIndex.map { Self.indexPoint($0.year, $0.index) }
    response.sectorIndex = chart.referenceIndex(at: years).map { Self.indexPoint($0.year, $0.index) }
    trace.term("sector_base_t_co2e_per_yr", base.value * 1e6, .tCo2EPerYr, formula: "AMS at the reference year", source: series.id)
    trace.term("company_base_t_co2e_per_yr", points.first?.value ?? 0, .tCo2EPerYr, formula: "request")
    trace.decision(
      "rebasing", "INDEX_100_AT_REFERENCE_YEAR",
      reason: "rates, not levels, are compared (Annexe II); both curves are divided by their reference-year value")
    trace.decision(
      "chart_language", labels.french ? "FR" : "EN",
      reason: labels.french ? "French unless the request asks otherwise, as the guide" : "requested")
    if base.interpolated {
      trace.decision("interpolation", "LINEAR", reason: "AMS values between printed years are interpolated linearly (the SNBC path is not exactly linear)")
    }
    response.trace = trace.build()
    return response
  }

  private static func indexPoint(_ year: Int32, _ index: Double) -> Carbon_Snbc_V1_IndexPoint {
    var point = Carbon_Snbc_V1_IndexPoint()
    point.year = year
    point.index = index
    return point
  }
}
