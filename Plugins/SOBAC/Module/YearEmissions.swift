import CarbonDomain
import CarbonPluginKit

/// Emissions of one farm-year (§6, §7.2): upstream per input, field N2O (Eq. 7-11), field CO2
/// of lime (Eq. 12) and of urea.
struct YearEmissionsCalculator: Sendable {
  let resolver: InputResolver
  /// kg CO2e per kg N2O (AR5, 265), from the domain GWP table.
  let n2oGwp: Double

  var factors: FieldFactors { resolver.data.fieldFactors }

  /// Field N2O of mineral and organic N, kg N2O-N per term (direct, volatilisation, leaching).
  func fieldN2ONitrogen(mineralKg: Double, organicKg: Double) -> (direct: Double, volatilisation: Double, leaching: Double) {
    let direct = mineralKg * factors.feDirectMineral + organicKg * factors.feDirectOrganic
    let volatilisation =
      (mineralKg * factors.volatilisedMineral + organicKg * factors.volatilisedOrganic) * factors.feVolatilisation
    let leaching = (mineralKg + organicKg) * factors.leachedFraction * factors.feLeaching
    return (direct, volatilisation, leaching)
  }

  /// kg CO2e of an amount of N2O-N (× 44/28 × GWP N2O).
  func co2e(ofN2ONitrogen kg: Double) -> Double {
    kg * CarbonConstants.n2oPerN2oNitrogen * n2oGwp
  }

