import CarbonDomain
import CarbonPluginKit

typealias FarmDossier = Carbon_Esca_V1_FarmDossier
typealias DossierResponse = Carbon_Esca_V1_DossierResponse

/// A farm's whole ESCA dossier in one answer: the case and calendar (``FarmerCaseAssessment``),
/// the modelled stock (``ModelledStock``), the bonus (``Bonus``), the real-vs-modelled CSA
/// penalties (``Penalties``) and, for each harvest, the CSA used, the cap and why, the
/// adjustment of its year and the bonus per kg, per MJ of crop and per MJ of fuel. Every value
/// comes from those rules; this type only chains them and says which one limited a claim.
struct Dossier {
  let reference: ReferenceData
  let model: ModelledStock

  /// Trace rules that describe rather than limit (left out of `limitations`).
  private static let informativeRules: Set<String> = ["esca.case", "esca.harvest", "esca.claim.case1", "esca.dossier.harvest"]

  /// The dossier of one farm; `prefix` is its field path ("" or "requests[0].dossiers[3].").
  func assess(_ dossier: FarmDossier, prefix: String, trace: inout Tracer) throws(ModuleError) -> DossierResponse {
    var response = DossierResponse()
    response.farmID = dossier.farmID

    var modelled: ModelledStock.Result? = nil
    if dossier.hasModel {
      let result = try model.compute(dossier.model, prefix: prefix + "model.", trace: &trace)
      modelled = result
      response.model = ModelledStock.response(result, trace: Tracer(recordsTerms: false))
      response.model.clearTrace()
    }

    guard dossier.hasBonus else {
      throw .invalidArgument(prefix + "bonus", "is required: at least yield_kg_dry_per_ha_per_yr and a rate (annual_rate_t_c_per_ha_per_yr, stock_change or model)")
    }
    if dossier.bonus.rateSource == nil && modelled == nil {
      throw .invalidArgument(prefix + "bonus.annual_rate_t_c_per_ha_per_yr", "is required (or bonus.stock_change, or model)")
    }
    // The model's rate at years_since_csr: (CSA − CSR) / n, the exceptional ploughings' release included.
    let base = try Bonus.compute(
      Self.baseBonus(dossier, trace: &trace), rateFromModel: modelled?.rate(atYears: dossier.model.yearsSinceCsr),
      prefix: prefix + "bonus.", absentEfMeansNone: true, trace: &trace)
    response.bonus = base
    if dossier.bonus.rateSource != nil, let modelled, !modelled.ploughings.isEmpty {
      trace.warning("bonus gives its own rate: the model's exceptional ploughings are not deducted from it in the modelled years (leave the rate out to use the model's); from the real analysis's year on, a ploughing is deducted from the harvests after the analysis")
    }

    let assessment = FarmerCaseAssessment(reference: reference)
    var timeline: FarmerCaseAssessment.Timeline? = nil
    if dossier.hasCaseFacts {
      let (caseResponse, caseTimeline) = try assessment.assess(dossier.caseFacts, prefix: prefix + "case_facts.", trace: &trace)
      response.caseAssessment = caseResponse
      timeline = caseTimeline
    }

    var penalty: Carbon_Esca_V1_PenaltyResponse? = nil
    if dossier.hasRealCsa {
      penalty = try Penalties.realCsa(dossier.realCsa, prefix: prefix + "real_csa.", trace: &trace)
      response.realCsa = penalty ?? .init()
      if let timeline { try Self.checkRealCsaDates(dossier.realCsa, timeline, prefix: prefix + "real_csa.") }
    }

    let csr: Double? = dossier.model.hasCsrTCPerHa ? dossier.model.csrTCPerHa
      : dossier.hasRealCsa ? dossier.realCsa.csrTCPerHa : nil
    // Ef_current is one year's emissions per kg of one crop: across several years or crops each
    // harvest gives its own; a « same crop » Ef_historic also needs harvests of one crop.
    var efCurrentPerHarvest = false
    if Bonus.computesEf(dossier.bonus, absentEfMeansNone: true) {
      efCurrentPerHarvest = try Self.checkEfPerCrop(dossier.bonus, dossier.harvests, prefix: prefix, trace: &trace)
    }
    for (index, harvest) in dossier.harvests.enumerated() {
      let path = "\(prefix)harvests[\(index)]"
      response.harvests.append(try value(
        harvest, path: path, prefix: prefix, dossier: dossier, base: base, modelled: modelled, csr: csr, timeline: timeline,
        penalty: penalty, assessment: assessment, efCurrentPerHarvest: efCurrentPerHarvest, trace: &trace))
    }
    if dossier.harvests.isEmpty {
      trace.warning("no harvests given: the bonus is given once, without a harvest's cap or adjustment")
    }

    let rules = trace.build().rules
    response.limitations = rules.filter { !Self.informativeRules.contains($0.rule) }.map { "\($0.rule): \($0.effect)" }
    for result in response.harvests where !result.claimAllowed {
      response.limitations.append("\(SimpleDate(year: Int(result.date.year), month: Int(result.date.month), day: Int(result.date.day))): no claim — \(result.reasons.joined(separator: "; "))")
    }
    return response
  }

