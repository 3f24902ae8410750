import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// Rules 3 and 4 of issue 17: eligibility (§4.1), livestock and mixed farms (§4.3.1, Annex 5,
/// footnote 33).
@Suite(.cpuBound) struct LivestockFarmTests {
  /// A dairy farm: 80 ha of self-consumed forage (60 ha grass at 8 t/ha, 20 ha silage maize at
  /// 13 t/ha, 0 t sold), 100 UGB, 7 000 hL of milk (70 hL/UGB) and 10 t of meat (0.1 t/UGB) a
  /// year; the project halves the N (6000 → 4000 kg N... see below) and plant protection.
  func dairyFarm(configure: (Int32, inout FarmYear) -> Void = { _, _ in }) -> Farm {
    var farm = steadyFarm(id: "LAIT") { year, record in
      let reference = year < 2020
      record.sauHa = 80
      record.sfpHa = 80
      record.ugb = 100
      var grass = crop("prairie temporaire", area: 60, sold: 0)
      grass.selfConsumed = true
      grass.producedT = 480
      var silage = crop("maïs ensilage", area: 20, sold: 0)
      silage.selfConsumed = true
      silage.producedT = 260
      record.crops = [grass, silage]
      record.milkSoldHl = 7000
      record.meatSoldLiveT = 10
      record.inputs = [
        line("ammonium_nitrate_33_5", .kgN, reference ? 6000 : 4000),
        line("plant_protection_generic", .kgActiveSubstance, reference ? 10 : 5),
      ]
      configure(year, &record)
    }
    farm.productionSystem = .livestock
    farm.farmType = .livestock
    return farm
  }

  /// Reduction of the dairy farm: 5 × (2000 kg N × (3.97 + 8.22030) + 5 kg a.s. × 9.861) / 1000
  /// = 5 × (24 380.6 + 49.305) / 1000 = 122.1495 t CO2e.
  let dairyReduction = 5 * (2000 * (3.97 + fieldN2OPerKgMineralN) + 5 * 9.861) / 1000

  /// Footnote 33 reads tonnes sold; a forage crop sold 0 t is "evaluated with its own
  /// production figure" (issue 17): 480 t / 60 ha = 8 t/ha every year, within tolerance.
  @Test func selfConsumedForageUsesItsOwnProductionFigure() throws {
    let result = try evaluate(dairyFarm())
    #expect(abs(dairyReduction - 122.1495) < 1e-3)
    #expect(abs(result.finalReductionTCo2E - dairyReduction) < 1e-9)
    let grass = try #require(result.cropYields.first { $0.crop == "prairie temporaire" })
    #expect(grass.referenceMeanYield == 8 && grass.projectMeanYield == 8)
    #expect(grass.yieldBasis == "produced_t / area_ha (self-consumed)")
    #expect(grass.status == .withinTolerance)
    let milk = try #require(result.cropYields.first { $0.crop == "milk" })
    #expect(milk.yieldUnit == "hL/UGB" && milk.referenceMeanYield == 70)
    #expect(result.trace.decisions.contains { $0.rule == "production_system" && $0.choice == "LIVESTOCK" })
  }

  /// §4.3.1 follows "quantité de lait vendu" and Annex 5 "Rendement moyen annuel en lait
  /// (hL/UGB)"; §5.4.2: the mean yield "ne doit pas […] dépasser les 20% de moins que le
  /// rendement moyen des cinq années précédant la Notification", else Eq. 1's rabais.
  /// Project milk 5 000 hL / 100 UGB = 50 hL/UGB vs 70: gap (70 − 50)/70 = 28.571 %, excess
  /// 8.571 % = P_rabais (the only production too low); final = 122.1495 × (1 − 0.085714).
  @Test func milkYieldPerUgbEntersTheYieldSafeguard() throws {
    let result = try evaluate(dairyFarm { year, record in if year >= 2020 { record.milkSoldHl = 5000 } })
    let milk = try #require(result.cropYields.first { $0.crop == "milk" })
    #expect(milk.projectMeanYield == 50)
    #expect(milk.status == .tooLow)
    let excess = (70.0 - 50) / 70 * 100 - 20
    #expect(abs(milk.excessPercent - excess) < 1e-9)
    #expect(abs(result.adjustments.productionRabaisPercent - excess) < 1e-9)
    #expect(abs(result.finalReductionTCo2E - dairyReduction * (1 - excess / 100)) < 1e-9)
  }

