import CarbonDomain
import CarbonPluginKit

/// A reference trajectory evaluated over the company's years.
struct ReferenceRate: Sendable {
  let referenceValue: Double
  let targetValue: Double
  /// (S_ref − S_target)/S_ref.
  let reduction: Double
  let interpolated: Bool
  /// True when a year lies on a budget period's extension beyond the printed points
  /// (`SeriesPath.periodExtension`).
  let extended: Bool

  /// The rate of a path between two years, nil when the path does not cover them or its
  /// reference value is not positive (no meaningful reduction rate).
  static func of(_ path: SeriesPath, from referenceYear: Int32, to targetYear: Int32) -> ReferenceRate? {
    guard let start = path.evaluate(at: referenceYear), let end = path.evaluate(at: targetYear),
      start.value > 0
    else { return nil }
    return ReferenceRate(
      referenceValue: start.value, targetValue: end.value,
      reduction: (start.value - end.value) / start.value,
      interpolated: start.interpolated || end.interpolated,
      extended: start.extended || end.extended)
  }
}

extension TraceBuilder {
  /// Records, once, how a path of budget-period averages gives the years of a period beyond
  /// its printed middle year.
  mutating func recordPeriodExtension() {
    decisionOnce(
      "budget_period_end", "NEIGHBOUR_SEGMENT_TO_PERIOD_BOUND",
      reason: "« Emissions annuelles moyennes pour la période »: each budget period covers the years on both sides of "
        + "its middle year (the 4th budget 2029-2033 includes 2032 and 2033); beyond the printed middle year the path "
        + "follows the line of the neighbouring segment to the period's bound, so the period's mean stays the printed "
        + "average and the path has no kink")
  }
}

/// The verdict rules, named as they appear in `verdict_rule` and in the trace.
enum VerdictRule {
  static let aligned = "snbc.verdict.rate_at_least_reference"
  static let indirectTolerance = "snbc.verdict.indirect_tolerance"
  static let notAligned = "snbc.verdict.rate_below_reference"
  static let noReference = "snbc.verdict.no_reference_for_years"

  /// Gaps within this many percentage points of zero count as zero: they are floating-point
  /// noise of rates computed from the same printed values, not a company's shortfall.
  static let numericalTolerancePp = 1e-9

  /// Verdict of a gap: aligned when the company reduces at least as fast as the reference;
  /// for an indirect category with a tolerance, "to be justified" within it (never aligned,
  /// METHODS.md §4); otherwise not aligned.
  static func verdict(gapPp: Double, indirect: Bool, tolerancePp: Double) -> (Verdict, String) {
    if gapPp >= -numericalTolerancePp { return (.aligned, aligned) }
    if indirect && tolerancePp > 0 && gapPp >= -tolerancePp { return (.toBeJustified, indirectTolerance) }
    return (.notAligned, notAligned)
  }
}

/// Builds one company-vs-reference comparison.
enum ReductionComparison {
  /// Compares a company change with a reference rate. `companyReference`/`companyTarget` are
  /// in t CO2e/yr; the reduction is (E_ref − E_target)/E_ref.
  static func assess(
    horizon: Horizon, targetYear: Int32, companyReference: Double, companyTarget: Double,
    reference: ReferenceRate?, indirect: Bool, tolerancePp: Double
  ) -> HorizonAssessment {
    var result = HorizonAssessment()
    result.horizon = horizon
    result.targetYear = targetYear
    result.companyReferenceTCo2E = companyReference
    result.companyTargetTCo2E = companyTarget
    result.companyReductionFraction = (companyReference - companyTarget) / companyReference
    guard let reference else {
      result.verdict = .notAssessable
      result.verdictRule = VerdictRule.noReference
      return result
    }
    result.sectorReferenceValue = reference.referenceValue
    result.sectorTargetValue = reference.targetValue
    result.sectorReductionFraction = reference.reduction
    result.sectorValuesInterpolated = reference.interpolated
    result.gapPp = (result.companyReductionFraction - reference.reduction) * 100
    let (verdict, rule) = VerdictRule.verdict(gapPp: result.gapPp, indirect: indirect, tolerancePp: tolerancePp)
    result.verdict = verdict
    result.verdictRule = rule
    return result
  }
}