  /// The comparison must be the first real analysis of the case facts: its adjustments are
  /// dated from its analysis year and its rate divides by its years since the CSR, so a year
  /// that disagrees with the calendar would move a surplus or change the measured rate.
  private static func checkRealCsaDates(
    _ comparison: Carbon_Esca_V1_RealCsaComparison, _ timeline: FarmerCaseAssessment.Timeline, prefix: String
  ) throws(ModuleError) {
    guard let first = timeline.realCsa else {
      throw .invalidArgument(prefix + "analysis_year", "case_facts gives no real_csa_date: give the date of the analysis this comparison holds")
    }
    guard Int(comparison.analysisYear) == first.year else {
      throw .invalidArgument(prefix + "analysis_year", "is \(comparison.analysisYear) but case_facts.real_csa_date (\(first)) dates the first real analysis in \(first.year)")
    }
    let years = Double(first.year - timeline.csrYear)
    guard comparison.yearsSinceCsr == years else {
      throw .invalidArgument(prefix + "years_since_csr", "is \(comparison.yearsSinceCsr) but the analysis (\(first.year)) is \(Int(years)) years after the CSR year \(timeline.csrYear)")
    }
  }

  /// A harvest's crop, compared without case or spaces (" Rapeseed" is "rapeseed").
  private static func cropName(_ harvest: Carbon_Esca_V1_DossierHarvest) -> String {
    String(harvest.crop.lowercased().filter { !$0.isWhitespace })
  }

