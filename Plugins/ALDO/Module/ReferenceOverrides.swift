import CarbonDomain
import CarbonPluginKit

/// Named access to every reference value, so that a request can replace any factor and the
/// answer can say which values were replaced.
///
/// Names: `constant/<name>`, `soil_flux/<zpc>/<from_to>`, `soil_stock/<zpc>/<land use>`,
/// `biomass/<inter-region>/<column>`, `forest/<level>/<code>/<composition>/<field>` (field:
/// `carbone`, `bois_mort_carbone`, `bilan_carbone`, `prelevement_volume`),
/// `wood_use/<rad13>/bo_percent|bi_percent`, `practice_soil/<practice>`,
/// `practice_biomass/<practice>`, `hedge/<department>`.
extension AldoReferenceData {
  /// Forest fields a request may override, with their units.
  static let forestFields: [(name: String, unit: String)] = [
    ("carbone", "tC/ha"), ("bois_mort_carbone", "tC/ha"), ("bilan_carbone", "tC/ha/yr"),
    ("prelevement_volume", "m3/ha/yr"),
  ]

  /// What a constant may be set to, so that an override cannot turn the method inside out.
  enum ConstantBound {
    /// > 0: a divisor (years, C:N ratio, national harvest or population), a conversion factor or a GWP.
    case positive
    /// ≥ 0: a stock, a sink, a density or a litter flux.
    case nonNegative
    /// In [0, 1]: a share or an emission fraction.
    case fraction

    func allows(_ value: Double) -> Bool {
      switch self {
      case .positive: value > 0
      case .nonNegative: value >= 0
      case .fraction: (0...1).contains(value)
      }
    }

    var words: String {
      switch self {
      case .positive: "must be > 0"
      case .nonNegative: "must be ≥ 0"
      case .fraction: "must be in [0, 1]"
      }
    }
  }

  /// The bound of every constant of Data/aldo-constants.csv (a test checks none is missing).
  static let constantBounds: [String: ConstantBound] = [
    "c_to_co2_factor": .positive, "n2o_gwp": .positive, "n2o_gwp_ar5_corrected": .positive,
    "n2o_soil_c_to_n_ratio": .positive, "n2o_direct_emission_factor": .fraction,
    "n2o_direct_n_to_n2o_factor_as_coded": .positive, "n2o_direct_n_to_n2o_factor_corrected": .positive,
    "n2o_leaching_fraction": .fraction, "n2o_leaching_emission_factor": .fraction, "n2o_indirect_n_to_n2o_factor": .positive,
    "clc_years_between_inventories": .positive, "transition_years_default": .positive, "litter_years_for_flux": .positive,
    "forest_deforestation_biomass_years_for_flux": .positive, "forest_litter_flux": .nonNegative,
    "forest_litter_stock_density": .nonNegative, "default_proportion_sealed": .fraction,
    "wood_products_france_sink_bo": .nonNegative, "wood_products_france_sink_bi": .nonNegative,
    "wood_products_france_harvest_bo": .positive, "wood_products_france_harvest_bi": .positive,
    "wood_products_france_stock_bo": .nonNegative, "wood_products_france_stock_bi": .nonNegative,
    "france_total_population": .positive, "harvest_recovery_rate_stem": .fraction,
    "harvest_recovery_rate_branches": .fraction, "hedge_default_carbon_per_km": .nonNegative,
  ]

