import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing
@testable import ESCAModule

/// AssessDossier / AssessDossierStream: one farm's whole ESCA result from the facts a
/// co-operative holds, computed by the same rules as the fine-grained methods.
@Suite(.cpuBound) struct DossierTests {
  func call(_ request: FarmDossier) throws -> DossierResponse { try Esca.assessDossier(request) }
  func sample() throws -> FarmDossier { try Esca.sampleDossier() }

  /// "A minimal request (rate and yield only) must work with a clear default for the EF
  /// history": the conservative scenario ("le calcul de Ef n'est pas obligatoire").
  @Test func minimalRequestWorksWithTheConservativeEfDefault() throws {
    var request = FarmDossier()
    request.bonus.annualRateTCPerHaPerYr = 0.12
    request.bonus.yieldKgDryPerHaPerYr = 2921
    let response = try call(request)
    // 0.12 × 3.664e6 / 2921 = 150.5306 g/kg.
    #expect(abs(response.bonus.escaGCo2EPerKgDry - 0.12 * 3.664e6 / 2921) < 1e-9)
    #expect(response.trace.decisions.contains { $0.rule == "ef_policy" && $0.choice == "NONE" && $0.reason.contains("conservateur") })
    // The same request on ComputeBonus still asks for the EF history (its documented default).
    let error = try #require(try Esca.error("ComputeBonus", request.bonus, as: BonusResponse.self))
    #expect(error.field == "engagement_year")
  }

  @Test func theOneMissingFieldIsNamed() throws {
    var request = FarmDossier()
    request.bonus.annualRateTCPerHaPerYr = 0.12
    var error = try #require(try Esca.error("AssessDossier", request, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "bonus.yield_kg_dry_per_ha_per_yr")
    request = FarmDossier()
    request.bonus.yieldKgDryPerHaPerYr = 2921
    error = try #require(try Esca.error("AssessDossier", request, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "bonus.annual_rate_t_c_per_ha_per_yr")
    error = try #require(try Esca.error("AssessDossier", FarmDossier(), as: DossierResponse.self))
    #expect(error.field == "bonus")
    // A bad fact deep in the case is named with its path in the dossier.
    var bad = try sample()
    bad.caseFacts.engagementDate.month = 13
    error = try #require(try Esca.error("AssessDossier", bad, as: DossierResponse.self))
    #expect(error.field == "case_facts.engagement_date.month")
  }

  /// The dossier gives, harvest by harvest, what the fine-grained methods give one step at a
  /// time: the same case verdict (AssessFarmerCase) and the same bonus (ComputeBonus).
  @Test func eachHarvestMatchesTheFineGrainedMethods() throws {
    let dossier = try sample()
    let response = try call(dossier)
    #expect(response.harvests.count == 3)
    let harness = try Esca.harness()
    for (harvest, result) in zip(dossier.harvests, response.harvests) {
      var facts = dossier.caseFacts
      facts.harvestDate = harvest.date
      let verdict = try harness.call(Esca.service + "AssessFarmerCase", facts, as: Carbon_Esca_V1_FarmerCaseResponse.self)
      #expect(verdict.harvestCsaSource == result.csaSource)
      #expect(verdict.harvestCap == result.cap)
      #expect(verdict.harvestClaimAllowed == result.claimAllowed)
    }
    // 2018 harvest: before the practices (2019-03-01): refused and listed.
    #expect(!response.harvests[0].claimAllowed)
    #expect(response.limitations.contains { $0.contains("2018-07-10") && $0.contains("before the improved practices started") })
    // 2025 harvest, modelled: the calculator's 150.548 g/kg (r 0.1200192 × 3.664e6 / 2921),
    // × 0.06 kg/MJ × 0.6 = 5.4197 g/MJ under the case-2 cap 25.
    var bonus = dossier.bonus
    bonus.annualRateTCPerHaPerYr = response.model.annualRateTCPerHaPerYr
    bonus.efPolicy = .none
    let fine = try harness.call(Esca.service + "ComputeBonus", bonus, as: BonusResponse.self)
    #expect(abs(response.harvests[1].escaGCo2EPerKgDry - fine.escaGCo2EPerKgDry) < 1e-12)
    #expect(abs(response.harvests[1].escaCappedGCo2EPerMjFuel - fine.escaUncappedGCo2EPerMjFuel) < 1e-12)
    // 2030 harvest, real CSA 16.0 (median of 15.8/16.0/16.2): r = (16 − 15) / 5 = 0.2;
    // carry-over (16 − 15.6) × 3.664e6 / 2921 / 5 = 100.349 g/kg; 0.2 × 3.664e6 / 2921 = 250.873.
    #expect(abs(response.harvests[2].escaGCo2EPerKgDry - (0.2 + 0.4 / 5) * 3.664e6 / 2921) < 1e-9)
    #expect(abs(response.harvests[2].adjustmentGCo2EPerKgDry - 0.4 * 3.664e6 / 2921 / 5) < 1e-9)
    #expect(response.trace.decisions.contains { $0.rule == "dossier_real_csa_rate" })
    // Without the real CSA's analyses that harvest is not valued, and says why.
    var withoutReal = dossier
    withoutReal.clearRealCsa()
    let unvalued = try call(withoutReal)
    #expect(!unvalued.harvests[2].claimAllowed && unvalued.harvests[2].escaGCo2EPerKgDry == 0)
    #expect(unvalued.harvests[2].reasons.contains { $0.contains("give real_csa") })
  }

