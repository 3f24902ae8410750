import CarbonDomain
import CarbonPluginKit

/// A category of the request after validation, with emissions net of technological sinks.
struct ValidatedCategory: Sendable {
  /// Position in the request (for field paths).
  let index: Int
  let name: String
  let kind: EmissionCategoryKind
  /// The national reference series (nil on the world perimeter).
  let series: ReferenceSeries?
  /// The supplied global trajectory (world perimeter only).
  let globalTrajectory: SeriesPath?
  /// A world or European trajectory used to justify a gap (France perimeter, information).
  let justification: SeriesPath?
  /// Its source, as given.
  let justificationSource: String
  /// Reference-year emissions net of technological sinks, t CO2e/yr.
  let referenceNet: Double
  /// Reference-year technological sink, t CO2e/yr.
  let referenceSink: Double
  /// Net target emissions per horizon, t CO2e/yr.
  let targetNet: [Horizon: Double]
  /// Technological sink per horizon, t CO2e/yr.
  let targetSink: [Horizon: Double]
  /// Actuals as given.
  let actuals: [YearValue]

  var isWorld: Bool { globalTrajectory != nil }

  /// The trajectory the category is compared with: the supplied global trajectory on the
  /// world perimeter, else the AMS projection of its series.
  var referencePath: SeriesPath? {
    if let globalTrajectory { return globalTrajectory }
    return series.flatMap { SeriesPath.of($0, basis: .projectedAms2018) }
  }
}

/// The whole request after validation.
struct ValidatedAssessment: Sendable {
  let referenceYear: Int32
  /// The anchor of the short and medium horizons (investment year or reference year).
  let anchorYear: Int32
  /// Target year of each horizon, common to every category.
  let horizonYears: [Horizon: Int32]
  let categories: [ValidatedCategory]
  /// Gross company total of the reference year (before technological sinks), t CO2e/yr.
  let grossReferenceTotal: Double
}

/// Checks of the AssessTrajectory request; each refusal names the field or the rule.
enum AssessmentValidation {
  /// The AMS projection's last year: the company's years must fall before it or on it.
  static let amsLastYear: Int32 = 2050
  /// The first year an investment under the guide can be made: the State's holdings paid from
  /// « la loi n° 2020-473 du 25 avril 2020 de finances rectificative pour 2020 » (préambule).
  static let firstInvestmentYear: Int32 = 2020

  static func validate(
    _ request: Carbon_Snbc_V1_AssessTrajectoryRequest, catalog: ReferenceCatalog,
    trace: inout TraceBuilder
  ) throws(ModuleError) -> ValidatedAssessment {
    let referenceYear = try ReferenceYearRule.validate(request.referenceYear, field: "reference_year")
    var anchor = referenceYear
    if request.investmentYear == 0 {
      // No investment can precede the law of 25 April 2020, so neither can the anchor.
      anchor = max(referenceYear, firstInvestmentYear)
      trace.decision(
        "horizon_anchor", anchor == referenceYear ? "REFERENCE_YEAR" : "FIRST_INVESTMENT_YEAR",
        reason: "investment_year not given: the short (3-5 years) and medium (≤10 years) horizons "
          + "are counted from the reference year, or from \(firstInvestmentYear) when it is earlier (no investment "
          + "under the law of 25 April 2020 precedes it)")
    } else {
      anchor = try Validate.inRange(request.investmentYear, firstInvestmentYear...(amsLastYear - 1), "investment_year")
      trace.term("investment_year", Double(anchor), .year, formula: "request")
    }
    trace.term("reference_year", Double(referenceYear), .year, formula: "request")
    try Validate.nonEmpty(request.categories, "categories")
    var horizonYears: [Horizon: Int32] = [:]
    var categories: [ValidatedCategory] = []
    var names = Set<String>()
    var grossTotal = 0.0
    for (index, category) in request.categories.enumerated() {
      let validated = try validate(
        category, index: index, referenceYear: referenceYear, anchorYear: anchor,
        horizonYears: &horizonYears, catalog: catalog)
      guard names.insert(validated.name).inserted else {
        throw .invalidArgument("categories[\(index)].name", "name \(validated.name.quoted) is used twice")
      }
      grossTotal += category.referenceEmissionsTCo2E
      categories.append(validated)
    }
    return ValidatedAssessment(
      referenceYear: referenceYear, anchorYear: anchor, horizonYears: horizonYears,
      categories: categories, grossReferenceTotal: grossTotal)
  }