  /// Applies the overrides of a request; unknown names or bad values are INVALID_ARGUMENT
  /// naming `<field>[i].name` / `<field>[i].value`.
  mutating func apply(
    _ overrides: [Carbon_Aldo_V1_FactorOverride], field: String
  ) throws(ModuleError) -> [Carbon_Aldo_V1_AppliedOverride] {
    var applied: [Carbon_Aldo_V1_AppliedOverride] = []
    var seen: Set<String> = []
    for (index, override) in overrides.enumerated() {
      let path = "\(field)[\(index)]"
      try Validate.finite(override.value, "\(path).value")
      guard seen.insert(override.name).inserted else {
        throw .invalidArgument("\(path).name", "\(override.name.quoted) is overridden twice")
      }
      guard let result = set(override.name, override.value) else {
        throw .invalidArgument(
          "\(path).name", "unknown reference value \(override.name.quoted) (ListReferenceData lists the names)")
      }
      if override.name.hasPrefix("constant/"), let bound = Self.constantBounds[String(override.name.dropFirst("constant/".count))],
        !bound.allows(override.value)
      {
        throw .invalidArgument("\(path).value", "\(override.name.quoted) \(bound.words), got \(override.value)")
      }
      if override.name.hasPrefix("wood_use/"), let code = override.name.split(separator: "/").dropFirst().first,
        let shares = woodUse[String(code)]
      {
        // BO and BI are shares of one harvest: each in [0, 100] % and together at most 100 % (the rest is fuelwood).
        guard shares.sawnwood >= 0, shares.industrial >= 0, shares.sawnwood + shares.industrial <= 100 else {
          throw .invalidArgument(
            "\(path).value",
            "wood-use shares of \(code) must be ≥ 0 % and sum to at most 100 % (BO \(shares.sawnwood) + BI \(shares.industrial))")
        }
      }
      var entry = Carbon_Aldo_V1_AppliedOverride()
      entry.name = override.name
      entry.defaultValue = result.previous
      entry.value = override.value
      entry.unit = result.unit
      applied.append(entry)
    }
    return applied
  }

  /// Sets a named value; returns its previous value (0 when the cell was empty) and unit, or
  /// nil for an unknown name.
  private mutating func set(_ name: String, _ value: Double) -> (previous: Double, unit: String)? {
    let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    guard let kind = parts.first else { return nil }
    switch (kind, parts.count) {
    case ("constant", 2):
      guard let previous = constants[parts[1]] else { return nil }
      constants[parts[1]] = value
      return (previous, constantUnits[parts[1]] ?? "")
    case ("soil_flux", 3):
      guard soilFlux[parts[1]] != nil, soilFluxColumns.contains(parts[2]) else { return nil }
      let previous = soilFlux[parts[1]]?[parts[2]] ?? 0
      soilFlux[parts[1]]?[parts[2]] = value
      let instantaneous = parts[2].contains("zh") || parts[2].contains("art_")
      return (previous, instantaneous ? "tC/ha" : "tC/ha/yr")
    case ("soil_stock", 3):
      guard soilStocks[parts[1]] != nil, soilStockColumns.contains(parts[2]) else { return nil }
      let previous = soilStocks[parts[1]]?[parts[2]] ?? 0
      soilStocks[parts[1]]?[parts[2]] = value
      return (previous, "tC/ha")
    case ("biomass", 3):
      guard biomass[parts[1]] != nil, biomassColumns.contains(parts[2]) else { return nil }
      let previous = biomass[parts[1]]?[parts[2]] ?? 0
      biomass[parts[1]]?[parts[2]] = value
      return (previous, parts[2].contains(" vers ") ? "tC/ha or tC/ha/yr" : "tC/ha")
    case ("forest", 5):
      let key = ForestInventoryKey(level: parts[1], code: parts[2], composition: parts[3])
      guard var row = forestRows[key], let field = Self.forestFields.first(where: { $0.name == parts[4] }) else {
        return nil
      }
      let previous: Double
      switch field.name {
      case "carbone": previous = row.liveCarbon; row.liveCarbon = value
      case "bois_mort_carbone": previous = row.deadWoodCarbon; row.deadWoodCarbon = value
      case "bilan_carbone": previous = row.carbonBalance; row.carbonBalance = value
      default: previous = row.removalsVolume; row.removalsVolume = value
      }
      forestRows[key] = row
      return (previous, field.unit)
    case ("wood_use", 3):
      guard let shares = woodUse[parts[1]] else { return nil }
      switch parts[2] {
      case "bo_percent": woodUse[parts[1]] = (value, shares.industrial); return (shares.sawnwood, "%")
      case "bi_percent": woodUse[parts[1]] = (shares.sawnwood, value); return (shares.industrial, "%")
      default: return nil
      }
    case ("practice_soil", 2), ("practice_biomass", 2):
      guard var factors = practices[parts[1]] else { return nil }
      let previous: Double
      if kind == "practice_soil" { previous = factors.soil; factors.soil = value } else {
        previous = factors.biomass; factors.biomass = value
      }
      practices[parts[1]] = factors
      return (previous, "tC/ha/yr")
    case ("hedge", 2):
      let previous = hedgeCarbon[parts[1]] ?? constant("hedge_default_carbon_per_km")
      guard hedgeCarbon[parts[1]] != nil || FrenchTerritories.department(code: parts[1]) != nil else { return nil }
      hedgeCarbon[parts[1]] = value
      return (previous, "tC/km")
    default:
      return nil
    }
  }