  /// A rotation: each harvest is valued with its own crop's figures. The seed: "Vérificateur :
  /// PCI de chaque matière première", and "Les unités de première et dernière transformations …
  /// doivent corriger l'ESCA, affectant les facteurs d'allocation et de conversion (*feedstock
  /// factor*) de leurs processus respectifs". The sample's 2025 harvest as wheat (7 000 kg dry/ha,
  /// LHV 17 MJ/kg, 0.09 kg/MJ to ethanol) instead of the bonus's rapeseed (2 921, 26.4, 0.06).
  @Test func eachHarvestUsesItsOwnCropsYieldLhvAndFeedstockFactor() throws {
    var dossier = try sample()
    let rapeseed = try call(dossier)
    dossier.harvests[1].crop = "wheat"
    dossier.harvests[1].yieldKgDryPerHaPerYr = 7000
    dossier.harvests[1].lhvMjPerKgDry = 17
    dossier.harvests[1].feedstockFactorKgDryPerMjFuel = 0.09
    let response = try call(dossier)
    let rate = response.model.annualRateTCPerHaPerYr
    let wheat = response.harvests[1]
    #expect(wheat.claimAllowed)
    // r × 3.664e6 / 7000 = 62.82 g/kg; / 17 MJ/kg; × 0.09 kg/MJ × allocation 0.6 = 3.39 g/MJ.
    let perKg = rate * 3.664e6 / 7000
    #expect(abs(wheat.escaGCo2EPerKgDry - perKg) < 1e-9)
    #expect(abs(wheat.escaGCo2EPerMjFeedstock - perKg / 17) < 1e-9)
    #expect(abs(wheat.escaUncappedGCo2EPerMjFuel - perKg * 0.09 * 0.6) < 1e-9)
    // The rapeseed harvests keep the bonus's figures: 2030's value is unchanged.
    #expect(response.harvests[2].escaGCo2EPerMjFeedstock == rapeseed.harvests[2].escaGCo2EPerMjFeedstock)
    #expect(abs(rapeseed.harvests[1].escaGCo2EPerMjFeedstock - rate * 3.664e6 / 2921 / 26.4) < 1e-9)
    // A harvest's LHV out of its range is named with the harvest.
    dossier.harvests[1].lhvMjPerKgDry = 70
    let error = try #require(try Esca.error("AssessDossier", dossier, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "harvests[1].lhv_mj_per_kg_dry")
  }

  /// "Le plafond prévaut" at a harvest: case 1, measured cap 60 → 45.
  @Test func theHarvestsCapComesFromItsCaseAndDate() throws {
    var request = FarmDossier()
    request.caseFacts.firstOldClaimDate = Esca.date(2021, 5, 1)
    request.caseFacts.practiceStartDate = Esca.date(2015, 1, 1)
    request.caseFacts.engagementDate = Esca.date(2023, 3, 1)
    request.caseFacts.csrOption = .regionalTable
    request.caseFacts.regions = ["22", "31"]
    request.caseFacts.csrTCPerHa = 42
    request.caseFacts.realCsaDate = Esca.date(2027, 4, 10)
    request.caseFacts.measuredIncreaseCapGCo2EPerMj = 60
    // 1 t C/ha/yr, 3664 kg/ha → 1000 g/kg × 0.08 kg/MJ = 80 g/MJ.
    request.bonus.annualRateTCPerHaPerYr = 1
    request.bonus.yieldKgDryPerHaPerYr = 3664
    request.bonus.feedstockFactorKgDryPerMjFuel = 0.08
    var before = Carbon_Esca_V1_DossierHarvest()
    before.date = Esca.date(2026, 7, 10)
    var after = Carbon_Esca_V1_DossierHarvest()
    after.date = Esca.date(2027, 7, 10)
    request.harvests = [before, after]
    let response = try call(request)
    #expect(response.harvests.map(\.cap) == [.capKind45, .measuredIncrease])
    #expect(response.harvests.map(\.escaCappedGCo2EPerMjFuel) == [45, 45])
    #expect(response.harvests.allSatisfy { abs($0.escaUncappedGCo2EPerMjFuel - 80) < 1e-9 })
    #expect(response.limitations.contains { $0.hasPrefix("esca.cap.measured_at_most_45") })
  }

