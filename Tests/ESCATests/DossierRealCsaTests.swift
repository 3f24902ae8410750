import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing
@testable import ESCAModule

/// AssessDossier once the real CSA applies: the real-vs-modelled adjustment per harvest, the
/// comparison checked against the calendar, later analyses and ploughings, one EF per crop.
/// The sample dossier (Plugins/ESCA/examples/AssessDossier.json): CSR 15 in 2024, real CSA
/// analyses 15.8 / 16.0 / 16.2 ± 2 % in October 2029 (median 16, interval [15.68, 16.32]),
/// modelled 15.6, rapeseed 2 921 kg dry/ha, LHV 26.4, 0.06 kg/MJ, allocation 0.6.
@Suite(.cpuBound) struct DossierRealCsaTests {
  func call(_ request: FarmDossier) throws -> DossierResponse { try Esca.assessDossier(request) }
  func sample() throws -> FarmDossier { try Esca.sampleDossier() }

  func harvest(_ year: Int32, crop: String = "rapeseed") -> Carbon_Esca_V1_DossierHarvest {
    var harvest = Carbon_Esca_V1_DossierHarvest()
    harvest.date = Esca.date(year, 7, 10)
    harvest.crop = crop
    return harvest
  }

  /// The sample's practice records extended to `last`, so that no year is a withdrawal.
  func practising(_ dossier: inout FarmDossier, until last: Int32) {
    let practices = dossier.caseFacts.practiceYears[0].practices
    for year in (dossier.caseFacts.practiceYears.map(\.year).max()! + 1)...last {
      var entry = Carbon_Esca_V1_PracticeYear()
      entry.year = year
      entry.practices = practices
      dossier.caseFacts.practiceYears.append(entry)
    }
  }

  /// Pénalités 3: "la différence entre le CSA réel et le CSA modélisé est ajoutée dans les
  /// bonus ESCA des cinq années suivantes"; the bonus is per hectare and × 1/P (e_sca formula),
  /// and "Dans le cas de deux cultures énergétiques sur la même parcelle et la même année, la
  /// valeur ESCA est répartie proportionnellement au PCI (MJ/kg) de la matière première". The
  /// surplus (16 − 15.6) / 5 = 0.08 t C/ha a year is converted with each harvest's own yield
  /// and LHV share, as its carbon term is.
  @Test func theCarryOverFollowsEachHarvestsYieldAndLhvShare() throws {
    var dossier = try sample()
    var wheat = harvest(2031, crop: "wheat")
    wheat.yieldKgDryPerHaPerYr = 8000
    wheat.lhvMjPerKgDry = 17
    dossier.harvests = [harvest(2030), wheat]
    let response = try call(dossier)
    // Rapeseed 2030: 0.2 × 3.664e6 / 2921 = 250.873 + 0.08 × 3.664e6 / 2921 = 100.349 → 351.222.
    #expect(abs(response.harvests[0].adjustmentGCo2EPerKgDry - 0.08 * 3.664e6 / 2921) < 1e-9)
    #expect(abs(response.harvests[0].escaGCo2EPerKgDry - 351.2221841834988) < 1e-9)
    // Wheat 2031: 0.2 × 3.664e6 / 8000 = 91.6 + 0.08 × 3.664e6 / 8000 = 36.64 → 128.24 g/kg
    // (not 91.6 + 100.35 at the rapeseed's yield).
    #expect(abs(response.harvests[1].adjustmentGCo2EPerKgDry - 36.64) < 1e-9)
    #expect(abs(response.harvests[1].escaGCo2EPerKgDry - 128.24) < 1e-9)
    // ComputePenalties' figure stays at the comparison's yield, with the per-ha value beside it.
    #expect(abs(response.realCsa.adjustments[1].gCo2EPerKgDry - 0.08 * 3.664e6 / 2921) < 1e-9)
    #expect(abs(response.realCsa.adjustments[1].tCPerHa - 0.08) < 1e-12)

    // Two energy crops of equal LHV on the parcel in 2030: share 0.5 of the carbon term and of
    // the carry-over: 125.436 + 50.175 = 175.611 g/kg (not 125.44 + the whole 100.35).
    var coCrop = try sample()
    var other = Carbon_Esca_V1_CoCrop()
    other.lhvMjPerKgDry = 26.4
    coCrop.bonus.coCrops = [other]
    coCrop.harvests = [harvest(2030)]
    let split = try call(coCrop).harvests[0]
    #expect(abs(split.adjustmentGCo2EPerKgDry - 0.08 * 3.664e6 * 0.5 / 2921) < 1e-9)
    #expect(abs(split.escaGCo2EPerKgDry - 175.6110920917494) < 1e-9)
  }

