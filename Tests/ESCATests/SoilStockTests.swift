import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing
@testable import ESCAModule

@Suite(.cpuBound) struct SoilStockTests {
  func analysis(carbon: Double = 10, depth: Double = 30, density: Double = 1.3, coarse: Double = 0) -> Carbon_Esca_V1_SoilAnalysis {
    var a = Carbon_Esca_V1_SoilAnalysis()
    a.carbonGPerKg = carbon
    a.depthCm = depth
    a.bulkDensityGPerCm3 = density
    a.coarseElementsPercent = coarse
    a.bulkDensityMethod = .cylinder
    return a
  }

  @Test func fineEarthFormulaOfTheSeed() throws {
    // 30 cm × 1.3 g/cm³ × (100 − 0) = 3900 t/ha; 10 g/kg × 0.001 × 3900 = 39 t C/ha.
    var request = Carbon_Esca_V1_SoilStockRequest()
    request.analysis = analysis()
    request.purpose = .claim
    let response = try Esca.harness().call(Esca.service + "ComputeSoilStock", request, as: Carbon_Esca_V1_SoilStockResponse.self)
    #expect(abs(response.fineEarthTPerHa - 3900) < 1e-9)
    #expect(abs(response.stockTCPerHa - 39) < 1e-9)
    #expect(response.trace.value(of: "fine_earth") == response.fineEarthTPerHa)
    #expect(response.trace.dataSets.contains { $0.name == "2bs-esca-guidelines" })
  }

  @Test func coarseElementsReduceTheFineEarth() throws {
    // 30 × 1.5 × (100 − 25) = 3375 t/ha; 8 g/kg → 27 t C/ha.
    var request = Carbon_Esca_V1_SoilStockRequest()
    request.analysis = analysis(carbon: 8, density: 1.5, coarse: 25)
    request.purpose = .claim
    let response = try Esca.harness().call(Esca.service + "ComputeSoilStock", request, as: Carbon_Esca_V1_SoilStockResponse.self)
    #expect(abs(response.fineEarthTPerHa - 3375) < 1e-9)
    #expect(abs(response.stockTCPerHa - 27) < 1e-9)
  }

  @Test func claimsNeed30cmButInformationDoesNot() throws {
    var request = Carbon_Esca_V1_SoilStockRequest()
    request.analysis = analysis(depth: 40)
    request.purpose = .claim
    let error = try #require(try Esca.error("ComputeSoilStock", request, as: Carbon_Esca_V1_SoilStockResponse.self))
    #expect(error.status == .failedPrecondition)
    #expect(error.field == "esca.soil.claim_depth_30cm")
    request.purpose = .information
    #expect(try Esca.error("ComputeSoilStock", request, as: Carbon_Esca_V1_SoilStockResponse.self) == nil)
  }

  @Test func invalidValuesNameTheirField() throws {
    let cases: [(Carbon_Esca_V1_SoilAnalysis, String)] = [
      (analysis(carbon: .nan), "analysis.carbon_g_per_kg"),
      (analysis(density: -1.2), "analysis.bulk_density_g_per_cm3"),
      (analysis(coarse: 100), "analysis.coarse_elements_percent"),
      (analysis(depth: .infinity), "analysis.depth_cm"),
    ]
    for (bad, field) in cases {
      var request = Carbon_Esca_V1_SoilStockRequest()
      request.analysis = bad
      request.purpose = .claim
      let error = try #require(try Esca.error("ComputeSoilStock", request, as: Carbon_Esca_V1_SoilStockResponse.self))
      #expect(error.status == .invalidArgument)
      #expect(error.field == field)
    }
  }

  @Test func farmValueOfTheSeedExample() throws {
    // 30, 45, 35 ± 10 %: lows 27, 40.5, 31.5 → 33; highs 33, 49.5, 38.5 → 40.33; median 35.
    var request = Carbon_Esca_V1_FarmValueRequest()
    request.purpose = .claim
    for value in [30.0, 45, 35] {
      var v = Carbon_Esca_V1_StockValue()
      v.stockTCPerHa = value
      v.uncertaintyPercent = 10
      request.values.append(v)
    }
    let response = try Esca.harness().call(Esca.service + "ComputeFarmValue", request, as: Carbon_Esca_V1_FarmValueResponse.self)
    #expect(abs(response.meanLowTCPerHa - 33) < 1e-9)
    #expect(abs(response.meanHighTCPerHa - 121.0 / 3) < 1e-9)
    #expect(response.medianTCPerHa == 35)
    #expect(abs(response.intervalLowTCPerHa - 33) < 1e-9)
    #expect(abs(response.intervalHighTCPerHa - 40.333333) < 1e-6)
    #expect(response.trace.decisions.contains { $0.rule == "farm_value_interval" })
  }

