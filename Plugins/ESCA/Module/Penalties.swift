import CarbonDomain
import CarbonPluginKit

/// Penalties ("Pénalités", "Agriculteurs locataires", "Cas particuliers"): withdrawal, tenant
/// exit, and the real CSA compared with the modelled one (deficit deducted at the next claim,
/// surplus added over the next 5 years).
enum Penalties {
  static func compute(_ request: Carbon_Esca_V1_PenaltyRequest) throws(ModuleError) -> Carbon_Esca_V1_PenaltyResponse {
    var trace = Tracer()
    var response: Carbon_Esca_V1_PenaltyResponse
    switch request.event {
    case .withdrawal(let withdrawal):
      let year = try Check.inRange(Int(withdrawal.year), SimpleDate.validYears, "withdrawal.year")
      let esca = try Check.nonNegative(withdrawal.currentYearEscaGCo2EPerMj, "withdrawal.current_year_esca_g_co2e_per_mj")
      response = withdrawalPenalty(year: year, esca: esca, trace: &trace)
    case .tenantExit(let exit):
      let year = try Check.inRange(Int(exit.year), SimpleDate.validYears, "tenant_exit.year")
      let csrYear = try Check.inRange(Int(exit.csrYear), SimpleDate.validYears, "tenant_exit.csr_year")
      guard year >= csrYear else {
        throw .invalidArgument("tenant_exit.year", "dates out of order: the tenancy ends (\(year)) before the CSR year \(csrYear)")
      }
      let esca = try Check.nonNegative(exit.currentYearEscaGCo2EPerMj, "tenant_exit.current_year_esca_g_co2e_per_mj")
      if exit.landlordRefusedRenewal {
        response = Carbon_Esca_V1_PenaltyResponse()
        response.successorMayTakeOver = true
        trace.rule("esca.tenant.landlord_refusal", "the landlord refused to renew: cessation of activity, not a penalty; a successor may take over the engagement (Cas particuliers)")
      } else if year >= csrYear + EscaRules.engagementMinimumYears {
        response = Carbon_Esca_V1_PenaltyResponse()
        trace.rule("esca.tenant.engagement_completed", "the lease ends after the 10-year engagement from the CSR: no penalty")
      } else {
        trace.rule("esca.tenant.left_early", "a tenant ending the lease before the 10 years from the CSR is treated as a withdrawal (Agriculteurs locataires)")
        response = withdrawalPenalty(year: year, esca: esca, trace: &trace)
      }
    case .realCsa(let comparison):
      response = try realCsa(comparison, trace: &trace)
    case nil:
      throw .invalidArgument("event", "is required (withdrawal, tenant_exit or real_csa)")
    }
    response.trace = trace.build()
    return response
  }

  private static func withdrawalPenalty(year: Int, esca: Double, trace: inout Tracer) -> Carbon_Esca_V1_PenaltyResponse {
    var response = Carbon_Esca_V1_PenaltyResponse()
    response.penalised = true
    response.emissionAddedGCo2EPerMj = trace.term(
      "emission_added", esca, .gCo2EPerMj, formula: "the current year's ESCA is added as an emission instead of a saving")
    response.barredYears = ((year + 1)...(year + EscaRules.withdrawalBarYears)).map { Int32($0) }
    trace.rule("esca.penalty.withdrawal", "withdrawal in \(year): ESCA added as an emission; no ESCA for \(year + 1)–\(year + EscaRules.withdrawalBarYears); the farmer is published on the 2BS list")
    return response
  }

