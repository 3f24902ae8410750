import CarbonDomain
import CarbonPluginKit

/// The IPCC practice category (tillage + input) from the practices declared over the last
/// ≤ 5 years ("Catégories IPCC et règles de décision" and its decision guide).
enum CategoryDecision {
  static func decide(_ request: Carbon_Esca_V1_CategoryRequest) throws(ModuleError) -> Carbon_Esca_V1_CategoryResponse {
    var trace = Tracer()
    try Check.nonEmpty(request.years, "years")
    guard request.years.count <= EscaRules.categoryMaxYears else {
      throw .invalidArgument("years", "at most 5 years are assessed (N−x, x ≤ 5), got \(request.years.count)")
    }
    var seen = Set<Int>()
    for (index, year) in request.years.enumerated() {
      let path = "years[\(index)]"
      let value = try Check.inRange(Int(year.year), SimpleDate.validYears, "\(path).year")
      guard seen.insert(value).inserted else { throw .invalidArgument("\(path).year", "year \(value) is declared twice") }
      try Check.specified(year.tillage, "\(path).tillage") { $0.dataKey != nil }
      try Check.nonNegative(year.coverCropBiomassTDmPerHa, "\(path).cover_crop_biomass_t_dm_per_ha")
      try Check.inRange(year.coverCropBiomassTDmPerHa, 0...100, "\(path).cover_crop_biomass_t_dm_per_ha")
      if year.exceptionalPloughing {
        try Check.specified(year.ploughingReason, "\(path).ploughing_reason") { $0.rawValue >= 1 && $0.rawValue <= 3 }
        try Check.inRange(year.hoedCropsFarmPercent, 0...100, "\(path).hoed_crops_farm_percent")
      }
    }
    let sortedYears = seen.sorted()
    if let first = sortedYears.first, let last = sortedYears.last, last - first + 1 != sortedYears.count {
      throw .invalidArgument("years", "the declared years must be consecutive (\(first)…\(last) has gaps)")
    }
    var reasons: [String] = []

    // Tillage: the most disturbing practice of the period sets the category.
    var tillage = Carbon_Esca_V1_Tillage.noTill
    for year in request.years {
      var effective = year.tillage
      if year.exceptionalPloughing && year.tillage != .full {
        if year.ploughingReason == .hoedCrops && year.hoedCropsFarmPercent >= EscaRules.hoedCropsMaxFarmPct {
          effective = .full
          trace.rule("esca.category.exceptional_ploughing_hoed_crops",
                     "\(year.year): hoed crops cover \(year.hoedCropsFarmPercent) % (≥ 30 %): the ploughing is not exceptional and counts as full tillage")
        } else {
          reasons.append("\(year.year): exceptional ploughing (\(year.ploughingReason)) keeps the \(year.tillage) category; model the carbon released with ComputeModelledStock.exceptional_ploughings")
        }
      }
      if rank(effective) < rank(tillage) { tillage = effective }
    }
    trace.decision("tillage_category", "\(tillage)", reason: "the category must hold every declared year: the most disturbing tillage of the period is used")
    reasons.append("tillage: \(tillage) (most disturbing practice over \(request.years.count) year(s))")

    // Inputs.
    let residuesOk = request.years.allSatisfy { !$0.residuesExported || $0.residuesCompensatedByOrganicMatter }
    let cover = request.years.filter(\.coverCropFullyReturned).reduce(0) { $0 + $1.coverCropBiomassTDmPerHa }
    trace.term("cumulated_cover_biomass", cover, .tPerHa, formula: "Σ cover-crop biomass fully returned over the declared years")
    let byYear = request.years.sorted { $0.year < $1.year }
    var manureRegular = byYear.contains(where: \.manureApplied)
    for index in byYear.indices.dropFirst() where !byYear[index].manureApplied && !byYear[index - 1].manureApplied {
      manureRegular = false
    }
    if byYear.count == 1 { manureRegular = byYear[0].manureApplied }
    trace.decision("regular_manure", "no two consecutive years without manure",
                   reason: "the guidelines ask for 'ajout régulier de fumier' without a frequency; manure in at least every other declared year counts as regular")
    let half = Double(request.years.count) / 2
    let frequentFallow = Double(request.years.filter(\.bareFallow).count) >= half
    let lowResidue = Double(request.years.filter(\.lowResidueCrop).count) >= half
    let noNitrogen = !request.years.contains { $0.mineralFertiliser || $0.nitrogenFixingCrop }

    let input: Carbon_Esca_V1_InputLevel
    if residuesOk && manureRegular {
      input = .highWithManure
      reasons.append("input: high with manure (regular manure; residues left or compensated by organic matter)")
    } else if residuesOk && cover > EscaRules.coverBiomassThresholdT {
      input = .highWithoutManure
      reasons.append("input: high without manure (cover crops \(cover) t DM/ha > 1.5 t cumulated, fully returned; residues left or compensated)")
    } else if !residuesOk || frequentFallow || lowResidue || noNitrogen {
      input = .low
      if !residuesOk { reasons.append("input: low (residues exported without organic-matter compensation)") }
      if frequentFallow { reasons.append("input: low (bare fallow in at least half of the years)") }
      if lowResidue { reasons.append("input: low (low-residue crops in at least half of the years)") }
      if noNitrogen { reasons.append("input: low (no mineral fertiliser and no nitrogen-fixing crop)") }
    } else {
      input = .medium
      reasons.append("input: medium (residues left, mineral fertiliser or nitrogen-fixing crops)")
    }
    if cover <= EscaRules.coverBiomassThresholdT && residuesOk && !manureRegular {
      reasons.append("high without manure needs more than 1.5 t DM/ha of cover-crop biomass fully returned over ≤ 5 years (\(cover) declared)")
    }
    trace.decision("frequent_practice", "at least half of the declared years",
                   reason: "the IPCC low-input definition says 'fréquentes mises en jachère nue' without a frequency")

    var response = Carbon_Esca_V1_CategoryResponse()
    response.category.tillage = tillage
    response.category.input = input
    response.cumulatedCoverBiomassTDmPerHa = cover
    response.reasons = reasons
    response.trace = trace.build()
    return response
  }

  /// Lower = more soil disturbance.
  private static func rank(_ tillage: Carbon_Esca_V1_Tillage) -> Int {
    switch tillage {
    case .full: return 0
    case .reduced: return 1
    case .noTill: return 2
    default: return 0
    }
  }
}
