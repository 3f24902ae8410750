import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// Tableau 1: triggers and points at and around every threshold; generic vs specific IFT.
@Suite(.cpuBound) struct CoBenefitScoringTests {
  let scoring: CoBenefitScoring

  init() throws {
    scoring = CoBenefitScoring(data: try SobacReferenceData.load(), options: CalculationOptions())
  }

  /// Points of a reduction of `percent` % (reference 100).
  func points(_ percent: Double, threshold: Double, step: Double) -> (TriggerStatus, Int32) {
    let indicator = scoring.indicator("x", unit: "", reference: 100, project: 100 - percent, threshold: threshold, step: step, blocking: true)
    return (indicator.status, indicator.points)
  }
  typealias TriggerStatus = Carbon_Sobac_V1_TriggerStatus

  @Test(arguments: [
    (29.99, TriggerStatus.notMet, Int32(0)), (30, .met, 1), (39.99, .met, 1), (40, .met, 2),
    (50, .met, 3), (89.99, .met, 6), (90, .met, 7),
  ])
  func waterPoints(percent: Double, status: TriggerStatus, expected: Int32) {
    let (got, score) = points(percent, threshold: 30, step: 10)
    #expect(got == status)
    #expect(score == expected)
  }

  @Test func waterIsCappedAtSeven() throws {
    let farm = steadyFarm { year, record in record.irrigationM3 = year >= 2020 ? 0 : 1000 }
    let result = try evaluate(farm)
    // −100 %: 1 + floor(70/10) = 8, capped at 7.
    #expect(result.coBenefits.irrigation.points == 7)
    #expect(result.coBenefits.waterResourcePoints == 7)
  }

  @Test(arguments: [
    // IFT herbicide, specific reference: −10 %, +1 per 5 %.
    (9.99, 10.0, TriggerStatus.notMet, Int32(0)), (10, 10, .met, 1), (14.99, 10, .met, 1), (15, 10, .met, 2),
    // IFT herbicide, generic: −20 %.
    (19.99, 20, .notMet, 0), (20, 20, .met, 1), (25, 20, .met, 2),
    // IFT non-herbicide, specific −30 % and generic −50 %.
    (29.99, 30, .notMet, 0), (30, 30, .met, 1), (35, 30, .met, 2), (49.99, 50, .notMet, 0), (50, 50, .met, 1),
    (54.99, 50, .met, 1), (55, 50, .met, 2),
  ])
  func iftPoints(percent: Double, threshold: Double, status: TriggerStatus, expected: Int32) {
    let (got, score) = points(percent, threshold: threshold, step: 5)
    #expect(got == status)
    #expect(score == expected)
  }

  @Test func decimalInputsReachTheThreshold() {
    // 2.0 → 1.4 is a 30 % cut although (2.0 − 1.4)/2.0 × 100 = 29.999999999999996 in binary.
    let indicator = scoring.indicator("x", unit: "", reference: 2.0, project: 1.4, threshold: 30, step: 5, blocking: true)
    #expect(indicator.status == .met)
    #expect(indicator.points == 1)
  }

  @Test func zeroReferences() {
    let both = scoring.indicator("x", unit: "", reference: 0, project: 0, threshold: 30, step: 10, blocking: true)
    #expect(both.status == .notApplicable)
    #expect(both.points == 0)
    let started = scoring.indicator("x", unit: "", reference: 0, project: 5, threshold: 30, step: 10, blocking: true)
    #expect(started.status == .notMet)
  }

  @Test func categoryCapsSpecificAndGeneric() throws {
    // IFT herbicide and non-herbicide cut to 0 (−100 %).
    // Specific: 1 + floor(90/5) = 19 and 1 + floor(70/5) = 15 → 34, capped at 26 per category.
    let specific = try evaluate(steadyFarm { year, record in
      if year >= 2020 { record.iftHerbicide = 0; record.iftNonHerbicide = 0 }
    })
    #expect(specific.coBenefits.iftHerbicide.points == 19)
    #expect(specific.coBenefits.iftNonHerbicide.points == 15)
    #expect(specific.coBenefits.waterQualityPoints == 26)
    #expect(specific.coBenefits.biodiversityPoints == 26)
    #expect(specific.coBenefits.totalPoints == 52)
    // Generic: 1 + floor(80/5) = 17 and 1 + floor(50/5) = 11 → 28, capped at 16.
    var farm = steadyFarm { year, record in
      if year >= 2020 { record.iftHerbicide = 0; record.iftNonHerbicide = 0 }
    }
    farm.iftReference = .generic
    farm.formerRegionCode = "73"
    let generic = try evaluate(farm)
    #expect(generic.coBenefits.iftHerbicide.points == 17)
    #expect(generic.coBenefits.iftNonHerbicide.points == 11)
    #expect(generic.coBenefits.waterQualityPoints == 16)
    #expect(generic.coBenefits.totalPoints == 32)
  }

