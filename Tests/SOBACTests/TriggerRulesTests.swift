import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// Rule 1 of issue 17: the triggers are the Tableau 1 indicators; the −30 % N figure of the
/// monitoring report is reported and blocks only by explicit configuration.
@Suite(.cpuBound) struct TriggerRulesTests {
  /// Every Tableau 1 threshold met (water −40 %, IFT herbicide −50 %, IFT non-herbicide −50 %),
  /// N cut by 10 % only (4000 → 3600 kg N a year).
  func allSixMetButNitrogenTenPercent() -> Farm {
    steadyFarm { year, record in
      record.irrigationM3 = year >= 2020 ? 600 : 1000
      if year >= 2020 { record.inputs[0].purchases = 3600 }
    }
  }

  /// §4.3.3: "Les réductions d'émissions sont déclenchées lorsque chacun des six indicateurs de
  /// co-bénéfices a au moins atteint le seuil requis." — the N fertiliser is not one of them.
  @Test func allSixIndicatorsMetAndTenPercentLessNitrogenIsCredited() throws {
    let result = try evaluate(allSixMetButNitrogenTenPercent())
    // Reduction: 5 years × (400 kg N × (3.97 + 0.01974 × 44/28 × 265 = 8.22030) + 10 kg a.s. × 9.861)
    // = 5 × (400 × 12.19030 + 98.61) = 24 873.6 kg CO2e = 24.8736 t CO2e, no rabais or bonus.
    let expected = 5 * (400 * (3.97 + fieldN2OPerKgMineralN) + 10 * 9.861) / 1000
    #expect(abs(expected - 24.8736) < 1e-3)
    #expect(abs(result.finalReductionTCo2E - expected) < 1e-9)
    #expect(result.coBenefits.allTriggersMet)
    // The N figure is reported: 5 × 4000 = 20 000 kg N → 5 × 3600 = 18 000 kg N, −10 %.
    let nitrogen = result.coBenefits.nFertiliser
    #expect(nitrogen.referenceValue == 20_000 && nitrogen.projectValue == 18_000)
    #expect(abs(nitrogen.reductionPercent - 10) < 1e-9)
    #expect(nitrogen.status == .notMet && !nitrogen.blocking)
    #expect(result.rulesApplied.contains { $0.hasPrefix("sobac.trigger.n_fertiliser:") && $0.contains("not blocking") })
    #expect(result.trace.decisions.contains { $0.rule == "n_fertiliser_check" && $0.choice == "REPORTED_NOT_BLOCKING" })
    // Points (Tableau 1): water −40 % → 1 + 1 step of 10 % = 2; IFT herbicide −50 % (threshold
    // 10, step 5) → 1 + 8 = 9; non-herbicide −50 % (threshold 30) → 1 + 4 = 5; quality and
    // biodiversity 9 + 5 = 14 each; total 2 + 14 + 14 = 30.
    #expect(result.coBenefits.waterResourcePoints == 2)
    #expect(result.coBenefits.waterQualityPoints == 14 && result.coBenefits.biodiversityPoints == 14)
    #expect(result.coBenefits.totalPoints == 30)
  }

  /// METHODS §2.3 (corrected): "an operator may make it blocking by configuration" — and the
  /// trace says so.
  @Test func nitrogenBlocksOnlyByExplicitConfiguration() throws {
    let result = try evaluate(allSixMetButNitrogenTenPercent(), config: #"{"n_fertiliser_check_blocking": true}"#)
    #expect(result.coBenefits.nFertiliser.blocking)
    #expect(!result.coBenefits.allTriggersMet)
    #expect(result.reductionAfterAdjustmentsTCo2E > 24)
    #expect(result.finalReductionTCo2E == 0)
    #expect(result.rulesApplied.contains { $0.hasPrefix("sobac.trigger.n_fertiliser:") && $0.contains("not counted") })
    #expect(result.trace.decisions.contains { $0.rule == "n_fertiliser_check" && $0.choice == "BLOCKING_BY_CONFIGURATION" })
  }

  /// A Tableau 1 indicator below its threshold still blocks: water −20 % (< 30 %).
  @Test func aTableauOneIndicatorBelowItsThresholdStillBlocks() throws {
    let farm = steadyFarm { year, record in record.irrigationM3 = year >= 2020 ? 800 : 1000 }
    let result = try evaluate(farm)
    #expect(result.coBenefits.irrigation.status == .notMet && result.coBenefits.irrigation.blocking)
    #expect(result.finalReductionTCo2E == 0)
  }
}
