import CarbonDomain

/// One flux entry while computing, in ALDO's internal sign (positive = carbon stored).
/// It is turned into the observatory's sign in exactly one place, ``FluxItem/message``.
struct FluxItem: Sendable {
  var part = ""
  var from: Leaf? = nil
  var to: Leaf? = nil
  var group: Carbon_Aldo_V1_LandUseGroup
  var pool: Carbon_Aldo_V1_Pool
  var area = 0.0
  /// Unit stock change (tC/ha or tC/ha/yr), positive = gain.
  var unit = 0.0
  var years = 1.0
  /// Stock change, tC/yr, positive = gain (0 for N2O and wood products).
  var stockChangeTC = 0.0
  /// CO2e, t/yr, ALDO sign: positive = sequestration.
  var storedCo2e = 0.0
  /// N2O emitted, t/yr (positive).
  var n2oEmitted = 0.0
  var reference = ""
  var practice: Carbon_Aldo_V1_Practice = .unspecified

  /// The entry as the response shows it (observatory sign: negative = sequestration).
  var message: Carbon_Aldo_V1_FluxEntry {
    var entry = Carbon_Aldo_V1_FluxEntry()
    entry.part = part
    if let from { entry.fromLandUse = from.landUse }
    if let to { entry.toLandUse = to.landUse }
    entry.group = group
    entry.pool = pool
    // A change (from → to) moves an area every year; growth and practices cover an area.
    if from != nil && to != nil { entry.areaHaPerYr = area } else { entry.areaHa = area }
    entry.unitStockChangeTC = unit
    entry.years = years
    entry.stockChangeTCPerYr = stockChangeTC
    entry.fluxTCo2EPerYr = ObservatorySign.flux(fromStored: storedCo2e)
    entry.n2OTPerYr = n2oEmitted
    entry.reference = reference
    entry.practice = practice
    return entry
  }
}

/// The one conversion between ALDO's sign and the observatory's.
enum ObservatorySign {
  /// ALDO: positive = stored. Observatory (seed): negative = sequestration.
  static func flux(fromStored stored: Double) -> Double { stored == 0 ? 0 : -stored }
}

/// Computes ALDO's flux entries for a territory: land-use changes (soil, litter, biomass,
/// deforestation, N2O), forest growth, wood products and agricultural practices.
struct FluxCalculator {
  let data: AldoReferenceData
  let rules: LandUseChangeRules
  let inventory: ForestInventory
  let corrected: Bool
  var trace: TraceBuilder
  private(set) var items: [FluxItem] = []

  init(data: AldoReferenceData, corrected: Bool, trace: TraceBuilder) {
    self.data = data
    self.rules = LandUseChangeRules(data: data, correctLitter: corrected)
    self.inventory = ForestInventory(data: data)
    self.corrected = corrected
    self.trace = trace
  }

  private var co2PerC: Double { data.constant("c_to_co2_factor") }

  // MARK: Land-use changes

  /// Soil, litter, non-forest biomass, deforestation and N2O entries of one part.
  mutating func landUseChanges(_ part: ResolvedPart) {
    for from in Leaf.allCases {
      for to in Leaf.allCases where to != from {
        let area = part.areas[from]?[to] ?? 0
        guard area > 0 else { continue }
        pairEntries(part, from, to, area)
      }
    }
  }

  private mutating func pairEntries(_ part: ResolvedPart, _ from: Leaf, _ to: Leaf, _ area: Double) {
    var soilTC = 0.0
    var base = FluxItem(part: part.name, from: from, to: to, group: to.group, pool: .soil, area: area)
    if let soil = rules.soilUnit(from: from, to: to, zone: part.zone) {
      let years = rules.soilYears(from: from, to: to)
      soilTC = soil.value * years * area
      add(base, unit: soil.value, years: years, tC: soilTC, reference: soil.reference)
    }
    var litterTC = 0.0
    if let litter = rules.litterUnit(from: from, to: to) {
      litterTC = litter * area
      base.pool = .litter
      add(base, unit: litter, years: 1, tC: litterTC, reference: "forest litter ±\(data.constant("forest_litter_flux")) tC/ha")
    }
    if soilTC != 0 { n2o(base, soilTC + litterTC) }
    if let biomass = rules.biomassUnit(from: from, to: to, interRegion: part.interRegion),
      let years = rules.biomassYears(from: from, to: to)
    {
      base.pool = .biomass
      add(base, unit: biomass.value, years: years, tC: biomass.value * years * area, reference: biomass.reference)
    }
    if from.isForest && !to.isForest {
      deforestation(base, part, from, to, area)
    }
  }

  private mutating func deforestation(_ item: FluxItem, _ part: ResolvedPart, _ from: Leaf, _ to: Leaf, _ area: Double) {
    var base = item
    base.pool = .forestBiomassLoss
    let destination = rules.biomassStock(to, interRegion: part.interRegion)
    var density = inventory.deforestationDensity(from, stands: part.stands)
    if density == nil, !part.densityStands.isEmpty,
      let substitute = inventory.deforestationDensity(from, stands: part.densityStands)
    {
      density = (substitute.value, "\(part.densityLabel): \(substitute.reference)")
    }
    if density == nil {
      if corrected, let national = data.compositions[from].flatMap({
        data.forestRows[ForestInventoryKey(level: "France", code: "France", composition: $0.ignComposition)]
      }) {
        density = (national.liveCarbon + national.deadWoodCarbon, "IGN France (corrected: part has no forest stand)")
        trace.rule(
          "aldo.corrected.deforestation_density",
          "\(part.name): no forest stand, so the \(from.aldoName) density is France's instead of 0 (README §3.4)")
      } else {
        trace.warning(
          "\(part.name): deforestation of \(from.aldoName) with no forest stand: density 0 as ALDO codes it, so the "
            + "loss only counts the destination's biomass (README §3.4); give forest_stands or use CALCULATION_MODE_CORRECTED.")
      }
    }
    let forestDensity = density?.value ?? 0
    let unit = destination - forestDensity
    let reference = "destination stock \(destination) tC/ha − forest density \(forestDensity) tC/ha (\(density?.reference ?? "no stand: 0"))"
    add(base, unit: unit, years: data.constant("forest_deforestation_biomass_years_for_flux"), tC: unit * area, reference: reference)
  }

