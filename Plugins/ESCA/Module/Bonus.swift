import CarbonDomain
import CarbonPluginKit

public typealias BonusRequest = Carbon_Esca_V1_BonusRequest
public typealias BonusResponse = Carbon_Esca_V1_BonusResponse

/// The bonus: per kg of dry feedstock (what the first collection point transmits), per MJ of
/// crop (the regulation's form), per MJ of fuel through feedstock and allocation factors, with
/// the EF policy, the LHV split, the caps of each batch share and the biogas effluent bonus.
enum Bonus {
  /// Computes the bonus. `rateFromModel` is the modelled r when the request has no rate source
  /// (batch records). `prefix` is the field path of the request ("" or "farms[3].bonus.").
  /// `adjustmentTCPerHa` is a penalty (< 0) or carry-over (> 0) of the harvest's year as a
  /// carbon stock per hectare (dossier): it is converted like the carbon term, with this
  /// request's LHV share and yield, since the seed adds or deducts a per-hectare difference.
  /// `absentEfMeansNone`: without any EF fact or policy, the conservative EF_POLICY_NONE applies
  /// instead of asking for the EF history (the dossier's minimal request).
  static func compute(
    _ request: BonusRequest, rateFromModel: Double?, prefix: String, adjustmentTCPerHa: Double = 0,
    absentEfMeansNone: Bool = false, trace: inout Tracer
  ) throws(ModuleError) -> BonusResponse {
    var response = BonusResponse()
    let rate = try annualRate(request, rateFromModel: rateFromModel, prefix: prefix, trace: &trace)
    response.annualRateTCPerHaPerYr = rate
    if rate < 0 { trace.warning("the annual rate is negative (soil carbon lost): the bonus is negative") }

    let yield = try Check.positive(request.yieldKgDryPerHaPerYr, "\(prefix)yield_kg_dry_per_ha_per_yr")
    try Check.inRange(yield, 0...1_000_000, "\(prefix)yield_kg_dry_per_ha_per_yr")
    trace.term("yield", yield, .kgPerHaPerYr, formula: "dry yield per ha and per year", source: "request")

    try checkEnergyCropArea(request, prefix: prefix, trace: &trace)

    // LHV split between energy crops on the same parcel and year.
    let lhv = try Check.nonNegative(request.lhvMjPerKgDry, "\(prefix)lhv_mj_per_kg_dry")
    try Check.inRange(lhv, 0...100, "\(prefix)lhv_mj_per_kg_dry")
    var share = 1.0
    if !request.coCrops.isEmpty {
      guard lhv > 0 else {
        throw .invalidArgument("\(prefix)lhv_mj_per_kg_dry", "is required to split the bonus with co_crops")
      }
      var total = lhv
      for (index, crop) in request.coCrops.enumerated() {
        let other = try Check.positive(crop.lhvMjPerKgDry, "\(prefix)co_crops[\(index)].lhv_mj_per_kg_dry")
        total += try Check.inRange(other, 0...100, "\(prefix)co_crops[\(index)].lhv_mj_per_kg_dry")
      }
      share = trace.term("lhv_share_fraction", lhv / total, .ratio, formula: "LHV / Σ LHV of the energy crops of the parcel and year")
      trace.decision(
        "lhv_split", "share = LHV_i / Σ LHV",
        reason: "two energy crops on the same parcel and year: the per-hectare bonus is split in proportion to each feedstock's LHV in MJ/kg dry (guidelines, STD-01 2.4.3), then divided by each crop's own yield")
    }
    response.lhvShareFraction = share

    let carbonTerm = trace.term(
      "carbon_term", perKgDry(rate, lhvShare: share, yield: yield), .gCo2EPerKg,
      formula: "r × 3.664 × 10^6 × LHV share / yield", source: EscaRules.seed + ", e_sca formula")
    response.carbonTermGCo2EPerKg = carbonTerm

    let ef = try efTerm(request, prefix: prefix, absentEfMeansNone: absentEfMeansNone, response: &response, trace: &trace)
    var perKg = carbonTerm + ef
    let adjustment = perKgDry(adjustmentTCPerHa, lhvShare: share, yield: yield)
    if adjustment != 0 {
      trace.term("adjustment_stock", adjustmentTCPerHa, .tCPerHa, formula: "penalty (< 0) or carry-over (> 0) of the harvest's year, per ha")
      trace.term("adjustment", adjustment, .gCo2EPerKg, formula: "adjustment per ha × 3.664 × 10^6 × LHV share / yield")
      perKg += adjustment
    }
    perKg = trace.term("esca_per_kg_dry", perKg, .gCo2EPerKg, formula: adjustment != 0 ? "carbon term + EF term + adjustment" : "carbon term + EF term")
    response.escaGCo2EPerKgDry = perKg

    if lhv > 0 {
      response.productivityMjPerHaPerYr = trace.term(
        "productivity", yield * lhv, .mjPerHaPerYr, formula: "P = yield × LHV (MJ/ha/yr)")
      response.escaGCo2EPerMjFeedstock = trace.term(
        "esca_per_mj_feedstock", perKg / lhv, .gCo2EPerMj,
        formula: "(CSA − CSR) × 3.664 × 10^6 / n / P − e_f = esca per kg / LHV")
    }

    try perMjOfFuel(request, perKg: perKg, prefix: prefix, response: &response, trace: &trace)
    return response
  }

