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
  /// The start year of the first budget period when the path was carried back to it from that
  /// period's middle year (`periodExtension`); nil otherwise.
  let extendedFrom: Int32?
  /// The end year of the last budget period when the path was carried past that period's
  /// middle year to it (`periodExtension`); nil otherwise.
  let extendedTo: Int32?

  init(
    nodes: [(year: Int32, value: Double)], basis: SeriesBasis, extendedFrom: Int32? = nil, extendedTo: Int32? = nil
  ) {
    self.nodes = nodes
    self.basis = basis
    self.extendedFrom = extendedFrom
    self.extendedTo = extendedTo
  }

  /// A value of the path at a year.
  struct Evaluation: Sendable {
    let value: Double
    /// True when the value is not a printed point (interpolated, or on an extension).
    let interpolated: Bool
    /// The printed points the value's line goes through (the year itself when printed).
    let lowerYear: Int32
    let upperYear: Int32
    /// True when the year lies between a budget period's bound and its middle year, outside
    /// the printed points, on the line carried on to the bound (`periodExtension`).
    var extended = false
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
  /// A path of budget-period averages is carried on to its first period's start and its last
  /// period's end (`periodExtension`). Returns nil when the series has fewer than one point on that basis.
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
    let printed = placed.keys.sorted().map { (year: $0, value: placed[$0] ?? 0) }
    var nodes = printed
    var extendedFrom: Int32?
    var extendedTo: Int32?
    if let first = periods.min(by: { $0.yearStart < $1.yearStart }),
      let start = periodExtension(of: printed, to: first, atStart: true)
    {
      nodes.insert(start, at: 0)
      extendedFrom = start.year
    }
    if let last = periods.max(by: { $0.yearEnd < $1.yearEnd }),
      let end = periodExtension(of: printed, to: last, atStart: false)
    {
      nodes.append(end)
      extendedTo = end.year
    }
    return SeriesPath(
      nodes: nodes, basis: basis == .unspecified ? .unspecified : basis, extendedFrom: extendedFrom,
      extendedTo: extendedTo)
  }

  /// The path's value at the bound of a budget period whose average is the path's first
  /// (`atStart`) or last printed node: the neighbouring segment carried on from the period's
  /// middle year to its first or last year.
  ///
  /// The guide prints « Emissions annuelles moyennes pour la période » for 2019-2023, 2024-2028
  /// and 2029-2033, so a period covers the years on both sides of its middle year: the 4th
  /// budget covers 2032 and 2033 too. Any straight line through the middle year keeps the
  /// period's mean at the printed average (a line's mean over five years is its middle value),
  /// which holding the average flat after the middle would not: the path reaches it falling.
  /// The line chosen continues the neighbouring segment, so the path has no kink at the middle
  /// year; with a single printed point it is flat. Nil when that period's average is not the
  /// first or last printed node, or the period has no year beyond its middle on that side.
  static func periodExtension(
    of printed: [(year: Int32, value: Double)], to period: SeriesPoint, atStart: Bool
  ) -> (year: Int32, value: Double)? {
    guard let node = atStart ? printed.first : printed.last, node.year == midYear(period) else { return nil }
    let bound = atStart ? period.yearStart : period.yearEnd
    guard bound != node.year else { return nil }
    guard printed.count >= 2 else { return (bound, node.value) }
    let neighbour = atStart ? printed[1] : printed[printed.count - 2]
    let slope = (node.value - neighbour.value) / Double(node.year - neighbour.year)
    return (bound, node.value + slope * Double(bound - node.year))
  }

  /// First year covered.
  var firstYear: Int32 { nodes.first?.year ?? 0 }
  /// Last year covered.
  var lastYear: Int32 { nodes.last?.year ?? 0 }

  /// The value at a year by linear interpolation between the two surrounding nodes, or nil
  /// outside the path: beyond the printed points only as far as a budget period's bound
  /// (`periodExtension`), otherwise no extrapolation (the guide gives no basis for it).
  func evaluate(at year: Int32) -> Evaluation? {
    guard let first = nodes.first, let last = nodes.last, year >= first.year, year <= last.year
    else { return nil }
    // On an extension the value is on the line through the two nearest printed points (the
    // added node lies on it), and those two are the years reported.
    if extendedTo != nil, year > nodes[nodes.count - 2].year {
      let printedLast = nodes.count - 2
      let lineFrom = extendedFrom != nil ? max(1, printedLast - 1) : max(0, printedLast - 1)
      return Evaluation(
        value: Self.line(nodes[printedLast], nodes[nodes.count - 1], at: year), interpolated: true,
        lowerYear: nodes[lineFrom].year, upperYear: nodes[printedLast].year, extended: true)
    }
    if extendedFrom != nil, year < nodes[1].year {
      let printedLast = extendedTo != nil ? nodes.count - 2 : nodes.count - 1
      return Evaluation(
        value: Self.line(nodes[0], nodes[1], at: year), interpolated: true,
        lowerYear: nodes[1].year, upperYear: nodes[min(2, printedLast)].year, extended: true)
    }
    for index in nodes.indices {
      let node = nodes[index]
      if node.year == year {
        return Evaluation(value: node.value, interpolated: false, lowerYear: year, upperYear: year)
      }
      if node.year > year, index > 0 {
        return Evaluation(
          value: Self.line(nodes[index - 1], node, at: year), interpolated: true,
          lowerYear: nodes[index - 1].year, upperYear: node.year)
      }
    }
    return nil
  }

  /// The value at `year` of the line through two nodes.
  private static func line(
    _ from: (year: Int32, value: Double), _ to: (year: Int32, value: Double), at year: Int32
  ) -> Double {
    from.value + (to.value - from.value) * Double(year - from.year) / Double(to.year - from.year)
  }
}
