import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing
@testable import ESCAModule

/// The rules an auditor checks first, each proved on the seed's own sentence
/// (`esca-2bs-guidelines-v7.txt`, Annex 1, "Plafond applicable", "Pénalités", "Analyse de
/// sol") with hand-computed values.
@Suite(.cpuBound) struct AnnexOneRuleTests {
  func call(_ request: Carbon_Esca_V1_FarmerCaseRequest) throws -> Carbon_Esca_V1_FarmerCaseResponse {
    try Esca.harness().call(Esca.service + "AssessFarmerCase", request, as: Carbon_Esca_V1_FarmerCaseResponse.self)
  }

  /// Case 1 on the regional table, engaged 2023-03-01 (Picardie ∩ Nord-Pas-de-Calais).
  var case1: Carbon_Esca_V1_FarmerCaseRequest {
    var request = Carbon_Esca_V1_FarmerCaseRequest()
    request.firstOldClaimDate = Esca.date(2021, 5, 1)
    request.practiceStartDate = Esca.date(2015, 1, 1)
    request.engagementDate = Esca.date(2023, 3, 1)
    request.csrOption = .regionalTable
    request.regions = ["22", "31"]
    request.csrTCPerHa = 42
    return request
  }

  /// Case 3 engaged 2024-03-01, CSR analysed 2024-10-15.
  var case3: Carbon_Esca_V1_FarmerCaseRequest {
    var request = Carbon_Esca_V1_FarmerCaseRequest()
    request.practiceStartDate = Esca.date(2024, 3, 1)
    request.engagementDate = Esca.date(2024, 3, 1)
    request.csrOption = .engagementYearAnalysis
    request.csrAnalysisDate = Esca.date(2024, 10, 15)
    return request
  }

  func year(_ response: Carbon_Esca_V1_FarmerCaseResponse, _ year: Int32) throws -> Carbon_Esca_V1_CalendarYear {
    try #require(response.calendar.first { $0.year == year })
  }

  // MARK: 1. Case tests

  /// Annex 1, case 3: "Agriculteurs débutant l'application de pratiques de gestion agricole
  /// améliorées après le 30/06/2022".
  @Test func case3IsPracticesStartedAfterJune2022WhateverTheEngagementDate() throws {
    // Practices 2024-05-01, engagement the next year 2025-01-10: case 3 (an earlier text made
    // it case 2 because the practice year precedes the engagement year). The 3 years count
    // from the engagement: first claim 2028-01-10.
    var request = Carbon_Esca_V1_FarmerCaseRequest()
    request.practiceStartDate = Esca.date(2024, 5, 1)
    request.engagementDate = Esca.date(2025, 1, 10)
    request.csrOption = .engagementYearAnalysis
    request.csrAnalysisDate = Esca.date(2025, 9, 1)
    let response = try call(request)
    #expect(response.farmerCase == .farmerCase3)
    #expect(response.firstClaimDate.year == 2028 && response.firstClaimDate.month == 1 && response.firstClaimDate.day == 10)
    #expect(response.retroactiveYearsAllowed.isEmpty)
    // The day after 30/06/2022 is "après"; 30/06/2022 itself is not.
    request.practiceStartDate = Esca.date(2022, 7, 1)
    request.engagementDate = Esca.date(2022, 7, 1)
    request.csrAnalysisDate = Esca.date(2022, 9, 1)
    #expect(try call(request).farmerCase == .farmerCase3)
    request.practiceStartDate = Esca.date(2022, 6, 30)
    #expect(try call(request).farmerCase == .farmerCase2)
  }

