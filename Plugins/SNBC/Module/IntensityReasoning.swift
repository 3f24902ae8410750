import CarbonDomain
import CarbonPluginKit
import Foundation

/// Optional intensity reasoning (guide, « Construction d'une trajectoire »: the company may
/// justify a gap « en proposant un raisonnement en intensité carbone » with its declared
/// production growth).
enum IntensityReasoning {
  /// Per horizon: the company's intensity reduction, and the intensity reduction that would
  /// make its absolute emissions follow the weighted sector rate given the declared growth,
  /// 1 − (1 − r_sector)/(P_t/P_ref).
  static func assess(
    _ production: Carbon_Snbc_V1_Production, consolidated: [Carbon_Snbc_V1_ConsolidatedHorizon],
    assessment: ValidatedAssessment, trace: inout TraceBuilder
  ) throws(ModuleError) -> [Carbon_Snbc_V1_IntensityAssessment] {
    let output = try Validate.positive(production.referenceOutput, "production.reference_output")
    let growth = try Validate.finite(production.growthPercentPerYear, "production.growth_percent_per_year")
    guard growth > -100 else {
      throw .invalidArgument("production.growth_percent_per_year", "must be greater than -100, got \(growth)")
    }
    trace.decision(
      "production_growth", "COMPOUND_ANNUAL",
      reason: "declared growth applied yearly: P_t = P_ref × (1 + g/100)^(t − t_ref)")
    var result: [Carbon_Snbc_V1_IntensityAssessment] = []
    for total in consolidated {
      let years = Double(total.horizon == .unspecified ? 0 : Int(assessment.horizonYears[total.horizon] ?? assessment.referenceYear) - Int(assessment.referenceYear))
      let factor = pow(1 + growth / 100, years)
      var item = Carbon_Snbc_V1_IntensityAssessment()
      item.horizon = total.horizon
      item.targetOutput = output * factor
      item.referenceIntensityTCo2EPerUnit = total.companyReferenceTCo2E / output
      item.targetIntensityTCo2EPerUnit = total.companyTargetTCo2E / item.targetOutput
      item.intensityReductionFraction = 1 - item.targetIntensityTCo2EPerUnit / item.referenceIntensityTCo2EPerUnit
      item.sectorConsistentIntensityReductionFraction = 1 - (1 - total.weightedSectorReductionFraction) / factor
      let label = "intensity_h\(total.horizon.rawValue)"
      trace.term(label + "_output_growth_factor", factor, .ratio, formula: "(1 + g/100)^years")
      trace.term(label + "_company_reduction", item.intensityReductionFraction, .ratio, formula: "1 − I_t/I_ref")
      trace.term(
        label + "_sector_consistent_reduction", item.sectorConsistentIntensityReductionFraction, .ratio,
        formula: "1 − (1 − r_sector_weighted)/growth_factor")
      result.append(item)
    }
    return result
  }
}