  private static func realCsa(
    _ c: Carbon_Esca_V1_RealCsaComparison, trace: inout Tracer
  ) throws(ModuleError) -> Carbon_Esca_V1_PenaltyResponse {
    var response = Carbon_Esca_V1_PenaltyResponse()
    let csr = try Check.nonNegative(c.csrTcPerHa, "real_csa.csr_tc_per_ha")
    let modelled = try Check.nonNegative(c.csaModelledTcPerHa, "real_csa.csa_modelled_tc_per_ha")
    let years = try Check.positive(c.yearsSinceCsr, "real_csa.years_since_csr")
    try Check.inRange(years, 0...100, "real_csa.years_since_csr")
    let analysisYear = try Check.inRange(Int(c.analysisYear), SimpleDate.validYears, "real_csa.analysis_year")
    let yield = try Check.positive(c.yieldKgDryPerHaPerYr, "real_csa.yield_kg_dry_per_ha_per_yr")
    try Check.inRange(yield, 0...1_000_000, "real_csa.yield_kg_dry_per_ha_per_yr")
    let bounds = try SoilStock.bounds(c.analyses, purpose: .claim, csrMethod: .unspecified, prefix: "real_csa.analyses", trace: &trace)
    let value = SoilStock.farmValue(bounds, trace: &trace)
    trace.term("csr", csr, .tCPerHa, source: "request")
    trace.term("csa_modelled", modelled, .tCPerHa, source: "request")
    response.intervalLowTcPerHa = value.intervalLow
    response.intervalHighTcPerHa = value.intervalHigh
    trace.decision("modelled_inside_interval", "equivalent",
                   reason: "a modelled CSA inside the farm's measured interval counts as equivalent: no penalty, no carry-over, no recalibration (the guidelines ask to account for measurement and sampling uncertainty)")
    if modelled >= value.intervalLow && modelled <= value.intervalHigh {
      response.outcome = .equivalent
      response.csaComparedTcPerHa = value.median
      trace.rule("esca.csa.equivalent", "the modelled CSA \(modelled) lies in [\(value.intervalLow), \(value.intervalHigh)]: verified, no penalty and no recalibration")
      return response
    }
    var basis = c.basis
    if basis == .unspecified {
      basis = .median
      trace.decision("comparison_basis", "MEDIAN", reason: "outside the interval the difference uses the median of the analyses (nearest bound selectable)")
    }
    try Check.specified(basis, "real_csa.basis") { $0.rawValue >= 1 && $0.rawValue <= 2 }
    let compared = basis == .median ? value.median : (modelled < value.intervalLow ? value.intervalLow : value.intervalHigh)
    response.csaComparedTcPerHa = trace.term("csa_compared", compared, .tCPerHa, formula: basis == .median ? "median" : "nearest bound of the interval")
    let difference = trace.term("difference", compared - modelled, .tCPerHa, formula: "CSA real − CSA modelled")
    let annual = trace.term("annual_difference", difference / years, .tCPerHaPerYr, formula: "difference / years since CSR")
    response.differenceTcPerHa = difference
    response.annualDifferenceTcPerHaPerYr = annual
    response.recalibrationRequired = true
    response.penalised = difference < 0
    trace.rule("esca.model.recalibration", "the measured CSA differs from the model: the factors must be recalibrated (ComputeModelledStock.calibrated; ratio in its response)")
    let toGramsPerKg = EscaRules.co2PerCarbon * EscaRules.gramsPerTonne / yield
    trace.term("yield", yield, .kgPerHa, source: "request")
    if difference < 0 {
      response.outcome = .realBelowModelled
      var claimed = Double(c.claimedYears)
      if c.claimedYears == 0 {
        claimed = years
        trace.decision("claimed_years", "every year since the CSR", reason: "claimed_years not given: every year since the CSR was claimed with the modelled CSA")
      }
      try Check.inRange(claimed, 0...years.rounded(.up), "real_csa.claimed_years")
      let overClaimed = trace.term("over_claimed_stock", -annual * claimed, .tCPerHa, formula: "annual difference × claimed years")
      var adjustment = Carbon_Esca_V1_BonusAdjustment()
      adjustment.year = Int32(analysisYear + 1)
      adjustment.gCo2EPerKgDry = -trace.term("deduction_next_claim", overClaimed * toGramsPerKg, .gCo2EPerKg,
                                            formula: "over-claimed stock × 3.664 × 10^6 / yield")
      response.adjustments = [adjustment]
      trace.decision("deficit_deduction", "annual difference × claimed years, deducted at once",
                     reason: "'la différence annuelle … doit être totalement déduite lors de la prochaine revendication': what the claims over-credited is deducted in full at the next claim (the year after the analysis)")
      trace.rule("esca.penalty.real_below_modelled", "real CSA below the modelled one: deduction at the \(analysisYear + 1) claim")
    } else {
      response.outcome = .realAboveModelled
      let perYear = trace.term("addition_per_year", difference * toGramsPerKg / Double(EscaRules.surplusSpreadYears), .gCo2EPerKg,
                               formula: "difference × 3.664 × 10^6 / yield / 5")
      response.adjustments = (1...EscaRules.surplusSpreadYears).map { offset in
        var adjustment = Carbon_Esca_V1_BonusAdjustment()
        adjustment.year = Int32(analysisYear + offset)
        adjustment.gCo2EPerKgDry = perYear
        return adjustment
      }
      trace.rule("esca.csa.real_above_modelled", "real CSA above the modelled one: the difference is added over the bonuses of \(analysisYear + 1)–\(analysisYear + 5)")
    }
    return response
  }
}
