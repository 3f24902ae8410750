import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SNBCModule

/// The guide, « Liste des gaz à effet de serre »: « Ces budgets par gaz sont exprimés en CO2
/// équivalent et calculés à partir des métriques d'agrégation des gaz à effet de serre en
/// vigueur dans l'inventaire français de gaz à effet de serre (GWP100 AR4 actuellement, puis
/// GWP100 AR5 à partir de 2023). » and « dans le cas où les émissions d'un gaz autre que le CO2
/// représenterait plus de 10% en CO2eq des émissions de l'entreprises, la cohérence avec le
/// budget carbone pour ce gaz ... devra être vérifiée spécifiquement. »
@Suite("GWP set by data year", .cpuBound)
struct GwpSetTests {
  typealias Request = Carbon_Snbc_V1_AssessTrajectoryRequest

  /// Crop co-operative, 40000 t CO2e in 2019, N2O 20 t, CH4 100 t; no set chosen.
  func cooperative() throws -> Request {
    var request = try SNBCTest.example("AssessTrajectory.n2o-above-10-percent.json", as: Request.self)
    request.gwpSet = .unspecified
    return request
  }

  /// The same company with 2023 as reference year (investment 2023: objectives 2027, 2033).
  func cooperative2023() throws -> Request {
    var request = try cooperative()
    request.referenceYear = 2023
    request.investmentYear = 2023
    for index in request.categories[0].targets.indices {
      request.categories[0].targets[index].year = [2027, 2033, 2050][index]
    }
    return request
  }

  @Test("« GWP100 AR4 actuellement »: data before 2023 default to AR4 (20 t N2O × 298 = 5960 t)")
  func beforeTwentyTwentyThree() throws {
    let response = try SNBCTest.assess(try cooperative())
    #expect(response.gwpSet == .ar4)
    #expect(response.gasChecks[0].gwpSet == .ar4)
    #expect(response.gasChecks[0].gwpKgCo2EPerKg == 298)
    #expect(response.gasChecks[0].referenceTCo2E == 5960)
    // CH4: 100 t × 25 = 2500 t CO2e.
    #expect(response.gasChecks[1].referenceTCo2E == 2500 && response.gasChecks[1].gwpSet == .ar4)
    #expect(response.trace.decisions.contains { $0.rule == "gwp_set" && $0.choice == "AR4" && $0.reason.contains("2019") })
    #expect(response.trace.decisions.contains { $0.rule == "data_year" && $0.choice == "REFERENCE_YEAR" })
    // Every gas CO2e term names the set.
    #expect(response.trace.terms.contains { $0.name == "gas_3_3_reference_t_co2e" && $0.formula.contains("GWP100 AR4") })
    // The last year before the switch is still AR4.
    var request = try cooperative()
    request.dataYear = 2022
    #expect(try SNBCTest.assess(request).gwpSet == .ar4)
  }

  @Test("« puis GWP100 AR5 à partir de 2023 »: data of 2023 default to AR5 (20 t × 265 = 5300 t)")
  func fromTwentyTwentyThree() throws {
    let response = try SNBCTest.assess(try cooperative2023())
    #expect(response.gwpSet == .ar5)
    #expect(response.gasChecks[0].gwpKgCo2EPerKg == 265)
    #expect(response.gasChecks[0].referenceTCo2E == 5300)
    // 5300 / 40000 = 13.25 %.
    #expect(abs(response.gasChecks[0].shareFraction - 0.1325) < 1e-12)
    // CH4 100 t × 28 = 2800 t.
    #expect(response.gasChecks[1].referenceTCo2E == 2800)
    // A 2019 reference restated with 2023 data (data_year) follows the data, not the reference year.
    var request = try cooperative()
    request.dataYear = 2023
    let restated = try SNBCTest.assess(request)
    #expect(restated.gwpSet == .ar5 && restated.gasChecks[0].referenceTCo2E == 5300)
  }

