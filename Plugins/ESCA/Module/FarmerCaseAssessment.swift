import CarbonDomain
import CarbonPluginKit

typealias FarmerCase = Carbon_Esca_V1_FarmerCase
typealias CapKind = Carbon_Esca_V1_CapKind
typealias CsaSource = Carbon_Esca_V1_CsaSource

/// Farmer case (1, 2, 3), engagement calendar, CSR options and deadlines, which CSA applies to
/// a harvest, and the cap by case and date (guidelines: decision tree, cases 1–3, Annex 1,
/// transition period, Annex 3).
struct FarmerCaseAssessment {
  let reference: ReferenceData

  /// The facts every per-year rule needs.
  private struct Timeline {
    var farmerCase: FarmerCase
    var engagement: SimpleDate
    var practiceStart: SimpleDate
    var firstClaim: SimpleDate
    var csrYear: Int
    /// Year whose 31 December ends the modelled period (the real CSA deadline year).
    var deadlineYear: Int
    var realCsa: SimpleDate?
    var biochar: Bool
    var measuredCap: Double?
    var retroactiveAllowed: [Int]
  }

  func assess(_ request: Carbon_Esca_V1_FarmerCaseRequest) throws(ModuleError) -> Carbon_Esca_V1_FarmerCaseResponse {
    var trace = Tracer()
    var response = Carbon_Esca_V1_FarmerCaseResponse()
    let engagement = try SimpleDate(request.hasEngagementDate ? request.engagementDate : nil, field: "engagement_date")
    let practiceStart = try SimpleDate(request.hasPracticeStartDate ? request.practiceStartDate : nil, field: "practice_start_date")
    guard practiceStart <= engagement || practiceStart.year == engagement.year else {
      throw .invalidArgument(
        "practice_start_date", "dates out of order: practices start (\(practiceStart)) after the engagement year (\(engagement)); in case 3 the engagement date is the practice start")
    }

    // Case (decision tree).
    let farmerCase: FarmerCase
    if request.hasFirstOldClaimDate {
      let claim = try SimpleDate(request.firstOldClaimDate, field: "first_old_claim_date")
      guard practiceStart <= claim else {
        throw .invalidArgument("first_old_claim_date", "dates out of order: a claim (\(claim)) before the practices started (\(practiceStart))")
      }
      guard claim <= engagement else {
        throw .invalidArgument("first_old_claim_date", "dates out of order: the old claim (\(claim)) is after the engagement (\(engagement))")
      }
      if claim < EscaRules.grandfatherDate {
        farmerCase = .farmerCase1
      } else {
        trace.warning("the first claim (\(claim)) is not before 2022-06-30: it does not make case 1")
        farmerCase = practiceStart.year < engagement.year || practiceStart < EscaRules.grandfatherDate ? .farmerCase2 : .farmerCase3
      }
    } else {
      farmerCase = practiceStart.year < engagement.year || practiceStart < EscaRules.grandfatherDate ? .farmerCase2 : .farmerCase3
    }
    response.farmerCase = farmerCase
    trace.rule("esca.case", caseReason(farmerCase))
    if farmerCase == .farmerCase3 {
      trace.decision("case3_practice_start", "practices starting in the engagement year",
                     reason: "case 3: the engagement date is the practice start; practices started in an earlier year make case 2")
    }
    let e = engagement.year
    response.engagementYear = Int32(e)
    response.firstPeriodEndYear = Int32(e + EscaRules.engagementPeriodYears - 1)
    response.engagementEndYear = Int32(e + EscaRules.engagementMinimumYears - 1)
    trace.term("engagement_year", Double(e), .year, source: "engagement_date")
    trace.term("engagement_end_year", Double(e + EscaRules.engagementMinimumYears - 1), .year, formula: "5 years renewed at least once = 10 years")

    // First claim.
    let firstClaim: SimpleDate
    switch farmerCase {
    case .farmerCase1:
      firstClaim = engagement
      trace.rule("esca.claim.case1", "case 1: claims without waiting period from the engagement")
    case .farmerCase2:
      let threeYears = practiceStart.addingYears(EscaRules.yearsOfPracticeBeforeClaim)
      firstClaim = max(engagement, threeYears)
      if threeYears > engagement {
        trace.rule("esca.claim.case2_three_years", "case 2: 3 continuous years of practice are required before claiming; first claim from \(threeYears)")
      }
    default:
      firstClaim = engagement.addingYears(EscaRules.yearsOfPracticeBeforeClaim)
      trace.rule("esca.claim.case3_three_years", "case 3: 3 years of practice from the engagement before the first claim")
    }
    response.firstClaimDate = firstClaim.calendarDate

    // Retroactive claims (case 2).
    var retroactive: [Int] = []
    if farmerCase == .farmerCase2 {
      let lowest = max(firstClaim.year - EscaRules.retroactiveYears, practiceStart.year)
      if lowest <= firstClaim.year - 1 { retroactive = Array(lowest...(firstClaim.year - 1)) }
      response.retroactiveYearsAllowed = retroactive.map { Int32($0) }
      response.retroactiveValuationYears = (e..<(e + EscaRules.retroactiveValuationYears)).map { Int32($0) }
      trace.decision("retroactive_valuation", "engagement year … engagement year + 9",
                     reason: "retroactive ESCA is 'répartis sur une période de 10 ans suivant la date d'engagement': the 10 years of the engagement, 1/10 per year")
    }
    for (index, year) in request.retroactiveClaimYears.enumerated() {
      let path = "retroactive_claim_years[\(index)]"
      try Check.inRange(Int(year), SimpleDate.validYears, path)
      guard farmerCase == .farmerCase2 else {
        throw .failedPrecondition(rule: "esca.retroactive.case2_only", "\(path): retroactive annual claims exist only in case 2")
      }
      guard retroactive.contains(Int(year)) else {
        throw .failedPrecondition(
          rule: "esca.retroactive.window",
          "\(path): \(year) is outside the retroactive window (at most 3 years before the first claim, with practices in place): \(retroactive.map(String.init).joined(separator: ", "))")
      }
    }

    // CSR.
    let csrYear = try csr(request, farmerCase: farmerCase, engagement: engagement, practiceStart: practiceStart,
                          response: &response, trace: &trace)
    response.csrYear = Int32(csrYear)
    trace.term("csr_year", Double(csrYear), .year)

    // CSA deadline: 31 Dec of the CSR year + 5; case 1 counts from the engagement at the earliest.
    var modelStartYear = csrYear
    if farmerCase == .farmerCase1 && csrYear < e {
      modelStartYear = e
      trace.decision("case1_model_start", "engagement year",
                     reason: "a case-1 CSR measured before the engagement cannot make the real CSA overdue before the new rules applied: the 5 modelled years count from the engagement year (the 45 cap still needs a real CSA before 2027-06-30)")
    }
    let deadlineYear = modelStartYear + EscaRules.realCsaYearsAfterCsr
    response.realCsaDeadline = SimpleDate.endOfYear(deadlineYear).calendarDate
    trace.term("real_csa_deadline_year", Double(deadlineYear), .year, formula: "CSR year + 5 (31 December)")

    var realCsa: SimpleDate? = nil
    if request.hasRealCsaDate {
      let real = try SimpleDate(request.realCsaDate, field: "real_csa_date")
      guard real.year >= csrYear else {
        throw .invalidArgument("real_csa_date", "dates out of order: the real CSA (\(real)) precedes the CSR year \(csrYear)")
      }
      realCsa = real
      response.realCsaAppliesFrom = SimpleDate.startOfYear(real.year + 1).calendarDate
      if real.year > deadlineYear {
        trace.rule("esca.csa.real_deadline", "the real CSA (\(real)) is after its deadline 31/12/\(deadlineYear): non-compliance, no claim for harvests from \(deadlineYear + 1) until it applies")
      }
    } else {
      response.realCsaAppliesFrom = SimpleDate.startOfYear(deadlineYear + 1).calendarDate
    }
    trace.decision("real_csa_applies", "from 1 January after the analysis year",
                   reason: "the modelled CSA is used for harvests up to 31 December of the real analysis year (seed example: analysis in October 2026 → modelled for 2026 harvests, real from 2027-01-01)")

    var measuredCap: Double? = nil
    if request.hasMeasuredIncreaseCapGCo2EPerMj {
      measuredCap = try Check.nonNegative(request.measuredIncreaseCapGCo2EPerMj, "measured_increase_cap_g_co2e_per_mj")
    }
    if request.biocharEveryYear && farmerCase != .farmerCase1 {
      trace.rule("esca.cap.biochar", "biochar applied every year: the cap is raised to 45 g CO2e/MJ for the whole period (STD-01 2.4.5)")
    }
    let timeline = Timeline(
      farmerCase: farmerCase, engagement: engagement, practiceStart: practiceStart, firstClaim: firstClaim,
      csrYear: csrYear, deadlineYear: deadlineYear, realCsa: realCsa, biochar: request.biocharEveryYear,
      measuredCap: measuredCap, retroactiveAllowed: retroactive)

    // The harvest asked about.
    if request.hasHarvestDate {
      let harvest = try SimpleDate(request.harvestDate, field: "harvest_date")
      let source = csaSource(harvest.year, timeline)
      let (cap, capValue, note) = capFor(harvest, source: source, timeline)
      response.harvestCsaSource = source
      response.harvestCap = cap
      response.harvestCapGCo2EPerMj = capValue
      response.harvestClaimAllowed = claimAllowed(harvest, source: source, timeline)
      trace.rule("esca.harvest", "harvest \(harvest): CSA \(Self.label(source)), cap \(Self.label(cap))\(capValue > 0 ? " = \(capValue) g CO2e/MJ" : "")\(note.isEmpty ? "" : " — " + note), claim \(response.harvestClaimAllowed ? "allowed" : "not allowed")")
    }

    // Calendar: retroactive years, then the 10 years of the engagement.
    let firstYear = min(retroactive.first ?? e, e)
    for year in firstYear...(e + EscaRules.engagementMinimumYears - 1) {
      var entry = Carbon_Esca_V1_CalendarYear()
      entry.year = Int32(year)
      // The cap most of the year's harvests get: 2023 harvests up to 29/12 are in the transition.
      let representative = year <= EscaRules.lastTransitionHarvest.year
        ? SimpleDate(year: year, month: 12, day: 29) : SimpleDate.endOfYear(year)
      let source = csaSource(year, timeline)
      let (cap, capValue, note) = capFor(representative, source: source, timeline)
      entry.csaSource = source
      entry.cap = cap
      entry.capGCo2EPerMj = capValue
      entry.claimAllowed = claimAllowed(representative, source: source, timeline)
      var notes: [String] = []
      if !note.isEmpty { notes.append(note) }
      if year == e { notes.append("engagement signed \(engagement)") }
      if year == e + EscaRules.engagementPeriodYears - 1 { notes.append("end of the first 5-year period (renewal mandatory)") }
      if year == csrYear { notes.append("CSR") }
      if year == deadlineYear { notes.append("real CSA due by 31/12/\(deadlineYear)") }
      if let realCsa, year == realCsa.year { notes.append("real CSA analysis \(realCsa); applies from 1/1/\(year + 1)") }
      if year == firstClaim.year { notes.append("first claim from \(firstClaim)") }
      if retroactive.contains(year) { notes.append("retroactive annual claim possible (case 2), valued over the 10 years of the engagement") }
      if year == 2023 { notes.append("harvests up to 29/12/2023 follow the transition (no cap); 30–31/12/2023 follow the new rules") }
      if farmerCase == .farmerCase1 && year == EscaRules.case1FirstRealCsaBefore.year && cap == .capKind25 {
        notes.append("harvests before 30/06/2027 keep the 45 cap")
      }
      entry.notes = notes
      response.calendar.append(entry)
    }
    response.trace = trace.build()
    return response
  }