  /// "Le labour exceptionnel permet de rester engagé … mais implique la prise en compte du
  /// relargage de carbone associé à ce changement de pratique": a ploughing after the real
  /// analysis is not in the measure; its release lowers the following harvests, (CSA − CSR) / n.
  @Test func aPloughingAfterTheRealAnalysisIsDeducted() throws {
    var dossier = try sample()
    practising(&dossier, until: 2032)
    var event = Carbon_Esca_V1_ExceptionalPloughing()
    event.yearIndex = 7  // 2031
    event.areaPercent = 100
    event.reason = .climaticAccident
    dossier.model.exceptionalPloughings = [event]
    dossier.realCsa.csaModelledTCPerHa = 15.8  // inside [15.68, 16.32]: equivalent, modelled rate
    dossier.harvests = [harvest(2030), harvest(2031), harvest(2032)]
    let response = try call(dossier)
    #expect(response.realCsa.outcome == .equivalent)
    // Release = (19.728384 − 24 × 0.76 × 1.00 × 1.04) / 20 = 0.0379392 t C/ha; r = 0.1200192.
    // 2030 (n 6): no ploughing yet: 0.1200192 × 3.664e6 / 2921 = 150.548 g/kg.
    #expect(abs(response.harvests[0].escaGCo2EPerKgDry - 150.5478770284153) < 1e-9)
    // 2031 (n 7): 0.1200192 − 0.0379392 / 7 = 0.1145993 → 143.749 g/kg → × 0.036 = 5.17498 g/MJ.
    #expect(abs(response.harvests[1].annualRateTCPerHaPerYr - (0.1200192 - 0.0379392 / 7)) < 1e-12)
    #expect(abs(response.harvests[1].escaGCo2EPerKgDry - 143.7493623905711) < 1e-9)
    #expect(abs(response.harvests[1].escaCappedGCo2EPerMjFuel - 5.174977046060559) < 1e-9)
    #expect(abs(response.harvests[1].csaTCPerHa - (15.8 - 0.0379392)) < 1e-12)
    // 2032 (n 8): 0.1200192 − 0.0379392 / 8 = 0.1152768 → 144.599 g/kg.
    #expect(abs(response.harvests[2].escaGCo2EPerKgDry - 144.59917672030164) < 1e-9)
    #expect(response.trace.decisions.contains { $0.rule == "dossier_ploughing_after_real_csa" })

    // The bonus's own rate (no model rate) with the same equivalent outcome: the ploughing is not
    // in the own rate either, so it is deducted the same way (the dossier's warning says so):
    // 2031: 0.1200192 − 0.0379392 / 7 → 143.749 g/kg; 2032: − 0.0379392 / 8 → 144.599 g/kg.
    var ownRate = dossier
    ownRate.bonus.annualRateTCPerHaPerYr = 0.1200192
    let own = try call(ownRate)
    #expect(own.realCsa.outcome == .equivalent)
    #expect(abs(own.harvests[0].escaGCo2EPerKgDry - 150.5478770284153) < 1e-9)
    #expect(abs(own.harvests[1].annualRateTCPerHaPerYr - (0.1200192 - 0.0379392 / 7)) < 1e-12)
    #expect(abs(own.harvests[1].escaGCo2EPerKgDry - 143.74936239057075) < 1e-9)
    #expect(abs(own.harvests[1].csaTCPerHa - (15.8 - 0.0379392)) < 1e-12)
    #expect(abs(own.harvests[2].escaGCo2EPerKgDry - 144.5991767203013) < 1e-9)
    #expect(own.trace.decisions.contains { $0.rule == "dossier_ploughing_after_real_csa" })
    #expect(own.trace.warnings.contains { $0.contains("is deducted from the harvests after the analysis") })

    // Measured (modelled 15.6, real 16): 2031 rate (16 − 15) / 5 − 0.0379392 / 7 = 0.1945801,
    // + the carry-over 0.08 t C/ha → 0.2745801 × 3.664e6 / 2921 = 344.424 g/kg; CSA 15.9620608.
    dossier.realCsa.csaModelledTCPerHa = 15.6
    let measured = try call(dossier).harvests[1]
    #expect(abs(measured.annualRateTCPerHaPerYr - (0.2 - 0.0379392 / 7)) < 1e-12)
    #expect(abs(measured.escaGCo2EPerKgDry - 344.4236695456546) < 1e-9)
    #expect(abs(measured.csaTCPerHa - 15.9620608) < 1e-9)
  }