  @Test("the set decides the 10 % test: 14 t N2O is 10.43 % in AR4 (checked), 9.275 % in AR5 (not)")
  func setDecidesTheCheck() throws {
    var request = try cooperative()
    request.gases[0].referenceMassTGas = 14
    // 14 × 298 = 4172 t; 4172 / 40000 = 10.43 % > 10 %.
    let ar4 = try SNBCTest.assess(request)
    #expect(abs(ar4.gasChecks[0].shareFraction - 0.1043) < 1e-12)
    #expect(ar4.gasChecks[0].checkRequired)
    // 14 × 265 = 3710 t; 3710 / 40000 = 9.275 % ≤ 10 %.
    request.dataYear = 2024
    let ar5 = try SNBCTest.assess(request)
    #expect(abs(ar5.gasChecks[0].shareFraction - 0.09275) < 1e-12)
    #expect(!ar5.gasChecks[0].checkRequired)
  }

  @Test("an explicit set overrides the default and is flagged when it is not the inventory's")
  func override() throws {
    var request = try cooperative()
    request.gwpSet = .ar5
    let response = try SNBCTest.assess(request)
    #expect(response.gwpSet == .ar5 && response.gasChecks[0].referenceTCo2E == 5300)
    #expect(response.trace.decisions.contains { $0.rule == "gwp_set" && $0.choice == "AR5" && $0.reason.contains("chosen by the request") })
    #expect(response.trace.warnings.contains { $0.contains("differs from the inventory metric") })
    request.gwpSet = .ar4  // the inventory's own set for 2019: no warning
    #expect(!(try SNBCTest.assess(request)).trace.warnings.contains { $0.contains("differs from the inventory metric") })
  }

  @Test("a company total in another metric than the gas split is flagged, not silently mixed")
  func metricMismatch() throws {
    var request = try cooperative()
    request.emissionsGwpSet = .ar5  // totals in AR5, gas split by default AR4 (2019 data)
    let mixed = try SNBCTest.assess(request)
    #expect(mixed.gwpMetricMismatch)
    #expect(mixed.emissionsGwpSet == .ar5 && mixed.gwpSet == .ar4)
    #expect(mixed.trace.rules.contains { $0.rule == "snbc.gas.metric_mismatch" })
    #expect(mixed.trace.warnings.contains { $0.contains("gwp_metric_mismatch") })
    request.emissionsGwpSet = .ar4
    let same = try SNBCTest.assess(request)
    #expect(!same.gwpMetricMismatch && !same.trace.rules.contains { $0.rule == "snbc.gas.metric_mismatch" })
    // Not stated: the assumption is a decision and a warning.
    request.emissionsGwpSet = .unspecified
    let unstated = try SNBCTest.assess(request)
    #expect(!unstated.gwpMetricMismatch)
    #expect(unstated.trace.decisions.contains { $0.rule == "emissions_gwp_set" && $0.choice == "ASSUMED_AR4" })
  }

  @Test("bad GWP inputs name their field")
  func invalid() throws {
    var request = try cooperative()
    request.dataYear = 1500
    var error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.status == .invalidArgument && error?.field == "data_year")
    request = try cooperative()
    request.emissionsGwpSet = .UNRECOGNIZED(9)
    error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.status == .invalidArgument && error?.field == "emissions_gwp_set")
    request = try cooperative()
    request.gwpSet = .UNRECOGNIZED(9)
    error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.field == "gwp_set")
  }

  @Test("the per-gas rate does not depend on the set (same GWP on both years), only the share does")
  func rateIndependentOfSet() throws {
    var request = try cooperative()
    let ar4 = try SNBCTest.assess(request)
    request.gwpSet = .ar5
    let ar5 = try SNBCTest.assess(request)
    // 2050: (20 − 12)/20 = 40 % either way.
    #expect(abs(ar4.gasChecks[0].horizons[2].companyReductionFraction - 0.4) < 1e-12)
    #expect(abs(ar5.gasChecks[0].horizons[2].companyReductionFraction - 0.4) < 1e-12)
  }
}
