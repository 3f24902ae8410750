import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing
@testable import ESCAModule

@Suite(.cpuBound) struct ModelledStockTests {
  func call(_ request: Carbon_Esca_V1_ModelledStockRequest) throws -> Carbon_Esca_V1_ModelledStockResponse {
    try Esca.harness().call(Esca.service + "ComputeModelledStock", request, as: Carbon_Esca_V1_ModelledStockResponse.self)
  }

  @Test func calculatorPageOfTheSeed() throws {
    // 24 × 0.76 × 1 × 0.95 = 17.328 ≈ 17.33; 24 × 0.76 × 1.04 × 1.04 = 19.728 ≈ 19.73;
    // r = 2.400384 / 20 = 0.120019 (printed −0.12); CSA = 15 + 3 r = 15.36; (15 − 15.36)/15.36 = −2.34 %.
    var request = Esca.calculatorModel
    request.csrTCPerHa = 15
    request.yearsSinceCsr = 3
    request.csaMeasuredTCPerHa = 15
    let response = try call(request)
    #expect(response.socRefTCPerHa == 24)
    #expect(response.fLu == 0.76 && response.fMgPrevious == 1 && response.fIPrevious == 0.95)
    #expect(response.fMgCurrent == 1.04 && response.fICurrent == 1.04)
    #expect(abs(response.socPreviousTCPerHa - 17.328) < 1e-9)
    #expect(abs(response.socCurrentTCPerHa - 19.728384) < 1e-9)
    #expect(abs(response.annualRateTCPerHaPerYr - 0.1200192) < 1e-12)
    #expect(abs(response.calculatorDisplayRateTCPerHaPerYr + 0.1200192) < 1e-12)
    #expect(abs(response.csaModelledTCPerHa - 15.3600576) < 1e-9)
    #expect(abs(response.deviationPercent - (-2.344116)) < 1e-5)
    #expect((response.deviationPercent * 10).rounded() / 10 == -2.3)
    #expect(response.trace.dataSets.contains { $0.name == "ipcc-2019-soc-ref" && $0.version == "ipcc-2019.1" })
  }

  @Test func defaultsAreRecordedAsDecisions() throws {
    var request = Esca.calculatorModel
    request.equilibriumYears = 0
    request.landUse = .unspecified
    let response = try call(request)
    #expect(abs(response.annualRateTCPerHaPerYr - Esca.calculatorRate) < 1e-12)
    let rules = response.trace.decisions.map(\.rule)
    #expect(rules.contains("equilibrium_years") && rules.contains("land_use"))
  }

  @Test func straddledZonesUseTheLowestSocRef() throws {
    // HAC: warm temperate moist 64, cool temperate moist 81, cool temperate dry 43 → 43.
    var request = Esca.calculatorModel
    request.climateZones = [.warmTemperateMoist, .coolTemperateMoist, .coolTemperateDry]
    let response = try call(request)
    #expect(response.climateZone == .coolTemperateDry)
    #expect(response.socRefTCPerHa == 43)
    #expect(response.trace.decisions.contains { $0.rule == "straddled_climate_zones" })
  }

  @Test func missingSoilInAZoneIsRejected() throws {
    var request = Esca.calculatorModel
    request.soilType = .spodic  // warm temperate dry has no spodic SOC_REF
    let error = try #require(try Esca.error("ComputeModelledStock", request, as: Carbon_Esca_V1_ModelledStockResponse.self))
    #expect(error.status == .invalidArgument && error.field == "soil_type")
  }

  @Test func exceptionalPloughingForHoedCropsNeedsLessThan30Percent() throws {
    var request = Esca.calculatorModel
    var event = Carbon_Esca_V1_ExceptionalPloughing()
    event.yearIndex = 1
    event.areaPercent = 20
    event.reason = .hoedCrops
    event.hoedCropsFarmPercent = 30
    request.exceptionalPloughings = [event]
    let error = try #require(try Esca.error("ComputeModelledStock", request, as: Carbon_Esca_V1_ModelledStockResponse.self))
    #expect(error.status == .failedPrecondition && error.field == "esca.category.exceptional_ploughing_hoed_crops")
  }

  @Test func exceptionalPloughingCanBeIgnored() throws {
    var request = Esca.calculatorModel
    request.csrTCPerHa = 15
    request.yearsSinceCsr = 3
    var event = Carbon_Esca_V1_ExceptionalPloughing()
    event.yearIndex = 1
    event.areaPercent = 100
    event.reason = .phytosanitary
    request.exceptionalPloughings = [event]
    // Full tillage on 100 % for one year: loss = (19.728384 − 24 × 0.76 × 1.04) / 20 = 0.0379392.
    let applied = try call(request)
    #expect(abs(applied.exceptionalPloughingLossTCPerHa - 0.0379392) < 1e-12)
    request.ploughingPolicy = .ignore
    let ignored = try call(request)
    #expect(ignored.exceptionalPloughingLossTCPerHa == 0)
    #expect(abs(ignored.csaModelledTCPerHa - 15.3600576) < 1e-9)
  }