  /// "Le labour exceptionnel permet de rester engagé … mais implique la prise en compte du
  /// relargage de carbone associé à ce changement de pratique (voir calculateur)": the release
  /// lowers the harvest's CSA and its bonus, (CSA − CSR) / n, from the ploughing's year on.
  @Test func exceptionalPloughingLowersTheHarvestsCsaAndBonus() throws {
    var dossier = try sample()
    dossier.clearRealCsa()
    dossier.model.yearsSinceCsr = 3
    var event = Carbon_Esca_V1_ExceptionalPloughing()
    event.yearIndex = 2
    event.areaPercent = 100
    event.reason = .climaticAccident
    dossier.model.exceptionalPloughings = [event]
    var before = Carbon_Esca_V1_DossierHarvest()
    before.date = Esca.date(2025, 7, 10)
    var after = before
    after.date = Esca.date(2027, 7, 10)
    dossier.harvests = [before, after]
    let response = try call(dossier)
    // Release = 1.0 × (19.728384 − 24 × 0.76 × 1.00 × 1.04) / 20 = 0.0379392 t C/ha (year 2).
    // 2027 (CSR 2024 + 3): CSA = 15 + 0.1200192 × 3 − 0.0379392 = 15.3221184;
    // (CSA − CSR) / 3 = 0.1073728 → × 3.664e6 / 2921 = 134.6847 g/kg → × 0.06 × 0.6 = 4.84865 g/MJ.
    let ploughed = response.harvests[1]
    #expect(abs(ploughed.csaTCPerHa - 15.3221184) < 1e-9)
    #expect(abs(ploughed.annualRateTCPerHaPerYr - 0.1073728) < 1e-12)
    #expect(abs(ploughed.escaGCo2EPerKgDry - 134.68467620677882) < 1e-9)
    #expect(abs(ploughed.escaCappedGCo2EPerMjFuel - 4.8486483434440375) < 1e-9)
    #expect(abs(response.model.csaModelledTCPerHa - 15.3221184) < 1e-9)
    // The bonus block (at the model's years_since_csr 3) says the same.
    #expect(abs(response.bonus.escaGCo2EPerKgDry - 134.68467620677882) < 1e-9)
    // 2025 (year 1): the ploughing of year 2 has not happened: 0.1200192 × 3.664e6 / 2921 = 150.5479.
    #expect(abs(response.harvests[0].escaGCo2EPerKgDry - 150.5478770284153) < 1e-9)
    #expect(abs(response.harvests[0].csaTCPerHa - 15.1200192) < 1e-9)
  }

  /// Pénalités 1: "Les valeurs ESCA de l'exploitation pour l'année en cours sont ajoutées en
  /// tant qu'émissions aux émissions globales de GES de la culture énergétique concernée, au lieu
  /// d'être déduites en tant qu'économies d'émissions de GES." — "Il est interdit à
  /// l'agriculteur d'inclure une valeur ESCA … pour les cinq années suivantes."
  @Test func theWithdrawalYearsEscaIsAddedAsAnEmission() throws {
    var dossier = try sample()
    #expect(dossier.caseFacts.practiceYears[3].year == 2027)
    dossier.caseFacts.practiceYears[3].practices = []
    var withdrawal = Carbon_Esca_V1_DossierHarvest()
    withdrawal.date = Esca.date(2027, 7, 10)
    var barred = withdrawal
    barred.date = Esca.date(2028, 7, 10)
    dossier.harvests = [withdrawal, barred]
    let response = try call(dossier)
    // 2027, modelled: 0.1200192 × 3.664e6 / 2921 = 150.5479 g/kg → × 0.06 × 0.6 = 5.41972 g/MJ
    // (under the case-2 cap 25): added as an emission; nothing is claimed.
    let year = response.harvests[0]
    #expect(!year.claimAllowed)
    #expect(abs(year.withdrawalEmissionGCo2EPerKgDry - 150.5478770284153) < 1e-9)
    #expect(abs(year.withdrawalEmissionGCo2EPerMjFuel - 5.41972357302295) < 1e-9)
    #expect(year.escaGCo2EPerKgDry == 0 && year.escaCappedGCo2EPerMjFuel == 0)
    #expect(response.trace.decisions.contains { $0.rule == "withdrawal_emission" })
    // 2028, barred: no claim and no emission (the penalty is the year of the withdrawal).
    #expect(!response.harvests[1].claimAllowed)
    #expect(response.harvests[1].withdrawalEmissionGCo2EPerMjFuel == 0)
  }

