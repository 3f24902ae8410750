import CarbonDomain
import CarbonPluginKit

extension Leaf {
  /// Column of stocks-zpc.csv holding this leaf's soil stock.
  var soilStockColumn: String {
    switch self {
    case .crops: "cultures"
    case .grasslandWooded, .grasslandHerbaceous, .grasslandShrubby: "prairies"
    case .wetlands: "zones humides"
    case .orchards: "vergers"
    case .vineyards: "vignes"
    case .artificialSealed: "sols artificiels imperméabilisés"
    case .artificialGrassed: "sols artificiels enherbés"
    case .artificialWooded: "sols artificiels arborés et buissonants"
    case .forestBroadleaf, .forestConifer, .forestMixed, .forestPoplar: "forêts"
    }
  }
}

extension AldoModule {
  public func computeStocks(_ request: Carbon_Aldo_V1_ComputeStocksRequest) throws(ModuleError)
    -> Carbon_Aldo_V1_ComputeStocksResponse
  {
    if request.hasTerritory { return try territoryStocks(request) }
    try Validate.nonEmpty(request.parts, "parts")
    var trace = newTrace()
    let woodMethod = try WoodProductShares.method(request.woodProductsMethod, field: "wood_products_method")
    let epci = try epciInfo(request.epciSiren, field: "epci_siren", trace: &trace)
    var reference = data
    let overrides = try reference.apply(request.factorOverrides, field: "factor_overrides")
    var input = TerritoryInput(data: reference, communes: nil, sealedShareFraction: 0, corrected: false, trace: trace)
    let inventory = ForestInventory(data: reference)
    let rules = LandUseChangeRules(data: reference, correctLitter: false)
    var entries: [Carbon_Aldo_V1_StockEntry] = []
    // Wood products are shared territory-wide from every part's BD Forêt rows or population.
    var stands: [Stand] = []
    var population = 0.0
    var forestAreasWithoutStands = false

    for (index, part) in request.parts.enumerated() {
      let path = "parts[\(index)]"
      let name = part.name.isEmpty ? "part \(index + 1)" : part.name
      guard let soil = reference.soilStocks[part.pedoclimaticZone] else {
        throw .invalidArgument("\(path).pedoclimatic_zone", "unknown pedoclimatic zone \(part.pedoclimaticZone.quoted)")
      }
      guard let interRegion = reference.interRegionOfRegion[part.regionCode] else {
        throw .invalidArgument("\(path).region_code", "unknown INSEE region code \(part.regionCode.quoted)")
      }
      func add(_ leaf: Leaf?, _ pool: Carbon_Aldo_V1_Pool, _ area: Double, _ density: Double, _ source: String) {
        guard area * density != 0 else { return }
        var entry = Carbon_Aldo_V1_StockEntry()
        entry.part = name
        entry.landUse = leaf?.landUse ?? .hedges
        entry.group = leaf?.group ?? .hedges
        entry.pool = pool
        if leaf == nil {  // hedges: a length in km and a density per km
          entry.lengthKm = area
          entry.densityTCPerKm = density
        } else {
          entry.areaHa = area
          entry.densityTCPerHa = density
        }
        entry.stockTC = area * density
        entry.reference = source
        entries.append(entry)
      }
      func forest(_ leaf: Leaf, _ area: Double, _ row: ForestInventoryRow, _ key: String) {
        add(leaf, .soil, area, soil[leaf.soilStockColumn] ?? 0, "stocks-zpc \(part.pedoclimaticZone) forêts")
        add(leaf, .biomass, area, row.liveCarbon, "IGN \(key) carbone")
        add(leaf, .deadWood, area, row.deadWoodCarbon, "IGN \(key) bois_mort_carbone")
        add(leaf, .litter, area, reference.constant("forest_litter_stock_density"), "forest_litter_stock_density")
      }
      var forestLeavesIgnored = false
      for (j, area) in part.areas.enumerated() {
        let field = "\(path).areas[\(j)]"
        guard let leaf = Leaf(area.landUse) else {
          throw .invalidArgument("\(field).land_use", "must be a leaf land use (not \(area.landUse))")
        }
        let hectares = try Validate.nonNegative(area.areaHa, "\(field).area_ha")
        if leaf.isForest {
          guard part.forestStands.isEmpty else { forestLeavesIgnored = true; continue }
          if hectares > 0 { forestAreasWithoutStands = true }
          guard let composition = reference.compositions[leaf]?.ignComposition,
            let row = reference.forestRows[ForestInventoryKey(level: "France", code: "France", composition: composition)]
          else { continue }
          forest(leaf, hectares, row, "France/France/\(composition)")
          continue
        }
        add(leaf, .soil, hectares, soil[leaf.soilStockColumn] ?? 0, "stocks-zpc \(part.pedoclimaticZone) \(leaf.soilStockColumn)")
        add(leaf, .biomass, hectares, rules.biomassStock(leaf, interRegion: interRegion),
            "biomass-hors-forets \(interRegion) \(leaf.aldoName)")
      }
      if forestLeavesIgnored {
        trace.warning("\(name): forest areas in `areas` are ignored because forest_stands are given (BD Forêt wins)")
      } else if part.areas.contains(where: { Leaf($0.landUse)?.isForest == true }) {
        trace.decision(
          "forest_stock_density_without_stands", "IGN France row",
          reason: "\(name): forest areas were given without BD Forêt rows, so the national IGN densities are used")
      }
      for (j, message) in part.forestStands.enumerated() {
        input.trace = trace  // the stand's notes (an "NA" code read as none) go to this call's trace
        let stand = try input.validate(message, "\(path).forest_stands[\(j)]")
        trace = input.trace
        stands.append(stand)
        for leaf in Leaf.forests {
          let area = stand.areas[leaf] ?? 0
          guard area > 0, let found = inventory.row(for: stand, leaf) else { continue }
          forest(leaf, area, found.row, found.key.name)
        }
      }
      population += try Validate.nonNegative(part.population, "\(path).population")
      let km = try Validate.nonNegative(part.hedgesKm, "\(path).hedges_km")
      if km > 0 {
        let perKm = reference.hedgeCarbon[part.departmentCode]
        if perKm == nil {
          guard part.departmentCode.isEmpty || FrenchTerritories.department(code: part.departmentCode) != nil else {
            throw .invalidArgument("\(path).department_code", "unknown department \(part.departmentCode.quoted)")
          }
          if let missed = reference.hedgeRowsAldoMisses[part.departmentCode] {
            trace.decision(
              "hedge_department_leading_zero", "ALDO's default \(reference.constant("hedge_default_carbon_per_km")) tC/km",
              reason: "\(name): carbone-haies.csv writes department \(part.departmentCode.quoted) as \(missed.fileKey.quoted) "
                + "(\(missed.value) tC/km) and ALDO's look-up misses it, so ALDO uses its default — its own export gives "
                + "02198 Clamecy 101.347 tC/km (reference pack export-stocks-100-communes.csv); reproduced as coded "
                + "(METHODS.md §3); override hedge/\(part.departmentCode) = \(missed.value) to use the file's row")
          } else {
            trace.warning("\(name): no hedge density for department \(part.departmentCode.quoted): ALDO's default per km is used")
          }
        }
        add(nil, .hedges, km, perKm ?? reference.constant("hedge_default_carbon_per_km"),
            (perKm == nil ? "hedge_default_carbon_per_km" : "carbone-haies \(part.departmentCode) C_tot_km") + " (tC/km) × \(km) km")
      }
    }

    WoodProductShares.recordMethod(woodMethod, in: &trace)
    let wood = woodProductStocks(
      WoodProductShares(
        method: woodMethod, stands: stands, population: population, data: reference, inventory: inventory, trace: &trace),
      reference: reference, trace: &trace)
    entries += wood.entries
    if woodMethod == .harvest && forestAreasWithoutStands {
      trace.warning(
        "Forest areas given in `areas` have no IGN location, so they give no harvest: the wood-product stock by harvest "
          + "counts BD Forêt rows (forest_stands) only, as ALDO does")
    }

    var response = Carbon_Aldo_V1_ComputeStocksResponse()
    response.territoryName = request.territoryName.isEmpty ? (epci?.name ?? "") : request.territoryName
    if let epci { response.epci = epci }
    response.entries = entries
    response.woodProducts = wood.detail
    let co2PerC = reference.constant("c_to_co2_factor")
    let total = entries.reduce(0) { $0 + $1.stockTC }
    for group in Carbon_Aldo_V1_LandUseGroup.balanceOrder {
      let rows = entries.filter { $0.group == group }
      var stock = Carbon_Aldo_V1_GroupStock()
      stock.group = group
      stock.label = group.label
      stock.stockTC = rows.reduce(0) { $0 + $1.stockTC }
      stock.stockTCo2E = stock.stockTC * co2PerC
      // Area once per leaf land use: the soil entry carries it (hedges have km, wood products no area).
      stock.areaHa = rows.filter { $0.pool == .soil }.reduce(0) { $0 + $1.areaHa }
      stock.shareFraction = total > 0 ? stock.stockTC / total : 0
      response.groups.append(stock)
      trace.term("stock.\(group.label)", stock.stockTC, .tC)
    }
    response.totalTC = total
    response.totalTCo2E = total * co2PerC
    response.overrides = overrides
    Self.recordOverrides(overrides, in: &trace)
    response.dataSetVersion = AldoReferenceData.version
    trace.term("stock_total", total, .tC, formula: "Σ area × density + wood-product stocks")
    response.trace = trace.build()
    return response
  }

