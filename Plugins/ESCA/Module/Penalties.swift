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

  /// A real CSA compared with the modelled one; `prefix` is the comparison's field path
  /// ("real_csa." in ComputePenalties and in the dossier).
  static func realCsa(
    _ c: Carbon_Esca_V1_RealCsaComparison, prefix: String = "real_csa.", trace: inout Tracer
  ) throws(ModuleError) -> Carbon_Esca_V1_PenaltyResponse {
    var response = Carbon_Esca_V1_PenaltyResponse()
    // Both stocks are required: an absent CSR or modelled CSA read as 0 t C/ha would turn the
    // whole measured stock into a surplus.
    guard c.hasCsrTCPerHa else {
      throw .invalidArgument("\(prefix)csr_t_c_per_ha", "is required: the CSR the real CSA is compared from, t C/ha")
    }
    guard c.hasCsaModelledTCPerHa else {
      throw .invalidArgument("\(prefix)csa_modelled_t_c_per_ha", "is required: the modelled CSA at the analysis, t C/ha")
    }
    let csr = try Check.nonNegative(c.csrTCPerHa, "\(prefix)csr_t_c_per_ha")
    let modelled = try Check.nonNegative(c.csaModelledTCPerHa, "\(prefix)csa_modelled_t_c_per_ha")
    let years = try Check.positive(c.yearsSinceCsr, "\(prefix)years_since_csr")
    try Check.inRange(years, 0...100, "\(prefix)years_since_csr")
    let analysisYear = try Check.inRange(Int(c.analysisYear), SimpleDate.validYears, "\(prefix)analysis_year")
    let yield = try Check.positive(c.yieldKgDryPerHaPerYr, "\(prefix)yield_kg_dry_per_ha_per_yr")
    try Check.inRange(yield, 0...1_000_000, "\(prefix)yield_kg_dry_per_ha_per_yr")
    let bounds = try SoilStock.bounds(c.analyses, purpose: .claim, csrMethod: .unspecified, prefix: "\(prefix)analyses", trace: &trace)
    let value = SoilStock.farmValue(bounds, trace: &trace)
    trace.term("csr", csr, .tCPerHa, source: "request")
    trace.term("csa_modelled", modelled, .tCPerHa, source: "request")
    response.intervalLowTCPerHa = value.intervalLow
    response.intervalHighTCPerHa = value.intervalHigh
    trace.decision("modelled_inside_interval", "equivalent",
                   reason: "a modelled CSA inside the farm's measured interval counts as equivalent: no penalty, no carry-over, no recalibration (the guidelines ask to account for measurement and sampling uncertainty)")
    if modelled >= value.intervalLow && modelled <= value.intervalHigh {
      response.outcome = .equivalent
      response.csaComparedTCPerHa = value.median
      trace.rule("esca.csa.equivalent", "the modelled CSA \(modelled) lies in [\(value.intervalLow), \(value.intervalHigh)]: verified, no penalty and no recalibration")
      return response
    }
    var basis = c.basis
    if basis == .unspecified {
      basis = .median
      trace.decision("comparison_basis", "MEDIAN", reason: "outside the interval the difference uses the median of the analyses (nearest bound selectable)")
    }
    try Check.specified(basis, "\(prefix)basis") { $0.rawValue >= 1 && $0.rawValue <= 2 }
    let compared = basis == .median ? value.median : (modelled < value.intervalLow ? value.intervalLow : value.intervalHigh)
    response.csaComparedTCPerHa = trace.term("csa_compared", compared, .tCPerHa, formula: basis == .median ? "median" : "nearest bound of the interval")
    let difference = trace.term("difference", compared - modelled, .tCPerHa, formula: "CSA real − CSA modelled")
    let annual = trace.term("annual_difference", difference / years, .tCPerHaPerYr, formula: "difference / years since CSR")
    response.differenceTCPerHa = difference
    response.annualDifferenceTCPerHaPerYr = annual
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
      try Check.inRange(claimed, 0...years.rounded(.up), "\(prefix)claimed_years")
      var reading = c.deficitDeduction
      try Check.specified(reading == .unspecified ? .annualDifferenceOnce : reading, "\(prefix)deficit_deduction") { $0.rawValue >= 1 && $0.rawValue <= 2 }
      // Both figures are shown; the reading chooses which one is deducted.
      let once = -trace.term("deduction_annual_once", -annual * toGramsPerKg, .gCo2EPerKg,
                             formula: "annual difference × 3.664 × 10^6 / yield (deducted once)")
      let overClaimed = trace.term("over_claimed_stock", -annual * claimed, .tCPerHa, formula: "annual difference × claimed years")
      let perYear = -trace.term("deduction_per_claimed_year", overClaimed * toGramsPerKg, .gCo2EPerKg,
                                formula: "annual difference × claimed years × 3.664 × 10^6 / yield")
      response.deductionAnnualOnceGCo2EPerKgDry = once
      response.deductionPerClaimedYearGCo2EPerKgDry = perYear
      if reading == .unspecified {
        reading = .annualDifferenceOnce
        trace.decision("deficit_deduction", "ANNUAL_DIFFERENCE_ONCE",
                       reason: "as printed: 'la différence annuelle (entre le CSA modélisé et le CSA réel) doit être totalement déduite lors de la prochaine revendication' — the annual difference, once, at the next claim (the year after the analysis); PER_CLAIMED_YEAR (× claimed years) is the stricter reading an operator may choose")
      } else {
        trace.decision("deficit_deduction", reading == .annualDifferenceOnce ? "ANNUAL_DIFFERENCE_ONCE" : "PER_CLAIMED_YEAR",
                       reason: "requested; the default reading deducts the annual difference once, the stricter one the annual difference × claimed years")
      }
      response.deficitDeduction = reading
      var adjustment = Carbon_Esca_V1_BonusAdjustment()
      adjustment.year = Int32(analysisYear + 1)
      adjustment.gCo2EPerKgDry = reading == .annualDifferenceOnce ? once : perYear
      adjustment.tCPerHa = reading == .annualDifferenceOnce ? annual : -overClaimed
      response.adjustments = [adjustment]
      trace.rule("esca.penalty.real_below_modelled", "real CSA below the modelled one: \(-adjustment.gCo2EPerKgDry) g CO2e/kg deducted at the \(analysisYear + 1) claim (\(reading == .annualDifferenceOnce ? "annual difference once" : "annual difference × \(claimed) claimed years"))")
    } else {
      response.outcome = .realAboveModelled
      let perYear = trace.term("addition_per_year", difference * toGramsPerKg / Double(EscaRules.surplusSpreadYears), .gCo2EPerKg,
                               formula: "difference × 3.664 × 10^6 / yield / 5")
      response.adjustments = (1...EscaRules.surplusSpreadYears).map { offset in
        var adjustment = Carbon_Esca_V1_BonusAdjustment()
        adjustment.year = Int32(analysisYear + offset)
        adjustment.gCo2EPerKgDry = perYear
        adjustment.tCPerHa = difference / Double(EscaRules.surplusSpreadYears)
        return adjustment
      }
      trace.rule("esca.csa.real_above_modelled", "real CSA above the modelled one: the difference is added over the bonuses of \(analysisYear + 1)–\(analysisYear + 5)")
    }
    return response
  }
}