  /// Case 1 on the Annex 3 table (Centre, 24: CSR chosen 10 in [10, 82]), measured 44 t C/ha in
  /// April 2027, modelled 12.
  func regionalCase1() -> FarmDossier {
    var request = FarmDossier()
    request.caseFacts.firstOldClaimDate = Esca.date(2020, 5, 1)
    request.caseFacts.practiceStartDate = Esca.date(2015, 1, 1)
    request.caseFacts.engagementDate = Esca.date(2023, 3, 1)
    request.caseFacts.csrOption = .regionalTable
    request.caseFacts.regions = ["24"]
    request.caseFacts.csrTCPerHa = 10
    request.caseFacts.realCsaDate = Esca.date(2027, 4, 10)
    request.caseFacts.measuredIncreaseCapGCo2EPerMj = 45
    request.bonus.annualRateTCPerHaPerYr = 0.5
    request.bonus.yieldKgDryPerHaPerYr = 3000
    request.bonus.lhvMjPerKgDry = 26.4
    request.bonus.feedstockFactorKgDryPerMjFuel = 0.06
    request.bonus.allocationFactors = [0.6]
    request.realCsa.csrTCPerHa = 10
    request.realCsa.csaModelledTCPerHa = 12
    var analysis = Carbon_Esca_V1_StockValue()
    analysis.id = "a1"
    analysis.stockTCPerHa = 44
    analysis.uncertaintyPercent = 5
    request.realCsa.analyses = [analysis]
    request.realCsa.yearsSinceCsr = 4
    request.realCsa.analysisYear = 2027
    request.realCsa.yieldKgDryPerHaPerYr = 3000
    for year: Int32 in [2028, 2029] {
      var harvest = Carbon_Esca_V1_DossierHarvest()
      harvest.date = Esca.date(year, 7, 10)
      request.harvests.append(harvest)
    }
    return request
  }

  /// Case 1, option 3: "Si la troisième option est utilisée, le résultat de la première analyse
  /// de sol deviendra le nouveau CSR" (Annex 3: the regional value "demeure inchangée jusqu'à la
  /// prochaine analyse de sol (CSA réelle)"). From 2028 the CSR is the measured 44 and the CSA is
  /// modelled from it: neither the rate nor a surplus is measured against the chosen 10.
  @Test func aRegionalCsrIsReplacedByTheFirstRealAnalysis() throws {
    let response = try call(regionalCase1())
    let first = response.harvests[0]
    #expect(first.csaSource == .real && first.claimAllowed)
    // New CSR 44 (the median of the one analysis; 12 lies outside [41.8, 46.2]); rate = the
    // modelled 0.5 (not (44 − 10) / 4 = 8.5); CSA 2028 = 44 + 0.5 × 1 = 44.5, 2029 = 45.
    #expect(first.csrTCPerHa == 44)
    #expect(first.annualRateTCPerHaPerYr == 0.5)
    #expect(abs(first.csaTCPerHa - 44.5) < 1e-12)
    #expect(abs(response.harvests[1].csaTCPerHa - 45) < 1e-12)
    // No "real > modelled" surplus ((44 − 12) × 3.664e6 / 3000 / 5 = 7816.5 g/kg): 0.
    #expect(first.adjustmentGCo2EPerKgDry == 0)
    // 0.5 × 3.664e6 / 3000 = 610.667 g/kg (not 18 197.9) → × 0.06 × 0.6 = 21.984 g/MJ, under 45.
    #expect(abs(first.escaGCo2EPerKgDry - 610.6666666666666) < 1e-9)
    #expect(abs(first.escaCappedGCo2EPerMjFuel - 21.984) < 1e-9)
    #expect(response.trace.decisions.contains { $0.rule == "case1_regional_csr_reset" })
    // The new CSR is the new N0: next analysis due by 31/12/2032.
    #expect(response.caseAssessment.realCsaDueYears == [2027, 2032])
  }

