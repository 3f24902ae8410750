import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing
@testable import ESCAModule

@Suite(.cpuBound) struct FarmerCaseTests {
  func call(_ request: Carbon_Esca_V1_FarmerCaseRequest) throws -> Carbon_Esca_V1_FarmerCaseResponse {
    try Esca.harness().call(Esca.service + "AssessFarmerCase", request, as: Carbon_Esca_V1_FarmerCaseResponse.self)
  }

  /// Case 3: practices and engagement on 2024-03-01, CSR analysed in October 2024.
  var case3: Carbon_Esca_V1_FarmerCaseRequest {
    var request = Carbon_Esca_V1_FarmerCaseRequest()
    request.practiceStartDate = Esca.date(2024, 3, 1)
    request.engagementDate = Esca.date(2024, 3, 1)
    request.csrOption = .engagementYearAnalysis
    request.csrAnalysisDate = Esca.date(2024, 10, 15)
    return request
  }

  /// Case 1 on the regional table (Picardie ∩ Nord-Pas-de-Calais = [42, 86]).
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

  @Test func caseDetermination() throws {
    #expect(try call(case3).farmerCase == .farmerCase3)
    #expect(try call(case1).farmerCase == .farmerCase1)
    // A claim on 2022-06-30 itself is not "before 30/06/2022".
    var late = case1
    late.firstOldClaimDate = Esca.date(2022, 6, 30)
    late.csrOption = .historicAnalysis
    late.csrAnalysisDate = Esca.date(2021, 4, 1)
    late.csrProtocolCompliant = false
    let response = try call(late)
    #expect(response.farmerCase == .farmerCase2)
    #expect(response.trace.warnings.contains { $0.contains("2022-06-30") })
  }

  @Test func case3Calendar() throws {
    // Engagement 2024 → first claim 2027-03-01; CSR 2024 → real CSA by 31/12/2029; from 2030 the
    // CSA is missing (no real analysis): no claim.
    var request = case3
    request.harvestDate = Esca.date(2030, 7, 1)
    let response = try call(request)
    #expect(response.firstClaimDate.year == 2027 && response.firstClaimDate.month == 3)
    #expect(response.realCsaDeadline.year == 2029 && response.realCsaDeadline.month == 12 && response.realCsaDeadline.day == 31)
    #expect(response.harvestCsaSource == .missing)
    #expect(!response.harvestClaimAllowed)
    #expect(response.calendar.map(\.year) == Array(2024...2033))
    #expect(response.calendar.map(\.claimAllowed) == [false, false, false, true, true, true, false, false, false, false])
    #expect(response.calendar.allSatisfy { $0.cap == .capKind25 })
  }

  @Test func case1CapTimeline() throws {
    // Transition: harvest 2023-12-29 exempt, 2023-12-30 capped at 45.
    var request = case1
    request.harvestDate = Esca.date(2023, 12, 29)
    #expect(try call(request).harvestCap == .noneTransition)
    request.harvestDate = Esca.date(2023, 12, 30)
    #expect(try call(request).harvestCap == .capKind45)
    // No real CSA before 2027-06-30: from that date the 45 cap no longer holds (decision: 25).
    request.harvestDate = Esca.date(2027, 6, 29)
    #expect(try call(request).harvestCap == .capKind45)
    request.harvestDate = Esca.date(2027, 7, 15)
    let late = try call(request)
    #expect(late.harvestCap == .capKind25)
    // Real CSA on 2027-05-10: 45 until that date ("jusqu'à la date du 1er CSA réel"), then
    // the measured cap, while the modelled CSA still serves for 2027 harvests.
    request.realCsaDate = Esca.date(2027, 5, 10)
    request.measuredIncreaseCapGCo2EPerMj = 28
    request.harvestDate = Esca.date(2027, 5, 1)
    #expect(try call(request).harvestCap == .capKind45)
    request.harvestDate = Esca.date(2027, 7, 15)
    let afterAnalysis = try call(request)
    #expect(afterAnalysis.harvestCap == .measuredIncrease && afterAnalysis.harvestCapGCo2EPerMj == 28)
    #expect(afterAnalysis.harvestCsaSource == .modelled)
    request.harvestDate = Esca.date(2028, 7, 15)
    let measured = try call(request)
    #expect(measured.harvestCap == .measuredIncrease && measured.harvestCapGCo2EPerMj == 28)
    #expect(measured.harvestCsaSource == .real)
  }

