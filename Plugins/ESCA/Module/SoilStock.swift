import CarbonDomain
import CarbonPluginKit

typealias SoilAnalysis = Carbon_Esca_V1_SoilAnalysis
typealias AnalysisPurpose = Carbon_Esca_V1_AnalysisPurpose
typealias BulkDensityMethod = Carbon_Esca_V1_BulkDensityMethod

/// Soil carbon stock of lab analyses and the farm value of several analyses
/// (seed, "Analyse de sol": stock = C × 0.001 × fine earth; fine earth = Pf × DA × (100 − EG)).
enum SoilStock {
  /// A computed stock with the carbon content actually used.
  struct Result {
    let carbonGPerKg: Double
    let fineEarthTPerHa: Double
    let stockTCPerHa: Double
  }

  /// The stock of one analysis. `prefix` is the field path of the analysis ("analysis.").
  static func compute(
    _ analysis: SoilAnalysis, purpose: AnalysisPurpose, prefix: String, trace: inout Tracer
  ) throws(ModuleError) -> Result {
    try Check.specified(purpose, "purpose") { $0.rawValue >= 1 && $0.rawValue <= 2 }
    let carbon = try carbonContent(analysis, prefix: prefix, trace: &trace)
    let depth = try Check.positive(analysis.depthCm, "\(prefix)depth_cm")
    try Check.inRange(depth, 0...300, "\(prefix)depth_cm")
    if purpose == .claim && depth != EscaRules.claimDepthCm {
      throw .failedPrecondition(
        rule: "esca.soil.claim_depth_30cm",
        "\(prefix)depth_cm is \(depth) cm; CSR/CSA measurements for a claim are made on the first 30 cm (guidelines, Analyse de sol 1.e). Use purpose INFORMATION for other depths")
    }
    let density = try Check.positive(analysis.bulkDensityGPerCm3, "\(prefix)bulk_density_g_per_cm3")
    try Check.inRange(density, 0...3, "\(prefix)bulk_density_g_per_cm3")
    if purpose == .claim {
      try Check.specified(analysis.bulkDensityMethod, "\(prefix)bulk_density_method") {
        $0.rawValue >= 1 && $0.rawValue <= 3
      }
    }
    let coarse = try Check.nonNegative(analysis.coarseElementsPercent, "\(prefix)coarse_elements_percent")
    guard coarse < 100 else {
      throw .invalidArgument("\(prefix)coarse_elements_percent", "must be below 100 %, got \(coarse)")
    }
    trace.term("depth", depth, .cm, source: "analysis")
    trace.term("bulk_density", density, .gPerCm3, source: "analysis (\(analysis.bulkDensityMethod))")
    trace.term("coarse_elements", coarse, .percent, source: "analysis")
    let fineEarth = trace.term(
      "fine_earth", depth * density * (100 - coarse), .tPerHa,
      formula: "Pf (cm) × DA (g/cm³) × (100 − EG %)", source: EscaRules.seed + ", Analyse de sol")
    let stock = trace.term(
      "soil_carbon_stock", carbon * 0.001 * fineEarth, .tCPerHa,
      formula: "C (g/kg) × 0.001 × fine earth (t/ha)", source: EscaRules.seed + ", Analyse de sol")
    return Result(carbonGPerKg: carbon, fineEarthTPerHa: fineEarth, stockTCPerHa: stock)
  }

  /// The carbon content, converted from organic matter for historic analyses.
  private static func carbonContent(
    _ analysis: SoilAnalysis, prefix: String, trace: inout Tracer
  ) throws(ModuleError) -> Double {
    switch (analysis.hasCarbonGPerKg, analysis.hasOrganicMatterGPerKg) {
    case (true, true):
      throw .invalidArgument(
        "\(prefix)organic_matter_g_per_kg", "give either carbon_g_per_kg or organic_matter_g_per_kg, not both")
    case (false, false):
      throw .invalidArgument("\(prefix)carbon_g_per_kg", "is required (or organic_matter_g_per_kg)")
    case (true, false):
      let carbon = try Check.nonNegative(analysis.carbonGPerKg, "\(prefix)carbon_g_per_kg")
      try Check.inRange(carbon, 0...1000, "\(prefix)carbon_g_per_kg")
      return trace.term("carbon_content", carbon, .gPerKg, source: "analysis")
    case (false, true):
      let organic = try Check.nonNegative(analysis.organicMatterGPerKg, "\(prefix)organic_matter_g_per_kg")
      try Check.inRange(organic, 0...1000, "\(prefix)organic_matter_g_per_kg")
      let factor: Double
      if analysis.hasOmToCarbonFactor {
        factor = try Check.inRange(analysis.omToCarbonFactor, 1...3, "\(prefix)om_to_carbon_factor")
        trace.decision("om_to_carbon_factor", "\(factor)", reason: "given by the request")
      } else {
        factor = EscaRules.defaultOmToCarbonFactor
        trace.decision(
          "om_to_carbon_factor", "1.724",
          reason: "the guidelines require converting historic organic-matter contents to carbon without giving a factor; van Bemmelen's 1.724 is used (override with om_to_carbon_factor)")
      }
      trace.term("organic_matter_content", organic, .gPerKg, source: "analysis")
      trace.term("om_to_carbon_factor", factor, .ratio)
      return trace.term("carbon_content", organic / factor, .gPerKg, formula: "organic matter / factor")
    }
  }