  /// N2O from mineralised soil and litter carbon (README §2.9), only when carbon is lost.
  private mutating func n2o(_ item: FluxItem, _ lostTC: Double) {
    guard lostTC < 0 else { return }
    let directFactor = corrected ? data.constant("n2o_direct_n_to_n2o_factor_corrected") : data.constant("n2o_direct_n_to_n2o_factor_as_coded")
    let gwp = corrected ? data.constant("n2o_gwp_ar5_corrected") : data.constant("n2o_gwp")
    let ratio = data.constant("n2o_soil_c_to_n_ratio")
    guard ratio != 0 else { return }
    let nitrogen = lostTC / ratio
    let n2o = nitrogen * data.constant("n2o_direct_emission_factor") * directFactor
      + nitrogen * data.constant("n2o_leaching_fraction") * data.constant("n2o_leaching_emission_factor")
      * data.constant("n2o_indirect_n_to_n2o_factor")
    var entry = item
    entry.pool = .n2O
    entry.unit = 0
    entry.years = 1
    entry.stockChangeTC = 0
    entry.storedCo2e = n2o * gwp
    entry.n2oEmitted = -n2o
    entry.reference = "L = soil + litter = \(lostTC) tC/yr; N2O = L/15·0.01·\(directFactor) + L/15·0.3·0.0075·44/28; GWP \(gwp)"
    items.append(entry)
  }

  private mutating func add(_ item: FluxItem, unit: Double, years: Double, tC: Double, reference: String) {
    var entry = item
    entry.unit = unit
    entry.years = years
    entry.stockChangeTC = tC
    entry.storedCo2e = tC * co2PerC
    entry.reference = reference
    items.append(entry)
  }

  // MARK: Forest growth

  /// Net growth of standing forest: `bilan_carbone` (tC/ha/yr) × BD Forêt area, per stand and subtype.
  mutating func forestGrowth(_ part: ResolvedPart) {
    for stand in part.stands {
      for leaf in Leaf.forests {
        let area = stand.areas[leaf] ?? 0
        guard area > 0, let found = inventory.row(for: stand, leaf) else { continue }
        let item = FluxItem(part: part.name, to: leaf, group: .forests, pool: .forestGrowth, area: area)
        add(item, unit: found.row.carbonBalance, years: 1, tC: found.row.carbonBalance * area,
            reference: "IGN \(found.key.name) bilan_carbone")
      }
    }
  }

  // MARK: Wood products

  /// The territory's share of the national wood-product sinks (README §2.8); the result is tCO2.
  mutating func woodProducts(
    _ parts: [ResolvedPart], method: Carbon_Aldo_V1_WoodProductsMethod
  ) -> Carbon_Aldo_V1_WoodProductsDetail {
    let shares = WoodProductShares(
      method: method, stands: parts.flatMap(\.stands), population: parts.reduce(0) { $0 + $1.population },
      data: data, inventory: inventory, trace: &trace)
    var detail = Carbon_Aldo_V1_WoodProductsDetail()
    detail.method = method
    detail.population = shares.population
    detail.harvestSawnwoodM3PerYr = shares.harvestSawnwood
    detail.harvestIndustrialM3PerYr = shares.harvestIndustrial
    detail.sawnwoodShareFraction = shares.sawnwood
    detail.industrialShareFraction = shares.industrial
    let sinkBO = data.constant("wood_products_france_sink_bo")
    let sinkBI = data.constant("wood_products_france_sink_bi")
    let storedBO = detail.sawnwoodShareFraction * sinkBO
    let storedBI = detail.industrialShareFraction * sinkBI
    for (pool, stored, share, sink) in [
      (Carbon_Aldo_V1_Pool.woodProductsSawnwood, storedBO, detail.sawnwoodShareFraction, sinkBO),
      (.woodProductsIndustrial, storedBI, detail.industrialShareFraction, sinkBI),
    ] {
      var item = FluxItem(group: .woodProducts, pool: pool)
      item.storedCo2e = stored
      item.reference = "share \(share) × national sink \(sink) tCO2/yr (CITEPA 2016–2019)"
      items.append(item)
    }
    detail.fluxTCo2EPerYr = ObservatorySign.flux(fromStored: storedBO + storedBI)
    return detail
  }

  // MARK: Practices

  /// Practice flux: area × factor (tC/ha/yr) for soil and for biomass, no ×20 (README §2.10).
  mutating func practice(_ practice: Carbon_Aldo_V1_Practice, name: String, factors: PracticeFactors, area: Double) {
    let group: Carbon_Aldo_V1_LandUseGroup
    switch factors.landUse {
    case "prairies": group = .grasslands
    case "vignes": group = .vineyards
    case "vergers": group = .orchards
    default: group = .crops
    }
    var item = FluxItem(group: group, pool: .practiceSoil, area: area)
    item.practice = practice
    add(item, unit: factors.soil, years: 1, tC: factors.soil * area, reference: "practice_soil/\(name)")
    item.pool = .practiceBiomass
    add(item, unit: factors.biomass, years: 1, tC: factors.biomass * area, reference: "practice_biomass/\(name)")
  }
}