  /// Annex 1, case 1: "l'augmentation du stock de carbone mesurée la cinquième année (CSA réel)
  /// deviendra un plafond … même si celui-ci est plus bas": a cap of 0 is a real cap, so an
  /// unknown one is left unset instead of shown as 0 (which ComputeBonus would apply).
  @Test func anUnknownMeasuredIncreaseCapIsUnsetNotZero() throws {
    var request = case1
    request.realCsaDate = Esca.date(2027, 5, 10)
    request.harvestDate = Esca.date(2028, 7, 15)
    request.harvestDates = [Esca.date(2028, 7, 15)]
    let unknown = try call(request)
    #expect(unknown.harvestCap == .measuredIncrease && !unknown.hasHarvestCapGCo2EPerMj)
    #expect(!unknown.harvests[0].hasCapGCo2EPerMj)
    #expect(unknown.calendar.first { $0.year == 2028 }?.hasCapGCo2EPerMj == false)
    #expect(unknown.trace.rules.contains { $0.effect.contains("value unknown (not 0)") })
    // Given as 0: shown as 0.
    request.measuredIncreaseCapGCo2EPerMj = 0
    let zero = try call(request)
    #expect(zero.hasHarvestCapGCo2EPerMj && zero.harvestCapGCo2EPerMj == 0)
    #expect(zero.harvests[0].hasCapGCo2EPerMj && zero.harvests[0].capGCo2EPerMj == 0)
    // A transition harvest has no cap value either; the 45 cap has one.
    request.harvestDate = Esca.date(2023, 12, 29)
    #expect(try !call(request).hasHarvestCapGCo2EPerMj)
    request.harvestDate = Esca.date(2023, 12, 30)
    #expect(try call(request).harvestCapGCo2EPerMj == 45)
  }

  @Test func case2BiocharAndHistoricCsr() throws {
    var request = Carbon_Esca_V1_FarmerCaseRequest()
    request.practiceStartDate = Esca.date(2019, 1, 1)
    request.engagementDate = Esca.date(2025, 2, 1)
    request.csrOption = .historicAnalysis
    request.csrAnalysisDate = Esca.date(2024, 3, 1)  // from 2024: protocol required
    request.biocharEveryYear = true
    var error = try #require(try Esca.error("AssessFarmerCase", request, as: Carbon_Esca_V1_FarmerCaseResponse.self))
    #expect(error.status == .failedPrecondition && error.field == "esca.csr.case2_protocol")
    request.csrProtocolCompliant = true
    let response = try call(request)
    #expect(response.farmerCase == .farmerCase2)
    #expect(response.csrYear == 2024)
    #expect(response.realCsaDeadline.year == 2029)
    // Retroactive years up to 2023 are in the transition (no cap); from 2024 biochar gives 45.
    #expect(response.calendar.filter { $0.year >= 2024 }.allSatisfy { $0.cap == .capKind45 })
    #expect(response.calendar.filter { $0.year <= 2023 }.allSatisfy { $0.cap == .noneTransition })
    // Retroactive window: 2022–2024 (3 years before the first claim in 2025).
    #expect(response.retroactiveYearsAllowed == [2022, 2023, 2024])
    // A CSR analysis 4 years before the engagement year is outside the 1–3 year window.
    request.csrAnalysisDate = Esca.date(2021, 3, 1)
    error = try #require(try Esca.error("AssessFarmerCase", request, as: Carbon_Esca_V1_FarmerCaseResponse.self))
    #expect(error.field == "esca.csr.case2_window")
  }

  @Test func case2NeedsThreeYearsOfPractice() throws {
    // Practices from 2022-05-01 (case 2), engagement 2025-01-10: the 3 years are reached on
    // 2025-05-01, after the engagement: first claim 2025-05-01.
    var request = Carbon_Esca_V1_FarmerCaseRequest()
    request.practiceStartDate = Esca.date(2022, 5, 1)
    request.engagementDate = Esca.date(2025, 1, 10)
    request.csrOption = .engagementYearAnalysis
    request.csrAnalysisDate = Esca.date(2025, 9, 1)
    let response = try call(request)
    #expect(response.farmerCase == .farmerCase2)
    #expect(!response.case2ThreeYearsBeforeEngagement)
    #expect(response.firstClaimDate.year == 2025 && response.firstClaimDate.month == 5)
  }