  /// Annex 1, case 2: "Une période minimale continue de 3 ans pour l'application de la
  /// pratique de gestion améliorée est requise avant la date d'engagement, pour que
  /// l'agriculteur ou l'opérateur économique puisse soumettre une déclaration."
  @Test func case2NeedsThreeYearsBeforeTheEngagementAndSaysWhenAClaimBecomesPossible() throws {
    // Practices 2021-03-01, engagement 2023-02-01: 3 years reached 2024-03-01, after the
    // engagement → not met; no claim before 2024-03-01.
    var request = Carbon_Esca_V1_FarmerCaseRequest()
    request.practiceStartDate = Esca.date(2021, 3, 1)
    request.engagementDate = Esca.date(2023, 2, 1)
    request.csrOption = .historicAnalysis
    request.csrAnalysisDate = Esca.date(2022, 4, 1)
    // The retroactive years are 2021–2023 (max(2024 − 3, 2021) … 2023).
    request.harvestDates = [Esca.date(2021, 2, 15), Esca.date(2021, 7, 15), Esca.date(2024, 2, 1), Esca.date(2024, 7, 15)]
    let response = try call(request)
    #expect(response.farmerCase == .farmerCase2)
    #expect(!response.case2ThreeYearsBeforeEngagement)
    #expect(response.firstClaimDate.year == 2024 && response.firstClaimDate.month == 3 && response.firstClaimDate.day == 1)
    #expect(response.trace.rules.contains { $0.rule == "esca.claim.case2_three_years_before_engagement" && $0.effect.contains("2024-03-01") })
    #expect(response.retroactiveYearsAllowed == [2021, 2022, 2023])
    // "A harvest before the practices started is never eligible", even in a retroactive year.
    #expect(response.harvests.map(\.claimAllowed) == [false, true, false, true])
    #expect(response.harvests[0].reasons.contains { $0.contains("before the improved practices started") })
    #expect(response.harvests[2].reasons.contains { $0.contains("before the first claim date 2024-03-01") })

    // Practices 2019-03-01: the 3 years (2022-03-01) precede the engagement: met, claim at once.
    request.practiceStartDate = Esca.date(2019, 3, 1)
    let met = try call(request)
    #expect(met.case2ThreeYearsBeforeEngagement)
    #expect(met.firstClaimDate.year == 2023 && met.firstClaimDate.month == 2)
  }

  /// The same sentence, "période minimale continue": when the records show a year without any
  /// improved practice between the start and the engagement, the 3 years count again from the
  /// 1 January after it. Practices from 2019-03-01, engagement 2023-02-01: continuous, met;
  /// with none in 2020, the run restarts 2021-01-01, the 3 years end 2024-01-01, after the
  /// engagement: not met, no claim before 2024-01-01.
  @Test func case2ThreeYearsMustBeContinuous() throws {
    func record(_ y: Int32, _ practices: [Carbon_Esca_V1_ImprovedPractice]) -> Carbon_Esca_V1_PracticeYear {
      var record = Carbon_Esca_V1_PracticeYear()
      record.year = y
      record.practices = practices
      return record
    }
    var request = Carbon_Esca_V1_FarmerCaseRequest()
    request.practiceStartDate = Esca.date(2019, 3, 1)
    request.engagementDate = Esca.date(2023, 2, 1)
    request.csrOption = .historicAnalysis
    request.csrAnalysisDate = Esca.date(2022, 4, 1)
    request.practiceYears = [
      record(2019, [.noTill]), record(2020, [.coverCrops]), record(2021, [.noTill]), record(2022, [.noTill]),
      record(2023, [.noTill]),
    ]
    let continuous = try call(request)
    #expect(continuous.case2ThreeYearsBeforeEngagement)
    #expect(continuous.firstClaimDate.year == 2023 && continuous.firstClaimDate.month == 2)
    #expect(continuous.trace.decisions.contains { $0.rule == "esca.claim.case2_continuity" && $0.choice == "RECORDED" })

    request.practiceYears[1].practices = []
    let broken = try call(request)
    #expect(broken.farmerCase == .farmerCase2)
    #expect(!broken.case2ThreeYearsBeforeEngagement)
    #expect(broken.firstClaimDate.year == 2024 && broken.firstClaimDate.month == 1 && broken.firstClaimDate.day == 1)
    #expect(broken.trace.rules.contains { $0.rule == "esca.claim.case2_continuity" && $0.effect.contains("2021-01-01") })

    // A year missing among recorded years is no proof of practice either.
    request.practiceYears.remove(at: 1)
    let missing = try call(request)
    #expect(missing.firstClaimDate.year == 2024 && missing.firstClaimDate.month == 1)
  }

  // MARK: 2. Caps: "le plafond prévaut"