  /// « devra appliquer la valeur du CSA réel pour les graines récoltées à partir du 1er janvier
  /// 2027 » (for an analysis in 2026) and « Le labour exceptionnel … implique la prise en compte
  /// du relargage de carbone »: a ploughing of the analysis year is counted as after the
  /// analysis (it gives only its year, so it cannot be shown to precede a February measure) and
  /// is deducted from the harvests after it, whatever the outcome.
  @Test func aPloughingOfTheAnalysisYearIsDeductedAfterTheAnalysis() throws {
    var dossier = try sample()
    practising(&dossier, until: 2031)
    dossier.caseFacts.realCsaDate = Esca.date(2029, 2, 1)
    var event = Carbon_Esca_V1_ExceptionalPloughing()
    event.yearIndex = 5  // 2029, the analysis year
    event.areaPercent = 100
    event.reason = .climaticAccident
    dossier.model.exceptionalPloughings = [event]
    dossier.harvests = [harvest(2030), harvest(2031)]
    let response = try call(dossier)
    #expect(response.realCsa.outcome != .equivalent)
    // Measured 16 vs modelled 15.6: rate (16 − 15) / 5 = 0.2, carry-over 0.08 t C/ha;
    // release 0.0379392 t C/ha (2029).
    // 2030 (n 6): (0.2 − 0.0379392 / 6 + 0.08) × 3.664e6 / 2921 = 343.291 g/kg (not 351.222).
    #expect(abs(response.harvests[0].annualRateTCPerHaPerYr - (0.2 - 0.0379392 / 6)) < 1e-12)
    #expect(abs(response.harvests[0].escaGCo2EPerKgDry - 343.2905837726806) < 1e-9)
    #expect(abs(response.harvests[0].csaTCPerHa - 15.9620608) < 1e-9)
    // 2031 (n 7): (0.2 − 0.0379392 / 7 + 0.08) × 3.664e6 / 2921 = 344.424 g/kg.
    #expect(abs(response.harvests[1].escaGCo2EPerKgDry - 344.4236695456546) < 1e-9)
    #expect(response.trace.decisions.contains { $0.rule == "dossier_ploughing_after_real_csa" })
    // Equivalent outcome (modelled 16): the model's rate at n 6 deducts the release, and its
    // modelled CSA at the analysis year already holds that year's ploughing, so the CSA shown
    // stays 16.0 — with the bonus's own rate too (the same release in the rate: 0.1200192 −
    // 0.0379392 / 6 = 0.1136960), not 16 − 0.0379392 a second time.
    var equivalent = dossier
    equivalent.realCsa.csaModelledTCPerHa = 16
    let byModel = try call(equivalent)
    var ownRate = equivalent
    ownRate.bonus.annualRateTCPerHaPerYr = 0.1200192
    let byOwnRate = try call(ownRate)
    #expect(byModel.realCsa.outcome == .equivalent)
    for harvest in [byModel.harvests[0], byOwnRate.harvests[0]] {
      #expect(abs(harvest.csaTCPerHa - 16) < 1e-12)
      #expect(abs(harvest.annualRateTCPerHaPerYr - (0.1200192 - 0.0379392 / 6)) < 1e-9)
    }
    // A ploughing of the year before the analysis (2028) is in the measure: 2030 keeps 351.222.
    dossier.model.exceptionalPloughings[0].yearIndex = 4
    #expect(abs(try call(dossier).harvests[0].escaGCo2EPerKgDry - 351.2221841834988) < 1e-9)
  }

  /// The analyses are made "lors de l'année N0 … puis de nouveau aux années N+5, N+10, etc.",
  /// and each real CSA applies from 1 January after its analysis. The dossier's real_csa is the
  /// first analysis: a harvest the 2034 analysis applies to is not valued with the 2029 result.
  @Test func harvestsAfterALaterAnalysisAreNotValuedWithTheFirst() throws {
    var dossier = try sample()
    practising(&dossier, until: 2036)
    dossier.caseFacts.laterRealCsaDates = [Esca.date(2034, 10, 1)]
    dossier.harvests = [harvest(2034), harvest(2035), harvest(2036)]
    let response = try call(dossier)
    // 2034: still the first analysis: (0.2 + 0.08) × 3.664e6 / 2921 = 351.222 g/kg.
    #expect(response.harvests[0].claimAllowed)
    #expect(abs(response.harvests[0].escaGCo2EPerKgDry - 351.2221841834988) < 1e-9)
    // 2035 and 2036: the 2034 analysis applies; its result is not in the dossier.
    for later in response.harvests.dropFirst() {
      #expect(later.csaSource == .real && !later.claimAllowed && later.escaGCo2EPerKgDry == 0)
      #expect(later.reasons.contains { $0.contains("later analysis of 2034") && $0.contains("real_csa") })
    }
    #expect(response.limitations.contains { $0.contains("2035-07-10") && $0.contains("later analysis") })
    #expect(response.trace.decisions.contains { $0.rule == "dossier_later_real_csa" })
  }