  /// With a computed EF term: under EF_HISTORIC_BASIS_PREVIOUS_SAME_CROP (« the previous year
  /// when the same crop was cultivated ») every named crop must be the same, as that Ef_historic
  /// is one crop's; under the guidelines' 3-year mean (« la moyenne des trois années précédant
  /// l'entrée dans la nouvelle démarche ESCA ») Ef_historic is the farm's and crops may differ.
  /// Returns whether each harvest must give its own Ef_current: when the harvests span several
  /// years (« l'année en cours ») or several crops (emissions per kg of each crop).
  private static func checkEfPerCrop(
    _ bonus: BonusRequest, _ harvests: [Carbon_Esca_V1_DossierHarvest], prefix: String, trace: inout Tracer
  ) throws(ModuleError) -> Bool {
    let crops = Set(harvests.map(cropName).filter { !$0.isEmpty })
    let years = Set(harvests.map(\.date.year))
    if bonus.efHistoricBasis == .previousSameCrop, let first = harvests.first(where: { !cropName($0).isEmpty }),
      let index = harvests.firstIndex(where: { !cropName($0).isEmpty && cropName($0) != cropName(first) }) {
      throw .invalidArgument(
        "\(prefix)harvests[\(index)].crop",
        "is \(harvests[index].crop) but the dossier's Ef_historic (EF_HISTORIC_BASIS_PREVIOUS_SAME_CROP: the previous year when the same crop was cultivated) is \(first.crop)'s: value each crop in its own dossier, or use the 3-year mean or EF_POLICY_NONE")
    }
    guard crops.count > 1 || years.count > 1 else { return false }
    if crops.count > 1 {
      // EF is a difference of emissions per kg of dry feedstock: a 3-year mean of one crop's
      // g/kg set against another crop's Ef_current would compare two yields, not two practices.
      trace.warning(
        "several crops (\(crops.sorted().joined(separator: ", "))) share one 3-year-mean Ef_historic: it must be stated per kg "
          + "of each harvested crop's dry matter, like its Ef_current; a mean of another crop's g/kg would compare yields, not practices")
    }
    trace.decision("dossier_ef_per_crop", bonus.efHistoricBasis == .previousSameCrop
                     ? "one crop per dossier with a « same crop » Ef_historic; each harvest's own Ef_current"
                     : "the 3-year mean Ef_historic is the farm's: several crops accepted, each harvest with its own Ef_current",
                   reason: "Ef_historic is « la moyenne des trois années précédant l'entrée dans la nouvelle démarche ESCA (année d'engagement) », a farm value (the calculator's 'previous year when the same crop was cultivated' is one crop's, selectable as PREVIOUS_SAME_CROP), and Ef_current « les émissions de l'année en cours » per kg of the harvest's feedstock: one year's and one crop's")
    return true
  }

  /// The dossier's bonus before any harvest: the request's, or, when it gives no Ef_current and
  /// every harvest gives its own, with the first harvest's (the harvests are valued with theirs).
  private static func baseBonus(_ dossier: FarmDossier, trace: inout Tracer) -> BonusRequest {
    var bonus = dossier.bonus
    guard !bonus.hasEfCurrentGCo2EPerKg, Bonus.computesEf(bonus, absentEfMeansNone: true),
      let first = dossier.harvests.first, dossier.harvests.allSatisfy(\.hasEfCurrentGCo2EPerKg) else { return bonus }
    bonus.efCurrentGCo2EPerKg = first.efCurrentGCo2EPerKg
    trace.decision("dossier_base_ef_current", "the dossier's bonus uses harvests[0]'s Ef_current",
                   reason: "bonus.ef_current_g_co2e_per_kg is not given and every harvest gives its own (« les émissions de l'année en cours »): each harvest is valued with its own, and the bonus before any harvest shows the first's")
    return bonus
  }