  /// Carbon per hectare (a rate, t C/ha/yr, or a year's adjustment, t C/ha) as CO2 per kg of
  /// this crop's dry feedstock: × 3.664 × 10^6 (t C → g CO2) × LHV share / yield (the 1/P of
  /// the e_sca formula, per kg).
  static func perKgDry(_ carbonTCPerHa: Double, lhvShare: Double, yield: Double) -> Double {
    carbonTCPerHa * EscaRules.co2PerCarbon * EscaRules.gramsPerTonne * lhvShare / yield
  }

  /// r from the request (a rate or a stock change) or from the model.
  private static func annualRate(
    _ request: BonusRequest, rateFromModel: Double?, prefix: String, trace: inout Tracer
  ) throws(ModuleError) -> Double {
    switch request.rateSource {
    case .annualRateTCPerHaPerYr(let rate):
      try Check.inRange(rate, -100...100, "\(prefix)annual_rate_t_c_per_ha_per_yr")
      return trace.term("annual_rate", rate, .tCPerHaPerYr, source: "request")
    case .stockChange(let change):
      let csr = try Check.nonNegative(change.csrTCPerHa, "\(prefix)stock_change.csr_t_c_per_ha")
      let csa = try Check.nonNegative(change.csaTCPerHa, "\(prefix)stock_change.csa_t_c_per_ha")
      let years = try Check.positive(change.years, "\(prefix)stock_change.years")
      try Check.inRange(years, 0...100, "\(prefix)stock_change.years")
      trace.term("csr", csr, .tCPerHa, source: "request")
      trace.term("csa", csa, .tCPerHa, source: "request")
      trace.term("n", years, .year, source: "request")
      return trace.term("annual_rate", (csa - csr) / years, .tCPerHaPerYr, formula: "(CSA − CSR) / n")
    case nil:
      guard let rateFromModel else {
        throw .invalidArgument("\(prefix)annual_rate_t_c_per_ha_per_yr", "is required (or stock_change)")
      }
      return trace.term("annual_rate", rateFromModel, .tCPerHaPerYr, source: "modelled stock of the same record")
    }
  }

  /// The bonus applies only to hectares carrying an energy crop that year.
  private static func checkEnergyCropArea(_ request: BonusRequest, prefix: String, trace: inout Tracer) throws(ModuleError) {
    switch (request.hasClaimedAreaHa, request.hasEnergyCropAreaHa) {
    case (false, false): return
    case (true, false):
      throw .invalidArgument("\(prefix)energy_crop_area_ha", "is required with claimed_area_ha")
    case (false, true):
      throw .invalidArgument("\(prefix)claimed_area_ha", "is required with energy_crop_area_ha")
    case (true, true):
      let claimed = try Check.nonNegative(request.claimedAreaHa, "\(prefix)claimed_area_ha")
      let energy = try Check.nonNegative(request.energyCropAreaHa, "\(prefix)energy_crop_area_ha")
      guard claimed <= energy else {
        throw .failedPrecondition(
          rule: "esca.bonus.energy_crop_hectares",
          "\(claimed) ha claimed but only \(energy) ha carry an energy crop this year; the bonus applies only to hectares with an energy crop in the current year (Principe de mise en oeuvre)")
      }
      trace.term("claimed_area", claimed, .ha, source: "request")
      trace.term("energy_crop_area", energy, .ha, source: "request")
    }
  }