  /// Pénalités 4: "Lorsque le résultat de l'analyse du sol dépasse les plafonds de l'ESCA (45 ou
  /// 25 gCO₂eq/MJ selon le cas), le plafond prévaut."
  @Test func measuredCapNeverExceeds45InTheBonus() throws {
    // r 1 t C/ha/yr, yield 3664 kg → 1 × 3.664e6 / 3664 = 1000 g/kg; × 0.08 kg/MJ = 80 g/MJ.
    // 70 % at cap 25 → 25; 30 % at the measured cap 60 → min(60, 45) = 45 → 45.
    // 0.7 × 25 + 0.3 × 45 = 17.5 + 13.5 = 31.0 (not 17.5 + 0.3 × 60 = 35.5).
    var request = BonusRequest()
    request.annualRateTCPerHaPerYr = 1
    request.yieldKgDryPerHaPerYr = 3664
    request.efPolicy = .none
    request.feedstockFactorKgDryPerMjFuel = 0.08
    var share25 = Carbon_Esca_V1_CapShare()
    share25.sharePercent = 70
    share25.cap = .capKind25
    var measured = Carbon_Esca_V1_CapShare()
    measured.sharePercent = 30
    measured.cap = .measuredIncrease
    measured.measuredCapGCo2EPerMj = 60
    request.capShares = [share25, measured]
    let response = try Esca.harness().call(Esca.service + "ComputeBonus", request, as: BonusResponse.self)
    #expect(abs(response.escaUncappedGCo2EPerMjFuel - 80) < 1e-9)
    #expect(abs(response.escaCappedGCo2EPerMjFuel - 31.0) < 1e-9)
    #expect(response.cappedShares[1].capGCo2EPerMj == 45)
    #expect(response.trace.rules.contains { $0.rule == "esca.cap.measured_at_most_45" })
    // A measured cap below 45 stays ("même si celui-ci est plus bas"): 0.7 × 25 + 0.3 × 30 = 26.5.
    request.capShares[1].measuredCapGCo2EPerMj = 30
    let lower = try Esca.harness().call(Esca.service + "ComputeBonus", request, as: BonusResponse.self)
    #expect(abs(lower.escaCappedGCo2EPerMjFuel - 26.5) < 1e-9)
  }

  @Test func calendarNeverShowsAMeasuredCapAbove45() throws {
    var request = case1
    request.realCsaDate = Esca.date(2027, 4, 10)
    request.measuredIncreaseCapGCo2EPerMj = 52
    let response = try call(request)
    #expect(response.calendar.allSatisfy { $0.capGCo2EPerMj <= 45 })
    #expect(try year(response, 2028).cap == .measuredIncrease)
    #expect(try year(response, 2028).capGCo2EPerMj == 45)
  }

  // MARK: 3. Case 1: real CSA deadline and the 30/06/2027 condition

  /// Annex 1, case 1: "bénéficient du plafonnement de l'ESCA à 45g … pendant 5 ans, c'est à dire
  /// jusqu'à la date du 1er CSA réel. Ce plafonnement pour un CSA se réalisant avant le
  /// 30.06.27." Annex 6: analyses "doivent impérativement être réalisées en 2027".
  @Test func case1RealCsaIsDueIn2027AndThe45CapNeedsItBeforeJune30() throws {
    var request = case1
    let response = try call(request)
    // Regional CSR dated at the 2023 engagement: due 31/12/2027 (Annex 6), not 31/12/2028.
    #expect(response.realCsaDeadline.year == 2027 && response.realCsaDeadline.month == 12 && response.realCsaDeadline.day == 31)
    #expect(response.trace.decisions.contains { $0.rule == "case1_real_csa_deadline" })
    #expect(response.realCsaDueYears == [2027])
    // 2028 without a real CSA: missing, no claim.
    #expect(try year(response, 2028).csaSource == .missing)
    #expect(try !year(response, 2028).claimAllowed)

    // No real CSA: harvest 2027-06-29 keeps 45; 2027-07-15 gets the configurable replacement.
    request.harvestDates = [Esca.date(2027, 6, 29), Esca.date(2027, 7, 15)]
    let late = try call(request)
    #expect(late.harvests.map(\.cap) == [.capKind45, .capKind25])
    #expect(late.harvests.map(\.claimAllowed) == [true, true])
    #expect(late.trace.decisions.contains { $0.rule == "case1_late_csa_cap" && $0.choice == "CAP_25" })
    request.case1LateCsaCap = .noClaim
    let strict = try call(request)
    #expect(strict.harvests.map(\.claimAllowed) == [true, false])
    #expect(strict.trace.decisions.contains { $0.rule == "case1_late_csa_cap" && $0.choice == "NO_CLAIM" })

    // Real CSA on 2027-09-01: in time for the 2027 deadline, too late for the 45 cap. A July
    // harvest gets 25; an October harvest (after the analysis) the measured cap 30; 2028 real.
    request.case1LateCsaCap = .unspecified
    request.realCsaDate = Esca.date(2027, 9, 1)
    request.measuredIncreaseCapGCo2EPerMj = 30
    request.harvestDates = [Esca.date(2027, 7, 15), Esca.date(2027, 10, 1), Esca.date(2028, 7, 15)]
    let september = try call(request)
    #expect(september.harvests.map(\.cap) == [.capKind25, .measuredIncrease, .measuredIncrease])
    #expect(september.harvests.map(\.csaSource) == [.modelled, .modelled, .real])
    #expect(september.harvests[2].capGCo2EPerMj == 30)

    // Real CSA on 2027-05-10: in time; harvests before it keep 45.
    request.realCsaDate = Esca.date(2027, 5, 10)
    request.harvestDates = [Esca.date(2027, 5, 1), Esca.date(2027, 7, 15)]
    let inTime = try call(request)
    #expect(inTime.harvests.map(\.cap) == [.capKind45, .measuredIncrease])
    #expect(inTime.trace.decisions.contains { $0.rule == "case1_late_csa_cap" } == false)
  }

