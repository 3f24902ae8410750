import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing

@testable import SNBCModule

/// Issue 20 point 9: a gas's figures were one field, `reference_mass_t`, holding tonnes of gas
/// for CO2, CH4 and N2O but t CO2e for fluorinated gases. Each unit now has its own field, and
/// a figure in the wrong one is refused instead of being read as the other.
///
/// The guide, « Liste des gaz à effet de serre »: « Ces budgets par gaz sont exprimés en CO2
/// équivalent et calculés à partir des métriques d'agrégation des gaz à effet de serre en
/// vigueur dans l'inventaire français » — CO2, N2O and CH4 are masses weighted by the GWP set;
/// Annex II gives the fluorinated gases only in CO2e (« Emissions de gaz fluorés dans le
/// secteur de l'industrie (MtCO2 eq) »), one figure for many compounds with different GWPs.
@Suite("SNBC gas units", .cpuBound)
struct GasUnitTests {
  typealias Request = Carbon_Snbc_V1_AssessTrajectoryRequest

  /// The example co-operative (40 000 t CO2e in 2019, AR4) with one more gas: 6 000 t CO2e of
  /// fluorinated gases in industry, planned 5 000 / 3 000 / 1 000 t CO2e.
  func withFluorinatedGases(_ edit: (inout Carbon_Snbc_V1_GasEmissions) -> Void = { _ in }) throws -> Request {
    var request = try SNBCTest.example("AssessTrajectory.n2o-above-10-percent.json", as: Request.self)
    var gas = Carbon_Snbc_V1_GasEmissions()
    gas.gas = .fluorinatedCo2E
    gas.sector = .industry
    gas.referenceTCo2E = 6000
    for (horizon, planned) in zip(Horizon.required, [5000.0, 3000, 1000]) {
      var target = Carbon_Snbc_V1_GasTarget()
      target.horizon = horizon
      target.tCo2E = planned
      gas.targets.append(target)
    }
    edit(&gas)
    request.gases.append(gas)
    return request
  }

  func refusal(_ request: Request) -> ModuleError? {
    SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
  }

  @Test("fluorinated gases in t CO2e are taken as given: 6000 t of 40000 is 15 %, checked on industry's trajectory")
  func fluorinatedInCo2e() throws {
    let response = try SNBCTest.assess(try withFluorinatedGases())
    let check = try #require(response.gasChecks.first { $0.gas == .fluorinatedCo2E })
    #expect(check.gwpKgCo2EPerKg == 1)
    #expect(check.referenceTCo2E == 6000)
    #expect(abs(check.shareFraction - 0.15) < 1e-12)
    #expect(check.checkRequired)
    #expect(check.seriesID == "industry.fluorinated")
    #expect(check.horizons.count == 3)
    // The first horizon's plan, 5000 of 6000: −16.67 %, taken in CO2e with no GWP applied.
    let first = try #require(check.horizons.first)
    #expect(first.companyReferenceTCo2E == 6000 && first.companyTargetTCo2E == 5000)
    #expect(abs(first.companyReductionFraction - 1.0 / 6.0) < 1e-12)
    #expect(response.trace.terms.contains { $0.name.hasPrefix("gas_4_") && $0.name.hasSuffix("_reference_t_co2e") && $0.formula.contains("given in CO2e") })
    // CH4 and N2O keep the GWP conversion and say so.
    #expect(response.trace.terms.contains { $0.name == "gas_3_3_reference_t_co2e" && $0.formula.contains("reference_mass_t_gas × GWP100 AR4 (298") })
  }

  @Test("a fluorinated gas given as tonnes of gas is refused, naming the field")
  func fluorinatedAsMassIsRefused() throws {
    let error = refusal(try withFluorinatedGases { $0.referenceMassTGas = 6000 })
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "gases[2].reference_mass_t_gas")
    #expect(error?.message.contains("reference_t_co2e") == true)
  }

  @Test("N2O given in t CO2e is refused: it would skip the GWP set")
  func massGasInCo2eIsRefused() throws {
    var request = try withFluorinatedGases()
    request.gases[0].referenceTCo2E = 5960
    let error = refusal(request)
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "gases[0].reference_t_co2e")
    #expect(error?.message.contains("reference_mass_t_gas") == true)
  }

  @Test("a target in the other unit than its gas is refused, naming the target")
  func targetUnitsFollowTheGas() throws {
    let fluorinated = refusal(try withFluorinatedGases { $0.targets[1].massTGas = 3000 })
    #expect(fluorinated?.field == "gases[2].targets[1].mass_t_gas")
    var request = try withFluorinatedGases()
    request.gases[0].targets[2].tCo2E = 12 * 298
    #expect(refusal(request)?.field == "gases[0].targets[2].t_co2e")
  }

  @Test("a gas without its reference figure is refused, naming the field its kind needs")
  func referenceIsRequired() throws {
    #expect(refusal(try withFluorinatedGases { $0.reference = nil })?.field == "gases[2].reference_t_co2e")
    var request = try withFluorinatedGases()
    request.gases[1].reference = nil
    #expect(refusal(request)?.field == "gases[1].reference_mass_t_gas")
  }

  @Test("the former JSON names `reference_mass_t` and `mass_t` are still read, as tonnes of gas")
  func formerNames() throws {
    let harness = try ModuleHarness<SNBCModule>()
    let path = SNBCTest.examplesDirectory + "/AssessTrajectory.n2o-above-10-percent.json"
    let current = try String(contentsOfFile: path, encoding: .utf8)
    let former = current.replacingOccurrences(of: "\"reference_mass_t_gas\"", with: "\"reference_mass_t\"")
      .replacingOccurrences(of: "\"mass_t_gas\"", with: "\"mass_t\"")
    #expect(former != current)
    let response = try Carbon_Snbc_V1_AssessTrajectoryResponse(jsonString: try harness.callJSON(SNBCTest.assess, former))
    #expect(response.gasChecks[0].referenceTCo2E == 5960)
    #expect(response.gasChecks[0].horizons.count == 3)
  }
}