  private static func validate(
    _ category: EmissionCategory, index: Int, referenceYear: Int32, anchorYear: Int32,
    horizonYears: inout [Horizon: Int32], catalog: ReferenceCatalog
  ) throws(ModuleError) -> ValidatedCategory {
    let path = "categories[\(index)]"
    try Validate.nonEmpty(category.name, path + ".name")
    try Validate.specified(category.kind, path + ".kind") { $0.isKnown }
    try Validate.inRange(category.perimeter.rawValue, 0...2, path + ".perimeter")
    let reference = try Validate.nonNegative(category.referenceEmissionsTCo2E, path + ".reference_emissions_t_co2e")
    let referenceSink = try Validate.nonNegative(
      category.referenceTechnologicalSinkTCo2E, path + ".reference_technological_sink_t_co2e")
    if referenceSink > 0 && category.kind != .direct {
      throw .invalidArgument(
        path + ".reference_technological_sink_t_co2e",
        "technological sinks are deducted from direct emissions only (guide, « Puits de carbone »)")
    }
    // Perimeter and reference trajectory.
    var series: ReferenceSeries? = nil
    var global: SeriesPath? = nil
    if category.perimeter == .world {
      guard category.kind.isIndirect else {
        throw .failedPrecondition(
          rule: "snbc.perimeter.direct_emissions_national",
          "\(path): direct emissions are always assessed on the national perimeter (guide, « Périmètre géographique »)")
      }
      global = try globalTrajectory(category.globalTrajectory, field: path + ".global_trajectory")
    } else {
      try Validate.inRange(category.sector.rawValue, 0...7, path + ".sector")
      let requested: String
      if category.seriesID.isEmpty {
        guard category.sector != .unspecified, let total = ReferenceCatalog.sectorTotalId(category.sector) else {
          throw .invalidArgument(path + ".series_id", "is required (or give the category's sector)")
        }
        requested = total
      } else {
        requested = category.seriesID
      }
      guard let found = catalog.lookup(requested) else {
        throw .invalidArgument(
          path + ".series_id", "unknown sector or sub-sector \(category.seriesID.quoted) (see ListReferenceSeries)")
      }
      if category.sector != .unspecified && found.sector != category.sector && !found.derived {
        throw .invalidArgument(path + ".sector", "\(found.id) does not belong to this sector")
      }
      if found.outsideBudgets {
        throw .failedPrecondition(
          rule: "snbc.bunkers.outside_budgets",
          "\(path).series_id: international bunkers are outside the carbon budgets and never compared; report them in reported_apart")
      }
      guard SeriesPath.of(found, basis: .projectedAms2018) != nil else {
        throw .invalidArgument(
          path + ".series_id",
          "\(found.id) is an Annex I budget series; categories compare with an Annex II (AMS) sector or sub-sector, or all_sectors")
      }
      if found.sector == .lulucf {
        throw .failedPrecondition(
          rule: "snbc.sinks.natural_compared_apart",
          "\(path).series_id: emission categories cannot map to LULUCF; natural sinks go in natural_sinks")
      }
      series = found
    }
    var justification: SeriesPath? = nil
    if !category.justificationTrajectory.isEmpty {
      guard category.perimeter != .world else {
        throw .invalidArgument(
          path + ".justification_trajectory", "the world perimeter is already compared with global_trajectory")
      }
      justification = try globalTrajectory(category.justificationTrajectory, field: path + ".justification_trajectory")
      try Validate.nonEmpty(category.justificationTrajectorySource, path + ".justification_trajectory_source")
    }
    // Targets: one per horizon.
    var targetNet: [Horizon: Double] = [:]
    var targetSink: [Horizon: Double] = [:]
    for (targetIndex, target) in category.targets.enumerated() {
      let targetPath = "\(path).targets[\(targetIndex)]"
      let horizon = try Validate.specified(target.horizon, targetPath + ".horizon") { Horizon.required.contains($0) }
      guard targetNet[horizon] == nil else {
        throw .invalidArgument(targetPath + ".horizon", "\(horizon.protoName) is given twice")
      }
      let year = try horizonYear(
        target.year, horizon: horizon, referenceYear: referenceYear, anchorYear: anchorYear,
        field: targetPath + ".year")
      if let common = horizonYears[horizon], common != year {
        throw .invalidArgument(
          targetPath + ".year",
          "\(horizon.protoName) year \(year) differs from \(common) of the first category: every category shares the objective years")
      }
      horizonYears[horizon] = year
      let emissions = try Validate.nonNegative(target.emissionsTCo2E, targetPath + ".emissions_t_co2e")
      let sink = try Validate.nonNegative(target.technologicalSinkTCo2E, targetPath + ".technological_sink_t_co2e")
      if sink > 0 && category.kind != .direct {
        throw .invalidArgument(
          targetPath + ".technological_sink_t_co2e", "technological sinks are deducted from direct emissions only")
      }
      if let global, global.evaluate(at: year) == nil {
        throw .invalidArgument(path + ".global_trajectory", "does not cover the target year \(year)")
      }
      if let justification, justification.evaluate(at: year) == nil {
        throw .invalidArgument(path + ".justification_trajectory", "does not cover the target year \(year)")
      }
      targetNet[horizon] = emissions - sink
      targetSink[horizon] = sink
    }
    for horizon in Horizon.required where targetNet[horizon] == nil {
      throw .invalidArgument(path + ".targets", "missing horizon \(horizon.protoName) (the arrêté requires three objectives)")
    }
    if let global, global.evaluate(at: referenceYear) == nil {
      throw .invalidArgument(path + ".global_trajectory", "does not cover the reference year \(referenceYear)")
    }
    if let justification, justification.evaluate(at: referenceYear) == nil {
      throw .invalidArgument(path + ".justification_trajectory", "does not cover the reference year \(referenceYear)")
    }
    if let short = horizonYears[.shortTerm], let medium = horizonYears[.mediumTerm], medium <= short {
      throw .invalidArgument(path + ".targets", "the medium-term year \(medium) must be after the short-term year \(short)")
    }
    // « au moins trois objectifs »: the medium term is its own objective, before the 2050 one.
    if let medium = horizonYears[.mediumTerm], medium >= amsLastYear {
      throw .invalidArgument(
        path + ".targets",
        "the medium-term year \(medium) must be before the long-term objective \(amsLastYear): the arrêté sets three distinct objectives")
    }
    let referenceNet = reference - referenceSink
    guard referenceNet > 0 else {
      throw .failedPrecondition(
        rule: "snbc.rate.reference_not_positive",
        "\(path): reference emissions net of technological sinks must be > 0 to compute a reduction rate")
    }
    return ValidatedCategory(
      index: index, name: category.name, kind: category.kind, series: series, globalTrajectory: global,
      justification: justification, justificationSource: category.justificationTrajectorySource,
      referenceNet: referenceNet, referenceSink: referenceSink, targetNet: targetNet,
      targetSink: targetSink, actuals: category.actuals)
  }