  /// "Si la méthode du cylindre est utilisée, celle-ci devra être reconduite à l'échéance
  /// N+5" — "puis de nouveau aux années N+5, N+10, etc. (jusqu'au 31 décembre de ces années)".
  @Test func laterRealCsaAnalysesFollowTheFiveYearSchedule() throws {
    // Case 3: CSR 2024 → first real CSA due 2029; made 2029-10-01 → real from 2030; next due
    // 2034: without it 2035 has no valid CSA.
    var request = case3
    request.realCsaDate = Esca.date(2029, 10, 1)
    request.harvestDate = Esca.date(2035, 7, 1)
    let none = try call(request)
    #expect(none.realCsaDueYears == [2029, 2034])
    #expect(none.harvestCsaSource == .missing && !none.harvestClaimAllowed)
    // Made 2034-09-01: real again; due 2039.
    request.laterRealCsaDates = [Esca.date(2034, 9, 1)]
    let onTime = try call(request)
    #expect(onTime.harvestCsaSource == .real && onTime.harvestClaimAllowed)
    #expect(onTime.realCsaDueYears == [2029, 2034, 2039])
    // Made late, 2036-03-01: 2035 and 2036 harvests have none, 2037 real.
    request.laterRealCsaDates = [Esca.date(2036, 3, 1)]
    request.harvestDates = [Esca.date(2035, 7, 1), Esca.date(2036, 7, 1), Esca.date(2037, 7, 1)]
    let lateLater = try call(request)
    #expect(lateLater.harvests.map(\.csaSource) == [.missing, .missing, .real])
    // Out of order: a later analysis before the first real CSA.
    request.laterRealCsaDates = [Esca.date(2028, 3, 1)]
    let error = try #require(try Esca.error("AssessFarmerCase", request, as: Carbon_Esca_V1_FarmerCaseResponse.self))
    #expect(error.status == .invalidArgument && error.field == "later_real_csa_dates[0]")
  }

  /// "Les analyses de sol et les prélèvements doivent être réalisés … lors de l'année N0 (si
  /// nécessaire pour le calcul du CSR), puis de nouveau aux années N+5, N+10, etc. (jusqu'au 31
  /// décembre de ces années)": the due years are N0 + 5, N0 + 10…, not 5 years after the
  /// previous analysis.
  @Test func laterRealCsaAnalysesAreDueAtNPlus5AndNPlus10OfN0() throws {
    // Case 3, CSR 2024 (N0): due 2029 and 2034. A first analysis made early, 2027-10-01, meets
    // 2029; the next is due by 31/12/2034 (not 2032): 2032–2034 harvests use the real CSA.
    var request = case3
    request.realCsaDate = Esca.date(2027, 10, 1)
    request.harvestDates = [Esca.date(2032, 7, 1), Esca.date(2033, 7, 1), Esca.date(2034, 7, 1), Esca.date(2035, 7, 1)]
    let early = try call(request)
    #expect(early.realCsaDueYears == [2029, 2034])
    #expect(early.harvests.map(\.csaSource) == [.real, .real, .real, .missing])
    #expect(early.harvests.map(\.claimAllowed) == [true, true, true, false])
    #expect(early.trace.decisions.contains { $0.rule == "real_csa_schedule" })
    // A first analysis made late, 2030-03-01: 2030 has no CSA; the 2030 analysis stands for the
    // missed 2029 and the next is still due by 2034 (not 2035).
    request.realCsaDate = Esca.date(2030, 3, 1)
    request.harvestDates = [Esca.date(2030, 7, 1), Esca.date(2031, 7, 1), Esca.date(2034, 7, 1), Esca.date(2035, 7, 1)]
    let late = try call(request)
    #expect(late.realCsaDueYears == [2029, 2034])
    #expect(late.harvests.map(\.csaSource) == [.missing, .real, .real, .missing])
  }