  /// Meat: 10 t → 15 t live with 100 UGB: 0.15 vs 0.1 t/UGB, +50 %, bonus excess 30 % (Eq. 2).
  @Test func meatYieldPerUgbGivesTheBonus() throws {
    let result = try evaluate(dairyFarm { year, record in if year >= 2020 { record.meatSoldLiveT = 15 } })
    let meat = try #require(result.cropYields.first { $0.crop == "meat" })
    #expect(meat.yieldUnit == "t/UGB" && meat.status == .tooHigh)
    #expect(abs(result.adjustments.productionBonusPercent - 30) < 1e-9)
    #expect(abs(result.finalReductionTCo2E - dairyReduction * 1.3) < 1e-9)
  }

  /// A mixed farm: the dairy herd plus 40 ha of wheat sold at 7 t/ha; the wheat falls to
  /// 5.25 t/ha (−25 %, excess 5 %) and the milk to 50 hL/UGB (excess 8.571 %):
  /// P_rabais = median(5, 8.571) = 6.786 %.
  @Test func mixedFarmFollowsCropsAndMilkTogether() throws {
    var farm = dairyFarm { year, record in
      record.sauHa = 120
      record.crops.append(crop("blé", area: 40, sold: year >= 2020 ? 210 : 280))
      if year >= 2020 { record.milkSoldHl = 5000 }
    }
    farm.productionSystem = .mixed
    let result = try evaluate(farm)
    let excesses = [25.0 - 20, (70.0 - 50) / 70 * 100 - 20]
    #expect(abs(result.adjustments.productionRabaisPercent - (excesses[0] + excesses[1]) / 2) < 1e-9)
    #expect(result.cropYields.filter { $0.status == .tooLow }.map(\.crop).sorted() == ["blé", "milk"])
  }

  /// Forage sold 0 t and not marked self-consumed cannot have a reference yield: the error
  /// names the way out instead of a bare refusal.
  @Test func forageWithoutItsProductionFigureIsExplained() throws {
    let farm = dairyFarm { _, record in record.crops[0].selfConsumed = false }
    let failure = try #require(error { _ = try evaluate(farm) })
    #expect(failure.field == "sobac.yield.reference_missing")
    #expect(failure.message.contains("self_consumed"))
    let noFigure = dairyFarm { year, record in if year == 2021 { record.crops[1].producedT = 0 } }
    #expect(error { _ = try evaluate(noFigure) }?.field == "farm.years[6].crops[1].produced_t")
  }

  /// The production system decides which yields are followed; inconsistent data is refused
  /// with the field named.
  @Test func productionSystemIsCheckedAgainstTheAnimalProduction() throws {
    var arable = dairyFarm()
    arable.productionSystem = .arable
    #expect(error { _ = try evaluate(arable) }?.field == "farm.years[0].milk_sold_hl")
    var unspecified = dairyFarm()
    unspecified.productionSystem = .unspecified
    #expect(error { _ = try evaluate(unspecified) }?.field == "farm.production_system")
    let noUgb = dairyFarm { year, record in if year == 2023 { record.ugb = 0 } }
    #expect(error { _ = try evaluate(noUgb) }?.field == "farm.years[8].ugb")
    var noAnimals = steadyFarm()
    noAnimals.productionSystem = .livestock
    #expect(error { _ = try evaluate(noAnimals) }?.field == "farm.production_system")
    // An arable farm without the field: read as ARABLE, said in the trace.
    let plain = try evaluate(steadyFarm())
    #expect(plain.trace.decisions.contains { $0.rule == "production_system" && $0.choice == "ARABLE" })
  }

  /// §4.1: "Avoir au moins un atelier de production végétale" — a livestock farm without any
  /// crop in its project years is refused, naming the rule.
  @Test func aFarmWithoutCropWorkshopIsRefused() throws {
    let farm = dairyFarm { year, record in if year >= 2020 { record.crops = [] } }
    let failure = try #require(error { _ = try evaluate(farm) })
    #expect(failure.status == .failedPrecondition)
    #expect(failure.field == "sobac.eligibility.crop_workshop")
    #expect(failure.message.contains("au moins un atelier de production végétale"))
  }
}