  /// Emissions of the year's inputs; `path` prefixes field paths ("farm.years[3]").
  /// `unitsByCode` carries the unit each input code uses across the farm (mixed units check).
  func emissions(
    of year: Carbon_Sobac_V1_FarmYear, period: Carbon_Sobac_V1_Period, path: String,
    unitsByCode: inout [String: (InputUnit, String)]
  ) throws(ModuleError) -> Carbon_Sobac_V1_YearEmissions {
    var out = Carbon_Sobac_V1_YearEmissions()
    out.year = year.year
    out.period = period
    var categories: [EmissionCategory: Double] = [:]
    var variables: [InputVariable: [(resolved: ResolvedInput, path: String)]] = [:]
    var variableOrder: [InputVariable] = []
    for (index, line) in year.inputs.enumerated() {
      let linePath = "\(path).inputs[\(index)]"
      let (item, resolved) = try resolver.resolve(line, path: linePath)
      let variable = resolver.variable(of: line)
      if variables[variable] == nil { variableOrder.append(variable) }
      variables[variable, default: []].append((resolved, linePath))
      if let (unit, firstPath) = unitsByCode[line.inputCode], unit != line.unit {
        throw .invalidArgument(
          "\(linePath).unit",
          "mixed units: input \(line.inputCode.quoted) is in \(line.unit) here but in \(unit) at \(firstPath); use one unit per input")
      }
      if unitsByCode[line.inputCode] == nil { unitsByCode[line.inputCode] = (line.unit, "\(linePath).unit") }

      let n2o = fieldN2ONitrogen(mineralKg: resolved.nMineralKg, organicKg: resolved.nOrganicKg)
      let fieldN2O = co2e(ofN2ONitrogen: n2o.direct + n2o.volatilisation + n2o.leaching)
      let limeCO2 =
        (resolved.limestoneKg * factors.feLimestone + resolved.dolomiteKg * factors.feDolomite)
        * CarbonConstants.co2PerCarbon
      let ureaCO2 = resolved.ureaKg * factors.ureaCarbon * CarbonConstants.co2PerCarbon

      var emission = Carbon_Sobac_V1_InputEmission()
      emission.lineIndex = Int32(clamping: index)
      emission.inputCode = item.code
      emission.label = line.label.isEmpty ? item.label : line.label
      emission.consumption = resolved.consumption
      emission.unit = line.unit
      emission.nMineralKg = resolved.nMineralKg
      emission.nOrganicKg = resolved.nOrganicKg
      emission.p2O5Kg = resolved.p2o5Kg
      emission.k2OKg = resolved.k2oKg
      emission.activeSubstanceKg = resolved.activeSubstanceKg
      emission.vnKg = resolved.vnKg
      emission.productKg = resolved.productKg
      emission.upstreamNKgCo2E = resolved.upstreamNKgCO2e
      emission.upstreamKgCo2E = resolved.upstreamNKgCO2e + resolved.upstreamOtherKgCO2e
      emission.fieldN2OKgCo2E = fieldN2O
      emission.fieldCo2LimeKg = limeCO2
      emission.fieldCo2UreaKg = ureaCO2
      emission.totalKgCo2E = emission.upstreamKgCo2E + fieldN2O + limeCO2 + ureaCO2
      emission.formula = resolved.formula
      out.inputs.append(emission)

      out.nMineralKg += resolved.nMineralKg
      out.nOrganicKg += resolved.nOrganicKg
      out.upstreamKgCo2E += emission.upstreamKgCo2E
      out.fieldCo2LimeKg += limeCO2
      out.fieldCo2UreaKg += ureaCO2
      categories[.nFertiliser, default: 0] += resolved.upstreamNKgCO2e + fieldN2O + ureaCO2
      categories[resolved.category, default: 0] += resolved.upstreamOtherKgCO2e
      categories[.lime, default: 0] += limeCO2
    }
    for variable in variableOrder {
      try InputResolver.checkConsumption(variables[variable] ?? [], of: variable, year: year.year)
    }
    let n2o = fieldN2ONitrogen(mineralKg: out.nMineralKg, organicKg: out.nOrganicKg)
    out.n2ODirectKgN = n2o.direct
    out.n2OVolatilisationKgN = n2o.volatilisation
    out.n2OLeachingKgN = n2o.leaching
    out.fieldN2OKgCo2E = co2e(ofN2ONitrogen: n2o.direct + n2o.volatilisation + n2o.leaching)
    out.totalKgCo2E = out.upstreamKgCo2E + out.fieldN2OKgCo2E + out.fieldCo2LimeKg + out.fieldCo2UreaKg
    out.categories = EmissionCategory.reported.map { category in
      var entry = Carbon_Sobac_V1_CategoryEmission()
      entry.category = category
      entry.kgCo2E = categories[category] ?? 0
      return entry
    }
    out.keptInReference = period == .reference
    return out
  }
}

extension YearEmissionsCalculator {
  /// Warnings for the lines of a fertiliser known to be mixed with limestone (calcium ammonium
  /// nitrate) given without carbonate_percent: Eq. 12 counts « calcaire inorganique […] inclus
  /// dans des mélanges d'engrais », the seed prints no share, so their carbonate is counted 0.
  func carbonateWarnings(of year: Carbon_Sobac_V1_FarmYear, path: String) -> [String] {
    year.inputs.enumerated().compactMap { index, line in
      guard line.carbonatePercent == 0, resolver.data.inputs[line.inputCode]?.fieldCO2 == .carbonateInMix else { return nil }
      return "\(path).inputs[\(index)].carbonate_percent: \(line.inputCode.quoted) is a fertiliser mixed with limestone whose share the seed does not give; its carbonate is counted 0 in Eq. 12 (« inclus dans des mélanges d'engrais »): give carbonate_percent to count it"
    }
  }
}

extension EmissionCategory {
  /// The categories reported, in a stable order.
  static let reported: [EmissionCategory] = [
    .nFertiliser, .pkFertiliser, .organicAmendment, .plantProtection, .lime, .other,
  ]
}

extension Carbon_Sobac_V1_YearEmissions {
  /// Emissions of one category, kg CO2e.
  func kgCO2e(of category: EmissionCategory) -> Double {
    categories.first { $0.category == category }?.kgCo2E ?? 0
  }
}
