import CarbonDomain
import CarbonPluginKit
import Foundation

/// An SVG line chart of a company trajectory against a reference trajectory, both rebased to
/// 100 at the reference year (the guide compares rates, not levels).
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
  /// The reference trajectory (evaluated every year).
  let sector: SeriesPath
  let sectorLabel: String

  private let width = 720.0
  private let height = 420.0
  private let margin = (left: 60.0, right: 180.0, top: 40.0, bottom: 40.0)

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

  /// Sector index (reference year = 100) at the given years (nil where not covered).
  func sectorIndex(at years: [Int32]) -> [(year: Int32, index: Double)] {
    guard let base = sector.evaluate(at: referenceYear)?.value, base > 0 else { return [] }
    return years.compactMap { year in sector.evaluate(at: year).map { (year, $0.value / base * 100) } }
  }

  /// Grid step: 20 index points up to 200, then a 1-2-5 step giving at most about ten lines.
  static func tickStep(forTop top: Double) -> Double {
    guard top > 200 else { return 20 }
    let raw = top / 10
    let magnitude = pow(10, (log10(raw)).rounded(.down))
    for multiple in [1.0, 2, 5, 10] where multiple * magnitude >= raw { return multiple * magnitude }
    return 10 * magnitude
  }

  /// The SVG document.
  func svg() -> String {
    let lastYear = max(company.last?.year ?? referenceYear + 1, referenceYear + 1)
    let years = Array(referenceYear...lastYear)
    let companyLine = companyIndex
    let sectorLine = sectorIndex(at: years)
    let actualDots = actualIndex
    let maxIndex = max(100, (companyLine + sectorLine + actualDots).map(\.index).max() ?? 100)
    // An absurd (but finite) request can put the index near Double's limit: keep the axis finite
    // and its ticks few, so that drawing never loops for long (found by fuzzing).
    let yTop = min((maxIndex / 20).rounded(.up) * 20, 1e15)
    let tickStep = Self.tickStep(forTop: yTop)
    let plotWidth = width - margin.left - margin.right
    let plotHeight = height - margin.top - margin.bottom
    func x(_ year: Int32) -> Double {
      margin.left + Double(year - referenceYear) / Double(lastYear - referenceYear) * plotWidth
    }
    func y(_ index: Double) -> Double { margin.top + (1 - max(index, 0) / yTop) * plotHeight }
    func f(_ value: Double) -> String { String(format: "%.1f", value) }
    func polyline(_ points: [(year: Int32, index: Double)]) -> String {
      points.map { "\(f(x($0.year))),\(f(y($0.index)))" }.joined(separator: " ")
    }
    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
      <title>\(title.xmlEscaped)</title>
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(f(margin.left))" y="22" font-size="15" font-weight="bold">\(title.xmlEscaped)</text>

      """
    // Axes and grid.
    var tick = 0.0
    while tick <= yTop {
      svg += "<line x1=\"\(f(margin.left))\" y1=\"\(f(y(tick)))\" x2=\"\(f(margin.left + plotWidth))\" y2=\"\(f(y(tick)))\" stroke=\"#ddd\"/>"
      svg += "<text x=\"\(f(margin.left - 8))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\">\(String(format: "%.0f", tick))</text>\n"
      tick += tickStep
    }
    let step = max(1, Int32((Double(lastYear - referenceYear) / 8).rounded(.up)))
    var year = referenceYear
    while year <= lastYear {
      svg += "<text x=\"\(f(x(year)))\" y=\"\(f(margin.top + plotHeight + 18))\" text-anchor=\"middle\">\(year)</text>\n"
      year += step
    }
    svg += "<line x1=\"\(f(margin.left))\" y1=\"\(f(margin.top + plotHeight))\" x2=\"\(f(margin.left + plotWidth))\" y2=\"\(f(margin.top + plotHeight))\" stroke=\"black\"/>\n"
    svg += "<line x1=\"\(f(margin.left))\" y1=\"\(f(margin.top))\" x2=\"\(f(margin.left))\" y2=\"\(f(margin.top + plotHeight))\" stroke=\"black\"/>\n"
    svg += "<text x=\"14\" y=\"\(f(margin.top + plotHeight / 2))\" transform=\"rotate(-90 14 \(f(margin.top + plotHeight / 2)))\" text-anchor=\"middle\">Index (\(referenceYear) = 100)</text>\n"
    // Curves.
    svg += "<polyline id=\"sector\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" stroke-dasharray=\"6 4\" points=\"\(polyline(sectorLine))\"/>\n"
    svg += "<polyline id=\"company\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2.5\" points=\"\(polyline(companyLine))\"/>\n"
    for dot in actualDots {
      svg += "<circle class=\"actual\" cx=\"\(f(x(dot.year)))\" cy=\"\(f(y(dot.index)))\" r=\"4\" fill=\"#2ca02c\"/>\n"
    }
    // Legend.
    let legendX = margin.left + plotWidth + 15
    svg += "<line x1=\"\(f(legendX))\" y1=\"\(f(margin.top + 10))\" x2=\"\(f(legendX + 25))\" y2=\"\(f(margin.top + 10))\" stroke=\"#d62728\" stroke-width=\"2.5\"/><text x=\"\(f(legendX + 30))\" y=\"\(f(margin.top + 14))\">Company</text>\n"
    svg += "<line x1=\"\(f(legendX))\" y1=\"\(f(margin.top + 30))\" x2=\"\(f(legendX + 25))\" y2=\"\(f(margin.top + 30))\" stroke=\"#1f77b4\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/><text x=\"\(f(legendX + 30))\" y=\"\(f(margin.top + 34))\">\(sectorLabel.xmlEscaped)</text>\n"
    if !actualDots.isEmpty {
      svg += "<circle cx=\"\(f(legendX + 12))\" cy=\"\(f(margin.top + 50))\" r=\"4\" fill=\"#2ca02c\"/><text x=\"\(f(legendX + 30))\" y=\"\(f(margin.top + 54))\">Actual</text>\n"
    }
    svg += "</svg>\n"
    return svg
  }

}

extension SNBCModule {
  public func renderTrajectoryChart(_ request: Carbon_Snbc_V1_RenderTrajectoryChartRequest)
    throws(ModuleError) -> Carbon_Snbc_V1_RenderTrajectoryChartResponse
  {
    var trace = Self.newTrace()
    let referenceYear = try Validate.inRange(request.referenceYear, 2015...2049, "reference_year")
    try Validate.nonEmpty(request.seriesID, "series_id")
    guard let series = catalog.lookup(request.seriesID) else {
      throw .invalidArgument("series_id", "unknown sector or sub-sector \"\(request.seriesID)\"")
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
    let chart = TrajectoryChart(
      title: request.title.isEmpty ? "Company trajectory vs \(series.label)" : request.title,
      referenceYear: referenceYear, company: points, actuals: actuals, sector: path,
      sectorLabel: "\(series.label) (AMS 2018)")
    var response = Carbon_Snbc_V1_RenderTrajectoryChartResponse()
    response.svg = chart.svg()
    let years = points.map(\.year)
    response.companyIndex = chart.companyIndex.map { Self.indexPoint($0.year, $0.index) }
    response.sectorIndex = chart.sectorIndex(at: years).map { Self.indexPoint($0.year, $0.index) }
    trace.term("sector_base_t_co2e_per_yr", base.value * 1e6, .tCo2EPerYr, formula: "AMS at the reference year", source: series.id)
    trace.term("company_base_t_co2e_per_yr", points.first?.value ?? 0, .tCo2EPerYr, formula: "request")
    trace.decision(
      "rebasing", "INDEX_100_AT_REFERENCE_YEAR",
      reason: "rates, not levels, are compared (Annexe II); both curves are divided by their reference-year value")
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