  /// Stocks of a territory named by code (issue 18 point 5). The shipped files give forest
  /// areas (by EPCI, through the territory's forest data) and population, not the CLC 2018 land
  /// cover by commune (clc18.csv) nor hedge lengths (haie-clc18.csv) ALDO's stocks use: forest
  /// live biomass, dead wood and litter and the wood-product stocks are computed, the rest is
  /// listed in `not_computed` (and the trace) — never a silent 0.
  func territoryStocks(_ request: Carbon_Aldo_V1_ComputeStocksRequest) throws(ModuleError) -> Carbon_Aldo_V1_ComputeStocksResponse {
    guard request.parts.isEmpty else { throw .invalidArgument("parts", "give either parts or territory, not both") }
    var trace = newTrace()
    let woodMethod = try WoodProductShares.method(request.woodProductsMethod, field: "wood_products_method")
    var reference = data
    let overrides = try reference.apply(request.factorOverrides, field: "factor_overrides")
    var input = TerritoryInput(data: reference, communes: communes, sealedShareFraction: 0, corrected: false, trace: trace)
    let territory = try territoryParts(request.territory, field: "territory", input: &input, trace: &trace)
    let inventory = ForestInventory(data: reference)
    var entries: [Carbon_Aldo_V1_StockEntry] = []
    // Forest parts: the EPCI substitute's stands; with BD Forêt rows, the communes' own stands.
    let forestParts = territory.forestParts + territory.communeParts.filter { !$0.stands.isEmpty }
    for part in forestParts {
      for stand in part.stands {
        for leaf in Leaf.forests {
          let area = stand.areas[leaf] ?? 0
          guard area > 0, let found = inventory.row(for: stand, leaf) else { continue }
          for (pool, density, source) in [
            (Carbon_Aldo_V1_Pool.biomass, found.row.liveCarbon, "IGN \(found.key.name) carbone"),
            (.deadWood, found.row.deadWoodCarbon, "IGN \(found.key.name) bois_mort_carbone"),
            (.litter, reference.constant("forest_litter_stock_density"), "forest_litter_stock_density"),
          ] where density != 0 {
            var entry = Carbon_Aldo_V1_StockEntry()
            entry.part = part.name
            entry.landUse = leaf.landUse
            entry.group = .forests
            entry.pool = pool
            entry.areaHa = pool == .biomass ? area : 0  // the area once per leaf, on the biomass entry
            entry.densityTCPerHa = density
            entry.stockTC = area * density
            entry.reference = source
            entries.append(entry)
          }
        }
      }
    }
    WoodProductShares.recordMethod(woodMethod, in: &trace)
    let shares = WoodProductShares(
      method: woodMethod, stands: forestParts.flatMap(\.stands), population: territory.info.population, data: reference,
      inventory: inventory, trace: &trace)
    let wood = woodProductStocks(shares, reference: reference, trace: &trace)
    entries += wood.entries
    var notComputed = [
      "soil carbon and non-forest biomass of every land use: ALDO takes them from CORINE Land Cover 2018 areas by "
        + "commune (clc18.csv), which the reference pack does not hold; give the areas as parts[].areas",
      "forest soil carbon: the forest areas are known by EPCI (ign19.csv), not by pedoclimatic zone",
      "hedges: ALDO's hedge lengths by commune (haie-clc18.csv) are not in the reference pack; give hedges_km in parts",
    ]
    if [.notComputed, .partial].contains(territory.info.forestStatus) {
      notComputed.append("standing forest (part or all): \(territory.info.forestMethod); see the warnings")
    }
    for item in notComputed { trace.warning("STOCK NOT COMPUTED — \(item)") }

    var response = Carbon_Aldo_V1_ComputeStocksResponse()
    response.territoryName = request.territoryName.isEmpty ? territory.info.label : request.territoryName
    response.territory = territory.info
    response.notComputed = notComputed
    response.entries = entries
    response.woodProducts = wood.detail
    let co2PerC = reference.constant("c_to_co2_factor")
    let total = entries.reduce(0) { $0 + $1.stockTC }
    for group in Carbon_Aldo_V1_LandUseGroup.balanceOrder {
      let rows = entries.filter { $0.group == group }
      guard !rows.isEmpty else { continue }
      var stock = Carbon_Aldo_V1_GroupStock()
      stock.group = group
      stock.label = group.label
      stock.stockTC = rows.reduce(0) { $0 + $1.stockTC }
      stock.stockTCo2E = stock.stockTC * co2PerC
      stock.areaHa = rows.reduce(0) { $0 + $1.areaHa }
      stock.shareFraction = total > 0 ? stock.stockTC / total : 0
      response.groups.append(stock)
      trace.term("stock.\(group.label)", stock.stockTC, .tC)
    }
    response.totalTC = total
    response.totalTCo2E = total * co2PerC
    response.overrides = overrides
    Self.recordOverrides(overrides, in: &trace)
    response.dataSetVersion = AldoReferenceData.version
    trace.term("stock_total", total, .tC, formula: "Σ forest area × density + wood-product stocks (what shipped data gives)")
    response.trace = trace.build()
    return response
  }

