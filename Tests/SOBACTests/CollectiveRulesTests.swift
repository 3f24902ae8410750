import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// What a collective project sums and requires (second audit, audit2/sobac.md findings 1, 2
/// and 4): one notification, each farm's SAU, and the farms' avoided emissions summed signed.
@Suite(.cpuBound) struct CollectiveRulesTests {
  /// §7 « Dans un Projet collectif, le scénario de référence du Projet est la somme des
  /// scénarios de référence de chaque participant individuel au Projet (Équation 5) », and
  /// Annex 5 Partie B: « Total des émissions de gaz à effet de serre évitées du projet
  /// collectif » over each farm's « EMISSIONS EVITEES APRES RABAIS ET BONUS »: a farm that emits
  /// more than its reference lowers the total; only the project's total is floored at 0.
  @Test func aFarmThatEmitsMoreLowersTheGroupsTotal() throws {
    // A: the audit's farm, 61.9376 t. B: the same with 3500 kg N each project year:
    // E_proj = 5 × (3500 × 12.1903 + 30 × 9.861) = 214 809.4 kg, B = (185 319.75 − 214 809.4)
    // / 1000 = −29.48965 t. Group: (2 × 185 319.75 − 123 382.15 − 214 809.4) / 1000 = 32.44795 t
    // (the per-farm floor gave 61.9376 t).
    let more = auditFarm(id: "B") { year, record in if year >= 2020 { record.inputs[0].purchases = 3500 } }
    let response = try evaluateCollective([auditFarm(id: "A"), more])
    #expect(abs(response.farms[1].reductionBeforeAdjustmentsTCo2E + 29.48965) < 1e-6)
    #expect(response.farms[1].finalReductionTCo2E == 0)
    #expect(abs(response.summary.reductionBeforeAdjustmentsTCo2E - 32.44795) < 1e-6)
    #expect(abs(response.summary.finalReductionTCo2E - 32.44795) < 1e-6)
    #expect(response.summary.trace.decisions.contains { $0.rule == "collective_sum" && $0.choice == "SIGNED_FARMS_THEN_PROJECT_FLOOR" })
    #expect(response.summary.trace.rules.contains { $0.rule == "sobac.collective.negative_farms" && $0.effect.contains("-29.4896") })
    // B alone: −29.48965 t, the project's total floored at 0.
    let alone = try evaluateCollective([more])
    #expect(alone.summary.finalReductionTCo2E == 0)
    #expect(alone.summary.trace.rules.contains { $0.rule == "sobac.reduction.none" })
  }

  /// §4.3.2 « Pour un projet collectif, on considérera un IFT moyen (en calculant une somme des
  /// IFT individuels pondérée par la surface de chaque exploitation) », and §7.3: the holder
  /// « renseigne également la surface totale (SAU totale) de son exploitation »: a farm without
  /// SAU would weigh 0 in the group's IFT; it is refused, naming the year.
  @Test func aCollectiveFarmWithoutSauIsRefused() throws {
    // B emits as A but its IFT rises to 2.5 / 3.5 in the project.
    func farmB(sau: Double) -> Farm {
      auditFarm(id: "B") { year, record in
        record.sauHa = sau
        if year >= 2020 { (record.iftHerbicide, record.iftNonHerbicide) = (2.5, 3.5) }
      }
    }
    // Without SAU, B weighed 0: the group's IFT was A's alone and the total 123.875 t.
    let failure = error { _ = try evaluateCollective([auditFarm(id: "A"), farmB(sau: 0)]) }
    #expect(failure?.status == .invalidArgument)
    #expect(failure?.field == "farms[1].years[0].sau_ha")
    // With B's 100 ha: herbicide (1.5 + 2.5) / 2 = 2.0 against (2 + 2) / 2 = 2.0, a 0 % cut
    // below the 10 % threshold; non-herbicide (1.8 + 3.5) / 2 = 2.65 against 3, −11.67 % < 30 %:
    // no farm's reduction counts, total 0 t.
    let weighed = try evaluateCollective([auditFarm(id: "A"), farmB(sau: 100)])
    #expect(abs(weighed.summary.collectiveIftHerbicideProject - 2.0) < 1e-12)
    #expect(abs(weighed.summary.collectiveIftNonHerbicideProject - 2.65) < 1e-12)
    #expect(!weighed.summary.collectiveIftTriggersMet)
    #expect(weighed.summary.finalReductionTCo2E == 0)
  }

  /// §2 « Le calcul des réductions d'émissions débute lors de la Notification du Projet par le
  /// Porteur de Projet ou le Mandataire, pour un projet collectif »; Annex 5 has one « DATE de
  /// Notification » and one « PERIODE définissant le scénario de références » per project.
  @Test func collectiveFarmsShareOneNotificationYear() throws {
    let later = auditFarm(id: "B", notification: 2023)
    let failure = error { _ = try evaluateCollective([auditFarm(id: "A"), later]) }
    #expect(failure?.status == .invalidArgument)
    #expect(failure?.field == "farms[1].notification_year")
    // The stream refuses it too, at the farm that differs.
    var request = Carbon_Sobac_V1_CollectiveProjectRequest()
    request.projectName = "audit"
    request.farms = [auditFarm(id: "A"), later]
    let streamed = error { _ = try makeHarness().bidi(Path.stream, [request], as: Carbon_Sobac_V1_CollectiveBatchMessage.self) }
    #expect(streamed?.field?.hasSuffix("farms[1].notification_year") == true)
  }
}
