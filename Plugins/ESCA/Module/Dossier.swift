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
    let base = try Bonus.compute(dossier.bonus, rateFromModel: modelled?.rate, prefix: prefix + "bonus.", absentEfMeansNone: true, trace: &trace)
    response.bonus = base

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
    }

    let csr: Double? = dossier.model.hasCsrTCPerHa ? dossier.model.csrTCPerHa
      : dossier.hasRealCsa ? dossier.realCsa.csrTCPerHa : nil
    for (index, harvest) in dossier.harvests.enumerated() {
      let path = "\(prefix)harvests[\(index)]"
      response.harvests.append(try value(
        harvest, path: path, dossier: dossier, base: base, csr: csr, timeline: timeline, penalty: penalty,
        assessment: assessment, trace: &trace))
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

  /// One harvest: the case rules' verdict, the CSA used, the bonus with its cap and adjustment.
  private func value(
    _ harvest: Carbon_Esca_V1_DossierHarvest, path: String, dossier: FarmDossier, base: BonusResponse, csr: Double?,
    timeline: FarmerCaseAssessment.Timeline?, penalty: Carbon_Esca_V1_PenaltyResponse?,
    assessment: FarmerCaseAssessment, trace: inout Tracer
  ) throws(ModuleError) -> Carbon_Esca_V1_DossierHarvestResult {
    let date = try SimpleDate(harvest.hasDate ? harvest.date : nil, field: path + ".date")
    var result = Carbon_Esca_V1_DossierHarvestResult()
    result.date = date.calendarDate
    result.crop = harvest.crop
    var verdict = FarmerCaseAssessment.HarvestVerdict(source: .modelled, cap: .unspecified, capValue: 0, claimAllowed: true, reasons: [])
    if let timeline {
      verdict = assessment.verdict(date, timeline)
    } else {
      verdict.reasons.append("no case_facts: the case, calendar and cap rules were not applied")
    }
    result.csaSource = verdict.source
    result.cap = verdict.cap
    result.capGCo2EPerMj = verdict.capValue
    result.claimAllowed = verdict.claimAllowed
    var reasons = verdict.reasons

    // The rate: modelled (or the request's) until the real CSA applies; then the measured
    // increase (CSA real − CSR) / n, unless the model was verified (equivalent).
    var rate = base.annualRateTCPerHaPerYr
    if let csr { result.csrTCPerHa = csr }
    if verdict.source == .real {
      trace.decision("dossier_real_csa_rate", "(CSA real − CSR) / years since the CSR; the modelled rate when equivalent",
                     reason: "once the real CSA applies, the regulation's (CSA − CSR) / n uses the measured stock (the farm's compared value: median or nearest bound); a modelled CSA inside the measured interval is verified and keeps its rate; without real_csa the harvest is not valued")
      guard let penalty, dossier.hasRealCsa else {
        reasons.append("the real CSA applies to this harvest: give real_csa to value it")
        result.claimAllowed = false
        result.reasons = reasons
        return result
      }
      if penalty.outcome == .equivalent {
        reasons.append("real CSA equivalent to the modelled one: the modelled rate stays")
        result.csaTCPerHa = dossier.realCsa.csaModelledTCPerHa
      } else {
        rate = (penalty.csaComparedTCPerHa - dossier.realCsa.csrTCPerHa) / dossier.realCsa.yearsSinceCsr
        result.csaTCPerHa = penalty.csaComparedTCPerHa
        reasons.append("real CSA \(penalty.csaComparedTCPerHa) t C/ha: rate (CSA real − CSR) / \(dossier.realCsa.yearsSinceCsr) years")
      }
    } else if let csr {
      let years = timeline.map { Double(date.year - $0.csrYear) } ?? dossier.model.yearsSinceCsr
      result.csaTCPerHa = csr + rate * max(years, 0)
    }
    result.annualRateTCPerHaPerYr = rate
    result.reasons = reasons
    guard result.claimAllowed else { return result }

    let adjustment = penalty?.adjustments.filter { Int($0.year) == date.year }.reduce(0) { $0 + $1.gCo2EPerKgDry } ?? 0
    result.adjustmentGCo2EPerKgDry = adjustment
    var request = dossier.bonus
    request.annualRateTCPerHaPerYr = rate
    // A rotation's harvests are different crops: each may bring its own yield, LHV and pathway.
    if harvest.hasYieldKgDryPerHaPerYr { request.yieldKgDryPerHaPerYr = harvest.yieldKgDryPerHaPerYr }
    if harvest.hasLhvMjPerKgDry { request.lhvMjPerKgDry = harvest.lhvMjPerKgDry }
    if harvest.hasFeedstockFactorKgDryPerMjFuel {
      request.feedstockFactorKgDryPerMjFuel = harvest.feedstockFactorKgDryPerMjFuel
    }
    if verdict.cap != .unspecified && request.hasFeedstockFactorKgDryPerMjFuel {
      var share = Carbon_Esca_V1_CapShare()
      share.sharePercent = 100
      share.cap = verdict.cap
      share.measuredCapGCo2EPerMj = verdict.capValue
      request.capShares = [share]
    }
    var harvestTrace = Tracer(recordsTerms: false)
    let bonus = try Bonus.compute(
      request, rateFromModel: nil, prefix: path + ".", adjustment: adjustment,
      absentEfMeansNone: true, trace: &harvestTrace)
    result.reasons += harvestTrace.build().rules.map { $0.effect }
    result.escaGCo2EPerKgDry = bonus.escaGCo2EPerKgDry
    result.escaGCo2EPerMjFeedstock = bonus.escaGCo2EPerMjFeedstock
    result.escaUncappedGCo2EPerMjFuel = bonus.escaUncappedGCo2EPerMjFuel
    result.escaCappedGCo2EPerMjFuel = bonus.escaCappedGCo2EPerMjFuel
    if bonus.cappedShares.first?.capped == true {
      trace.rule("esca.dossier.cap", "harvest \(date): \(bonus.escaUncappedGCo2EPerMjFuel) g CO2e/MJ exceeds the cap \(verdict.capValue): the cap prevails")
    }
    trace.rule("esca.dossier.harvest",
               "harvest \(date): rate \(rate) t C/ha/yr, adjustment \(adjustment) g/kg → \(bonus.escaGCo2EPerKgDry) g CO2e/kg dry, \(bonus.escaCappedGCo2EPerMjFuel) g CO2e/MJ fuel after the cap")
    return result
  }
}