  /// No EF history, current value or basis given.
  private static func hasNoEfFact(_ request: BonusRequest) -> Bool {
    request.efHistoricYears.isEmpty && !request.hasEfPreviousSameCropGCo2EPerKg && !request.hasEfCurrentGCo2EPerKg
      && request.efHistoricBasis == .unspecified
  }

  /// Whether the EF term is computed from the request's EF facts: a policy other than NONE, or
  /// no policy with some EF fact (without any, `absentEfMeansNone` makes it NONE).
  static func computesEf(_ request: BonusRequest, absentEfMeansNone: Bool) -> Bool {
    switch request.efPolicy {
    case .none: return false
    case .unspecified: return !(absentEfMeansNone && hasNoEfFact(request))
    default: return true
    }
  }

  /// EF = Ef_historic − Ef_current and the term the policy adds.
  private static func efTerm(
    _ request: BonusRequest, prefix: String, absentEfMeansNone: Bool, response: inout BonusResponse, trace: inout Tracer
  ) throws(ModuleError) -> Double {
    var policy = request.efPolicy
    try Check.specified(policy == .unspecified ? .guidelines : policy, "\(prefix)ef_policy") { $0.rawValue >= 1 && $0.rawValue <= 3 }
    if policy == .unspecified && absentEfMeansNone && hasNoEfFact(request) {
      policy = .none
      trace.decision("ef_policy", "NONE",
                     reason: "no EF history nor policy given: the conservative scenario the guidelines allow ('Les opérateurs économiques ont la possibilité de choisir le scénario conservateur … le calcul de Ef n'est pas obligatoire'); give ef_historic_years and ef_current_g_co2e_per_kg to credit a decrease")
    } else if policy == .unspecified {
      policy = .guidelines
      trace.decision("ef_policy", "GUIDELINES", reason: "default: an increase of fertiliser/herbicide emissions is not included (already in e_ec), a decrease is credited (guidelines, Facteur ef)")
    } else if request.efPolicy != .unspecified {
      trace.decision("ef_policy", policy == .guidelines ? "GUIDELINES" : policy == .calculator ? "CALCULATOR" : "NONE",
                     reason: "requested; the guidelines' text (increase excluded) and the calculator example (increase subtracted) disagree")
    }
    if policy == .none {
      trace.rule("esca.ef.none", "conservative scenario: EF is not computed (guidelines, Facteur ef)")
      return trace.term("ef_term", 0, .gCo2EPerKg, formula: "0 (EF_POLICY_NONE)")
    }
    var basis = request.efHistoricBasis
    if basis == .unspecified {
      basis = .threeYearMean
      trace.decision("ef_historic_basis", "THREE_YEAR_MEAN", reason: "the guidelines define Ef_historic as the mean of the 3 years before the engagement year; the calculator's 'previous year with the same crop' is selectable")
    }
    let historic: Double
    switch basis {
    case .previousSameCrop:
      guard request.hasEfPreviousSameCropGCo2EPerKg else {
        throw .invalidArgument("\(prefix)ef_previous_same_crop_g_co2e_per_kg", "is required with EF_HISTORIC_BASIS_PREVIOUS_SAME_CROP")
      }
      historic = try Check.nonNegative(request.efPreviousSameCropGCo2EPerKg, "\(prefix)ef_previous_same_crop_g_co2e_per_kg")
      trace.term("ef_historic", historic, .gCo2EPerKg, formula: "previous year with the same crop", source: "request")
    case .threeYearMean:
      let engagement = try Check.inRange(Int(request.engagementYear), SimpleDate.validYears, "\(prefix)engagement_year")
      var years = Set<Int>()
      var sum = 0.0
      for (index, entry) in request.efHistoricYears.enumerated() {
        let path = "\(prefix)ef_historic_years[\(index)]"
        let year = try Check.inRange(Int(entry.year), (engagement - 3)...(engagement - 1), "\(path).year")
        guard years.insert(year).inserted else { throw .invalidArgument("\(path).year", "year \(year) is given twice") }
        sum += try Check.nonNegative(entry.gCo2EPerKg, "\(path).g_co2e_per_kg")
      }
      guard years.count == 3 else {
        throw .failedPrecondition(
          rule: "esca.ef.historic_three_years",
          "Ef_historic is the mean of the 3 years before the engagement year \(engagement) (\(engagement - 3)–\(engagement - 1)); \(years.count) given")
      }
      historic = trace.term("ef_historic", sum / 3, .gCo2EPerKg, formula: "mean of the 3 years before the engagement year")
    default:
      throw .invalidArgument("\(prefix)ef_historic_basis", "has an unknown value \(basis.rawValue)")
    }
    guard request.hasEfCurrentGCo2EPerKg else {
      throw .invalidArgument("\(prefix)ef_current_g_co2e_per_kg", "is required unless ef_policy is EF_POLICY_NONE")
    }
    let current = try Check.nonNegative(request.efCurrentGCo2EPerKg, "\(prefix)ef_current_g_co2e_per_kg")
    trace.term("ef_current", current, .gCo2EPerKg, source: "request")
    let ef = trace.term("ef", historic - current, .gCo2EPerKg, formula: "Ef_historic − Ef_current")
    response.efHistoricGCo2EPerKg = historic
    response.efCurrentGCo2EPerKg = current
    response.efGCo2EPerKg = ef
    let term: Double
    if policy == .calculator {
      term = trace.term("ef_term", ef, .gCo2EPerKg, formula: "EF (signed, as the 2BS calculator)")
    } else {
      term = trace.term("ef_term", max(ef, 0), .gCo2EPerKg, formula: "max(EF, 0)")
      if ef < 0 {
        trace.rule("esca.ef.increase_not_included", "Ef_historic < Ef_current: the increase is already in e_ec and is not included (guidelines, Facteur ef)")
      }
    }
    response.efTermGCo2EPerKg = term
    response.regulationEfGCo2EPerKg = trace.term("regulation_e_f", -term, .gCo2EPerKg, formula: "e_f = −EF term")
    return term
  }

