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

  /// The facts every per-harvest rule needs, kept after the assessment so that the dossier
  /// asks the same rules about its harvests.
  struct Timeline {
    var farmerCase: FarmerCase
    var engagement: SimpleDate
    var practiceStart: SimpleDate
    var firstClaim: SimpleDate
    var csrYear: Int
    /// Year whose 31 December ends the modelled period (the first real CSA deadline year).
    var deadlineYear: Int
    var realCsa: SimpleDate?
    /// Years of the later real CSA analyses (due N+5, N+10… of N0), ascending.
    var laterRealCsaYears: [Int]
    /// Case 1 with a CSR from the Annex 3 table: the first real analysis becomes the new CSR.
    var regionalCsr: Bool
    var biochar: Bool
    /// The measured-increase cap, already limited to 45.
    var measuredCap: Double?
    var retroactiveAllowed: [Int]
    var lateCsaCap: Carbon_Esca_V1_Case1LateCsaPolicy
    /// First year without an improved practice (withdrawal), if any.
    var withdrawalYear: Int?
  }

  /// What the rules say about one harvest.
  struct HarvestVerdict {
    var source: CsaSource
    var cap: CapKind
    /// The cap's value, g CO2e/MJ of fuel; nil when the cap has none (transition) or it is not
    /// known (a measured-increase cap not given): 0 is a real cap ("même si celui-ci est plus bas").
    var capValue: Double?
    var claimAllowed: Bool
    /// The cap's reason and every rule that refused or limited the claim.
    var reasons: [String]
    /// The withdrawal year of a harvest that would otherwise have been claimed: its ESCA is
    /// added as an emission instead of deducted (Pénalités 1).
    var withdrawalEmission = false
  }

  /// AssessFarmerCase with its own trace.
  func assess(_ request: Carbon_Esca_V1_FarmerCaseRequest) throws(ModuleError) -> Carbon_Esca_V1_FarmerCaseResponse {
    var trace = Tracer()
    var (response, _) = try assess(request, prefix: "", trace: &trace)
    response.trace = trace.build()
    return response
  }

  /// The assessment, recorded in `trace`; `prefix` is the request's field path ("" or
  /// "case_facts."). Returns the response (without trace) and the timeline for later harvests.
  func assess(
    _ request: Carbon_Esca_V1_FarmerCaseRequest, prefix: String, trace: inout Tracer
  ) throws(ModuleError) -> (Carbon_Esca_V1_FarmerCaseResponse, Timeline) {
    var response = Carbon_Esca_V1_FarmerCaseResponse()
    let engagement = try SimpleDate(request.hasEngagementDate ? request.engagementDate : nil, field: prefix + "engagement_date")
    let practiceStart = try SimpleDate(request.hasPracticeStartDate ? request.practiceStartDate : nil, field: prefix + "practice_start_date")
    guard practiceStart <= engagement || practiceStart.year == engagement.year else {
      throw .invalidArgument(
        prefix + "practice_start_date", "dates out of order: practices start (\(practiceStart)) after the engagement year (\(engagement)); in case 3 the engagement date is the practice start")
    }

    // Case (decision tree, Annex 1): case 1 = a claim before 30/06/2022; otherwise the
    // practice start decides, whatever the engagement date.
    var farmerCase: FarmerCase = practiceStart > EscaRules.grandfatherDate ? .farmerCase3 : .farmerCase2
    if request.hasFirstOldClaimDate {
      let claim = try SimpleDate(request.firstOldClaimDate, field: prefix + "first_old_claim_date")
      guard practiceStart <= claim else {
        throw .invalidArgument(prefix + "first_old_claim_date", "dates out of order: a claim (\(claim)) before the practices started (\(practiceStart))")
      }
      guard claim <= engagement else {
        throw .invalidArgument(prefix + "first_old_claim_date", "dates out of order: the old claim (\(claim)) is after the engagement (\(engagement))")
      }
      if claim < EscaRules.grandfatherDate {
        farmerCase = .farmerCase1
      } else {
        trace.warning("the first claim (\(claim)) is not before 2022-06-30: it does not make case 1")
      }
    }
    response.farmerCase = farmerCase
    trace.rule("esca.case", caseReason(farmerCase, practiceStart: practiceStart))
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
      // Annex 1: "Une période minimale continue de 3 ans pour l'application de la pratique de
      // gestion améliorée est requise avant la date d'engagement".
      let continuousSince = continuousPracticeStart(request, practiceStart: practiceStart, engagement: engagement, trace: &trace)
      let threeYears = continuousSince.addingYears(EscaRules.yearsOfPracticeBeforeClaim)
      response.case2ThreeYearsBeforeEngagement = threeYears <= engagement
      firstClaim = max(engagement, threeYears)
      if threeYears > engagement {
        trace.rule("esca.claim.case2_three_years_before_engagement",
                   "case 2: 3 continuous years of practice are required before the engagement date (\(engagement)); they are reached on \(threeYears): no claim yet, a claim becomes possible from \(threeYears)")
      }
    default:
      // Case 3: "au moins trois ans à compter de la date d'engagement"; the engagement date is
      // the practice start, so the later of the two is counted from.
      let start = max(engagement, practiceStart)
      if practiceStart != engagement {
        trace.warning("case 3: the engagement date (\(engagement)) should be the practice start (\(practiceStart)); the 3 years count from the later, \(start)")
      }
      firstClaim = start.addingYears(EscaRules.yearsOfPracticeBeforeClaim)
      trace.rule("esca.claim.case3_three_years", "case 3: 3 years of practice from the engagement before the first claim (from \(firstClaim))")
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
      let path = "\(prefix)retroactive_claim_years[\(index)]"
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
    let csrYear = try csr(request, prefix: prefix, farmerCase: farmerCase, engagement: engagement, practiceStart: practiceStart,
                          response: &response, trace: &trace)
    response.csrYear = Int32(csrYear)
    trace.term("csr_year", Double(csrYear), .year)

    // First real CSA deadline: 31 Dec of the 5th year after the CSR; case 1: 2027 (Annex 6).
    var deadlineYear = csrYear + EscaRules.realCsaYearsAfterCsr
    if farmerCase == .farmerCase1 && e <= EscaRules.case1RealCsaYear {
      deadlineYear = EscaRules.case1RealCsaYear
      trace.decision("case1_real_csa_deadline", "31/12/2027",
                     reason: "grandfathered farmers keep the 45 cap 'pendant 5 ans, c'est à dire jusqu'à la date du 1er CSA réel … pour un CSA se réalisant avant le 30.06.27', and their analyses 'doivent impérativement être réalisées en 2027' (Annex 1, Annex 6): the modelled CSA serves up to 31/12/2027, whatever the CSR's date")
    } else if farmerCase == .farmerCase1 {
      deadlineYear = max(csrYear, e) + EscaRules.realCsaYearsAfterCsr
      trace.decision("case1_real_csa_deadline", "engagement year + 5",
                     reason: "a case-1 engagement after 2027 cannot meet the 2027 analyses: the general rule (31 December of the 5th year after the CSR, counted from the engagement at the earliest) applies")
    }
    response.realCsaDeadline = SimpleDate.endOfYear(deadlineYear).calendarDate
    trace.term("real_csa_deadline_year", Double(deadlineYear), .year,
               formula: farmerCase == .farmerCase1 ? "2027 for case 1 (Annex 6)" : "CSR year + 5 (31 December)")

    var realCsa: SimpleDate? = nil
    if request.hasRealCsaDate {
      let real = try SimpleDate(request.realCsaDate, field: prefix + "real_csa_date")
      guard real.year >= csrYear else {
        throw .invalidArgument(prefix + "real_csa_date", "dates out of order: the real CSA (\(real)) precedes the CSR year \(csrYear)")
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
    var laterYears: [Int] = []
    for (index, date) in request.laterRealCsaDates.enumerated() {
      let path = "\(prefix)later_real_csa_dates[\(index)]"
      let later = try SimpleDate(date, field: path)
      guard let realCsa else { throw .invalidArgument(prefix + "real_csa_date", "is required with later_real_csa_dates") }
      guard later.year > realCsa.year, later.year > (laterYears.last ?? realCsa.year) else {
        throw .invalidArgument(path, "dates out of order: later analyses follow the first real CSA (\(realCsa)) and each other, one a year at most")
      }
      laterYears.append(later.year)
    }

    var measuredCap: Double? = nil
    if request.hasMeasuredIncreaseCapGCo2EPerMj {
      let measured = try Check.nonNegative(request.measuredIncreaseCapGCo2EPerMj, prefix + "measured_increase_cap_g_co2e_per_mj")
      measuredCap = Bonus.measuredCap(measured, subject: "case 1", trace: &trace)
    }
    if request.biocharEveryYear && farmerCase != .farmerCase1 {
      trace.rule("esca.cap.biochar", "biochar applied every year: the cap is raised to 45 g CO2e/MJ for the whole period (STD-01 2.4.5)")
    }
    var latePolicy = request.case1LateCsaCap
    try Check.specified(latePolicy == .unspecified ? .cap25 : latePolicy, prefix + "case1_late_csa_cap") { $0.rawValue >= 1 && $0.rawValue <= 2 }
    if farmerCase == .farmerCase1 && !(realCsa.map { $0 < EscaRules.case1FirstRealCsaBefore } ?? false) {
      if latePolicy == .unspecified { latePolicy = .cap25 }
      trace.decision("case1_late_csa_cap", latePolicy == .cap25 ? "CAP_25" : "NO_CLAIM",
                     reason: "no real CSA before 30/06/2027: the 45 cap no longer holds for harvests from that date until the real CSA; the guidelines do not say what replaces it (CAP_25: the cap of cases 2/3, default; NO_CLAIM selectable)")
    }

    var timeline = Timeline(
      farmerCase: farmerCase, engagement: engagement, practiceStart: practiceStart, firstClaim: firstClaim,
      csrYear: csrYear, deadlineYear: deadlineYear, realCsa: realCsa, laterRealCsaYears: laterYears,
      regionalCsr: farmerCase == .farmerCase1 && request.csrOption == .regionalTable,
      biochar: request.biocharEveryYear, measuredCap: measuredCap, retroactiveAllowed: retroactive,
      lateCsaCap: latePolicy, withdrawalYear: nil)
    response.realCsaDueYears = dueYears(timeline).map { Int32($0) }
    trace.decision("real_csa_schedule", "due by 31 December of N+5, N+10… counted from N0",
                   reason: "'lors de l'année N0 (si nécessaire pour le calcul du CSR), puis de nouveau aux années N+5, N+10, etc. (jusqu'au 31 décembre de ces années)': the due years are fixed from the first deadline (CSR year + 5; case 1: 2027), an early analysis meets the next due year, a late one stands for the due years it missed and does not move the schedule; a case-1 CSR from Annex 3 is replaced by the first real analysis ('le résultat de la première analyse de sol deviendra le nouveau CSR'), whose year is the new N0")

    // At least one improved practice every year of the engagement.
    try checkPractices(request, prefix: prefix, timeline: &timeline, response: &response, trace: &trace)

    if farmerCase == .farmerCase1 && realCsa != nil {
      trace.decision("case1_cap_until_real_csa_date", "measured cap from the day after the first real CSA",
                     reason: "Annex 1: the 45 cap holds 'jusqu'à la date du 1er CSA réel'; 'par la suite' the measured increase is the cap — harvests after the analysis date take it even while the modelled CSA still serves until 31 December")
    }

    // The harvests asked about.
    if request.hasHarvestDate {
      let harvest = try SimpleDate(request.harvestDate, field: prefix + "harvest_date")
      let verdict = self.verdict(harvest, timeline)
      response.harvestCsaSource = verdict.source
      response.harvestCap = verdict.cap
      if let capValue = verdict.capValue { response.harvestCapGCo2EPerMj = capValue }
      response.harvestClaimAllowed = verdict.claimAllowed
      trace.rule("esca.harvest", Self.describe(harvest, verdict))
    }
    var harvestsByYear: [Int: SimpleDate] = [:]
    for (index, date) in request.harvestDates.enumerated() {
      let harvest = try SimpleDate(date, field: "\(prefix)harvest_dates[\(index)]")
      if harvestsByYear[harvest.year] == nil { harvestsByYear[harvest.year] = harvest }
      let verdict = self.verdict(harvest, timeline)
      var assessment = Carbon_Esca_V1_HarvestAssessment()
      assessment.date = harvest.calendarDate
      assessment.csaSource = verdict.source
      assessment.cap = verdict.cap
      if let capValue = verdict.capValue { assessment.capGCo2EPerMj = capValue }
      assessment.claimAllowed = verdict.claimAllowed
      assessment.reasons = verdict.reasons
      response.harvests.append(assessment)
      trace.rule("esca.harvest", Self.describe(harvest, verdict))
    }

    // Calendar: retroactive years, then the 10 years of the engagement, each assessed at the
    // farm's harvest date of that year when known.
    if harvestsByYear.count < EscaRules.engagementMinimumYears {
      trace.decision("calendar_harvest_date", "the farm's harvest date, else 31 December (29 December for 2023)",
                     reason: "the rules tied to dates (transition up to 29/12/2023, practice start, first claim, 30/06/2027) are applied at the real harvest date when harvest_dates gives one for the year")
    }
    let firstYear = min(retroactive.first ?? e, e)
    for year in firstYear...(e + EscaRules.engagementMinimumYears - 1) {
      var entry = Carbon_Esca_V1_CalendarYear()
      entry.year = Int32(year)
      let assessed = harvestsByYear[year]
        ?? (year == EscaRules.lastTransitionHarvest.year ? EscaRules.lastTransitionHarvest : SimpleDate.endOfYear(year))
      let verdict = self.verdict(assessed, timeline)
      entry.assessedAt = assessed.calendarDate
      entry.csaSource = verdict.source
      entry.cap = verdict.cap
      if let capValue = verdict.capValue { entry.capGCo2EPerMj = capValue }
      entry.claimAllowed = verdict.claimAllowed
      var notes = verdict.reasons
      if year == e { notes.append("engagement signed \(engagement)") }
      if year == practiceStart.year { notes.append("improved practices start \(practiceStart): earlier harvests are never eligible") }
      if year == e + EscaRules.engagementPeriodYears - 1 { notes.append("end of the first 5-year period (renewal mandatory)") }
      if year == csrYear { notes.append("CSR") }
      if response.realCsaDueYears.contains(Int32(year)) { notes.append("real CSA due by 31/12/\(year)") }
      if let realCsa, year == realCsa.year { notes.append("real CSA analysis \(realCsa); applies from 1/1/\(year + 1)") }
      if laterYears.contains(year) { notes.append("later real CSA analysis; applies from 1/1/\(year + 1)") }
      if year == firstClaim.year { notes.append("first claim from \(firstClaim)") }
      if retroactive.contains(year) { notes.append("retroactive annual claim possible (case 2), valued over the 10 years of the engagement") }
      if year == 2023 && harvestsByYear[year] == nil { notes.append("harvests up to 29/12/2023 follow the transition (no cap); 30–31/12/2023 follow the new rules") }
      if farmerCase == .farmerCase1 && year == EscaRules.case1FirstRealCsaBefore.year && harvestsByYear[year] == nil
        && verdict.cap != .capKind45 && !(realCsa.map { $0 < EscaRules.case1FirstRealCsaBefore } ?? false) {
        notes.append("harvests before 30/06/2027 keep the 45 cap")
      }
      entry.notes = notes
      response.calendar.append(entry)
    }
    return (response, timeline)
  }

  /// Case 2: where the 3 *continuous* years of practice before the engagement start. Annex 1:
  /// "Une période minimale continue de 3 ans pour l'application de la pratique de gestion
  /// améliorée est requise avant la date d'engagement". When the farm's practice records cover
  /// years before the engagement, a year from the practice start to the engagement without an
  /// improved practice (a record with none, or no record among years that have records) breaks
  /// the run: the 3 years count again from 1 January after it. Without records before the
  /// engagement the declared practice start is taken as continuous, and the trace says so.
  private func continuousPracticeStart(
    _ request: Carbon_Esca_V1_FarmerCaseRequest, practiceStart: SimpleDate, engagement: SimpleDate, trace: inout Tracer
  ) -> SimpleDate {
    var practicesByYear: [Int: Int] = [:]
    for record in request.practiceYears where Int(record.year) < engagement.year {
      practicesByYear[Int(record.year), default: 0] += record.practices.filter { $0.rawValue >= 1 && $0.rawValue <= 7 }.count
    }
    guard !practicesByYear.isEmpty, practiceStart.year < engagement.year else {
      if practiceStart.year < engagement.year {
        trace.decision(
          "esca.claim.case2_continuity", "DECLARED_START",
          reason: "no practice record before the engagement year: the practices are taken as continuous from the declared start \(practiceStart)")
      }
      return practiceStart
    }
    var since = practiceStart
    var gaps: [Int] = []
    for year in practiceStart.year..<engagement.year where (practicesByYear[year] ?? 0) == 0 {
      gaps.append(year)
      since = max(since, SimpleDate.startOfYear(year + 1))
    }
    if let last = gaps.last {
      trace.rule(
        "esca.claim.case2_continuity",
        "case 2: no improved practice recorded in \(gaps.map(String.init).joined(separator: ", ")) (between the practice start \(practiceStart) and the engagement): the continuous period restarts on \(SimpleDate.startOfYear(last + 1))")
    } else {
      trace.decision(
        "esca.claim.case2_continuity", "RECORDED",
        reason: "an improved practice is recorded every year from \(practiceStart.year) to \(engagement.year - 1)")
    }
    return since
  }

  /// Checks the practice records: at least one improved practice every year from the
  /// engagement to the last recorded year ("L'agriculteur doit s'engager à appliquer
  /// annuellement au minimum une des pratiques de meilleure gestion agricole"). The first year
  /// without one (or without a record) is a withdrawal.
  private func checkPractices(
    _ request: Carbon_Esca_V1_FarmerCaseRequest, prefix: String, timeline: inout Timeline,
    response: inout Carbon_Esca_V1_FarmerCaseResponse, trace: inout Tracer
  ) throws(ModuleError) {
    guard !request.practiceYears.isEmpty else { return }
    var byYear: [Int: Int] = [:]
    for (index, record) in request.practiceYears.enumerated() {
      let path = "\(prefix)practice_years[\(index)]"
      let year = try Check.inRange(Int(record.year), SimpleDate.validYears, "\(path).year")
      guard byYear[year] == nil else { throw .invalidArgument("\(path).year", "year \(year) is given twice") }
      var practices = Set<Int>()
      for (practiceIndex, practice) in record.practices.enumerated() {
        try Check.specified(practice, "\(path).practices[\(practiceIndex)]") { $0.rawValue >= 1 && $0.rawValue <= 7 }
        practices.insert(practice.rawValue)
      }
      byYear[year] = practices.count
    }
    let e = timeline.engagement.year
    let last = min(byYear.keys.max() ?? e, e + EscaRules.engagementMinimumYears - 1)
    guard last >= e else { return }
    for year in e...last {
      var check = Carbon_Esca_V1_PracticeYearCheck()
      check.year = Int32(year)
      let count = byYear[year]
      check.practiceCount = Int32(count ?? 0)
      check.compliant = (count ?? 0) > 0
      check.message = count == nil
        ? "no practice record for \(year): no proof of an improved practice"
        : count == 0 ? "no improved practice in \(year)" : "\(count ?? 0) improved practice(s)"
      response.practiceChecks.append(check)
      if !check.compliant && timeline.withdrawalYear == nil {
        timeline.withdrawalYear = year
        response.withdrawalYear = Int32(year)
        response.barredYears = ((year + 1)...(year + EscaRules.withdrawalBarYears)).map { Int32($0) }
        trace.rule("esca.engagement.practice_every_year",
                   "\(check.message): the engagement requires at least one of the seven improved practices every year; withdrawal — the ESCA of \(year) is added as an emission and no ESCA may be claimed for \(year + 1)–\(year + EscaRules.withdrawalBarYears) (Pénalités 1)")
      }
    }
  }

  /// Years by 31 December of which a real CSA analysis is due: the first deadline, then the
  /// next due year after each analysis made (``nextDueYears``).
  private func dueYears(_ t: Timeline) -> [Int] {
    var years = [t.deadlineYear]
    for year in nextDueYears(t) where year != years.last { years.append(year) }
    return years
  }

  /// For each real analysis (the first, then the later ones, ascending), the year by 31 December
  /// of which the next one is due. The seed fixes the schedule from N0: "lors de l'année N0 …
  /// puis de nouveau aux années N+5, N+10, etc. (jusqu'au 31 décembre de ces années)". An
  /// analysis made by its due year meets it (early is allowed, as for the first: "au plus
  /// tard"); a second one in the same 5 years replaces the last measure without moving the
  /// schedule; a late one stands for the due years it missed (and for its own year when that is
  /// a due year). A case-1 Annex 3 CSR is replaced by the first analysis, the new N0.
  private func nextDueYears(_ t: Timeline) -> [Int] {
    guard let real = t.realCsa else { return [] }
    let every = EscaRules.realCsaRepeatYears
    var due = t.deadlineYear
    var result: [Int] = []
    for (index, year) in ([real.year] + t.laterRealCsaYears).enumerated() {
      if index == 0 && t.regionalCsr {
        due = year + every
      } else if year <= due {
        if index == 0 || year > due - every { due += every }
      } else {
        while due < year { due += every }
        if due == year { due += every }
      }
      result.append(due)
    }
    return result
  }

  /// Which CSA applies to harvests of a year: modelled up to the real analysis year (or the
  /// deadline), then real from 1 January after each analysis, as long as the next one is made
  /// by 31 December of its due year (``nextDueYears``); a year past a missed due year has none.
  func csaSource(_ year: Int, _ t: Timeline) -> CsaSource {
    let analyses = t.realCsa.map { [$0.year] + t.laterRealCsaYears } ?? []
    guard let last = analyses.lastIndex(where: { $0 < year }) else {
      return year <= t.deadlineYear ? .modelled : .missing
    }
    return year <= nextDueYears(t)[last] ? .real : .missing
  }

  /// Every rule about one harvest: CSA source, cap, whether it may be claimed and why not.
  func verdict(_ harvest: SimpleDate, _ t: Timeline) -> HarvestVerdict {
    let source = csaSource(harvest.year, t)
    var verdict = HarvestVerdict(source: source, cap: .unspecified, capValue: nil, claimAllowed: true, reasons: [])
    capFor(harvest, &verdict, t)
    if source == .missing {
      verdict.claimAllowed = false
      verdict.reasons.append("no real CSA by its deadline: non-compliance, no claim")
    }
    if harvest < t.practiceStart {
      verdict.claimAllowed = false
      verdict.reasons.append("harvested before the improved practices started (\(t.practiceStart)): never eligible")
    }
    if harvest < t.firstClaim && !t.retroactiveAllowed.contains(harvest.year) {
      verdict.claimAllowed = false
      verdict.reasons.append("before the first claim date \(t.firstClaim)")
    }
    if let withdrawal = t.withdrawalYear, harvest.year >= withdrawal {
      // "au lieu d'être déduites en tant qu'économies": only a value that would have been
      // claimed becomes an emission.
      verdict.withdrawalEmission = harvest.year == withdrawal && verdict.claimAllowed
      verdict.claimAllowed = false
      verdict.reasons.append(harvest.year == withdrawal
        ? "withdrawal in \(withdrawal) (a year without an improved practice): this year's ESCA is added as an emission"
        : harvest.year <= withdrawal + EscaRules.withdrawalBarYears
          ? "barred after the withdrawal in \(withdrawal) (5 years)" : "engagement broken in \(withdrawal): a new engagement is needed")
    }
    return verdict
  }

  /// The cap of a harvest and its reason.
  private func capFor(_ harvest: SimpleDate, _ verdict: inout HarvestVerdict, _ t: Timeline) {
    func set(_ cap: CapKind, _ value: Double?, _ note: String) {
      verdict.cap = cap
      verdict.capValue = value
      if !note.isEmpty { verdict.reasons.append(note) }
    }
    if harvest <= EscaRules.lastTransitionHarvest {
      return set(.noneTransition, nil, "transition: harvest up to 29/12/2023, exempt from the caps")
    }
    switch t.farmerCase {
    case .farmerCase1:
      if let real = t.realCsa, harvest > real {
        let note = harvest.year > real.year + EscaRules.engagementPeriodYears
          ? "beyond the 5 claims after the first real CSA the last measured cap is kept (the guidelines say nothing further)"
          : "cap = esca of the increase measured at year 5 (at most 45), for the 5 following annual claims"
        guard let cap = t.measuredCap else {
          return set(.measuredIncrease, nil, note + "; value unknown (not 0): give measured_increase_cap_g_co2e_per_mj")
        }
        return set(.measuredIncrease, cap, note)
      }
      let realInTime = t.realCsa.map { $0 < EscaRules.case1FirstRealCsaBefore } ?? false
      if harvest >= EscaRules.case1FirstRealCsaBefore && !realInTime {
        if t.lateCsaCap == .noClaim {
          verdict.claimAllowed = false
          return set(.capKind45, EscaRules.cap45, "no real CSA before 30/06/2027: the 45 cap no longer holds; no claim until the real CSA (decision case1_late_csa_cap = NO_CLAIM)")
        }
        return set(.capKind25, EscaRules.cap25, "no real CSA before 30/06/2027: the 45 cap no longer holds; the 25 cap of cases 2/3 is applied (decision case1_late_csa_cap = CAP_25)")
      }
      return set(.capKind45, EscaRules.cap45, "case 1: 45 until the first real CSA (made before 30/06/2027)")
    default:
      if t.biochar { return set(.capKind45, EscaRules.cap45, "biochar every year: 45") }
      return set(.capKind25, EscaRules.cap25, "case \(t.farmerCase == .farmerCase2 ? 2 : 3): 25")
    }
  }

  /// One line for the trace.
  static func describe(_ harvest: SimpleDate, _ verdict: HarvestVerdict) -> String {
    "harvest \(harvest): CSA \(label(verdict.source)), cap \(label(verdict.cap))\(verdict.capValue.map { " = \($0) g CO2e/MJ" } ?? ""), claim \(verdict.claimAllowed ? "allowed" : "not allowed")\(verdict.reasons.isEmpty ? "" : " — " + verdict.reasons.joined(separator: "; "))"
  }

  /// Checks the CSR option, dates and value; returns the CSR year.
  private func csr(
    _ request: Carbon_Esca_V1_FarmerCaseRequest, prefix: String, farmerCase: FarmerCase, engagement: SimpleDate,
    practiceStart: SimpleDate, response: inout Carbon_Esca_V1_FarmerCaseResponse, trace: inout Tracer
  ) throws(ModuleError) -> Int {
    let option = request.csrOption
    try Check.specified(option, prefix + "csr_option") { $0.rawValue >= 1 && $0.rawValue <= 5 }
    let e = engagement.year
    func analysisDate() throws(ModuleError) -> SimpleDate {
      try SimpleDate(request.hasCsrAnalysisDate ? request.csrAnalysisDate : nil, field: prefix + "csr_analysis_date")
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
      let interval = try RegionalCsr.interval(request.regions, field: prefix + "regions", reference: reference, trace: &trace)
      response.regionalRows = interval.rows.map(RegionalCsr.message)
      response.regionalMinTCPerHa = interval.minimum
      response.regionalMaxTCPerHa = interval.maximum
      guard request.hasCsrTCPerHa else { throw .invalidArgument(prefix + "csr_t_c_per_ha", "is required with CSR_OPTION_REGIONAL_TABLE") }
      let value = try Check.nonNegative(request.csrTCPerHa, prefix + "csr_t_c_per_ha")
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
      if request.regions.count > 0 || request.hasCsrTCPerHa {
        trace.warning("regions/csr_t_c_per_ha are used only with the regional table (case 1)")
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

  private func caseReason(_ farmerCase: FarmerCase, practiceStart: SimpleDate) -> String {
    switch farmerCase {
    case .farmerCase1: return "case 1: ESCA claims before 30/06/2022 (grandfather clause)"
    case .farmerCase2: return "case 2: improved practices started \(practiceStart), not after 30/06/2022, no claim before 30/06/2022"
    default: return "case 3: improved practices started \(practiceStart), after 30/06/2022, whatever the engagement date (Annex 1: 'débutant l'application de pratiques … après le 30/06/2022')"
    }
  }
}