  /// The comparison must be the case's first real analysis: Pénalités 2 dates the deduction
  /// "l'année suivant l'année d'analyse de sol", Pénalités 3 the surplus "des cinq années
  /// suivantes", and the measured rate divides by n, the years since the CSR.
  @Test func theComparisonMustMatchTheCalendar() throws {
    // real_csa_date 2029-10-01, CSR 2024: analysis_year 2027 and 3 years are refused (they
    // would give 2028 a surplus and 2030 the rate (16 − 15) / 3 = 0.333 → 518.47 g/kg).
    var dossier = try sample()
    dossier.realCsa.analysisYear = 2027
    dossier.realCsa.yearsSinceCsr = 3
    var error = try #require(try Esca.error("AssessDossier", dossier, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "real_csa.analysis_year")
    dossier.realCsa.analysisYear = 2029
    error = try #require(try Esca.error("AssessDossier", dossier, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "real_csa.years_since_csr")
    // The consistent reading: 2029, 5 years → 2030: (16 − 15) / 5 = 0.2 + 0.08 → 351.222 g/kg.
    dossier.realCsa.yearsSinceCsr = 5
    dossier.harvests = [harvest(2030)]
    #expect(abs(try call(dossier).harvests[0].escaGCo2EPerKgDry - 351.2221841834988) < 1e-9)
    // Without a real_csa_date in case_facts the comparison cannot be placed.
    dossier.caseFacts.clearRealCsaDate()
    error = try #require(try Esca.error("AssessDossier", dossier, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "real_csa.analysis_year")
  }

  /// The text: Ef_historic is « la moyenne des trois années précédant l'entrée dans la nouvelle
  /// démarche ESCA (année d'engagement) » (the farm's), Ef_current « les émissions de l'année en
  /// cours »; the calculator's row « Emissions of the previous year when the same crop was
  /// cultivated » is one crop's (EF_HISTORIC_BASIS_PREVIOUS_SAME_CROP). A rotation is valued
  /// under the 3-year mean, each harvest with its own Ef_current; the « same crop » basis
  /// refuses a second crop.
  @Test func aComputedEfTakesEachHarvestsOwnEfCurrentAndOneCropOnlyUnderTheSameCropBasis() throws {
    var dossier = try sample()
    dossier.clearRealCsa()
    dossier.caseFacts.clearRealCsaDate()
    dossier.bonus.efPolicy = .guidelines
    dossier.bonus.engagementYear = 2024
    dossier.bonus.efHistoricYears = (2021...2023).map { year in
      var entry = Carbon_Esca_V1_EfYear()
      entry.year = Int32(year)
      entry.gCo2EPerKg = 400
      return entry
    }
    var rapeseed = harvest(2027)
    rapeseed.efCurrentGCo2EPerKg = 350
    var wheat = harvest(2028, crop: "wheat")
    wheat.yieldKgDryPerHaPerYr = 8000
    wheat.lhvMjPerKgDry = 17
    wheat.efCurrentGCo2EPerKg = 380
    // The rotation under the 3-year mean (400), no bonus.ef_current: every harvest gives its own.
    dossier.harvests = [rapeseed, wheat]
    var response = try call(dossier)
    // Rapeseed 2027: r 0.1200192 × 3.664e6 / 2921 = 150.548 + (400 − 350) = 200.548 g/kg.
    #expect(abs(response.harvests[0].escaGCo2EPerKgDry - 200.54787702841494) < 1e-9)
    // Wheat 2028: 0.1200192 × 3.664e6 / 8000 = 54.969 + (400 − 380) = 74.969 g/kg.
    #expect(abs(response.harvests[1].escaGCo2EPerKgDry - 74.9687936) < 1e-9)
    #expect(response.trace.decisions.contains { $0.rule == "dossier_ef_per_crop" })
    // The rotation is accepted, with a warning that each EF is per kg of its own crop.
    #expect(response.trace.warnings.contains { $0.contains("several crops") && $0.contains("per kg") })
    #expect(response.trace.decisions.contains { $0.rule == "dossier_base_ef_current" })
    #expect(response.bonus.efCurrentGCo2EPerKg == 350)
    // A harvest of the rotation without its own Ef_current is refused, even with the bonus's.
    dossier.bonus.efCurrentGCo2EPerKg = 350
    dossier.harvests[1].clearEfCurrentGCo2EPerKg()
    var error = try #require(try Esca.error("AssessDossier", dossier, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "harvests[1].ef_current_g_co2e_per_kg")
    // Two crops of one year: Ef_current is per kg of each crop, so each gives its own.
    dossier.harvests = [harvest(2027), harvest(2027, crop: "wheat")]
    error = try #require(try Esca.error("AssessDossier", dossier, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "harvests[0].ef_current_g_co2e_per_kg")
    // One crop over two years: each harvest needs its own year's Ef_current.
    dossier.harvests = [harvest(2027), harvest(2028, crop: " Rapeseed")]
    error = try #require(try Esca.error("AssessDossier", dossier, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "harvests[0].ef_current_g_co2e_per_kg")
    dossier.harvests[0].efCurrentGCo2EPerKg = 350
    dossier.harvests[1].efCurrentGCo2EPerKg = 380
    response = try call(dossier)
    // 2027: 150.548 + (400 − 350) = 200.548 g/kg; 2028: 150.548 + (400 − 380) = 170.548 g/kg.
    #expect(abs(response.harvests[0].escaGCo2EPerKgDry - (150.5478770284153 + 50)) < 1e-9)
    #expect(abs(response.harvests[1].escaGCo2EPerKgDry - (150.5478770284153 + 20)) < 1e-9)
    // PREVIOUS_SAME_CROP: Ef_historic is one crop's, so the rotation is refused at the wheat.
    dossier.bonus.efHistoricBasis = .previousSameCrop
    dossier.bonus.efPreviousSameCropGCo2EPerKg = 400
    dossier.harvests = [rapeseed, wheat]
    error = try #require(try Esca.error("AssessDossier", dossier, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "harvests[1].crop")
    // Without an EF (the dossier's conservative default) crops may differ.
    dossier.bonus = try sample().bonus
    #expect(try call(dossier).harvests.count == 2)
  }