  @Test func medianOutsideTheMeansWidensTheInterval() throws {
    // 10, 50, 52 ± 1 %: mean low = 111.2 × 0.99 / 3 = 37.0 (approx), median 50 > mean high 37.7 → high = 50.
    let bounds = [10.0, 50, 52].enumerated().map { SoilStock.Bounds(id: "\($0.offset)", value: $0.element, low: $0.element * 0.99, high: $0.element * 1.01) }
    var trace = Tracer()
    let value = SoilStock.farmValue(bounds, trace: &trace)
    #expect(value.median == 50)
    #expect(abs(value.meanHigh - 112 * 1.01 / 3) < 1e-9)
    #expect(value.intervalHigh == 50)
    #expect(abs(value.intervalLow - 112 * 0.99 / 3) < 1e-9)
    // An even count uses the mean of the two middle values.
    #expect(SoilStock.median([4, 1, 3, 2]) == 2.5)
  }

  @Test func samplingPlanRules() throws {
    var request = Carbon_Esca_V1_SamplingPlanRequest()
    var big = Carbon_Esca_V1_SamplingField()
    big.id = "big"
    big.areaHa = 10.5  // ceil(10.5 / 5) = 3 composite samples
    big.compositeSamples = 3
    big.subsamplesPerComposite = 15
    var small = Carbon_Esca_V1_SamplingField()
    small.id = "small"
    small.areaHa = 2  // one sample for the field: min(5 ha, field)
    small.compositeSamples = 1
    small.subsamplesPerComposite = 14
    request.fields = [big, small]
    let response = try Esca.harness().call(Esca.service + "CheckSamplingPlan", request, as: Carbon_Esca_V1_SamplingPlanResponse.self)
    #expect(response.fields[0].requiredSamples == 3)
    #expect(response.fields[0].compliant)
    #expect(response.fields[1].requiredSamples == 1)
    #expect(!response.fields[1].compliant)
    #expect(!response.compliant)
    #expect(response.issues.map(\.rule) == ["esca.sampling.15_subsamples"])
  }

  @Test func groupsAreLimitedTo20Hectares() throws {
    var request = Carbon_Esca_V1_SamplingPlanRequest()
    for index in 0..<5 {  // 5 × 4.5 ha = 22.5 ha > 20 ha
      var field = Carbon_Esca_V1_SamplingField()
      field.id = "f\(index)"
      field.areaHa = 4.5
      field.groupID = "G"
      field.conditionsKey = "same"
      field.compositeSamples = 1
      field.subsamplesPerComposite = 15
      request.fields.append(field)
    }
    let response = try Esca.harness().call(Esca.service + "CheckSamplingPlan", request, as: Carbon_Esca_V1_SamplingPlanResponse.self)
    #expect(response.issues.map(\.rule) == ["esca.sampling.group_max_20ha"])
    #expect(response.fields.allSatisfy { !$0.compliant })
  }

  @Test func realCsaScopeEndsBeforeTheFifthYearAfterTheCsr() throws {
    // CSR 2024: claims 2024…2028 are in scope (before 1/1/2029); a 2029-only field is not.
    var request = Carbon_Esca_V1_SamplingPlanRequest()
    request.realCsa = true
    request.farmerCase = .farmerCase3
    request.engagementYear = 2024
    request.csrYear = 2024
    for (id, year) in [("in", Int32(2028)), ("out", Int32(2029))] {
      var field = Carbon_Esca_V1_SamplingField()
      field.id = id
      field.areaHa = 3
      field.claimYears = [year]
      request.fields.append(field)
    }
    let response = try Esca.harness().call(Esca.service + "CheckSamplingPlan", request, as: Carbon_Esca_V1_SamplingPlanResponse.self)
    #expect(response.fields[0].inScope)
    #expect(!response.fields[0].compliant)  // in scope but not sampled
    #expect(!response.fields[1].inScope)
    #expect(response.fields[1].compliant)
  }
}