  // MARK: 5. At least one practice every year

  /// "L'agriculteur doit s'engager à appliquer annuellement au minimum une des pratiques de
  /// meilleure gestion agricole" — Pénalités 1: "Les valeurs ESCA de l'exploitation pour
  /// l'année en cours sont ajoutées en tant qu'émissions … Il est interdit à l'agriculteur
  /// d'inclure une valeur ESCA … pour les cinq années suivantes."
  @Test func aYearWithoutAnImprovedPracticeIsAWithdrawal() throws {
    var request = case3
    func year(_ y: Int32, _ practices: [Carbon_Esca_V1_ImprovedPractice]) -> Carbon_Esca_V1_PracticeYear {
      var record = Carbon_Esca_V1_PracticeYear()
      record.year = y
      record.practices = practices
      return record
    }
    request.practiceYears = [year(2024, [.noTill]), year(2025, [.coverCrops, .noTill]), year(2026, [.residueReturn]),
                             year(2027, [.threeYearRotation]), year(2028, [])]
    let response = try call(request)
    #expect(response.practiceChecks.map(\.compliant) == [true, true, true, true, false])
    #expect(response.practiceChecks[1].practiceCount == 2)
    #expect(response.withdrawalYear == 2028)
    #expect(response.barredYears == [2029, 2030, 2031, 2032, 2033])
    #expect(response.trace.rules.contains { $0.rule == "esca.engagement.practice_every_year" })
    // 2027 (first claim 2027-03-01) may be claimed; 2028 onwards not.
    #expect(try self.year(response, 2027).claimAllowed)
    #expect(response.calendar.filter { $0.year >= 2028 }.allSatisfy { !$0.claimAllowed })
    // A missing year is no proof: 2026 missing → withdrawal in 2026.
    request.practiceYears = [year(2024, [.noTill]), year(2025, [.noTill]), year(2027, [.noTill])]
    let missing = try call(request)
    #expect(missing.withdrawalYear == 2026)
    #expect(missing.practiceChecks[2].message.contains("no practice record"))
    // An unknown practice is named.
    request.practiceYears = [year(2024, [.unspecified])]
    let error = try #require(try Esca.error("AssessFarmerCase", request, as: Carbon_Esca_V1_FarmerCaseResponse.self))
    #expect(error.status == .invalidArgument && error.field == "practice_years[0].practices[0]")
  }

  // MARK: 7. Real harvest dates

  /// "Toute graine récoltée jusqu'au 29 décembre 2023 inclus, peut suivre la méthodologie … en
  /// vigueur à la date de récolte"; the case-1 45 cap holds until the real CSA made before
  /// 30/06/2027: the calendar applies both at the farm's real harvest date.
  @Test func calendarUsesTheFarmsRealHarvestDates() throws {
    var request = case1
    let plain = try call(request)
    // Without a harvest date, 2027 is assessed at 31/12: 25 (no real CSA before 30/06/2027).
    #expect(try year(plain, 2027).cap == .capKind25)
    #expect(try year(plain, 2027).assessedAt.month == 12)
    request.harvestDates = [Esca.date(2023, 12, 30), Esca.date(2027, 6, 20)]
    let dated = try call(request)
    #expect(try year(dated, 2027).cap == .capKind45)
    #expect(try year(dated, 2027).assessedAt.month == 6)
    #expect(try year(dated, 2023).cap == .capKind45)  // 30/12/2023: new rules
    #expect(try year(plain, 2023).cap == .noneTransition)  // 29/12/2023 by default
  }
}