  @Test func csrOptionMustFitTheCase() throws {
    var request = case3
    request.csrOption = .regionalTable
    request.regions = ["22"]
    request.csrTCPerHa = 40
    let error = try #require(try Esca.error("AssessFarmerCase", request, as: Carbon_Esca_V1_FarmerCaseResponse.self))
    #expect(error.status == .failedPrecondition && error.field == "esca.csr.option_for_case")
  }

  @Test func impossibleDatesAreRejected() throws {
    var request = case3
    request.engagementDate = Esca.date(2024, 2, 30)
    let error = try #require(try Esca.error("AssessFarmerCase", request, as: Carbon_Esca_V1_FarmerCaseResponse.self))
    #expect(error.status == .invalidArgument && error.field == "engagement_date.day")
  }

  @Test func regionalIntersection() throws {
    // Corse [27, 43] ∩ Limousin [41, 81] = [41, 43].
    var request = Carbon_Esca_V1_RegionalCsrRequest()
    request.regions = ["94", "74"]
    request.csrTCPerHa = 44
    let response = try Esca.harness().call(Esca.service + "GetRegionalCsrInterval", request, as: Carbon_Esca_V1_RegionalCsrResponse.self)
    #expect(response.minimumTCPerHa == 41 && response.maximumTCPerHa == 43)
    #expect(!response.csrInInterval)
    // A current region code that is not a former region (Hauts-de-France 32) is unknown here.
    request.regions = ["32"]
    let error = try #require(try Esca.error("GetRegionalCsrInterval", request, as: Carbon_Esca_V1_RegionalCsrResponse.self))
    #expect(error.status == .invalidArgument && error.field == "regions[0]")
  }

  @Test func annex3CoversTheTwentyTwoMainlandFormerRegions() throws {
    let reference = try ReferenceData.load()
    #expect(reference.regional.count == 22)
    for code in reference.regional.keys { #expect(FrenchTerritories.formerRegion(code: code) != nil, "\(code)") }
    #expect(reference.regional["43"]?.maximum == 137)  // Franche-Comté
  }
}

@Suite(.cpuBound) struct PenaltyTests {
  func call(_ request: Carbon_Esca_V1_PenaltyRequest) throws -> Carbon_Esca_V1_PenaltyResponse {
    try Esca.harness().call(Esca.service + "ComputePenalties", request, as: Carbon_Esca_V1_PenaltyResponse.self)
  }

  func comparison(_ values: [Double], uncertainty: Double, modelled: Double) -> Carbon_Esca_V1_PenaltyRequest {
    var c = Carbon_Esca_V1_RealCsaComparison()
    c.csrTCPerHa = 40
    c.csaModelledTCPerHa = modelled
    c.yearsSinceCsr = 5
    c.analysisYear = 2029
    c.yieldKgDryPerHaPerYr = 3664  // so that 1 t C/ha = 1000 g CO2e/kg
    c.analyses = values.map { value in
      var v = Carbon_Esca_V1_StockValue()
      v.stockTCPerHa = value
      v.uncertaintyPercent = uncertainty
      return v
    }
    var request = Carbon_Esca_V1_PenaltyRequest()
    request.realCsa = c
    return request
  }

  @Test func withdrawalBarsFiveYears() throws {
    var request = Carbon_Esca_V1_PenaltyRequest()
    var w = Carbon_Esca_V1_Withdrawal()
    w.year = 2027
    w.currentYearEscaGCo2EPerMj = 12.5
    request.withdrawal = w
    let response = try call(request)
    #expect(response.penalised && response.emissionAddedGCo2EPerMj == 12.5)
    #expect(response.barredYears == [2028, 2029, 2030, 2031, 2032])
  }

