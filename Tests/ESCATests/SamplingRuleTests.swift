import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing
@testable import ESCAModule

/// Soil sampling timing and laboratory rules ("Analyse de sol", 1.d, 1.e, 1.g, 2, 3).
@Suite(.cpuBound) struct SamplingRuleTests {
  func call(_ request: Carbon_Esca_V1_SamplingPlanRequest) throws -> Carbon_Esca_V1_SamplingPlanResponse {
    try Esca.harness().call(Esca.service + "CheckSamplingPlan", request, as: Carbon_Esca_V1_SamplingPlanResponse.self)
  }

  func field(_ id: String, _ area: Double, _ samples: Int32, _ soil: Carbon_Esca_V1_SoilType) -> Carbon_Esca_V1_SamplingField {
    var field = Carbon_Esca_V1_SamplingField()
    field.id = id
    field.areaHa = area
    field.compositeSamples = samples
    field.subsamplesPerComposite = 15
    field.soilType = soil
    return field
  }

  func sampling(
    _ id: String, carbon: Bool = true, bulkDensity: Bool = false, on date: CalendarDate, harvest: CalendarDate? = nil,
    freshCarbon: CalendarDate? = nil, soil: Carbon_Esca_V1_SoilType = .highActivityClay,
    lab: Carbon_Esca_V1_LabAccreditation = .iso17025, method: Carbon_Esca_V1_CarbonMethod = .nfIso10694, depth: Double = 30
  ) -> Carbon_Esca_V1_SoilSampling {
    var sampling = Carbon_Esca_V1_SoilSampling()
    sampling.id = id
    sampling.measuresCarbon = carbon
    sampling.measuresBulkDensity = bulkDensity
    sampling.samplingDate = date
    if let harvest { sampling.lastHarvestDate = harvest }
    if let freshCarbon { sampling.lastFreshCarbonDate = freshCarbon }
    sampling.soilType = soil
    sampling.lab = lab
    if carbon { sampling.carbonMethod = method }
    if bulkDensity { sampling.bulkDensityMethod = .cylinder }
    sampling.depthCm = depth
    return sampling
  }

  /// d) "le prélèvement d'échantillons est effectué au printemps avant la culture et la
  /// fertilisation des sols ou à l'automne, au minimum 2 mois après la récolte" — and "au moins
  /// deux mois après un apport de produits organiques, l'enfouissement des résidus de récolte, la
  /// destruction ou l'enfouissement d'un couvert d'interculture".
  /// e) "sur les 30 premiers centimètres du sol". g) "laboratoires accrédités (ISO 17025 ou
  /// équivalent)" or "un laboratoire indépendant certifié". 2. "NF ISO 14235 … NF ISO 10694".
  /// "2BS préconise de réaliser au minimum une analyse [de densité apparente] par type de sol".
  @Test func everyViolationIsListedWithItsRule() throws {
    var request = Carbon_Esca_V1_SamplingPlanRequest()
    request.fields = [field("north", 10, 2, .highActivityClay), field("sand", 4, 1, .sandy)]
    // s1: harvest 25/07 + 2 months = 25/09 ≤ 20/10, but compost 01/09 + 2 months = 01/11 > 20/10.
    let s1 = sampling("s1", on: Esca.date(2024, 10, 20), harvest: Esca.date(2024, 7, 25), freshCarbon: Esca.date(2024, 9, 1))
    // s2: bulk density in spring (10/04) before sowing and fertilisation: no 2-month rule.
    var s2 = sampling("s2", carbon: false, bulkDensity: true, on: Esca.date(2025, 4, 10), lab: .inAccreditation)
    s2.beforeSowingAndFertilisation = true
    // s3: 25 cm, no accredited lab, another method; harvest 15/07 + 2 months = 15/09 ≤ 30/09.
    let s3 = sampling("s3", on: Esca.date(2024, 9, 30), harvest: Esca.date(2024, 7, 15), soil: .sandy, lab: .none, method: .other, depth: 25)
    // s4: exactly 2 months after the harvest (31/07 → 30/09): compliant.
    let s4 = sampling("s4", on: Esca.date(2024, 9, 30), harvest: Esca.date(2024, 7, 31), method: .nfIso14235)
    request.samplings = [s1, s2, s3, s4]
    let response = try call(request)
    #expect(!response.compliant)
    let found = response.issues.map { "\($0.subject) \($0.rule)" }
    #expect(found == [
      "s1 esca.sampling.timing", "s3 esca.sampling.depth_30cm", "s3 esca.lab.accreditation", "s3 esca.lab.carbon_method",
      "sandy esca.lab.bulk_density_per_soil_type",
    ])
    #expect(response.issues[0].message.contains("fresh-carbon input (2024-09-01)"))
    #expect(response.trace.decisions.contains { $0.rule == "spring_window" })

    // A spring sampling outside March–May is not "au printemps": the 2-month rule applies, and
    // without a harvest date it cannot be shown.
    var winter = s2
    winter.samplingDate = Esca.date(2025, 2, 10)
    request.samplings = [winter]
    #expect(try call(request).issues.contains { $0.subject == "s2" && $0.rule == "esca.sampling.timing" })
  }

  @Test func impossibleSamplingsAreRefusedWithTheirField() throws {
    var request = Carbon_Esca_V1_SamplingPlanRequest()
    request.fields = [field("north", 4, 1, .highActivityClay)]
    request.samplings = [sampling("x", carbon: false, on: Esca.date(2024, 10, 1))]
    var error = try #require(try Esca.error("CheckSamplingPlan", request, as: Carbon_Esca_V1_SamplingPlanResponse.self))
    #expect(error.status == .invalidArgument && error.field == "samplings[0].measures_carbon")
    request.samplings = [sampling("x", on: Esca.date(2024, 10, 1), harvest: Esca.date(2024, 10, 5))]
    error = try #require(try Esca.error("CheckSamplingPlan", request, as: Carbon_Esca_V1_SamplingPlanResponse.self))
    #expect(error.status == .invalidArgument && error.field == "samplings[0].last_harvest_date")
    request.samplings = [sampling("x", on: Esca.date(2024, 10, 1), lab: .unspecified)]
    error = try #require(try Esca.error("CheckSamplingPlan", request, as: Carbon_Esca_V1_SamplingPlanResponse.self))
    #expect(error.field == "samplings[0].lab")
  }
}
