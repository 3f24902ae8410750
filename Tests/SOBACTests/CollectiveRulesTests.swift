import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// What a collective project sums and requires (second audit, audit2/sobac.md findings 1, 2
/// and 4; third audit, audit3/sobac.md): one notification, each farm's SAU when the group has
/// two farms or more, and the farms' avoided emissions summed signed.
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

  /// Annex 5 Partie B sums each farm's « EMISSIONS EVITEES APRES RABAIS ET BONUS », and §5.4.3
  /// applies the bonus « sur l'ensemble des réductions d'émissions »: a farm that emits more
  /// than its reference counts min(net, net × global factor), its bonus making the increase
  /// larger while a rabais never shrinks it (the conservative reading, `collective_sum`).
  @Test func aNegativeFarmKeepsItsBonusButNotItsRabais() throws {
    // B: 3500 kg N each project year (−29.48965 t, see above), its permanent grassland 10 → 15
    // ha in 2024, a 10 % land-use bonus (× 1.1): 61.9376 − 29.48965 × 1.1 = 61.9376 − 32.438615
    // = 29.498985 t (without the bonus: 32.44795 t).
    func farmB(grassland: Double) -> Farm {
      auditFarm(id: "B") { year, record in
        if year >= 2020 { record.inputs[0].purchases = 3500 }
        if year == 2024 { record.permanentGrasslandHa = grassland }
      }
    }
    let bonus = try evaluateCollective([auditFarm(id: "A"), farmB(grassland: 15)])
    #expect(abs(bonus.farms[1].adjustments.globalFactor - 1.1) < 1e-12)
    #expect(abs(bonus.summary.finalReductionTCo2E - 29.498985) < 1e-9)
    #expect(bonus.summary.trace.rules.contains { $0.rule == "sobac.collective.negative_farms" && $0.effect.contains("-32.4386") })
    // Grassland 10 → 5 ha: a rabais (factor < 1) would shrink B's increase; it keeps its whole
    // −29.48965 t: 61.9376 − 29.48965 = 32.44795 t.
    let rabais = try evaluateCollective([auditFarm(id: "A"), farmB(grassland: 5)])
    #expect(rabais.farms[1].adjustments.globalFactor < 1)
    #expect(abs(rabais.summary.finalReductionTCo2E - 32.44795) < 1e-9)
  }

  /// §4.3.2 « une somme des IFT individuels pondérée par la surface de chaque exploitation »
  /// weighs farms against each other: a group of one farm has its own IFT, whatever its SAU, so
  /// its SAU is not required (EvaluateLedgerCsv evaluates even one farm as a group).
  @Test func aLoneFarmNeedsNoSauForTheGroupIft() throws {
    // The audit's farm with SAU 0 in 2015: 61.9376 t alone, as EvaluateFarmProject gives it.
    let farm = auditFarm { year, record in if year == 2015 { record.sauHa = 0 } }
    #expect(abs((try evaluate(farm)).finalReductionTCo2E - 61.9376) < 1e-9)
    var request = Carbon_Sobac_V1_EvaluateLedgerCsvRequest()
    request.ledgerCsv = "farm_id,year,input,quantity,unit\nF1,2020,ammonium_nitrate_33_5,2000,kg_n\n"
    request.project.farms = [farm]
    let ledger = try makeHarness().call(Path.evaluateCsv, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
    #expect(abs(ledger.summary.finalReductionTCo2E - 61.9376) < 1e-9)
    // Without any SAU: the group's IFT is still the farm's own (2 → 1.5, 3 → 1.8).
    let bare = auditFarm { _, record in record.sauHa = 0 }
    let alone = try evaluateCollective([bare])
    #expect(alone.summary.collectiveIftHerbicideProject == 1.5 && alone.summary.collectiveIftNonHerbicideProject == 1.8)
    #expect(abs(alone.summary.finalReductionTCo2E - 61.9376) < 1e-9)
    // Streamed alone it is accepted; with a second farm the first farm's year is named.
    var streamed = Carbon_Sobac_V1_CollectiveProjectRequest()
    streamed.projectName = "audit"
    streamed.farms = [farm]
    let messages = try makeHarness().bidi(Path.stream, [streamed], as: Carbon_Sobac_V1_CollectiveBatchMessage.self)
    #expect(abs((messages.last?.summary.finalReductionTCo2E ?? 0) - 61.9376) < 1e-9)
    streamed.farms = [farm, auditFarm(id: "B")]
    let pair = error { _ = try makeHarness().bidi(Path.stream, [streamed], as: Carbon_Sobac_V1_CollectiveBatchMessage.self) }
    #expect(pair?.status == .invalidArgument)
    #expect(pair?.field?.hasSuffix("farms[0].years[0].sau_ha") == true)
    // Two farms given whole: refused too.
    #expect(error { _ = try evaluateCollective([farm, auditFarm(id: "B")]) }?.field == "farms[0].years[0].sau_ha")
  }
}