  /// Bounds of one value: v(1 − u), v(1 + u).
  struct Bounds {
    let id: String
    let value: Double
    let low: Double
    let high: Double
  }

  /// The farm value of several analyses.
  struct FarmValue {
    let bounds: [Bounds]
    let meanLow: Double
    let meanHigh: Double
    let median: Double
    var intervalLow: Double { min(meanLow, median) }
    var intervalHigh: Double { max(meanHigh, median) }
  }

  /// Stocks with their uncertainties from request values (`prefix` = "values").
  static func bounds(
    _ values: [Carbon_Esca_V1_StockValue], purpose: AnalysisPurpose,
    csrMethod: BulkDensityMethod, prefix: String, trace: inout Tracer
  ) throws(ModuleError) -> [Bounds] {
    try Check.nonEmpty(values, prefix)
    var result: [Bounds] = []
    result.reserveCapacity(values.count)
    for (index, value) in values.enumerated() {
      let path = "\(prefix)[\(index)]"
      let stock: Double
      let uncertainty: Double
      switch (value.hasStockTCPerHa, value.hasAnalysis) {
      case (true, true):
        throw .invalidArgument("\(path).analysis", "give either stock_t_c_per_ha or analysis, not both")
      case (false, false):
        throw .invalidArgument("\(path).stock_t_c_per_ha", "is required (or analysis)")
      case (true, false):
        stock = try Check.nonNegative(value.stockTCPerHa, "\(path).stock_t_c_per_ha")
        uncertainty = try Check.inRange(value.uncertaintyPercent, 0...99.999, "\(path).uncertainty_percent")
        if csrMethod != .unspecified {
          trace.warning("\(path): a stock without its analysis cannot be checked for the bulk-density method")
        }
      case (false, true):
        let analysis = value.analysis
        stock = try compute(analysis, purpose: purpose, prefix: "\(path).analysis.", trace: &trace).stockTCPerHa
        uncertainty = try Check.inRange(analysis.uncertaintyPercent, 0...99.999, "\(path).analysis.uncertainty_percent")
        if csrMethod != .unspecified && purpose == .claim && analysis.bulkDensityMethod != csrMethod {
          throw .failedPrecondition(
            rule: "esca.soil.same_bulk_density_method",
            "\(path).analysis.bulk_density_method is \(analysis.bulkDensityMethod) but the CSR used \(csrMethod); the same method must be applied at CSR and at N+5 (guidelines, Analyse de sol 1.d)")
        }
      }
      let u = uncertainty / 100
      result.append(Bounds(id: value.id, value: stock, low: stock * (1 - u), high: stock * (1 + u)))
    }
    return result
  }

  /// Low mean, high mean, median and the widest interval (seed example 30/45/35 ± 10 %).
  static func farmValue(_ bounds: [Bounds], trace: inout Tracer) -> FarmValue {
    let count = Double(bounds.count)
    let meanLow = bounds.reduce(0) { $0 + $1.low } / count
    let meanHigh = bounds.reduce(0) { $0 + $1.high } / count
    let value = FarmValue(
      bounds: bounds, meanLow: meanLow, meanHigh: meanHigh, median: median(bounds.map(\.value)))
    trace.term("mean_low", value.meanLow, .tCPerHa, formula: "mean of v × (1 − u)")
    trace.term("mean_high", value.meanHigh, .tCPerHa, formula: "mean of v × (1 + u)")
    trace.term("median", value.median, .tCPerHa, formula: "median of v (mean of the two middle values for an even count)")
    trace.term("interval_low", value.intervalLow, .tCPerHa, formula: "min(mean low, median)")
    trace.term("interval_high", value.intervalHigh, .tCPerHa, formula: "max(mean high, median)")
    trace.decision(
      "farm_value_interval", "[min(mean_low, median), max(mean_high, median)]",
      reason: "the guidelines say the real CSA lies in 'the widest interval' of the low mean, high mean and median (Analyse de sol, example 30/45/35 ± 10 % → 33–40.33)")
    return value
  }

  /// Median of a non-empty list.
  static func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  }
}
