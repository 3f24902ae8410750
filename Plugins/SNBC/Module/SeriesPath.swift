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
  /// The end year of the last budget period when the path was carried past that period's
  /// middle year to it (`periodEndExtension`); nil otherwise.
  let extendedTo: Int32?

  init(nodes: [(year: Int32, value: Double)], basis: SeriesBasis, extendedTo: Int32? = nil) {
    self.nodes = nodes
    self.basis = basis
    self.extendedTo = extendedTo
  }

  /// A value of the path at a year.
  struct Evaluation: Sendable {
    let value: Double
    let interpolated: Bool
    let lowerYear: Int32
    let upperYear: Int32
    /// True when the year lies after the last budget period's middle year, on the path's
    /// extension to the end of that period (`periodEndExtension`).
    var pastLastPeriodMiddle = false
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
  /// A path of budget-period averages is carried on to the end of the last period
  /// (`periodEndExtension`). Returns nil when the series has fewer than one point on that basis.
  static func of(_ series: ReferenceSeries, basis requested: SeriesBasis) -> SeriesPath? {
    var basis = requested
    if basis == .unspecified {
      basis = series.points.contains { $0.basis == .projectedAms2018 } ? .projectedAms2018 : .unspecified
    }
    var placed: [Int32: Double] = [:]
    var periods: [SeriesPoint] = []
    switch basis {
    case .unspecified:
      let hasAnnualParts = series.points.contains { $0.basis == .indicativeAnnualPart }
      for point in series.points {
        switch point.basis {
        case .historical, .indicativeAnnualPart: placed[point.yearStart] = point.valueMtCo2E
        case .budgetPeriodAverage where !hasAnnualParts:
          placed[midYear(point)] = point.valueMtCo2E
          periods.append(point)
        default: break
        }
      }
    case .budgetPeriodAverage:
      for point in series.points where point.basis == basis {
        placed[midYear(point)] = point.valueMtCo2E
        periods.append(point)
      }
    default:
      for point in series.points where point.basis == basis { placed[point.yearStart] = point.valueMtCo2E }
    }
    guard !placed.isEmpty else { return nil }
    var nodes = placed.keys.sorted().map { (year: $0, value: placed[$0] ?? 0) }
    var extendedTo: Int32?
    if let last = periods.max(by: { $0.yearEnd < $1.yearEnd }), let end = periodEndExtension(of: nodes, to: last) {
      nodes.append(end)
      extendedTo = end.year
    }
    return SeriesPath(nodes: nodes, basis: basis == .unspecified ? .unspecified : basis, extendedTo: extendedTo)
  }

  /// The path's value at the end of the last budget period, when that period's average is the
  /// path's last node: the last segment carried on from the period's middle year to its end.
  ///
  /// The guide prints « Emissions annuelles moyennes pour la période » for 2029-2033, so the
  /// 4th budget covers 2032 and 2033 too. Of the ways to fill them, a straight line through the
  /// period is the one whose mean over the period is the printed average (a line's mean over
  /// five years is its middle year's value); holding the average flat from 2031 would not be.
  /// Nil when the period's average is not the last node, or the period ends at its middle.
  static func periodEndExtension(
    of nodes: [(year: Int32, value: Double)], to period: SeriesPoint
  ) -> (year: Int32, value: Double)? {
    guard let last = nodes.last, last.year == midYear(period), period.yearEnd > last.year else { return nil }
    guard nodes.count >= 2 else { return (period.yearEnd, last.value) }
    let previous = nodes[nodes.count - 2]
    let slope = (last.value - previous.value) / Double(last.year - previous.year)
    return (period.yearEnd, last.value + slope * Double(period.yearEnd - last.year))
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
    // On the extension, the value is the line through the last two printed nodes.
    let extended = extendedTo != nil && year > nodes[nodes.count - 2].year
    for index in nodes.indices {
      let node = nodes[index]
      if node.year == year && !(extended && index == nodes.count - 1) {
        return Evaluation(value: node.value, interpolated: false, lowerYear: year, upperYear: year)
      }
      if node.year >= year, index > 0 {
        let lower = nodes[index - 1]
        let fraction = Double(year - lower.year) / Double(node.year - lower.year)
        return Evaluation(
          value: lower.value + (node.value - lower.value) * fraction, interpolated: true,
          lowerYear: extended ? nodes[max(0, nodes.count - 3)].year : lower.year,
          upperYear: extended ? lower.year : node.year, pastLastPeriodMiddle: extended)
      }
    }
    return nil
  }
}