  @Test func genericReferenceIsTheAreaWeightedRegionalIft() throws {
    // Midi-Pyrénées (73): maïs grain 2.2 / 0.6, blé tendre 1.2 / 2.1.
    // 30 ha maize + 10 ha wheat: herbicide (30 × 2.2 + 10 × 1.2)/40 = 1.95; non-herbicide
    // (30 × 0.6 + 10 × 2.1)/40 = 0.975.
    var farm = steadyFarm { year, record in
      record.crops = [crop("maïs", area: 30, sold: 270, ift: "mais_grain"), crop("blé", area: 10, sold: 70, ift: "ble_tendre")]
      if year >= 2020 { record.iftHerbicide = 1; record.iftNonHerbicide = 0.4 }
    }
    farm.iftReference = .generic
    farm.departmentCode = "82"  // Tarn-et-Garonne → former region 73
    let result = try evaluate(farm)
    #expect(abs(result.coBenefits.iftHerbicide.referenceValue - 1.95) < 1e-12)
    #expect(abs(result.coBenefits.iftNonHerbicide.referenceValue - 0.975) < 1e-12)
    #expect(result.coBenefits.genericIftHerbicideByYear.count == 5)
    // 1.95 → 1: −48.7 % ≥ 20 %; 0.975 → 0.4: −59 % ≥ 50 %.
    #expect(result.coBenefits.iftHerbicide.status == .met)
    #expect(result.coBenefits.iftNonHerbicide.status == .met)
    #expect(result.coBenefits.iftHerbicide.thresholdPercent == 20)
  }

  @Test func genericReferenceForVineyardsUsesTheWineBasin() throws {
    var farm = steadyFarm { year, record in
      record.crops = [crop("vigne", area: 50, sold: 300, ift: "vigne")]
      if year >= 2020 { record.iftHerbicide = 0.1; record.iftNonHerbicide = 5 }
    }
    farm.iftReference = .generic
    farm.wineBasin = "bordelais"  // 0.4 / 16.5; no region needed for vines
    let result = try evaluate(farm)
    #expect(abs(result.coBenefits.iftHerbicide.referenceValue - 0.4) < 1e-12)
    #expect(abs(result.coBenefits.iftNonHerbicide.referenceValue - 16.5) < 1e-12)
    farm.wineBasin = "mars"
    #expect(error { _ = try evaluate(farm) }?.field == "farm.wine_basin")
  }

  @Test func genericReferenceRefusedForAnUnpublishedCell() throws {
    // Apples in Languedoc-Roussillon (91): herbicide "nd".
    var farm = steadyFarm { _, record in record.crops = [crop("pommes", area: 50, sold: 2000, ift: "pommes")] }
    farm.iftReference = .generic
    farm.formerRegionCode = "91"
    let failure = error { _ = try evaluate(farm) }
    #expect(failure?.status == .failedPrecondition)
    #expect(failure?.field == "sobac.ift.generic_reference_unavailable")
    #expect(failure?.message.contains("pommes") == true)
  }

  @Test func genericReferenceNeedsTheCropCode() throws {
    var farm = steadyFarm { _, record in record.crops[0].iftCrop = "" }
    farm.iftReference = .generic
    farm.formerRegionCode = "73"
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[0].crops[0].ift_crop")
    farm.formerRegionCode = "99"
    #expect(error { _ = try evaluate(farm) }?.field == "farm.former_region_code")
  }

  @Test func olympicMeanAndMedian() {
    #expect(Statistics.olympicMean([5, 1, 3, 4, 2]) == 3)
    #expect(Statistics.olympicMean([1, 2]) == nil)
    #expect(Statistics.median([3, 1, 2]) == 2)
    #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
  }
}