  /// One harvest: the case rules' verdict, the CSA used, the bonus with its cap and adjustment;
  /// in a withdrawal year, the ESCA it would have claimed, as an emission.
  private func value(
    _ harvest: Carbon_Esca_V1_DossierHarvest, path: String, prefix: String, dossier: FarmDossier, base: BonusResponse,
    modelled: ModelledStock.Result?, csr: Double?, timeline: FarmerCaseAssessment.Timeline?,
    penalty: Carbon_Esca_V1_PenaltyResponse?, assessment: FarmerCaseAssessment, efCurrentPerHarvest: Bool, trace: inout Tracer
  ) throws(ModuleError) -> Carbon_Esca_V1_DossierHarvestResult {
    let date = try SimpleDate(harvest.hasDate ? harvest.date : nil, field: path + ".date")
    var result = Carbon_Esca_V1_DossierHarvestResult()
    result.date = date.calendarDate
    result.crop = harvest.crop
    var verdict = FarmerCaseAssessment.HarvestVerdict(source: .modelled, cap: .unspecified, capValue: nil, claimAllowed: true, reasons: [])
    if let timeline {
      verdict = assessment.verdict(date, timeline)
    } else {
      verdict.reasons.append("no case_facts: the case, calendar and cap rules were not applied")
    }
    result.csaSource = verdict.source
    result.cap = verdict.cap
    if let capValue = verdict.capValue { result.capGCo2EPerMj = capValue }
    result.claimAllowed = verdict.claimAllowed
    var reasons = verdict.reasons

    // The rate: modelled (or the request's) until the real CSA applies; then the measured
    // increase (CSA real − CSR) / n, unless the model was verified (equivalent).
    // The model's rate is (CSA − CSR) / n at the harvest's year: the release of the exceptional
    // ploughings made by then is deducted ("relargage de carbone"), later ones are not yet.
    let rateFromModel = dossier.bonus.rateSource == nil ? modelled : nil
    var rate = base.annualRateTCPerHaPerYr
    // The year's adjustment per hectare; the bonus converts it with this harvest's own yield and
    // LHV share, as the seed adds the per-hectare difference to each crop's bonus.
    var adjustment = penalty?.adjustments.filter { Int($0.year) == date.year }.reduce(0) { $0 + $1.tCPerHa } ?? 0
    if let csr { result.csrTCPerHa = csr }
    if verdict.source == .real {
      if timeline?.regionalCsr != true {
        trace.decision("dossier_real_csa_rate", "(CSA real − CSR) / years since the CSR; the modelled rate when equivalent",
                       reason: "once the real CSA applies, the regulation's (CSA − CSR) / n uses the measured stock (the farm's compared value: median or nearest bound); a modelled CSA inside the measured interval is verified and keeps its rate; without real_csa the harvest is not valued")
      }
      guard let penalty, dossier.hasRealCsa else {
        reasons.append("the real CSA applies to this harvest: give real_csa to value it")
        result.claimAllowed = false
        result.reasons = reasons
        return result
      }
      // A later analysis ("aux années N+5, N+10, etc.") applies from 1 January after it; real_csa
      // holds the first one's result only, which no longer describes the soil.
      if let timeline, let later = timeline.laterRealCsaYears.last(where: { $0 < date.year }) {
        trace.decision("dossier_later_real_csa", "harvests after a later analysis are not valued",
                       reason: "the real CSA applies from 1 January after each analysis ('aux années N+5, N+10, etc.'); the dossier's real_csa is the first analysis, so valuing these harvests with it would silently use a superseded measure")
        reasons.append("the real CSA of the later analysis of \(later) (case_facts.later_real_csa_dates) applies to this harvest: real_csa holds only the first analysis (\(dossier.realCsa.analysisYear)), and the dossier takes no later comparison: not valued")
        result.claimAllowed = false
        result.reasons = reasons
        return result
      }
      if let timeline, timeline.regionalCsr, let analysis = timeline.realCsa {
        // Case 1, option 3: "le résultat de la première analyse de sol deviendra le nouveau CSR";
        // the Annex 3 value "demeure inchangée jusqu'à la prochaine analyse de sol (CSA réelle)".
        trace.decision("case1_regional_csr_reset", "the first real analysis is the new CSR; modelled rate from it, no real-vs-modelled adjustment",
                       reason: "a CSR chosen in an Annex 3 interval is not a measure: from the first real analysis the measured stock is the CSR, and the modelled CSA runs from it ('A partir de la date du CSR, l'opérateur calcule un CSA basé sur un modèle de prédiction') until the next analysis; neither a rate (CSA real − CSR) / n nor a real-vs-modelled surplus or deficit can be measured against the regional value")
        let newCsr = penalty.csaComparedTCPerHa
        let years = Double(date.year - analysis.year)
        if let rateFromModel {
          rate = rateFromModel.rate(after: Double(analysis.year - timeline.csrYear), atYears: Double(date.year - timeline.csrYear))
        }
        result.csrTCPerHa = newCsr
        result.csaTCPerHa = newCsr + rate * years
        if adjustment != 0 {
          reasons.append("real-vs-modelled adjustment \(adjustment) t C/ha not applied: the Annex 3 CSR is replaced by the first analysis")
          adjustment = 0
        }
        reasons.append("CSR from Annex 3 replaced by the first real analysis \(newCsr) t C/ha (\(analysis)): modelled CSA from it, rate \(rate) t C/ha/yr")
      } else {
        // Exceptional ploughings after the analysis are not in the measure: their release is
        // deducted from the harvests of their year on, (CSA − CSR) / n with the release in the
        // CSA, as in the modelled years (n counted from the CSR year, like those).
        // A ploughing of the analysis year is counted as after it: the ploughing gives only its
        // year, and the real CSA applies from 1 January after the analysis, so a measure made
        // early in that year cannot be shown to include it (counting one that preceded the
        // analysis twice lowers the claim; leaving out one that followed would raise it).
        let analysisYears = dossier.realCsa.yearsSinceCsr
        let years = timeline.map { Double(date.year - $0.csrYear) } ?? analysisYears
        let laterRelease = modelled?.ploughingLoss(after: analysisYears - 1, upTo: years) ?? 0
        if penalty.outcome == .equivalent {
          reasons.append("real CSA equivalent to the modelled one: the modelled rate stays")
          // The model's r − release / n deducts every ploughing up to this year; the bonus's own
          // rate holds none, so the ones from the analysis year on are deducted from it.
          rate = rateFromModel?.rate(atYears: years) ?? rate - laterRelease / years
          // The modelled CSA at the analysis year already holds that year's ploughing: only later
          // ones lower it, whichever the rate.
          result.csaTCPerHa =
            dossier.realCsa.csaModelledTCPerHa - (modelled?.ploughingLoss(after: analysisYears, upTo: years) ?? 0)
        } else {
          rate = Self.measuredRate(penalty, dossier.realCsa) - laterRelease / years
          result.csaTCPerHa = penalty.csaComparedTCPerHa - laterRelease
          reasons.append("real CSA \(penalty.csaComparedTCPerHa) t C/ha: rate (CSA real − CSR) / \(analysisYears) years")
        }
        if laterRelease > 0 {
          trace.decision("dossier_ploughing_after_real_csa", "release of the ploughings of the analysis year on deducted from the harvests after the analysis: rate − release / years since the CSR",
                         reason: "'Le labour exceptionnel … implique la prise en compte du relargage de carbone associé à ce changement de pratique': a ploughing after the real analysis is not in the measure; the real CSA is used 'à partir du 1er janvier' after the analysis and a ploughing gives only its year, so one of the analysis year is counted as after it; its release lowers the CSA of the following harvests, and their rate (CSA − CSR) / n as in the modelled years, whatever the rate (measured, model's or the bonus's own)")
          reasons.append("exceptional ploughing of the analysis year or later released \(laterRelease) t C/ha by year \(Int(years)) after the CSR: rate (CSA − CSR) / \(Int(years)) = \(rate) t C/ha/yr")
        }
      }
    } else {
      let years = max(timeline.map { Double(date.year - $0.csrYear) } ?? dossier.model.yearsSinceCsr, 0)
      if let rateFromModel {
        rate = rateFromModel.rate(atYears: years)
        let release = rateFromModel.ploughingLoss(upTo: years)
        if release > 0 {
          reasons.append("exceptional ploughing released \(release) t C/ha by year \(Int(years)) after the CSR: rate (CSA − CSR) / \(Int(years)) = \(rate) t C/ha/yr")
        }
      }
      if let csr { result.csaTCPerHa = csr + rate * years }
    }
    result.annualRateTCPerHaPerYr = rate
    result.reasons = reasons
    guard result.claimAllowed || verdict.withdrawalEmission else { return result }

    var request = dossier.bonus
    request.annualRateTCPerHaPerYr = rate
    // A rotation's harvests are different crops: each may bring its own yield, LHV and pathway.
    if harvest.hasYieldKgDryPerHaPerYr { request.yieldKgDryPerHaPerYr = harvest.yieldKgDryPerHaPerYr }
    if harvest.hasLhvMjPerKgDry { request.lhvMjPerKgDry = harvest.lhvMjPerKgDry }
    if harvest.hasFeedstockFactorKgDryPerMjFuel {
      request.feedstockFactorKgDryPerMjFuel = harvest.feedstockFactorKgDryPerMjFuel
    }
    // Without an EF history or policy the dossier's EF is NONE: a harvest's Ef_current alone has
    // nothing to be compared with and is not used.
    if harvest.hasEfCurrentGCo2EPerKg && Bonus.computesEf(dossier.bonus, absentEfMeansNone: true) {
      request.efCurrentGCo2EPerKg = harvest.efCurrentGCo2EPerKg
    } else if efCurrentPerHarvest {
      throw .invalidArgument(path + ".ef_current_g_co2e_per_kg", "is required: the harvests span several years and Ef_current is the emissions of the harvest's own year (« l'année en cours »)")
    }
    if verdict.cap != .unspecified && request.hasFeedstockFactorKgDryPerMjFuel {
      var share = Carbon_Esca_V1_CapShare()
      share.sharePercent = 100
      share.cap = verdict.cap
      if verdict.cap == .measuredIncrease {
        share.measuredCapGCo2EPerMj = try measuredIncreaseCap(
          request, path: path, prefix: prefix, dossier: dossier, timeline: timeline, penalty: penalty, trace: &trace)
        result.capGCo2EPerMj = share.measuredCapGCo2EPerMj
      } else if let capValue = verdict.capValue {
        share.measuredCapGCo2EPerMj = capValue
      }
      request.capShares = [share]
    }
    var harvestTrace = Tracer(recordsTerms: false)
    let bonus = try Bonus.compute(
      request, rateFromModel: nil, prefix: path + ".", adjustmentTCPerHa: adjustment,
      absentEfMeansNone: true, trace: &harvestTrace)
    result.adjustmentGCo2EPerKgDry = Bonus.perKgDry(adjustment, lhvShare: bonus.lhvShareFraction, yield: request.yieldKgDryPerHaPerYr)
    result.reasons += harvestTrace.build().rules.map { $0.effect }
    if verdict.withdrawalEmission {
      // Pénalités 1: the year's ESCA, as it would have been deducted (after its cap), is added
      // as an emission. A negative ESCA (carbon lost) is already an emission: its size is kept.
      trace.decision("withdrawal_emission", "the year's ESCA after its cap, as a positive emission",
                     reason: "'Les valeurs ESCA de l'exploitation pour l'année en cours sont ajoutées en tant qu'émissions … au lieu d'être déduites en tant qu'économies': the value that would have been deducted (after the harvest's cap and adjustment) is added, only in a year that would otherwise have been claimed")
      result.withdrawalEmissionGCo2EPerKgDry = abs(bonus.escaGCo2EPerKgDry)
      result.withdrawalEmissionGCo2EPerMjFuel = abs(bonus.escaCappedGCo2EPerMjFuel)
      trace.rule("esca.penalty.withdrawal",
                 "harvest \(date): withdrawal year, \(result.withdrawalEmissionGCo2EPerKgDry) g CO2e/kg dry (\(result.withdrawalEmissionGCo2EPerMjFuel) g CO2e/MJ fuel) added as an emission instead of a saving")
      result.reasons.append("withdrawal: \(result.withdrawalEmissionGCo2EPerMjFuel) g CO2e/MJ of fuel added as an emission")
      return result
    }
    result.escaGCo2EPerKgDry = bonus.escaGCo2EPerKgDry
    result.escaGCo2EPerMjFeedstock = bonus.escaGCo2EPerMjFeedstock
    result.escaUncappedGCo2EPerMjFuel = bonus.escaUncappedGCo2EPerMjFuel
    result.escaCappedGCo2EPerMjFuel = bonus.escaCappedGCo2EPerMjFuel
    if bonus.cappedShares.first?.capped == true {
      trace.rule("esca.dossier.cap", "harvest \(date): \(bonus.escaUncappedGCo2EPerMjFuel) g CO2e/MJ exceeds the cap \(result.capGCo2EPerMj): the cap prevails")
    }
    trace.rule("esca.dossier.harvest",
               "harvest \(date): rate \(rate) t C/ha/yr, adjustment \(result.adjustmentGCo2EPerKgDry) g/kg → \(bonus.escaGCo2EPerKgDry) g CO2e/kg dry, \(bonus.escaCappedGCo2EPerMjFuel) g CO2e/MJ fuel after the cap")
    return result
  }