  /// The territory's wood-product stocks: its share of France's harvested wood (the same share
  /// as the flux) × the national BO and BI stocks, in t C (ALDO's
  /// calculations/stocks/woodProducts.js; national stocks from data/stocks.js
  /// getFranceStocksWoodProducts, CITEPA 2016–2019).
  private func woodProductStocks(
    _ shares: WoodProductShares, reference: AldoReferenceData, trace: inout TraceBuilder
  ) -> (entries: [Carbon_Aldo_V1_StockEntry], detail: Carbon_Aldo_V1_WoodProductsStockDetail) {
    var detail = Carbon_Aldo_V1_WoodProductsStockDetail()
    detail.method = shares.method
    detail.harvestSawnwoodM3PerYr = shares.harvestSawnwood
    detail.harvestIndustrialM3PerYr = shares.harvestIndustrial
    detail.population = shares.population
    detail.sawnwoodShareFraction = shares.sawnwood
    detail.industrialShareFraction = shares.industrial
    detail.nationalStockSawnwoodTC = reference.constant("wood_products_france_stock_bo")
    detail.nationalStockIndustrialTC = reference.constant("wood_products_france_stock_bi")
    detail.stockSawnwoodTC = shares.sawnwood * detail.nationalStockSawnwoodTC
    detail.stockIndustrialTC = shares.industrial * detail.nationalStockIndustrialTC
    trace.term(
      "wood_stock_bo", detail.stockSawnwoodTC, .tC, formula: "wood_share_bo × wood_products_france_stock_bo",
      source: "Data/aldo-constants.csv")
    trace.term(
      "wood_stock_bi", detail.stockIndustrialTC, .tC, formula: "wood_share_bi × wood_products_france_stock_bi",
      source: "Data/aldo-constants.csv")
    var entries: [Carbon_Aldo_V1_StockEntry] = []
    for (pool, stock, share, national, name) in [
      (Carbon_Aldo_V1_Pool.woodProductsSawnwood, detail.stockSawnwoodTC, shares.sawnwood, detail.nationalStockSawnwoodTC, "bo"),
      (.woodProductsIndustrial, detail.stockIndustrialTC, shares.industrial, detail.nationalStockIndustrialTC, "bi"),
    ] where stock != 0 {
      var entry = Carbon_Aldo_V1_StockEntry()
      entry.landUse = .woodProducts
      entry.group = .woodProducts
      entry.pool = pool
      entry.stockTC = stock
      entry.reference = "share \(share) × wood_products_france_stock_\(name) \(national) tC (CITEPA 2016–2019)"
      entries.append(entry)
    }
    return (entries, detail)
  }
}
