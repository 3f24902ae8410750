import CarbonDomain
import CarbonPluginKit

/// IPCC Tier 1 modelled stocks as the 2BS calculator computes them ("Calculateur 2BS"):
/// SOC = SOC_REF × F_LU × F_MG × F_I for the previous and current practices, r = ΔSOC / n,
/// CSA_modelled(t) = CSR + r × t, deviation and recalibration ratios.
struct ModelledStock {
  let reference: ReferenceData

  /// Everything the response reports, for reuse by the batch.
  struct Result {
    var climate: ClimateZone = .unspecified
    var socRef = 0.0
    var fLU = 0.0, fMGPrevious = 0.0, fIPrevious = 0.0, fMGCurrent = 0.0, fICurrent = 0.0
    var socPrevious = 0.0, socCurrent = 0.0, rate = 0.0
    var csaModelled: Double? = nil
    /// Carbon released by the exceptional ploughings up to `years_since_csr`, t C/ha.
    var ploughingLoss = 0.0
    /// Each counted exceptional ploughing: its year since the CSR and its release, t C/ha
    /// (every event, also those after `years_since_csr`: a dossier values later harvests).
    var ploughings: [(yearIndex: Int, loss: Double)] = []
    var deviationPercent: Double? = nil
    var stockRatio: Double? = nil
    var changeRatio: Double? = nil

    /// Carbon released by the exceptional ploughings of the years after `start` up to `years`
    /// since the CSR, t C/ha: a ploughing releases carbon from its year on, never before.
    func ploughingLoss(after start: Double = 0, upTo years: Double) -> Double {
      ploughings.filter { Double($0.yearIndex) > start && Double($0.yearIndex) <= years }.reduce(0) { $0 + $1.loss }
    }

    /// The rate of a claim `years` after the CSR, measured from a CSR dated `start` years after
    /// the model's (0, or the year a case-1 Annex 3 CSR was replaced by the first analysis):
    /// (CSA − CSR) / n with CSA = CSR + r × n − the release of the ploughings in between, i.e.
    /// r − release / n (r itself when n = 0: no ploughing can have happened yet).
    func rate(after start: Double = 0, atYears years: Double) -> Double {
      guard years > start else { return rate }
      return rate - ploughingLoss(after: start, upTo: years) / (years - start)
    }
  }