  /// Checks the CSR option, dates and value; returns the CSR year.
  private func csr(
    _ request: Carbon_Esca_V1_FarmerCaseRequest, farmerCase: FarmerCase, engagement: SimpleDate,
    practiceStart: SimpleDate, response: inout Carbon_Esca_V1_FarmerCaseResponse, trace: inout Tracer
  ) throws(ModuleError) -> Int {
    let option = request.csrOption
    try Check.specified(option, "csr_option") { $0.rawValue >= 1 && $0.rawValue <= 5 }
    let e = engagement.year
    func analysisDate() throws(ModuleError) -> SimpleDate {
      try SimpleDate(request.hasCsrAnalysisDate ? request.csrAnalysisDate : nil, field: "csr_analysis_date")
    }
    switch (farmerCase, option) {
    case (.farmerCase1, .analysisBeforePractices):
      let date = try analysisDate()
      guard date < practiceStart else {
        throw .failedPrecondition(rule: "esca.csr.case1_option1", "the analysis (\(date)) must precede the start of the improved practices (\(practiceStart))")
      }
      return date.year
    case (.farmerCase1, .neighbouringField):
      let date = try analysisDate()
      guard date.year == practiceStart.year else {
        throw .failedPrecondition(rule: "esca.csr.case1_option2", "a neighbouring field's analysis must be from the year the practices started (\(practiceStart.year)), got \(date.year)")
      }
      return date.year
    case (.farmerCase1, .regionalTable):
      let interval = try RegionalCsr.interval(request.regions, field: "regions", reference: reference, trace: &trace)
      response.regionalRows = interval.rows.map(RegionalCsr.message)
      response.regionalMinTcPerHa = interval.minimum
      response.regionalMaxTcPerHa = interval.maximum
      guard request.hasCsrTcPerHa else { throw .invalidArgument("csr_tc_per_ha", "is required with CSR_OPTION_REGIONAL_TABLE") }
      let value = try Check.nonNegative(request.csrTcPerHa, "csr_tc_per_ha")
      guard value >= interval.minimum && value <= interval.maximum else {
        throw .failedPrecondition(
          rule: "esca.csr.regional_interval",
          "CSR \(value) t C/ha lies outside the Annex 3 interval [\(interval.minimum), \(interval.maximum)] of \(interval.rows.map(\.printedName).joined(separator: ", "))")
      }
      trace.term("csr", value, .tCPerHa, source: "Annex 3 interval, chosen at engagement")
      trace.decision("csr_regional_date", "engagement year",
                     reason: "a CSR from the regional table is fixed at engagement: its date is the engagement; the first real analysis becomes the new CSR (case 1, option 3)")
      trace.warning("option 3 is used only when no analysis exists (options 1 and 2 have priority)")
      return e
    case (.farmerCase2, .historicAnalysis), (.farmerCase2, .neighbouringField):
      let date = try analysisDate()
      guard date.year >= e - 3 && date.year <= e - 1 else {
        throw .failedPrecondition(rule: "esca.csr.case2_window", "a case-2 historic CSR analysis must be from 1 to 3 years before the engagement year (\(e - 3)–\(e - 1)), got \(date.year); otherwise measure in the engagement year")
      }
      if date >= EscaRules.protocolRequiredFrom && !request.csrProtocolCompliant {
        throw .failedPrecondition(rule: "esca.csr.case2_protocol", "an analysis made from 2024-01-01 (\(date)) must follow the Implementing Regulation 2022/996 sampling protocol")
      }
      if request.regions.count > 0 || request.hasCsrTcPerHa {
        trace.warning("regions/csr_tc_per_ha are used only with the regional table (case 1)")
      }
      return date.year
    case (.farmerCase2, .engagementYearAnalysis), (.farmerCase3, .engagementYearAnalysis):
      let date = try analysisDate()
      guard date.year == e else {
        throw .failedPrecondition(rule: "esca.csr.engagement_year", "the CSR analysis must be made in the engagement year \(e) (until 31 December), got \(date)")
      }
      return date.year
    default:
      throw .failedPrecondition(
        rule: "esca.csr.option_for_case",
        "\(option) is not a CSR option of \(farmerCase) (case 1: analysis before practices, neighbouring field, regional table; case 2: historic analysis, neighbouring field, engagement-year analysis; case 3: engagement-year analysis)")
    }
  }