  @Test func tenantAfterTenYearsIsNotPenalised() throws {
    var request = Carbon_Esca_V1_PenaltyRequest()
    var exit = Carbon_Esca_V1_TenantExit()
    exit.year = 2034
    exit.csrYear = 2024
    exit.currentYearEscaGCo2EPerMj = 20
    request.tenantExit = exit
    #expect(try !call(request).penalised)
    exit.year = 2033
    request.tenantExit = exit
    #expect(try call(request).penalised)
    exit.year = 2020
    request.tenantExit = exit
    let error = try #require(try Esca.error("ComputePenalties", request, as: Carbon_Esca_V1_PenaltyResponse.self))
    #expect(error.status == .invalidArgument && error.field == "tenant_exit.year")
  }

  /// Seed, Pénalités 2: "la différence annuelle (entre le CSA modélisé et le CSA réel) doit
  /// être totalement déduite lors de la prochaine revendication ESCA" — "Dans le cas où une
  /// revendication esca est effectuée chaque année, cela correspond à l'année suivant l'année
  /// d'analyse de sol".
  @Test func deficitIsTheAnnualDifferenceDeductedOnceAtTheNextClaim() throws {
    // Analyses 40, 41, 42 ± 0 → median 41, interval [41, 41]; modelled 43: difference −2 t C/ha
    // over 5 years, annual −0.4 t C/ha/yr → 0.4 × 3.664e6 / 3664 = 400 g/kg deducted once in
    // 2030. The stricter reading, × 3 claimed years: 1.2 t C/ha → 1200 g/kg. Both are shown.
    var request = comparison([40, 41, 42], uncertainty: 0, modelled: 43)
    request.realCsa.claimedYears = 3
    let response = try call(request)
    #expect(response.outcome == .realBelowModelled)
    #expect(abs(response.differenceTCPerHa + 2) < 1e-12)
    #expect(response.deficitDeduction == .annualDifferenceOnce)
    #expect(response.adjustments.count == 1)
    #expect(response.adjustments[0].year == 2030)
    #expect(abs(response.adjustments[0].gCo2EPerKgDry + 400) < 1e-9)
    #expect(abs(response.deductionAnnualOnceGCo2EPerKgDry + 400) < 1e-9)
    #expect(abs(response.deductionPerClaimedYearGCo2EPerKgDry + 1200) < 1e-9)
    #expect(response.trace.decisions.contains { $0.rule == "deficit_deduction" && $0.choice == "ANNUAL_DIFFERENCE_ONCE" })

    request.realCsa.deficitDeduction = .perClaimedYear
    let strict = try call(request)
    #expect(strict.deficitDeduction == .perClaimedYear)
    #expect(abs(strict.adjustments[0].gCo2EPerKgDry + 1200) < 1e-9)
    #expect(strict.trace.decisions.contains { $0.rule == "deficit_deduction" && $0.choice == "PER_CLAIMED_YEAR" })
  }

  /// Pénalités 3: "la différence entre le CSA réel et le CSA modélisé est ajoutée dans les
  /// bonus ESCA des cinq années suivantes" — a per-hectare difference, given per ha too.
  @Test func surplusIsSpreadOverFiveYears() throws {
    // Median 41 vs modelled 40.5 (interval [41, 41]): +0.5 t C/ha → 500 g/kg / 5 = 100 per year,
    // 0.5 / 5 = 0.1 t C/ha per year.
    let response = try call(comparison([40, 41, 42], uncertainty: 0, modelled: 40.5))
    #expect(response.outcome == .realAboveModelled)
    #expect(response.adjustments.map(\.year) == [2030, 2031, 2032, 2033, 2034])
    #expect(response.adjustments.allSatisfy { abs($0.gCo2EPerKgDry - 100) < 1e-9 })
    #expect(response.adjustments.allSatisfy { abs($0.tCPerHa - 0.1) < 1e-12 })
    // The deficit per ha: annual −0.4 t C/ha once (−400 g/kg), or × 3 claimed years −1.2.
    var deficit = comparison([40, 41, 42], uncertainty: 0, modelled: 43)
    deficit.realCsa.claimedYears = 3
    #expect(abs(try call(deficit).adjustments[0].tCPerHa + 0.4) < 1e-12)
    deficit.realCsa.deficitDeduction = .perClaimedYear
    #expect(abs(try call(deficit).adjustments[0].tCPerHa + 1.2) < 1e-12)
  }