  /// The arrêté's windows: short term 3 to 5 years after the investment, medium term at most
  /// 10 years after it, long term 2050. A year before the reference year is invalid input; a
  /// year outside a window is refused by the rule of the arrêté.
  static func horizonYear(
    _ year: Int32, horizon: Horizon, referenceYear: Int32, anchorYear: Int32, field: String
  ) throws(ModuleError) -> Int32 {
    guard year > referenceYear else {
      throw .invalidArgument(field, "target year \(year) must be after the reference year \(referenceYear)")
    }
    try Validate.inRange(year, (referenceYear + 1)...amsLastYear, field)
    let offset = year - anchorYear
    switch horizon {
    case .shortTerm where !(3...5).contains(offset):
      throw .failedPrecondition(
        rule: "snbc.horizon.short_term_3_to_5_years",
        "\(field): the short-term objective is 3 to 5 years after \(anchorYear), got \(year)")
    case .mediumTerm where offset > 10 || offset < 1:
      throw .failedPrecondition(
        rule: "snbc.horizon.medium_term_at_most_10_years",
        "\(field): the medium-term objective is at most 10 years after \(anchorYear), got \(year)")
    case .longTerm2050 where year != 2050:
      throw .invalidArgument(field, "the long-term objective is 2050, got \(year)")
    default:
      return year
    }
  }

  /// A supplied global trajectory: at least two points, unique years, positive values.
  static func globalTrajectory(
    _ points: [Carbon_Snbc_V1_GlobalTrajectoryPoint], field: String
  ) throws(ModuleError) -> SeriesPath {
    guard points.count >= 2 else {
      throw .invalidArgument(field, "the world perimeter needs a global trajectory of at least two points")
    }
    var values: [Int32: Double] = [:]
    for (index, point) in points.enumerated() {
      try Validate.inRange(point.year, 1990...2100, "\(field)[\(index)].year")
      guard values[point.year] == nil else {
        throw .invalidArgument("\(field)[\(index)].year", "year \(point.year) appears twice")
      }
      values[point.year] = try Validate.positive(point.emissions, "\(field)[\(index)].emissions")
    }
    let nodes = values.keys.sorted().map { (year: $0, value: values[$0] ?? 0) }
    return SeriesPath(nodes: nodes, basis: .unspecified)
  }
}
