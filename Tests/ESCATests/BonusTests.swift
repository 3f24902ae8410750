import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing
@testable import ESCAModule

@Suite(.cpuBound) struct BonusTests {
  let k = 3.664e6

  func calculatorRequest(_ policy: Carbon_Esca_V1_EfPolicy) -> Carbon_Esca_V1_BonusRequest {
    var request = Carbon_Esca_V1_BonusRequest()
    request.annualRateTCPerHaPerYr = Esca.calculatorRate
    request.yieldKgDryPerHaPerYr = 2921
    request.efPolicy = policy
    request.efHistoricBasis = .previousSameCrop
    request.efPreviousSameCropGCo2EPerKg = 376
    request.efCurrentGCo2EPerKg = 377.63
    return request
  }

  func call(_ request: Carbon_Esca_V1_BonusRequest) throws -> Carbon_Esca_V1_BonusResponse {
    try Esca.harness().call(Esca.service + "ComputeBonus", request, as: Carbon_Esca_V1_BonusResponse.self)
  }

  @Test func calculatorExample149() throws {
    // 0.1200192 × 3.664e6 / 2921 = 150.548; EF = 376 − 377.63 = −1.63 → 148.918 ≈ 149.
    let response = try call(calculatorRequest(.calculator))
    #expect(abs(response.carbonTermGCo2EPerKg - 150.5478770) < 1e-6)
    #expect(abs(response.efGCo2EPerKg + 1.63) < 1e-9)
    #expect(abs(response.escaGCo2EPerKgDry - 148.9178770) < 1e-6)
    #expect(response.escaGCo2EPerKgDry.rounded() == 149)
    #expect(abs(response.regulationEfGCo2EPerKg - 1.63) < 1e-9)
  }

  /// Issue 20 point 9: "trace unit tags that match their terms (yield per ha per year, MJ per
  /// ha per year, kg per MJ)". The yield was tagged kg/ha, the productivity MJ and the
  /// feedstock factor a ratio.
  @Test func traceTermsCarryTheirOwnUnits() throws {
    var request = calculatorRequest(.calculator)
    request.lhvMjPerKgDry = 17
    request.feedstockFactorKgDryPerMjFuel = 0.1
    request.allocationFactors = [1]
    let trace = try call(request).trace
    func unit(_ name: String) -> MeasurementUnit? { trace.terms.first { $0.name == name }?.unit }
    #expect(unit("yield") == .kgPerHaPerYr)
    #expect(unit("productivity") == .mjPerHaPerYr)
    // P = 2 921 kg/ha/yr × 17 MJ/kg = 49 657 MJ/ha/yr.
    #expect(abs((trace.terms.first { $0.name == "productivity" }?.value ?? 0) - 2921 * 17) < 1e-6)
    #expect(unit("feedstock_factor") == .kgPerMj)
  }

  @Test func eachEfPolicy() throws {
    // GUIDELINES: max(−1.63, 0) = 0; NONE: 0; CALCULATOR: −1.63.
    let guidelines = try call(calculatorRequest(.guidelines))
    #expect(guidelines.efTermGCo2EPerKg == 0)
    #expect(guidelines.trace.rules.contains { $0.rule == "esca.ef.increase_not_included" })
    let none = try call(calculatorRequest(.none))
    #expect(none.efTermGCo2EPerKg == 0 && none.efGCo2EPerKg == 0)
    // A decrease (historic 380 > current 377.63) is credited under GUIDELINES: +2.37.
    var decrease = calculatorRequest(.guidelines)
    decrease.efPreviousSameCropGCo2EPerKg = 380
    let credited = try call(decrease)
    #expect(abs(credited.efTermGCo2EPerKg - 2.37) < 1e-9)
    #expect(abs(credited.escaGCo2EPerKgDry - (150.5478770 + 2.37)) < 1e-6)
    // Unspecified policy defaults to GUIDELINES, recorded as a decision.
    let defaulted = try call(calculatorRequest(.unspecified))
    #expect(defaulted.efTermGCo2EPerKg == 0)
    #expect(defaulted.trace.decisions.contains { $0.rule == "ef_policy" && $0.choice == "GUIDELINES" })
  }