  func compute(
    _ request: Carbon_Esca_V1_ModelledStockRequest, prefix: String, trace: inout Tracer
  ) throws(ModuleError) -> Result {
    var result = Result()
    try Check.specified(request.soilType, "\(prefix)soil_type") { $0.dataKey != nil }
    try Check.nonEmpty(request.climateZones, "\(prefix)climate_zones")
    for (index, zone) in request.climateZones.enumerated() {
      try Check.specified(zone, "\(prefix)climate_zones[\(index)]") { $0.dataKey != nil }
    }
    // Lowest SOC_REF among the candidate zones (guidelines STD-01 2.4.2).
    var best: (zone: ClimateZone, soc: Double)? = nil
    for zone in request.climateZones {
      guard let soc = reference.socRef(zone, request.soilType) else {
        trace.warning("no IPCC SOC_REF for \(request.soilType) in \(zone): zone skipped")
        continue
      }
      if let current = best, soc >= current.soc { continue }
      best = (zone, soc)
    }
    guard let chosen = best else {
      throw .invalidArgument(
        "\(prefix)soil_type", "IPCC Table 2.3 has no SOC_REF for \(request.soilType) in the given climate zones")
    }
    if request.climateZones.count > 1 {
      trace.decision(
        "straddled_climate_zones", chosen.zone.dataKey ?? "",
        reason: "the farm straddles several climate zones: the zone with the lowest SOC_REF is used (guidelines, Calculateur 2BS; STD-01 2.4.2)")
    }
    result.climate = chosen.zone
    trace.dataSet(reference.socRefDataSet)
    trace.dataSet(reference.factorsDataSet)
    result.socRef = trace.term(
      "soc_ref", chosen.soc, .tCPerHa, source: "IPCC 2019 Vol. 4 Table 2.3 (\(chosen.zone.dataKey ?? ""), \(request.soilType.dataKey ?? ""))")

    var landUse = request.landUse
    if landUse == .unspecified {
      landUse = .longTermCultivated
      trace.decision("land_use", "long_term_cultivated", reason: "the 2BS calculator's land use for ESCA (unspecified in the request)")
    }
    try Check.specified(landUse, "\(prefix)land_use") { $0.dataKey != nil }

    guard request.hasPrevious else { throw .invalidArgument("\(prefix)previous", "is required") }
    guard request.hasCurrent else { throw .invalidArgument("\(prefix)current", "is required") }
    for (name, category) in [("previous", request.previous), ("current", request.current)] {
      try Check.specified(category.tillage, "\(prefix)\(name).tillage") { $0.dataKey != nil }
      try Check.specified(category.input, "\(prefix)\(name).input") { $0.dataKey != nil }
    }
    let calibrated = request.hasCalibrated ? request.calibrated : nil
    if let calibrated {
      trace.decision("calibrated_factors", "used", reason: "calibrated factors given (approval: \(calibrated.approval.isEmpty ? "not stated" : calibrated.approval)) replace the IPCC table values where set")
    }
    let zone = chosen.zone
    result.fLU = try factor(.landUse, landUse.rawValue, landUse.dataKey, zone, calibrated?.hasFLu == true ? calibrated?.fLu : nil, "\(prefix)calibrated.f_lu", "f_lu", &trace)
    result.fMGPrevious = try factor(.tillage, request.previous.tillage.rawValue, request.previous.tillage.dataKey, zone, calibrated?.hasFMgPrevious == true ? calibrated?.fMgPrevious : nil, "\(prefix)calibrated.f_mg_previous", "f_mg_previous", &trace)
    result.fIPrevious = try factor(.input, request.previous.input.rawValue, request.previous.input.dataKey, zone, calibrated?.hasFIPrevious == true ? calibrated?.fIPrevious : nil, "\(prefix)calibrated.f_i_previous", "f_i_previous", &trace)
    result.fMGCurrent = try factor(.tillage, request.current.tillage.rawValue, request.current.tillage.dataKey, zone, calibrated?.hasFMgCurrent == true ? calibrated?.fMgCurrent : nil, "\(prefix)calibrated.f_mg_current", "f_mg_current", &trace)
    result.fICurrent = try factor(.input, request.current.input.rawValue, request.current.input.dataKey, zone, calibrated?.hasFICurrent == true ? calibrated?.fICurrent : nil, "\(prefix)calibrated.f_i_current", "f_i_current", &trace)

    result.socPrevious = trace.term(
      "soc_previous", result.socRef * result.fLU * result.fMGPrevious * result.fIPrevious, .tCPerHa,
      formula: "SOC_REF × F_LU × F_MG(previous) × F_I(previous)")
    result.socCurrent = trace.term(
      "soc_current", result.socRef * result.fLU * result.fMGCurrent * result.fICurrent, .tCPerHa,
      formula: "SOC_REF × F_LU × F_MG(current) × F_I(current)")

    var years = Int(request.equilibriumYears)
    if years == 0 {
      years = EscaRules.defaultEquilibriumYears
      trace.decision("equilibrium_years", "20", reason: "IPCC default equilibrium period (calculator 'Period of n years')")
    }
    try Check.inRange(years, 1...100, "\(prefix)equilibrium_years")
    trace.term("equilibrium_years", Double(years), .year)
    result.rate = trace.term(
      "annual_rate", (result.socCurrent - result.socPrevious) / Double(years), .tCPerHaPerYr,
      formula: "(SOC current − SOC previous) / n; > 0 = accumulation")
    trace.term("calculator_display_rate", -result.rate, .tCPerHaPerYr, formula: "−r (the calculator prints the stock change with the opposite sign)")

    // Exceptional ploughing: the full-tillage factor on the ploughed share for that year.
    var policy = request.ploughingPolicy
    if policy == .unspecified && !request.exceptionalPloughings.isEmpty {
      policy = .fullTillageForYear
      trace.decision(
        "exceptional_ploughing", "FULL_TILLAGE_FOR_YEAR",
        reason: "the guidelines require accounting for the carbon released by an exceptional ploughing without a formula: the full-tillage factor is applied to the ploughed share for that year (selectable: IGNORE)")
    }
    let yearsSinceCsr = try Check.inRange(request.yearsSinceCsr, 0...100, "\(prefix)years_since_csr")
    for (index, event) in request.exceptionalPloughings.enumerated() {
      let path = "\(prefix)exceptional_ploughings[\(index)]"
      try Check.inRange(Int(event.yearIndex), 1...100, "\(path).year_index")
      let share = try Check.inRange(event.areaPercent, 0...100, "\(path).area_percent")
      guard share > 0 else { throw .invalidArgument("\(path).area_percent", "must be greater than 0") }
      try Check.specified(event.reason, "\(path).reason") { $0.rawValue >= 1 && $0.rawValue <= 3 }
      if event.reason == .hoedCrops {
        let hoed = try Check.inRange(event.hoedCropsFarmPercent, 0...100, "\(path).hoed_crops_farm_percent")
        guard hoed < EscaRules.hoedCropsMaxFarmPct else {
          throw .failedPrecondition(
            rule: "esca.category.exceptional_ploughing_hoed_crops",
            "\(path): hoed crops cover \(hoed) % of the farm; an exceptional ploughing for hoed crops requires them below 30 % (Catégories IPCC et règles de décision)")
        }
      }
      guard policy == .fullTillageForYear else { continue }
      guard let fullTillage = reference.factor(.tillage, Tillage.full.rawValue, zone) else {
        throw .internal("F_MG full_tillage missing for \(zone)")
      }
      let socFullTillage = result.socRef * result.fLU * fullTillage * result.fICurrent
      let lossThisYear = share / 100 * (result.socCurrent - socFullTillage) / Double(years)
      result.ploughings.append((Int(event.yearIndex), max(0, lossThisYear)))
      if Double(event.yearIndex) > yearsSinceCsr {
        trace.warning("\(path): year \(event.yearIndex) after the CSR is later than years_since_csr \(yearsSinceCsr): it has not happened yet and is not deducted here (a dossier deducts it from the harvests of that year on)")
      }
    }
    result.ploughingLoss = result.ploughingLoss(upTo: yearsSinceCsr)
    if result.ploughingLoss > 0 {
      trace.term("exceptional_ploughing_loss", result.ploughingLoss, .tCPerHa,
                 formula: "Σ over the ploughings of years ≤ years_since_csr: ploughed share × (SOC current − SOC current with full tillage) / n")
      trace.rule("esca.model.exceptional_ploughing", "the carbon released by exceptional ploughing is deducted from the modelled CSA and from the rate a claim uses, (CSA − CSR) / n")
      trace.term("annual_rate_with_exceptional_ploughing", result.rate(atYears: yearsSinceCsr), .tCPerHaPerYr,
                 formula: "r − release / years since CSR = (CSA − CSR) / n, the rate a claim at years_since_csr uses")
    }

    if request.hasCsrTCPerHa {
      let csr = try Check.nonNegative(request.csrTCPerHa, "\(prefix)csr_t_c_per_ha")
      trace.term("csr", csr, .tCPerHa, source: "request")
      trace.term("years_since_csr", yearsSinceCsr, .year, source: "request")
      let csa = trace.term(
        "csa_modelled", csr + result.rate * yearsSinceCsr - result.ploughingLoss, .tCPerHa,
        formula: "CSR + r × years since CSR − exceptional ploughing loss")
      result.csaModelled = csa
      if request.hasCsaMeasuredTCPerHa {
        let measured = try Check.nonNegative(request.csaMeasuredTCPerHa, "\(prefix)csa_measured_t_c_per_ha")
        trace.term("csa_measured", measured, .tCPerHa, source: "request")
        if csa > 0 {
          result.deviationPercent = trace.term(
            "deviation", (measured - csa) / csa * 100, .percent,
            formula: "(CSA measured − CSA modelled) / CSA modelled × 100")
          result.stockRatio = trace.term("stock_ratio_measured_to_modelled", measured / csa, .ratio, formula: "CSA measured / CSA modelled")
        } else {
          trace.warning("the modelled CSA is 0: no deviation")
        }
        if csa != csr {
          result.changeRatio = trace.term(
            "change_ratio_measured_to_modelled", (measured - csr) / (csa - csr), .ratio,
            formula: "(CSA measured − CSR) / (CSA modelled − CSR), the factor a recalibration applies to the modelled change")
        }
      }
    } else if request.hasCsaMeasuredTCPerHa {
      throw .invalidArgument("\(prefix)csr_t_c_per_ha", "is required to compare a measured CSA")
    }
    return result
  }