  /// "never a silent default": without the CSR or the modelled CSA the comparison has no basis.
  /// Read as 0 t C/ha, a missing modelled CSA made the whole measured 41 a surplus
  /// (41 × 3.664e6 / 3664 / 5 = 8 200 g/kg a year).
  @Test func aMissingCsrOrModelledCsaIsRefused() throws {
    var request = comparison([40, 41, 42], uncertainty: 0, modelled: 40.5)
    request.realCsa.clearCsaModelledTCPerHa()
    var error = try #require(try Esca.error("ComputePenalties", request, as: Carbon_Esca_V1_PenaltyResponse.self))
    #expect(error.status == .invalidArgument && error.field == "real_csa.csa_modelled_t_c_per_ha")
    request = comparison([40, 41, 42], uncertainty: 0, modelled: 40.5)
    request.realCsa.clearCsrTCPerHa()
    error = try #require(try Esca.error("ComputePenalties", request, as: Carbon_Esca_V1_PenaltyResponse.self))
    #expect(error.status == .invalidArgument && error.field == "real_csa.csr_t_c_per_ha")
    // An explicit 0 is a value: CSR 0 → (41 − 0) / 5 is not refused.
    request.realCsa.csrTCPerHa = 0
    #expect(try call(request).outcome == .realAboveModelled)
  }

  @Test func nearestBoundBasis() throws {
    // 40, 41, 42 ± 10 %: interval [36.9, 45.1]; modelled 46 → nearest bound 45.1: −0.9 t C/ha.
    var request = comparison([40, 41, 42], uncertainty: 10, modelled: 46)
    request.realCsa.basis = .nearestBound
    let response = try call(request)
    #expect(abs(response.csaComparedTCPerHa - 45.1) < 1e-9)
    #expect(abs(response.differenceTCPerHa + 0.9) < 1e-9)
    // Inside the interval: equivalent.
    #expect(try call(comparison([40, 41, 42], uncertainty: 10, modelled: 44)).outcome == .equivalent)
  }
}

@Suite(.cpuBound) struct GroupAuditTests {
  func call(_ request: Carbon_Esca_V1_GroupAuditRequest) throws -> Carbon_Esca_V1_GroupAuditResponse {
    try Esca.harness().call(Esca.service + "SampleGroupAudit", request, as: Carbon_Esca_V1_GroupAuditResponse.self)
  }

  @Test func sampleSizes() throws {
    // N = 49 → 7, risk ceil(5.25) = 6, random 1; N = 1 → 1, 1, 0; N = 50 → 8, 6, 2; N = 10 000 → 100, 75, 25.
    for (n, size, risk, random) in [(49, 7, 6, 1), (1, 1, 1, 0), (50, 8, 6, 2), (10_000, 100, 75, 25)] {
      var request = Carbon_Esca_V1_GroupAuditRequest()
      request.farmerCount = Int32(n)
      let response = try call(request)
      #expect(response.sampleSize == Int32(size) && response.riskBasedCount == Int32(risk) && response.randomCount == Int32(random), "N = \(n)")
    }
    var empty = Carbon_Esca_V1_GroupAuditRequest()
    empty.farmerCount = 0
    let error = try #require(try Esca.error("SampleGroupAudit", empty, as: Carbon_Esca_V1_GroupAuditResponse.self))
    #expect(error.field == "farmer_count")
  }

  @Test func selectionIsReproducibleAndDisjoint() throws {
    var request = Carbon_Esca_V1_GroupAuditRequest()
    request.randomSeed = 7
    request.farmers = (0..<30).map { index in
      var farmer = Carbon_Esca_V1_AuditFarmer()
      farmer.id = "farmer-\(index)"
      farmer.riskScore = Double(index)
      return farmer
    }
    let first = try call(request)
    let second = try call(request)
    #expect(first.randomIds == second.randomIds)
    #expect(first.riskBasedIds == ["farmer-29", "farmer-28", "farmer-27", "farmer-26", "farmer-25"])  // ceil(0.75 × 6) = 5
    #expect(first.randomIds.count == 1)
    #expect(Set(first.randomIds).isDisjoint(with: first.riskBasedIds))
  }
}