  /// "Le labour exceptionnel … implique la prise en compte du relargage de carbone associé à ce
  /// changement de pratique (voir calculateur)": a ploughing releases carbon from its year on,
  /// so one in year 9 after the CSR does not lower the CSA at year 3.
  @Test func aPloughingLaterThanYearsSinceCsrIsNotYetDeducted() throws {
    var request = Esca.calculatorModel
    request.csrTCPerHa = 15
    request.yearsSinceCsr = 3
    var event = Carbon_Esca_V1_ExceptionalPloughing()
    event.yearIndex = 9
    event.areaPercent = 50
    event.reason = .climaticAccident
    request.exceptionalPloughings = [event]
    // CSA = 15 + 3 × 0.1200192 = 15.3600576, not 15.3600576 − 0.5 × 0.0379392 = 15.341088.
    let future = try call(request)
    #expect(future.exceptionalPloughingLossTCPerHa == 0)
    #expect(abs(future.csaModelledTCPerHa - 15.3600576) < 1e-9)
    #expect(future.trace.warnings.contains { $0.contains("exceptional_ploughings[0]") && $0.contains("not deducted") })
    // In year 3 itself it is deducted: 15.3600576 − 0.0189696 = 15.341088.
    request.exceptionalPloughings[0].yearIndex = 3
    let now = try call(request)
    #expect(abs(now.csaModelledTCPerHa - 15.341088) < 1e-9)
  }

  @Test func measuredWithoutCsrIsRejected() throws {
    var request = Esca.calculatorModel
    request.csaMeasuredTCPerHa = 15
    let error = try #require(try Esca.error("ComputeModelledStock", request, as: Carbon_Esca_V1_ModelledStockResponse.self))
    #expect(error.status == .invalidArgument && error.field == "csr_t_c_per_ha")
  }
}

@Suite(.cpuBound) struct CategoryDecisionTests {
  func year(_ y: Int32, _ tillage: Carbon_Esca_V1_Tillage) -> Carbon_Esca_V1_DeclaredPracticeYear {
    var entry = Carbon_Esca_V1_DeclaredPracticeYear()
    entry.year = y
    entry.tillage = tillage
    entry.mineralFertiliser = true
    return entry
  }

  func decide(_ years: [Carbon_Esca_V1_DeclaredPracticeYear]) throws -> Carbon_Esca_V1_CategoryResponse {
    var request = Carbon_Esca_V1_CategoryRequest()
    request.years = years
    return try Esca.harness().call(Esca.service + "DecideCategory", request, as: Carbon_Esca_V1_CategoryResponse.self)
  }

  @Test func mostDisturbingTillageWins() throws {
    let response = try decide([year(2020, .noTill), year(2021, .reduced), year(2022, .noTill)])
    #expect(response.category.tillage == .reduced)
    #expect(response.category.input == .medium)
  }

  @Test func coverCropsMustExceed1_5Tonnes() throws {
    var years = [year(2020, .noTill), year(2021, .noTill), year(2022, .noTill)]
    for index in years.indices {
      years[index].coverCropBiomassTDmPerHa = 0.5  // 3 × 0.5 = 1.5, not above 1.5
      years[index].coverCropFullyReturned = true
    }
    #expect(try decide(years).category.input == .medium)
    years[0].coverCropBiomassTDmPerHa = 0.6  // 1.6 > 1.5
    #expect(try decide(years).category.input == .highWithoutManure)
    years[1].residuesExported = true  // exported without compensation: low
    #expect(try decide(years).category.input == .low)
    years[1].residuesCompensatedByOrganicMatter = true
    #expect(try decide(years).category.input == .highWithoutManure)
  }

  @Test func regularManureMakesHighWithManure() throws {
    var years = [year(2020, .full), year(2021, .full), year(2022, .full)]
    years[0].manureApplied = true
    years[2].manureApplied = true  // every other year
    #expect(try decide(years).category.input == .highWithManure)
    years[2].manureApplied = false  // 2021 and 2022 without manure
    #expect(try decide(years).category.input == .medium)
  }

  @Test func hoedCropsPloughingAbove30PercentIsFullTillage() throws {
    var years = [year(2020, .noTill), year(2021, .noTill)]
    years[1].exceptionalPloughing = true
    years[1].ploughingReason = .hoedCrops
    years[1].hoedCropsFarmPercent = 25
    #expect(try decide(years).category.tillage == .noTill)
    years[1].hoedCropsFarmPercent = 35
    #expect(try decide(years).category.tillage == .full)
  }

  @Test func atMostFiveYearsAndNoDuplicates() throws {
    let six = (2018...2023).map { year(Int32($0), .noTill) }
    var request = Carbon_Esca_V1_CategoryRequest()
    request.years = six
    var error = try #require(try Esca.error("DecideCategory", request, as: Carbon_Esca_V1_CategoryResponse.self))
    #expect(error.status == .invalidArgument && error.field == "years")
    request.years = [year(2020, .noTill), year(2020, .noTill)]
    error = try #require(try Esca.error("DecideCategory", request, as: Carbon_Esca_V1_CategoryResponse.self))
    #expect(error.field == "years[1].year")
  }
}
