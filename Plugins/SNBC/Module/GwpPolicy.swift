import CarbonDomain
import CarbonPluginKit

/// The guide's rule on the metric of CO2e: the budgets by gas are « calculés à partir des
/// métriques d'agrégation des gaz à effet de serre en vigueur dans l'inventaire français de gaz
/// à effet de serre (GWP100 AR4 actuellement, puis GWP100 AR5 à partir de 2023) ».
///
/// The default set therefore follows the year of the company's data (METHODS.md §4, corrected):
/// before 2023 AR4, from 2023 AR5; a request may choose another set (flagged). Every CO2e
/// figure of the gas split names the set, and company totals declared in another metric than
/// the gas split are flagged rather than silently mixed with it.
enum GwpPolicy {
  /// First data year measured in AR5 (« à partir de 2023 »).
  static let ar5FromYear: Int32 = 2023
  /// Years a company's data may describe.
  static let dataYears: ClosedRange<Int32> = 1990...2100

  /// The set the guide's rule gives for data of `year`.
  static func inventorySet(forDataYear year: Int32) -> GwpSet {
    year < ar5FromYear ? .ar4 : .ar5
  }

  /// Short name of a set, as written in traces and charts ("AR4", "AR5").
  static func name(_ set: GwpSet) -> String {
    switch set {
    case .ar4: return "AR4"
    case .ar5: return "AR5"
    default: return "unspecified"
    }
  }

  /// The data year of the request: `data_year`, or the reference year when 0 (recorded).
  static func dataYear(
    requested: Int32, referenceYear: Int32, trace: inout TraceBuilder
  ) throws(ModuleError) -> Int32 {
    guard requested != 0 else {
      trace.decision(
        "data_year", "REFERENCE_YEAR",
        reason: "data_year not given: the company's gas and emission figures are those of the reference year \(referenceYear)")
      return referenceYear
    }
    return try Validate.inRange(requested, dataYears, "data_year")
  }

  /// The set used for the gas split: the request's, or the inventory set of the data year.
  static func gasSplitSet(
    requested: GwpSet, dataYear: Int32, trace: inout TraceBuilder
  ) throws(ModuleError) -> GwpSet {
    try Validate.inRange(requested.rawValue, 0...2, "gwp_set")
    let inventory = inventorySet(forDataYear: dataYear)
    let rule = "« GWP100 AR4 actuellement, puis GWP100 AR5 à partir de 2023 »"
    guard requested != .unspecified else {
      trace.decision(
        "gwp_set", name(inventory),
        reason: "\(rule): data of \(dataYear) → GWP100 \(name(inventory)) (before 2023 AR4, from 2023 AR5)")
      return inventory
    }
    trace.decision(
      "gwp_set", name(requested),
      reason: "chosen by the request; the guide's rule gives GWP100 \(name(inventory)) for data of \(dataYear)")
    if requested != inventory {
      trace.warning(
        "gwp_set GWP100 \(name(requested)) differs from the inventory metric of \(dataYear) data (GWP100 \(name(inventory)), \(rule))")
    }
    return requested
  }

  /// Compares the declared metric of the category totals with the gas split's set; returns
  /// true when they differ (the gas shares then mix two metrics: flagged).
  static func emissionsMetricDiffers(
    declared: GwpSet, gasSplit: GwpSet, trace: inout TraceBuilder
  ) throws(ModuleError) -> Bool {
    try Validate.inRange(declared.rawValue, 0...2, "emissions_gwp_set")
    guard declared != .unspecified else {
      trace.decision(
        "emissions_gwp_set", "ASSUMED_\(name(gasSplit))",
        reason: "the metric of the categories' CO2e totals is not stated: assumed GWP100 \(name(gasSplit)), the gas split's set")
      trace.warning(
        "the categories' CO2e totals do not state their GWP set (emissions_gwp_set): the >10 % gas shares assume GWP100 \(name(gasSplit))")
      return false
    }
    guard declared != gasSplit else { return false }
    trace.rule(
      "snbc.gas.metric_mismatch",
      "the categories' totals are in GWP100 \(name(declared)) and the gas split in GWP100 \(name(gasSplit)): "
        + "for the gas shares the totals are restated in GWP100 \(name(gasSplit)) by swapping the gases given, "
        + "exact only when the split covers every non-CO2 gas")
    trace.warning(
      "company total in GWP100 \(name(declared)) but gas split in GWP100 \(name(gasSplit)): totals restated for the gas shares (gwp_metric_mismatch)")
    return true
  }
}