  /// Which CSA applies to harvests of a year.
  private func csaSource(_ year: Int, _ t: Timeline) -> CsaSource {
    if let real = t.realCsa {
      if year > real.year { return .real }
      return year <= t.deadlineYear ? .modelled : .missing
    }
    return year <= t.deadlineYear ? .modelled : .missing
  }

  /// The cap of a harvest, with a note.
  private func capFor(_ harvest: SimpleDate, source: CsaSource, _ t: Timeline) -> (CapKind, Double, String) {
    if harvest <= EscaRules.lastTransitionHarvest {
      return (.noneTransition, 0, "transition: harvest up to 29/12/2023, exempt from the caps")
    }
    switch t.farmerCase {
    case .farmerCase1:
      if source == .real, let real = t.realCsa {
        let note = harvest.year > real.year + EscaRules.engagementPeriodYears
          ? "beyond the 5 claims after the first real CSA the last measured cap is kept (the guidelines say nothing further)"
          : "cap = esca of the increase measured at year 5, for the 5 following annual claims"
        guard let cap = t.measuredCap else {
          return (.measuredIncrease, 0, note + "; give measured_increase_cap_g_co2e_per_mj")
        }
        return (.measuredIncrease, cap, note)
      }
      let realInTime = t.realCsa.map { $0 < EscaRules.case1FirstRealCsaBefore } ?? false
      if harvest >= EscaRules.case1FirstRealCsaBefore && !realInTime {
        return (.capKind25, EscaRules.cap25, "no real CSA before 30/06/2027: the 45 cap no longer holds; the 25 cap of cases 2/3 is applied (decision)")
      }
      return (.capKind45, EscaRules.cap45, "case 1: 45 until the first real CSA")
    default:
      if t.biochar { return (.capKind45, EscaRules.cap45, "biochar every year") }
      return (.capKind25, EscaRules.cap25, "")
    }
  }

  /// Whether a claim is allowed for a harvest.
  private func claimAllowed(_ harvest: SimpleDate, source: CsaSource, _ t: Timeline) -> Bool {
    guard source != .missing else { return false }
    if harvest >= t.firstClaim { return true }
    return t.retroactiveAllowed.contains(harvest.year)
  }

  /// Readable names for rule texts.
  static func label(_ source: CsaSource) -> String {
    switch source {
    case .modelled: return "modelled"
    case .real: return "real"
    case .missing: return "missing (non-compliance)"
    default: return "unspecified"
    }
  }

  static func label(_ cap: CapKind) -> String {
    switch cap {
    case .capKind45: return "45"
    case .capKind25: return "25"
    case .measuredIncrease: return "measured increase"
    case .noneTransition: return "none (transition)"
    default: return "unspecified"
    }
  }

  private func caseReason(_ farmerCase: FarmerCase) -> String {
    switch farmerCase {
    case .farmerCase1: return "case 1: ESCA claims before 30/06/2022 (grandfather clause)"
    case .farmerCase2: return "case 2: improved practices before the engagement, no claim before 30/06/2022"
    default: return "case 3: practices start at the engagement, after 30/06/2022"
    }
  }
}
