import CarbonDomain
import CarbonPluginKit

/// The territory's share of France's harvested wood products, sawnwood (BO) and industrial
/// wood (BI), by harvest or by population (README §2.8).
///
/// ALDO computes this share once (`data/stocks.js`, `getAnnualWoodProductsHarvest`) and uses it
/// twice: the flux is share × national sink (tCO2/yr, `calculations/flux/woodProducts.js`), the
/// stock is share × national stock (tC, `calculations/stocks/woodProducts.js`). Both callers use
/// this one type so the two can never drift apart.
struct WoodProductShares: Sendable {
  /// Method used (harvest or population).
  let method: Carbon_Aldo_V1_WoodProductsMethod
  /// Theoretical BO and BI harvest of the territory, m³/yr (harvest method; 0 otherwise).
  private(set) var harvestSawnwood = 0.0
  private(set) var harvestIndustrial = 0.0
  /// Population used (population method; 0 otherwise).
  private(set) var population = 0.0
  /// Shares of the national BO and BI figures, fractions.
  private(set) var sawnwood = 0.0
  private(set) var industrial = 0.0

  /// Computes the shares from the territory's BD Forêt rows (harvest) or population, and
  /// records the intermediate figures in the trace.
  init(
    method: Carbon_Aldo_V1_WoodProductsMethod, stands: [Stand], population: Double,
    data: AldoReferenceData, inventory: ForestInventory, trace: inout TraceBuilder
  ) {
    self.method = method
    if method == .population {
      let france = data.constant("france_total_population")
      let share = france > 0 ? population / france : 0
      self.population = population
      sawnwood = share
      industrial = share
      trace.term("wood_population_share", share, .ratio, formula: "population / france_total_population", source: "Data/aldo-constants.csv")
      if population == 0 {
        // Flux and stocks alike: a 0 by population is said, never silent.
        trace.warning("No part gives a population: the wood-product share by population is 0, so wood products count 0; give parts[].population")
      }
      return
    }
    let stem = data.constant("harvest_recovery_rate_stem"), branches = data.constant("harvest_recovery_rate_branches")
    for stand in stands {
      // Every stand was validated, so its rad13 has wood-use shares.
      guard let use = data.woodUse[stand.rad13] else { continue }
      for leaf in Leaf.forests {
        let area = stand.areas[leaf] ?? 0
        guard area > 0, let found = inventory.row(for: stand, leaf), let composition = data.compositions[leaf] else { continue }
        let bft = found.row.removalsVolume * area
        let vat = bft * composition.bftToVat
        let harvest = stem * bft + branches * (vat - bft)
        harvestSawnwood += harvest * use.sawnwood / 100
        harvestIndustrial += harvest * use.industrial / 100
      }
    }
    let nationalBO = data.constant("wood_products_france_harvest_bo")
    let nationalBI = data.constant("wood_products_france_harvest_bi")
    sawnwood = nationalBO > 0 ? harvestSawnwood / nationalBO : 0
    industrial = nationalBI > 0 ? harvestIndustrial / nationalBI : 0
    trace.term("wood_harvest_bo", harvestSawnwood, .m3, formula: "Σ (0.9·BFT + 0.5·(VAT − BFT)) × %BO/100, BFT = prelevement_volume × area")
    trace.term("wood_harvest_bi", harvestIndustrial, .m3, formula: "Σ (0.9·BFT + 0.5·(VAT − BFT)) × %BI/100")
    trace.term("wood_share_bo", sawnwood, .ratio, formula: "harvest_bo / wood_products_france_harvest_bo")
    trace.term("wood_share_bi", industrial, .ratio, formula: "harvest_bi / wood_products_france_harvest_bi")
  }

  /// The method a request asked for, defaulting to harvest (ALDO's « récolte »).
  static func method(
    _ requested: Carbon_Aldo_V1_WoodProductsMethod, field: String
  ) throws(ModuleError) -> Carbon_Aldo_V1_WoodProductsMethod {
    let method: Carbon_Aldo_V1_WoodProductsMethod = requested == .unspecified ? .harvest : requested
    guard [.harvest, .population].contains(method) else {
      throw .invalidArgument(field, "has an unknown value \(requested.rawValue)")
    }
    return method
  }

  /// Records the method decision in the trace.
  static func recordMethod(_ method: Carbon_Aldo_V1_WoodProductsMethod, in trace: inout TraceBuilder) {
    trace.decision(
      "wood_products_method", method == .population ? "POPULATION" : "HARVEST",
      reason: method == .population ? "requested (ALDO « consommation »)" : "ALDO's default « récolte »")
  }
}