  /// The measured increase's rate, (CSA real − CSR) / n, t C/ha/yr: the compared real CSA (median
  /// or nearest bound) against the comparison's CSR over its years since the CSR.
  private static func measuredRate(
    _ penalty: Carbon_Esca_V1_PenaltyResponse, _ comparison: Carbon_Esca_V1_RealCsaComparison
  ) -> Double {
    (penalty.csaComparedTCPerHa - comparison.csrTCPerHa) / comparison.yearsSinceCsr
  }

  /// The case-1 cap after the first real CSA, g CO2e/MJ of fuel: the one given in case_facts,
  /// else the esca of the increase measured at year 5 ("l'augmentation du stock de carbone
  /// mesurée la cinquième année (CSA réel) deviendra un plafond"), (CSA real − CSR) / n through
  /// this harvest's yield, LHV share, feedstock and allocation factors, without EF or
  /// adjustment, at most 45 and at least 0. A CSR from Annex 3 is not a measure: the increase
  /// is unknown and the value must be given.
  private func measuredIncreaseCap(
    _ request: BonusRequest, path: String, prefix: String, dossier: FarmDossier,
    timeline: FarmerCaseAssessment.Timeline?, penalty: Carbon_Esca_V1_PenaltyResponse?, trace: inout Tracer
  ) throws(ModuleError) -> Double {
    if let given = timeline?.measuredCap { return given }
    let field = prefix + "case_facts.measured_increase_cap_g_co2e_per_mj"
    guard let penalty, dossier.hasRealCsa else {
      throw .invalidArgument(field, "is required for \(path) (case 1 after the first real CSA: the cap is the esca of the measured increase), or give real_csa to compute it")
    }
    guard timeline?.regionalCsr != true else {
      throw .invalidArgument(field, "is required for \(path): with a CSR from Annex 3 the increase at year 5 is not measured, so the case-1 cap cannot be computed from real_csa")
    }
    var increase = request
    increase.annualRateTCPerHaPerYr = Self.measuredRate(penalty, dossier.realCsa)
    increase.efPolicy = .none
    increase.capShares = []
    increase.clearLivestockEffluentEnergySharePercent()
    var capTrace = Tracer(recordsTerms: false)
    let measured = try Bonus.compute(increase, rateFromModel: nil, prefix: path + ".", trace: &capTrace).escaUncappedGCo2EPerMjFuel
    trace.decision("dossier_measured_increase_cap", "(CSA real − CSR) / n × 3.664 × 10^6 / yield × feedstock and allocation factors, in [0, 45]",
                   reason: "case_facts gives no measured_increase_cap_g_co2e_per_mj; the dossier holds the real CSA: the cap is the esca of the measured increase (Annex 1: 'l'augmentation du stock de carbone mesurée à la 5e année (CSA réel) deviendra un plafond'), the carbon term only (EF and adjustments are not an increase of the stock), on this harvest's crop and pathway")
    return Bonus.measuredCap(max(measured, 0), subject: "\(path) measured increase", trace: &trace)
  }
}