  @Test func threeYearMeanNeedsTheThreeYearsBeforeEngagement() throws {
    var request = calculatorRequest(.guidelines)
    request.efHistoricBasis = .threeYearMean
    request.engagementYear = 2024
    var entry = Carbon_Esca_V1_EfYear()
    entry.year = 2020  // outside 2021–2023
    entry.gCo2EPerKg = 380
    request.efHistoricYears = [entry]
    let error = try #require(try Esca.error("ComputeBonus", request, as: Carbon_Esca_V1_BonusResponse.self))
    #expect(error.status == .invalidArgument && error.field == "ef_historic_years[0].year")
  }

  @Test func capsPerShare() throws {
    // r 1, yield 2000 → 1832 g/kg; × 0.05 kg/MJ × 0.5 = 45.8 g/MJ.
    // 30 % under 25 → 25; 50 % under 45 → 45; 20 % transition → 45.8: 7.5 + 22.5 + 9.16 = 39.16.
    var request = Carbon_Esca_V1_BonusRequest()
    request.annualRateTCPerHaPerYr = 1
    request.yieldKgDryPerHaPerYr = 2000
    request.efPolicy = .none
    request.feedstockFactorKgDryPerMjFuel = 0.05
    request.allocationFactors = [0.5]
    for (pct, cap) in [(30.0, Carbon_Esca_V1_CapKind.capKind25), (50, .capKind45), (20, .noneTransition)] {
      var share = Carbon_Esca_V1_CapShare()
      share.sharePercent = pct
      share.cap = cap
      request.capShares.append(share)
    }
    let response = try call(request)
    #expect(abs(response.escaUncappedGCo2EPerMjFuel - 45.8) < 1e-9)
    #expect(response.cappedShares.map(\.capped) == [true, true, false])
    #expect(abs(response.escaCappedGCo2EPerMjFuel - 39.16) < 1e-9)
  }

  @Test func measuredIncreaseCapMayBeBelow45() throws {
    // 1832 g/kg × 0.02 = 36.64 g/MJ; measured cap 30 → 30.
    var request = Carbon_Esca_V1_BonusRequest()
    request.annualRateTCPerHaPerYr = 1
    request.yieldKgDryPerHaPerYr = 2000
    request.efPolicy = .none
    request.feedstockFactorKgDryPerMjFuel = 0.02
    var share = Carbon_Esca_V1_CapShare()
    share.sharePercent = 100
    share.cap = .measuredIncrease
    share.measuredCapGCo2EPerMj = 30
    request.capShares = [share]
    #expect(try call(request).escaCappedGCo2EPerMjFuel == 30)
  }

  /// "l'augmentation du stock de carbone mesurée la cinquième année (CSA réel) deviendra un
  /// plafond … même si celui-ci est plus bas": a measured cap of 0 is a real cap, so a missing
  /// value is refused with its field, never read as 0 (which capped 36.64 g/MJ to 0).
  @Test func measuredIncreaseCapWithoutItsValueIsRefused() throws {
    var request = Carbon_Esca_V1_BonusRequest()
    request.annualRateTCPerHaPerYr = 0.5
    request.yieldKgDryPerHaPerYr = 3000
    request.efPolicy = .none
    request.feedstockFactorKgDryPerMjFuel = 0.06
    var share = Carbon_Esca_V1_CapShare()
    share.sharePercent = 100
    share.cap = .measuredIncrease
    request.capShares = [share]
    let error = try #require(try Esca.error("ComputeBonus", request, as: Carbon_Esca_V1_BonusResponse.self))
    #expect(error.status == .invalidArgument && error.field == "cap_shares[0].measured_cap_g_co2e_per_mj")
    // An explicit 0 is a cap of 0: 0.5 × 3.664e6 / 3000 × 0.06 = 36.64 g/MJ → 0.
    request.capShares[0].measuredCapGCo2EPerMj = 0
    let response = try call(request)
    #expect(abs(response.escaUncappedGCo2EPerMjFuel - 36.64) < 1e-9)
    #expect(response.escaCappedGCo2EPerMjFuel == 0)
  }