  /// Every overridable value, optionally limited to one zone and with or without forest rows.
  func referenceValues(zone: String, includeForest: Bool) -> [Carbon_Aldo_V1_ReferenceValue] {
    var values: [Carbon_Aldo_V1_ReferenceValue] = []
    func add(_ name: String, _ value: Double, _ unit: String, _ source: String) {
      var entry = Carbon_Aldo_V1_ReferenceValue()
      entry.name = name
      entry.value = value
      entry.unit = unit
      entry.source = source
      values.append(entry)
    }
    for name in constants.keys.sorted() {
      add("constant/\(name)", constants[name] ?? 0, constantUnits[name] ?? "", "Data/aldo-constants.csv")
    }
    for zpc in soilFlux.keys.sorted() where zone.isEmpty || zone == zpc {
      for column in soilFluxColumns {
        guard let value = soilFlux[zpc]?[column] else { continue }
        let instantaneous = column.contains("zh") || column.contains("art_")
        add("soil_flux/\(zpc)/\(column)", value, instantaneous ? "tC/ha" : "tC/ha/yr", "Data/flux-zpc.csv")
      }
      for column in soilStockColumns {
        guard let value = soilStocks[zpc]?[column] else { continue }
        add("soil_stock/\(zpc)/\(column)", value, "tC/ha", "Data/stocks-zpc.csv")
      }
    }
    for region in biomass.keys.sorted() {
      for column in biomassColumns {
        guard let value = biomass[region]?[column] else { continue }
        add("biomass/\(region)/\(column)", value, column.contains(" vers ") ? "tC/ha or tC/ha/yr" : "tC/ha",
            "Data/biomass-hors-forets.csv")
      }
    }
    if includeForest {
      for key in forestRows.keys.sorted(by: { $0.name < $1.name }) {
        guard let row = forestRows[key] else { continue }
        let fields = [row.liveCarbon, row.deadWoodCarbon, row.carbonBalance, row.removalsVolume]
        for (field, value) in zip(Self.forestFields, fields) {
          add("forest/\(key.name)/\(field.name)", value, field.unit, "Data/bilan-carbone-foret-par-localisation.csv")
        }
      }
    }
    for code in woodUse.keys.sorted() {
      guard let shares = woodUse[code] else { continue }
      add("wood_use/\(code)/bo_percent", shares.sawnwood, "%", "Data/proportion-usage-bois-par-region.csv")
      add("wood_use/\(code)/bi_percent", shares.industrial, "%", "Data/proportion-usage-bois-par-region.csv")
    }
    for name in practices.keys.sorted() {
      guard let factors = practices[name] else { continue }
      add("practice_soil/\(name)", factors.soil, "tC/ha/yr", "Data/agricultural-practices.csv")
      add("practice_biomass/\(name)", factors.biomass, "tC/ha/yr", "Data/agricultural-practices.csv")
    }
    for dep in hedgeCarbon.keys.sorted() {
      add("hedge/\(dep)", hedgeCarbon[dep] ?? 0, "tC/km", "Data/carbone-haies.csv")
    }
    for dep in hedgeRowsAldoMisses.keys.sorted() where hedgeCarbon[dep] == nil {
      guard let row = hedgeRowsAldoMisses[dep] else { continue }
      add(
        "hedge/\(dep)", constant("hedge_default_carbon_per_km"), "tC/km",
        "constant hedge_default_carbon_per_km, as ALDO codes it: Data/carbone-haies.csv's row \(row.fileKey.quoted) "
          + "(\(row.value) tC/km) does not match ALDO's look-up of \(dep.quoted)")
    }
    return values
  }
}