  /// "never a silent default": with neither the model's nor the comparison's CSR, 0 t C/ha
  /// gave 2030 the rate (16 − 0) / 5 = 3.2 t C/ha/yr (4 114 g/kg). Refused, naming the field.
  @Test func aMissingCsrInTheComparisonIsRefused() throws {
    var dossier = try sample()
    dossier.model.clearCsrTCPerHa()
    dossier.realCsa.clearCsrTCPerHa()
    let error = try #require(try Esca.error("AssessDossier", dossier, as: DossierResponse.self))
    #expect(error.status == .invalidArgument && error.field == "real_csa.csr_t_c_per_ha")
  }

  /// "l'augmentation du stock de carbone mesurée la cinquième année (CSA réel) deviendra un
  /// plafond … même si celui-ci est plus bas": without a feedstock factor the measured cap of a
  /// harvest cannot be computed; it is left unset, not shown as 0.
  @Test func anUncomputedMeasuredCapIsUnset() throws {
    var request = FarmDossier()
    request.caseFacts.firstOldClaimDate = Esca.date(2022, 5, 1)
    request.caseFacts.practiceStartDate = Esca.date(2022, 1, 1)
    request.caseFacts.engagementDate = Esca.date(2023, 3, 1)
    request.caseFacts.csrOption = .neighbouringField
    request.caseFacts.csrAnalysisDate = Esca.date(2022, 3, 1)
    request.caseFacts.realCsaDate = Esca.date(2027, 4, 10)
    request.bonus.annualRateTCPerHaPerYr = 0.5
    request.bonus.yieldKgDryPerHaPerYr = 3000
    request.realCsa.csrTCPerHa = 40
    request.realCsa.csaModelledTCPerHa = 42
    var analysis = Carbon_Esca_V1_StockValue()
    analysis.stockTCPerHa = 43
    analysis.uncertaintyPercent = 1
    request.realCsa.analyses = [analysis]
    request.realCsa.yearsSinceCsr = 5
    request.realCsa.analysisYear = 2027
    request.realCsa.yieldKgDryPerHaPerYr = 3000
    request.harvests = [harvest(2028)]
    var result = try call(request).harvests[0]
    #expect(result.cap == .measuredIncrease && !result.hasCapGCo2EPerMj)
    // With the pathway: (43 − 40) / 5 × 3.664e6 / 3000 = 732.8 g/kg × 0.06 = 43.968 g/MJ.
    request.bonus.feedstockFactorKgDryPerMjFuel = 0.06
    result = try call(request).harvests[0]
    #expect(result.hasCapGCo2EPerMj && abs(result.capGCo2EPerMj - 43.968) < 1e-9)
  }
}