  @Test func sharesMustSumTo100AndNeedAFeedstockFactor() throws {
    var request = Carbon_Esca_V1_BonusRequest()
    request.annualRateTCPerHaPerYr = 1
    request.yieldKgDryPerHaPerYr = 2000
    request.efPolicy = .none
    var share = Carbon_Esca_V1_CapShare()
    share.sharePercent = 60
    share.cap = .capKind25
    request.capShares = [share]
    var error = try #require(try Esca.error("ComputeBonus", request, as: Carbon_Esca_V1_BonusResponse.self))
    #expect(error.field == "feedstock_factor_kg_dry_per_mj_fuel")
    request.feedstockFactorKgDryPerMjFuel = 0.05
    error = try #require(try Esca.error("ComputeBonus", request, as: Carbon_Esca_V1_BonusResponse.self))
    #expect(error.status == .invalidArgument && error.field == "cap_shares")
  }

  @Test func lhvSplitAndRegulationForm() throws {
    // Rapeseed LHV 26.4 and a second crop at 13.2: share 26.4 / 39.6 = 2/3.
    // r 0.3, yield 3300: 0.3 × 3.664e6 × 2/3 / 3300 = 222.0606 g/kg; per MJ of crop / 26.4 = 8.4114.
    var request = Carbon_Esca_V1_BonusRequest()
    request.annualRateTCPerHaPerYr = 0.3
    request.yieldKgDryPerHaPerYr = 3300
    request.lhvMjPerKgDry = 26.4
    var other = Carbon_Esca_V1_CoCrop()
    other.lhvMjPerKgDry = 13.2
    request.coCrops = [other]
    request.efPolicy = .none
    let response = try call(request)
    #expect(abs(response.lhvShareFraction - 2.0 / 3) < 1e-12)
    #expect(abs(response.escaGCo2EPerKgDry - 0.3 * k * 2 / 3 / 3300) < 1e-9)
    #expect(abs(response.productivityMjPerHaPerYr - 87120) < 1e-9)
    #expect(abs(response.escaGCo2EPerMjFeedstock - 0.3 * k * 2 / 3 / 3300 / 26.4) < 1e-9)
  }

  @Test func stockChangeGivesTheRate() throws {
    // (45.36 − 39) / 5 = 1.272 t C/ha/yr.
    var request = Carbon_Esca_V1_BonusRequest()
    var change = Carbon_Esca_V1_StockChange()
    change.csrTCPerHa = 39
    change.csaTCPerHa = 45.36
    change.years = 5
    request.stockChange = change
    request.yieldKgDryPerHaPerYr = 3000
    request.efPolicy = .none
    let response = try call(request)
    #expect(abs(response.annualRateTCPerHaPerYr - 1.272) < 1e-12)
    change.years = 0
    request.stockChange = change
    let error = try #require(try Esca.error("ComputeBonus", request, as: Carbon_Esca_V1_BonusResponse.self))
    #expect(error.field == "stock_change.years")
  }

  @Test func missingRateAndBadAllocation() throws {
    var request = Carbon_Esca_V1_BonusRequest()
    request.yieldKgDryPerHaPerYr = 3000
    request.efPolicy = .none
    var error = try #require(try Esca.error("ComputeBonus", request, as: Carbon_Esca_V1_BonusResponse.self))
    #expect(error.field == "annual_rate_t_c_per_ha_per_yr")
    request.annualRateTCPerHaPerYr = 0.2
    request.feedstockFactorKgDryPerMjFuel = 0.05
    request.allocationFactors = [0.5, 1.2]
    error = try #require(try Esca.error("ComputeBonus", request, as: Carbon_Esca_V1_BonusResponse.self))
    #expect(error.field == "allocation_factors[1]")
  }
}