  /// Annex 1, case 1: "Par la suite, l'augmentation du stock de carbone mesurée à la 5e année
  /// (CSA réel) deviendra un plafond pour les déclarations annuelles à soumettre dans les 5
  /// années suivantes." Without the value in case_facts, the dossier computes it from the real
  /// CSA when the CSR was measured, and refuses (naming the field) when it came from Annex 3.
  @Test func theMeasuredIncreaseCapComesFromTheRealCsaOrIsRequired() throws {
    var request = regionalCase1()
    request.caseFacts.clearMeasuredIncreaseCapGCo2EPerMj()
    var error = try #require(try Esca.error("AssessDossier", request, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "case_facts.measured_increase_cap_g_co2e_per_mj")
    // Option 2 (a neighbouring field measured in 2022, the practices' first year): CSR 40,
    // real 43 ± 1 % in April 2027, modelled 42, 5 years.
    request.caseFacts.practiceStartDate = Esca.date(2022, 1, 1)
    request.caseFacts.firstOldClaimDate = Esca.date(2022, 5, 1)
    request.caseFacts.csrOption = .neighbouringField
    request.caseFacts.csrAnalysisDate = Esca.date(2022, 3, 1)
    request.caseFacts.regions = []
    request.caseFacts.clearCsrTCPerHa()
    request.realCsa.csrTCPerHa = 40
    request.realCsa.csaModelledTCPerHa = 42
    request.realCsa.analyses[0].stockTCPerHa = 43
    request.realCsa.analyses[0].uncertaintyPercent = 1
    request.realCsa.yearsSinceCsr = 5
    request.harvests.removeLast()
    let response = try call(request)
    let harvest = response.harvests[0]
    // Cap = (43 − 40) / 5 = 0.6 t C/ha/yr × 3.664e6 / 3000 = 732.8 g/kg × 0.06 × 0.6 = 26.3808 g/MJ.
    // The harvest: 732.8 + surplus (43 − 42) × 3.664e6 / 3000 / 5 = 244.267 → 977.067 g/kg
    // × 0.036 = 35.1744 g/MJ, capped to 26.3808 (not 0).
    #expect(harvest.cap == .measuredIncrease && harvest.claimAllowed)
    #expect(abs(harvest.capGCo2EPerMj - 26.3808) < 1e-9)
    #expect(abs(harvest.escaUncappedGCo2EPerMjFuel - 35.1744) < 1e-9)
    #expect(abs(harvest.escaCappedGCo2EPerMjFuel - 26.3808) < 1e-9)
    #expect(response.trace.decisions.contains { $0.rule == "dossier_measured_increase_cap" })
    // Without real_csa, a harvest after the analysis date (2027-07-10: modelled CSA until 31
    // December, the measured cap already) cannot be capped: the missing value is named.
    request.clearRealCsa()
    request.harvests[0].date = Esca.date(2027, 7, 10)
    error = try #require(try Esca.error("AssessDossier", request, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "case_facts.measured_increase_cap_g_co2e_per_mj")
  }

  @Test func streamGivesEachFarmsDossierWithErrorsInPlace() throws {
    let dossier = try sample()
    var minimal = FarmDossier()
    minimal.farmID = "minimal"
    minimal.bonus.annualRateTCPerHaPerYr = 0.12
    minimal.bonus.yieldKgDryPerHaPerYr = 2921
    var broken = minimal
    broken.farmID = "broken"
    broken.bonus.yieldKgDryPerHaPerYr = .nan
    var first = Carbon_Esca_V1_DossierBatchRequest()
    first.dossiers = [dossier, minimal]
    var second = Carbon_Esca_V1_DossierBatchRequest()
    second.dossiers = [broken, dossier]
    let results = try Esca.harness().bidi(Esca.service + "AssessDossierStream", [first, second], as: Carbon_Esca_V1_DossierResult.self)
    #expect(results.map(\.index) == [0, 1, 2, 3])
    #expect(results.map(\.farmID) == ["case2-calculator-farm", "minimal", "broken", "case2-calculator-farm"])
    #expect(results[2].error.status == "INVALID_ARGUMENT" && results[2].error.field == "requests[1].dossiers[0].bonus.yield_kg_dry_per_ha_per_yr")
    let unary = try call(dossier)
    #expect(results[0].dossier.harvests == unary.harvests)
    #expect(results[3].dossier.harvests == unary.harvests)
  }
}
