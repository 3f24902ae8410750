import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// Invalid input: clear errors naming the field path.
@Suite(.cpuBound) struct ValidationTests {
  @Test func fourReferenceYields() throws {
    var farm = steadyFarm()
    farm.years.removeAll { $0.year == 2017 }
    let failure = try #require(error { _ = try evaluate(farm) })
    #expect(failure.status == .invalidArgument)
    #expect(failure.field == "farm.years")
    #expect(failure.message.contains("missing year 2017"))
    #expect(failure.message.contains("found 4 reference years"))
  }

  @Test func missingProjectYearAndDuplicateAndOutOfRange() throws {
    var missing = steadyFarm()
    missing.years.removeLast()
    #expect(error { _ = try evaluate(missing) }?.message.contains("missing year 2024") == true)
    var duplicate = steadyFarm()
    duplicate.years[9].year = 2023
    #expect(error { _ = try evaluate(duplicate) }?.field == "farm.years[9].year")
    var outside = steadyFarm()
    outside.years[0].year = 2010
    #expect(error { _ = try evaluate(outside) }?.field == "farm.years[0].year")
    var noNotification = steadyFarm()
    noNotification.notificationYear = 0
    #expect(error { _ = try evaluate(noNotification) }?.field == "farm.notification_year")
  }

  @Test func negativeQuantitiesAndStocks() throws {
    var farm = steadyFarm()
    farm.years[2].inputs[1].purchases = -3
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[2].inputs[1].purchases")
    farm = steadyFarm()
    farm.years[6].inputs[0].closingStock = 99_999
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[6].inputs[0].closing_stock")
    farm = steadyFarm()
    farm.years[6].inputs[0].openingStock = -1
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[6].inputs[0].opening_stock")
  }

  @Test func notANumberIsRejected() throws {
    var farm = steadyFarm()
    farm.years[4].inputs[0].purchases = .nan
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[4].inputs[0].purchases")
    farm = steadyFarm()
    farm.years[4].iftHerbicide = .infinity
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[4].ift_herbicide")
    farm = steadyFarm()
    farm.years[1].crops[0].areaHa = 0
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[1].crops[0].area_ha")
  }

  @Test func unknownInputTypeAndUnit() throws {
    var farm = steadyFarm()
    farm.years[8].inputs[0].inputCode = "super_engrais"
    let failure = error(of: { _ = try evaluate(farm) })
    #expect(failure?.status == .invalidArgument)
    #expect(failure?.field == "farm.years[8].inputs[0].input_code")
    farm = steadyFarm()
    farm.years[8].inputs[1].unit = .kgN
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[8].inputs[1].unit")
    farm = steadyFarm()
    farm.years[8].inputs[1].unit = .unspecified
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[8].inputs[1].unit")
  }

  @Test func mixedUnitsForOneInput() throws {
    var farm = steadyFarm()
    farm.years[3].inputs[0].unit = .kgProduct
    let failure = error(of: { _ = try evaluate(farm) })
    #expect(failure?.field == "farm.years[3].inputs[0].unit")
    #expect(failure?.message.contains("mixed units") == true)
  }

  @Test func compoundFertiliserNeedsItsGrades() throws {
    var farm = steadyFarm()
    farm.years[0].inputs.append(line("npk", .kgProduct, 1000) { $0.nPercent = 15; $0.p2O5Percent = 10 })
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[0].inputs[2].k2o_percent")
    farm = steadyFarm()
    farm.years[0].inputs.append(line("npk", .kgN, 100))
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[0].inputs[2].unit")
    farm = steadyFarm()
    farm.years[0].inputs.append(line("compost_average", .tProduct, 3))
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[0].inputs[2].organic_n_kg_per_t")
    farm = steadyFarm()
    farm.years[0].inputs.append(line("other_lca", .kgProduct, 3))
    #expect(error { _ = try evaluate(farm) }?.field == "farm.years[0].inputs[2].lca_kg_co2e_per_unit")
  }

  @Test func missingOptionAndFarm() throws {
    var farm = steadyFarm()
    farm.iftReference = .unspecified
    #expect(error { _ = try evaluate(farm) }?.field == "farm.ift_reference")
    let harness = try makeHarness()
    let failure = error {
      _ = try harness.call(Path.farm, Carbon_Sobac_V1_EvaluateFarmProjectRequest(), as: Carbon_Sobac_V1_FarmProjectResult.self)
    }
    #expect(failure?.field == "farm")
  }

  @Test func collectiveFieldPaths() throws {
    var request = Carbon_Sobac_V1_CollectiveProjectRequest()
    request.farms = [steadyFarm(id: "A"), steadyFarm(id: "B")]
    request.farms[1].years[9].inputs[0].purchases = -1
    let harness = try makeHarness()
    #expect(error { _ = try harness.call(Path.collective, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self) }?.field
      == "farms[1].years[9].inputs[0].purchases")
    request.farms[1] = steadyFarm(id: "A")
    #expect(error { _ = try harness.call(Path.collective, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self) }?.field
      == "farms[1].farm_id")
    request.farms = []
    #expect(error { _ = try harness.call(Path.collective, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self) }?.field
      == "farms")
  }

  @Test func hugeValuesAreRefusedBeforeTheyOverflow() throws {
    // Issue 20: "Every numeric input has a documented physical range … checked by the kit's
    // validation for every module". An IFT of 1e308 once overflowed the olympic sums to +inf;
    // sobac.proto now bounds `ift_herbicide` to 0–100 treatments/ha (the highest Annex 2
    // regional reference is 14.5), so the kit refuses the request naming the field.
    let farm = steadyFarm { year, record in if year < 2020 { record.iftHerbicide = 1e308 } }
    let failure = error(of: { _ = try evaluate(farm) })
    #expect(failure?.status == .invalidArgument)
    #expect(failure?.field == "farm.years[0].ift_herbicide")
    #expect(failure?.message == "farm.years[0].ift_herbicide: must be between 0 and 100 treatments/ha, got 1e+308")
    // The top of the range is a valid input and gives finite results.
    let highest = steadyFarm { year, record in if year < 2020 { record.iftHerbicide = 100 } }
    #expect(throws: Never.self) { _ = try evaluate(highest) }
  }

  @Test func malformedJSONIsAnInvalidArgument() throws {
    let failure = error { _ = try makeHarness().callJSON(Path.farm, #"{"farm": {"years": "nope"}}"#) }
    #expect(failure?.status == .invalidArgument)
  }
}
