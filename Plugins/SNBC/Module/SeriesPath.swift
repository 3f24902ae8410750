/// A piecewise-linear path through the printed points of a series, on one basis, used to
/// evaluate a series at any year between its first and last point.
///
/// The guide (Annex II) allows interpolation "en notant toutefois que la trajectoire globale
/// d'émissions dans la SNBC n'est pas tout à fait linéaire": every interpolated value is
/// flagged so the report can say so.
struct SeriesPath: Sendable {
  /// Year-placed values, strictly increasing years.
  let nodes: [(year: Int32, value: Double)]
  /// The basis the path was built on.
  let basis: SeriesBasis

  /// A value of the path at a year.
  struct Evaluation: Sendable {
    let value: Double
    let interpolated: Bool
    let lowerYear: Int32
    let upperYear: Int32
  }

  /// Where a budget-period average is placed on the time axis: the middle year of the
  /// period (2019-2023 → 2021, 2024-2028 → 2026, 2029-2033 → 2031).
  static func midYear(_ point: SeriesPoint) -> Int32 {
    point.yearStart + (point.yearEnd - point.yearStart) / 2
  }

  /// The path of a series on a basis:
  /// - AMS, observed, historical or annual parts: the printed single-year points;
  /// - budget period averages: the averages at mid-period;
  /// - unspecified: the AMS projection when the series has one, else the "budget path" =
  ///   historical years + indicative annual parts when printed, otherwise period averages at
  ///   mid-period.
  /// Returns nil when the series has fewer than one point on that basis.
  static func of(_ series: ReferenceSeries, basis requested: SeriesBasis) -> SeriesPath? {
    var basis = requested
    if basis == .unspecified {
      basis = series.points.contains { $0.basis == .projectedAms2018 } ? .projectedAms2018 : .unspecified
    }
    var placed: [Int32: Double] = [:]
    switch basis {
    case .unspecified:
      let hasAnnualParts = series.points.contains { $0.basis == .indicativeAnnualPart }
      for point in series.points {
        switch point.basis {
        case .historical, .indicativeAnnualPart: placed[point.yearStart] = point.valueMtCo2E
        case .budgetPeriodAverage where !hasAnnualParts: placed[midYear(point)] = point.valueMtCo2E
        default: break
        }
      }
    case .budgetPeriodAverage:
      for point in series.points where point.basis == basis { placed[midYear(point)] = point.valueMtCo2E }
    default:
      for point in series.points where point.basis == basis { placed[point.yearStart] = point.valueMtCo2E }
    }
    guard !placed.isEmpty else { return nil }
    let nodes = placed.keys.sorted().map { (year: $0, value: placed[$0] ?? 0) }
    return SeriesPath(nodes: nodes, basis: basis == .unspecified ? .unspecified : basis)
  }

  /// First year covered.
  var firstYear: Int32 { nodes.first?.year ?? 0 }
  /// Last year covered.
  var lastYear: Int32 { nodes.last?.year ?? 0 }

  /// The value at a year by linear interpolation between the two surrounding nodes, or nil
  /// outside the path (no extrapolation: the guide gives no basis for it).
  func evaluate(at year: Int32) -> Evaluation? {
    guard let first = nodes.first, let last = nodes.last, year >= first.year, year <= last.year
    else { return nil }
    for index in nodes.indices {
      let node = nodes[index]
      if node.year == year {
        return Evaluation(value: node.value, interpolated: false, lowerYear: year, upperYear: year)
      }
      if node.year > year, index > 0 {
        let lower = nodes[index - 1]
        let fraction = Double(year - lower.year) / Double(node.year - lower.year)
        return Evaluation(
          value: lower.value + (node.value - lower.value) * fraction, interpolated: true,
          lowerYear: lower.year, upperYear: node.year)
      }
    }
    return nil
  }
}
