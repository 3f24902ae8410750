import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// Rule 2 of issue 17 (§4.3.2): "Pour un projet collectif, on considérera un IFT moyen (en
/// calculant une somme des IFT individuels pondérée par la surface de chaque exploitation)".
@Suite(.cpuBound) struct CollectiveIftTests {
  func collective(_ farms: [Farm]) throws -> Carbon_Sobac_V1_CollectiveProjectResponse {
    var request = Carbon_Sobac_V1_CollectiveProjectRequest()
    request.projectName = "groupe"
    request.farms = farms
    return try makeHarness().call(Path.collective, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
  }

  /// A farm that does not cut its IFT herbicide (2 → 2) on `sau` ha.
  func laggard(_ id: String, sau: Double) -> Farm {
    steadyFarm(id: id) { _, record in
      record.sauHa = sau
      record.crops[0].areaHa = sau
      record.crops[0].soldT = 9 * sau
      record.iftHerbicide = 2
    }
  }

  /// The group's area-weighted IFT decides for every farm, weighted by SAU.
  /// A (50 ha): herbicide 2 → 1; B (150 ha): 2 → 2.
  /// Group: reference (50×2 + 150×2)/200 = 2; project (50×1 + 150×2)/200 = 1.75: −12.5 % ≥ −10 %
  /// (specific): met for both, B included although its own IFT herbicide is unchanged.
  @Test func groupIftIsSauWeightedAndDecidesForEveryFarm() throws {
    let response = try collective([steadyFarm(id: "A"), laggard("B", sau: 150)])
    let group = response.summary.collectiveIftHerbicide
    #expect(abs(group.referenceValue - 2) < 1e-12)
    #expect(abs(group.projectValue - 1.75) < 1e-12)
    #expect(abs(group.reductionPercent - 12.5) < 1e-9)
    #expect(group.status == .met && group.thresholdPercent == 10)
    #expect(response.summary.collectiveIftTriggersMet)
    let farmB = response.farms[1]
    #expect(farmB.coBenefits.iftHerbicide.status == .notMet)  // its own figure, reported
    #expect(farmB.coBenefits.iftHerbicide.points == 0)  // points stay the farm's own
    #expect(farmB.coBenefits.collectiveIftHerbicide.status == .met)
    #expect(farmB.finalReductionTCo2E > 0)
    #expect(farmB.trace.decisions.contains { $0.rule == "ift_trigger_scope" && $0.choice == "COLLECTIVE" })
  }

  /// The same two farms with B on 250 ha: project (50×1 + 250×2)/300 = 1.8333, −8.33 % < −10 %:
  /// not met, so A — which halved its own IFT herbicide — is blocked too.
  @Test func groupIftBelowTheThresholdBlocksEveryFarm() throws {
    let response = try collective([steadyFarm(id: "A"), laggard("B", sau: 250)])
    let group = response.summary.collectiveIftHerbicide
    #expect(abs(group.projectValue - 11.0 / 6.0) < 1e-12)
    #expect(abs(group.reductionPercent - 100.0 / 12) < 1e-9)
    #expect(group.status == .notMet)
    #expect(!response.summary.collectiveIftTriggersMet)
    #expect(response.farms[0].coBenefits.iftHerbicide.status == .met)
    #expect(response.farms.allSatisfy { $0.finalReductionTCo2E == 0 })
    #expect(response.summary.finalReductionTCo2E == 0 && response.summary.farmsBlocked == 2)
    #expect(response.summary.trace.rules.contains { $0.rule == "sobac.trigger.collective_ift_herbicide" })
  }

  /// A generic-option farm brings its regional reference into the group's reference, and the
  /// group uses the generic thresholds (−20 % / −50 %).
  /// A: specific, 50 ha, herbicide 2 → 1, non-herbicide 1 → 0.5.
  /// G: generic, 50 ha of blé tendre in Midi-Pyrénées (73): Tableau 10 prints herbicide 1.2,
  /// non-herbicide 2.1; its own IFT in the project 1.2 / 1.0 (no cut of its herbicide alone).
  /// Group herbicide: reference (2 + 1.2)/2 = 1.6, project (1 + 1.2)/2 = 1.1 → −31.25 % ≥ −20 %.
  /// Non-herbicide: reference (1 + 2.1)/2 = 1.55, project (0.5 + 1.0)/2 = 0.75 → −51.61 % ≥ −50 %.
  @Test func genericFarmUsesItsRegionalReferenceInsideTheMean() throws {
    var generic = steadyFarm(id: "G") { year, record in
      record.crops = [crop("blé", area: 50, sold: 350, ift: "ble_tendre")]
      record.iftHerbicide = year >= 2020 ? 1.2 : 1.6
      record.iftNonHerbicide = year >= 2020 ? 1.0 : 2.5
    }
    generic.iftReference = .generic
    generic.formerRegionCode = "73"
    let response = try collective([steadyFarm(id: "A"), generic])
    let group = response.summary
    #expect(response.farms[1].coBenefits.iftHerbicide.referenceValue == 1.2)
    #expect(response.farms[1].coBenefits.iftNonHerbicide.referenceValue == 2.1)
    #expect(abs(group.collectiveIftHerbicide.referenceValue - 1.6) < 1e-12)
    #expect(abs(group.collectiveIftHerbicide.projectValue - 1.1) < 1e-12)
    #expect(abs(group.collectiveIftHerbicide.reductionPercent - 31.25) < 1e-9)
    #expect(abs(group.collectiveIftNonHerbicide.referenceValue - 1.55) < 1e-12)
    #expect(abs(group.collectiveIftNonHerbicide.projectValue - 0.75) < 1e-12)
    #expect(abs(group.collectiveIftNonHerbicide.reductionPercent - (1.55 - 0.75) / 1.55 * 100) < 1e-9)
    #expect(group.collectiveIftHerbicide.thresholdPercent == 20)
    #expect(group.collectiveIftNonHerbicide.thresholdPercent == 50)
    #expect(group.collectiveIftTriggersMet)
    #expect(group.trace.decisions.contains { $0.rule == "collective_ift_thresholds" && $0.choice == "GENERIC" })
    // G's own herbicide figure (1.2 → 1.2) would block it alone; in the group it is credited.
    #expect(response.farms[1].coBenefits.iftHerbicide.status == .notMet)
    #expect(response.farms[1].finalReductionTCo2E > 0)
  }

  /// In the stream, the group's IFT is known after the last farm: the farms' messages say
  /// COLLECTIVE_PENDING and the summary zeroes the total when the group's triggers fail.
  @Test func streamDecidesTheGroupIftInTheSummary() throws {
    var request = Carbon_Sobac_V1_CollectiveProjectRequest()
    request.projectName = "flux"
    request.farms = [steadyFarm(id: "A"), laggard("B", sau: 250)]
    let messages = try makeHarness().bidi(Path.stream, [request], as: Carbon_Sobac_V1_CollectiveBatchMessage.self)
    #expect(messages.count == 3)
    #expect(messages[0].farm.coBenefits.iftTriggerScope == .collectivePending)
    #expect(messages[0].farm.rulesApplied.contains { $0.hasPrefix("sobac.ift.collective_pending") })
    let summary = try #require(messages.last?.summary)
    #expect(!summary.collectiveIftTriggersMet)
    #expect(summary.finalReductionTCo2E == 0 && summary.farmsBlocked == 2)
    #expect(summary.trace.rules.contains { $0.rule == "sobac.ift.collective_pending" })
  }
}