  /// A factor from the table, or its calibrated replacement.
  private func factor(
    _ which: ReferenceData.Factor, _ levelValue: Int, _ level: String?, _ zone: ClimateZone, _ calibrated: Double?, _ calibratedField: @autoclosure () -> String,
    _ term: String, _ trace: inout Tracer
  ) throws(ModuleError) -> Double {
    if let calibrated {
      let value = try Check.inRange(calibrated, 0.01...5, calibratedField())
      return trace.term(term, value, .ratio, source: "calibrated factor (request)")
    }
    guard let value = reference.factor(which, levelValue, zone) else {
      throw .internal("\(which.name) \(level ?? "?") missing for \(zone)")
    }
    return trace.term(term, value, .ratio, source: "IPCC 2019 Vol. 4 Table 5.5 (\(which.name) \(level ?? ""), \(zone.dataKey ?? ""))")
  }

  /// The wire response.
  static func response(_ result: Result, trace: Tracer) -> Carbon_Esca_V1_ModelledStockResponse {
    var response = Carbon_Esca_V1_ModelledStockResponse()
    response.climateZone = result.climate
    response.socRefTCPerHa = result.socRef
    response.fLu = result.fLU
    response.fMgPrevious = result.fMGPrevious
    response.fIPrevious = result.fIPrevious
    response.fMgCurrent = result.fMGCurrent
    response.fICurrent = result.fICurrent
    response.socPreviousTCPerHa = result.socPrevious
    response.socCurrentTCPerHa = result.socCurrent
    response.annualRateTCPerHaPerYr = result.rate
    response.calculatorDisplayRateTCPerHaPerYr = -result.rate
    response.csaModelledTCPerHa = result.csaModelled ?? 0
    response.exceptionalPloughingLossTCPerHa = result.ploughingLoss
    response.deviationPercent = result.deviationPercent ?? 0
    response.stockRatioMeasuredToModelled = result.stockRatio ?? 0
    response.changeRatioMeasuredToModelled = result.changeRatio ?? 0
    response.trace = trace.build()
    return response
  }
}