  /// The case-1 cap after the first real CSA: the esca of the measured increase, never above
  /// 45 ("le plafond prévaut", Pénalités 4; Annex 1: the measured increase becomes the cap "même
  /// si celui-ci est plus bas").
  static func measuredCap(_ measured: Double, subject: String, trace: inout Tracer) -> Double {
    guard measured > EscaRules.highestCap else { return measured }
    trace.rule("esca.cap.measured_at_most_45",
               "\(subject): the measured-increase cap \(measured) exceeds 45 g CO2e/MJ: the 45 cap prevails (le plafond prévaut)")
    return EscaRules.highestCap
  }

  /// The rule name of a cap kind in traces.
  private static func capRule(_ cap: Carbon_Esca_V1_CapKind) -> String {
    switch cap {
    case .capKind45: return "esca.cap.45"
    case .capKind25: return "esca.cap.25"
    case .measuredIncrease: return "esca.cap.measured_increase"
    default: return "esca.cap"
    }
  }

  /// Per MJ of fuel, caps by batch share, biogas effluent bonus.
  private static func perMjOfFuel(
    _ request: BonusRequest, perKg: Double, prefix: String, response: inout BonusResponse, trace: inout Tracer
  ) throws(ModuleError) {
    var perMjFuel: Double? = nil
    if request.hasFeedstockFactorKgDryPerMjFuel {
      let factor = try Check.positive(request.feedstockFactorKgDryPerMjFuel, "\(prefix)feedstock_factor_kg_dry_per_mj_fuel")
      try Check.inRange(factor, 0...10, "\(prefix)feedstock_factor_kg_dry_per_mj_fuel")
      trace.term("feedstock_factor", factor, .kgPerMj, formula: "kg dry feedstock per MJ of fuel", source: "request")
      var product = 1.0
      for (index, allocation) in request.allocationFactors.enumerated() {
        let value = try Check.positive(allocation, "\(prefix)allocation_factors[\(index)]")
        product *= try Check.inRange(value, 0...1, "\(prefix)allocation_factors[\(index)]")
      }
      response.allocationProduct = trace.term("allocation_product", product, .ratio, formula: "Π allocation factors of the processing steps")
      perMjFuel = trace.term("esca_uncapped_per_mj_fuel", perKg * factor * product, .gCo2EPerMj,
                             formula: "esca per kg × feedstock factor × Π allocation")
      response.escaUncappedGCo2EPerMjFuel = perMjFuel ?? 0
    } else if !request.allocationFactors.isEmpty {
      throw .invalidArgument("\(prefix)feedstock_factor_kg_dry_per_mj_fuel", "is required with allocation_factors")
    }

    if !request.capShares.isEmpty {
      guard let perMjFuel else {
        throw .invalidArgument("\(prefix)feedstock_factor_kg_dry_per_mj_fuel", "is required with cap_shares (caps apply per MJ of fuel)")
      }
      var totalShare = 0.0
      var capped = 0.0
      for (index, share) in request.capShares.enumerated() {
        let path = "\(prefix)cap_shares[\(index)]"
        let pct = try Check.inRange(share.sharePercent, 0...100, "\(path).share_percent")
        try Check.specified(share.cap, "\(path).cap") { $0.rawValue >= 1 && $0.rawValue <= 4 }
        totalShare += pct
        var result = Carbon_Esca_V1_CappedShare()
        result.sharePercent = pct
        result.cap = share.cap
        let cap: Double?
        switch share.cap {
        case .capKind45: cap = EscaRules.cap45
        case .capKind25: cap = EscaRules.cap25
        case .measuredIncrease:
          // A measured increase of 0 is a cap of 0: an absent value is refused, never read as 0.
          guard share.hasMeasuredCapGCo2EPerMj else {
            throw .invalidArgument("\(path).measured_cap_g_co2e_per_mj", "is required with CAP_KIND_MEASURED_INCREASE (the esca of the increase measured at year 5, g CO2e/MJ of fuel)")
          }
          let measured = try Check.nonNegative(share.measuredCapGCo2EPerMj, "\(path).measured_cap_g_co2e_per_mj")
          cap = Self.measuredCap(measured, subject: "share \(index)", trace: &trace)
        default: cap = nil
        }
        let value = cap.map { min(perMjFuel, $0) } ?? perMjFuel
        result.capGCo2EPerMj = cap ?? 0
        result.escaGCo2EPerMj = value
        result.capped = cap.map { perMjFuel > $0 } ?? false
        if result.capped {
          trace.rule(capRule(share.cap), "share \(index) (\(pct) %): \(perMjFuel) g CO2e/MJ exceeds the cap \(cap ?? 0): the cap prevails")
        }
        capped += pct / 100 * value
        response.cappedShares.append(result)
      }
      guard abs(totalShare - 100) <= 1e-6 else {
        throw .invalidArgument("\(prefix)cap_shares", "shares must sum to 100 %, got \(totalShare)")
      }
      response.escaCappedGCo2EPerMjFuel = trace.term("esca_capped_per_mj_fuel", capped, .gCo2EPerMj, formula: "Σ share × min(esca, cap of the share)")
    } else if let perMjFuel {
      response.escaCappedGCo2EPerMjFuel = perMjFuel
      trace.warning("no cap_shares given: no cap applied (AssessFarmerCase gives the cap of each farmer and harvest)")
    }

    var effluentBonus = 0.0
    if request.hasLivestockEffluentEnergySharePercent {
      let share = try Check.inRange(request.livestockEffluentEnergySharePercent, 0...100, "\(prefix)livestock_effluent_energy_share_percent")
      effluentBonus = trace.term("livestock_effluent_bonus", EscaRules.livestockEffluentBonus * share / 100, .gCo2EPerMj,
                                 formula: "45 g CO2e/MJ × livestock-effluent share of the digester's energy input")
      trace.decision("livestock_effluent_bonus", "45 × effluent energy share, outside the caps, added to the practices bonus",
                     reason: "the guidelines grant 45 g CO2e/MJ of livestock effluents, cumulative with the practices bonus, without saying how it mixes with other inputs or caps")
    }
    response.livestockEffluentBonusGCo2EPerMj = effluentBonus
    // No per-MJ value at all (neither a feedstock factor nor a biogas share): nothing to total.
    guard perMjFuel != nil || request.hasLivestockEffluentEnergySharePercent else { return }
    response.escaTotalGCo2EPerMjFuel = trace.term(
      "esca_total_per_mj", response.escaCappedGCo2EPerMjFuel + effluentBonus, .gCo2EPerMj,
      formula: "capped practices bonus + livestock-effluent bonus")
  }
}
