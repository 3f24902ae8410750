import CarbonDomain
import CarbonPluginKit
import Testing
@testable import ESCAModule

@Suite struct BatchTests {
  func farm(_ index: Int, yield: Double) -> Carbon_Esca_V1_FarmRecord {
    var record = Carbon_Esca_V1_FarmRecord()
    record.farmID = "farm-\(index)"
    record.model = Esca.calculatorModel
    record.bonus.yieldKgDryPerHaPerYr = yield
    record.bonus.efPolicy = .none
    return record
  }

  @Test func oneResultPerFarmWithErrorsInPlace() throws {
    var request = Carbon_Esca_V1_BatchRequest()
    request.farms = (0..<1000).map { farm($0, yield: $0 == 3 ? .nan : 2921) }
    let results = try Esca.harness().stream(Esca.service + "ComputeBatch", request, as: Carbon_Esca_V1_FarmResult.self)
    #expect(results.count == 1000)
    #expect(results[3].hasError)
    #expect(results[3].error.status == "INVALID_ARGUMENT")
    #expect(results[3].error.field == "farms[3].bonus.yield_kg_dry_per_ha_per_yr")
    // Every other farm: r × 3.664e6 / 2921 = 150.5479 g/kg.
    #expect(results.enumerated().allSatisfy { $0.offset == 3 || abs($0.element.escaGCo2EPerKgDry - 150.5478770284) < 1e-6 })
    #expect(results[999].farmID == "farm-999" && results[999].index == 999)
    // Terms are off by default; decisions and data sets stay.
    #expect(results[0].trace.terms.isEmpty)
    #expect(results[0].trace.dataSets.contains { $0.name == "ipcc-2019-soc-ref" })
  }

  @Test func termsOnRequest() throws {
    var request = Carbon_Esca_V1_BatchRequest()
    request.farms = [farm(0, yield: 2921)]
    request.includeTerms = true
    let results = try Esca.harness().stream(Esca.service + "ComputeBatch", request, as: Carbon_Esca_V1_FarmResult.self)
    #expect(results[0].trace.value(of: "soc_ref") == 24)
    #expect(results[0].trace.value(of: "carbon_term") != nil)
  }

  @Test func missingBonusIsReportedPerFarm() throws {
    var request = Carbon_Esca_V1_BatchRequest()
    var record = Carbon_Esca_V1_FarmRecord()
    record.farmID = "no-bonus"
    request.farms = [record]
    let results = try Esca.harness().stream(Esca.service + "ComputeBatch", request, as: Carbon_Esca_V1_FarmResult.self)
    #expect(results[0].error.field == "farms[0].bonus")
  }
}
