import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// The three worked examples of /work/shared/aldo/README.md §4, with the figures of
/// aldo-test-vectors.json (ALDO sign there: positive = stored; here negated, since the module
/// answers in the observatory's sign).
@Suite(.cpuBound) struct WorkedExampleTests {
  /// Example (a): ZPC 2_1, region 32 (NORD-OUEST), p = 0.8.
  static func exampleA() -> Carbon_Aldo_V1_ComputeFluxRequest {
    Aldo.request([
      Aldo.part(
        "a",
        clc: [
          ("211", "231", 36), ("231", "211", 24), ("211", "311", 12), ("323", "222", 6), ("311", "211", 6),
          ("211", "112", 42), ("211", "121", 18), ("211", "141", 3),
        ],
        stands: [Aldo.stand("B7", "B", "HDF", "Nord")])
    ])
  }

  @Test func exampleAAnnualAreasAfterTheArtificialSplit() throws {
    let response = try Aldo.compute(Self.exampleA())
    func area(_ from: LandUse, _ to: LandUse) -> Double {
      response.annualAreas.first(where: { $0.fromLandUse == from && $0.toLandUse == to })?.areaHaPerYr ?? .nan
    }
    // 36/6 = 6, 24/6 = 4, 12/6 = 2, 6/6 = 1, 6/6 = 1.
    #expect(abs(area(.cropland, .grassland) - 6) < 1e-12)
    #expect(abs(area(.grassland, .cropland) - 4) < 1e-12)
    #expect(abs(area(.cropland, .forestBroadleaf) - 2) < 1e-12)
    #expect(abs(area(.grasslandWooded, .orchard) - 1) < 1e-12)
    #expect(abs(area(.forestBroadleaf, .cropland) - 1) < 1e-12)
    // C = (42 + 18)/6 = 10, A = 3/6 = 0.5; A < 0.2 × 10.5 so sealed = 0.8 × 10.5 = 8.4,
    // grassed = 0.2 × 10.5 − 0.5 = 1.6, wooded = 0.5.
    #expect(abs(area(.cropland, .artificialSealed) - 8.4) < 1e-12)
    #expect(abs(area(.cropland, .artificialGrassed) - 1.5999999999999996) < 1e-12)
    #expect(abs(area(.cropland, .artificialWooded) - 0.5) < 1e-12)
    #expect(response.annualAreas.count == 8)
  }

  @Test func exampleAEveryCarbonEntry() throws {
    let response = try Aldo.compute(Self.exampleA())
    // (from, to, pool, unit, years, tC (ALDO sign), CO2e (ALDO sign)) from aldo-test-vectors.json.
    let expected: [(LandUse, LandUse, Carbon_Aldo_V1_Pool, Double, Double, Double, Double)] = [
      (.cropland, .grassland, .soil, 0.37, 20, 44.400000000000006, 162.8),
      (.cropland, .artificialGrassed, .soil, 19, 1, 30.39999999999999, 111.46666666666663),
      (.cropland, .artificialGrassed, .biomass, 0.35, 20, 11.199999999999998, 41.066666666666656),
      (.cropland, .artificialSealed, .soil, -20, 1, -168, -616),
      (.cropland, .artificialWooded, .soil, 10, 1, 5, 18.333333333333332),
      (.cropland, .artificialWooded, .litter, 9, 1, 4.5, 16.5),
      (.cropland, .artificialWooded, .biomass, 2.4, 20, 24, 88),
      (.cropland, .forestBroadleaf, .soil, 0.15, 20, 6, 22),
      (.cropland, .forestBroadleaf, .litter, 9, 1, 18, 66),
      (.grasslandWooded, .orchard, .soil, -0.87, 20, -17.4, -63.79999999999999),
      (.grasslandWooded, .orchard, .biomass, -32, 1, -32, -117.33333333333333),
      (.grassland, .cropland, .soil, -0.72, 20, -57.599999999999994, -211.19999999999996),
      (.forestBroadleaf, .cropland, .soil, -0.25, 20, -5, -18.333333333333332),
      (.forestBroadleaf, .cropland, .litter, -9, 1, -9, -33),
      (.forestBroadleaf, .cropland, .forestBiomassLoss, -83.75999999999999, 1, -83.75999999999999, -307.11999999999995),
    ]
    let carbon = response.entries.filter { $0.pool != .n2O }
    #expect(carbon.count == expected.count)
    for (from, to, pool, unit, years, tC, co2e) in expected {
      let found = Aldo.entries(response, from, to, pool)
      try #require(found.count == 1, "\(from)→\(to) \(pool)")
      let entry = found[0]
      #expect(abs(entry.unitStockChangeTC - unit) < 1e-9, "\(from)→\(to) \(pool) unit")
      #expect(entry.years == years, "\(from)→\(to) \(pool) years")
      #expect(abs(entry.stockChangeTCPerYr - tC) < 1e-9, "\(from)→\(to) \(pool) tC")
      #expect(abs(entry.fluxTCo2EPerYr - -co2e) < 1e-9, "\(from)→\(to) \(pool) CO2e")
    }
  }

  @Test func exampleAN2OEntries() throws {
    let response = try Aldo.compute(Self.exampleA())
    // (from, to, tN2O, CO2e ALDO sign): L/15·0.01·44/25 + L/15·0.3·0.0075·44/28, × 273.
    // e.g. L = −168: −11.2 × 0.0176 = −0.19712; −11.2 × 0.0035357 = −0.0396; sum −0.23672 → −64.62456.
    let expected: [(LandUse, LandUse, Double, Double)] = [
      (.cropland, .artificialSealed, -0.23671999999999996, -64.62455999999999),
      (.grasslandWooded, .orchard, -0.024517428571428572, -6.693258),
      (.grassland, .cropland, -0.08116114285714285, -22.156992),
      (.forestBroadleaf, .cropland, -0.019726666666666667, -5.38538),
    ]
    let n2o = response.entries.filter { $0.pool == .n2O }
    #expect(n2o.count == 4)
    for (from, to, tN2O, co2e) in expected {
      let entry = try #require(Aldo.entries(response, from, to, .n2O).first)
      #expect(abs(entry.n2OTPerYr - -tN2O) < 1e-12)
      #expect(abs(entry.fluxTCo2EPerYr - -co2e) < 1e-9)
    }
  }

  @Test func exampleASummaryAndTotal() throws {
    let response = try Aldo.compute(Self.exampleA())
    // summary_tCO2e_by_final_land_use (ALDO sign), negated.
    #expect(abs(Aldo.group(response, .crops) - 597.1957053333332) < 1e-9)
    #expect(abs(Aldo.group(response, .orchards) - 187.82659133333334) < 1e-9)
    #expect(abs(Aldo.group(response, .grasslands) - -162.8) < 1e-9)
    #expect(abs(Aldo.group(response, .forests) - -88) < 1e-9)
    #expect(abs(Aldo.group(response, .artificialSoils) - 405.25789333333336) < 1e-9)
    let artificial = try #require(response.balance.landUses.first(where: { $0.group == .artificialSoils }))
    func leaf(_ landUse: LandUse) -> Double { artificial.leaves.first(where: { $0.landUse == landUse })?.netFluxTCo2EPerYr ?? .nan }
    #expect(abs(leaf(.artificialSealed) - 680.62456) < 1e-9)
    #expect(abs(leaf(.artificialGrassed) - -152.53333333333327) < 1e-9)
    #expect(abs(leaf(.artificialWooded) - -122.83333333333333) < 1e-9)
    #expect(abs(response.balance.netTCo2EPerYr - 939.4801899999999) < 1e-9)
    // README: carbon subtotal −840.62 and N2O −98.86 (ALDO sign).
    let n2o = response.entries.filter { $0.pool == .n2O }.reduce(0) { $0 + $1.fluxTCo2EPerYr }
    #expect(abs(n2o - 98.86) < 0.005)
    #expect(abs(response.balance.netTCo2EPerYr - n2o - 840.62) < 0.005)
  }

  static func exampleB(_ method: Carbon_Aldo_V1_WoodProductsMethod = .harvest, population: Double = 0)
    -> Carbon_Aldo_V1_ComputeFluxRequest
  {
    var part = Aldo.part(
      "b",
      stands: [
        Aldo.stand("B5", "B", "HDF", "Nord", broadleaf: 300, conifer: 40, mixed: 25, poplar: 12),
        Aldo.stand("B7", "B", "HDF", "", broadleaf: 80, conifer: 20, mixed: 10, poplar: 3),
      ])
    part.population = population
    var request = Aldo.request([part])
    request.woodProductsMethod = method
    return request
  }

  @Test func exampleBForestGrowthWithFallbacks() throws {
    let response = try Aldo.compute(Self.exampleB())
    let growth = response.entries.filter { $0.pool == .forestGrowth }
    // (subtype, area, IGN row used, tC/ha/yr, tC/yr): groupeser B5 conifer/mixed are "n.s" → greco B;
    // poplar → bassin Nord, or France when the stand has no basin.
    let expected: [(LandUse, Double, String, Double, Double)] = [
      (.forestBroadleaf, 300, "groupeser/B5/Feuillu", 1.12, 336.00000000000006),
      (.forestConifer, 40, "greco/B/Conifere", 0.64, 25.6),
      (.forestMixed, 25, "greco/B/Mixte", 0.64, 16),
      (.forestPoplar, 12, "bassin_populicole/Nord/Peupleraie", 0.98, 11.76),
      (.forestBroadleaf, 80, "groupeser/B7/Feuillu", 0.79, 63.2),
      (.forestConifer, 20, "groupeser/B7/Conifere", 0.9, 18),
      (.forestMixed, 10, "groupeser/B7/Mixte", 1.03, 10.3),
      (.forestPoplar, 3, "France/France/Peupleraie", 0.38, 1.1400000000000001),
    ]
    #expect(growth.count == expected.count)
    for (leaf, area, row, unit, tC) in expected {
      let entry = try #require(growth.first(where: { $0.toLandUse == leaf && $0.areaHa == area }))
      #expect(entry.reference.contains(row), "\(entry.reference)")
      #expect(abs(entry.unitStockChangeTC - unit) < 1e-12)
      #expect(abs(entry.stockChangeTCPerYr - tC) < 1e-9)
    }
    // Growth 482.0 tC/yr × 44/12 = 1767.33 t CO2e/yr.
    let total = growth.reduce(0) { $0 + $1.fluxTCo2EPerYr }
    #expect(abs(total - -1767.3333333333335) < 1e-9)
  }

  @Test func exampleBWoodProductsByHarvest() throws {
    let response = try Aldo.compute(Self.exampleB())
    let wood = response.woodProducts
    // Row 1 broadleaf: BFT 3.29 × 300 = 987; VAT 1421.28; harvest 888.3 + 217.14 = 1105.44 m³.
    #expect(abs(wood.harvestSawnwoodM3PerYr - 726.8433459005856) < 1e-9)
    #expect(abs(wood.harvestIndustrialM3PerYr - 218.07635241604441) < 1e-9)
    #expect(abs(wood.sawnwoodShareFraction - 3.775057846626668e-05) < 1e-17)
    #expect(abs(wood.industrialShareFraction - 2.0823383316566917e-05) < 1e-17)
    let bo = try #require(Aldo.entries(response, nil, nil, .woodProductsSawnwood).first)
    let bi = try #require(Aldo.entries(response, nil, nil, .woodProductsIndustrial).first)
    #expect(abs(bo.fluxTCo2EPerYr - -34.66109472624907) < 1e-9)
    #expect(abs(bi.fluxTCo2EPerYr - -9.194207357609223) < 1e-9)
    #expect(abs(response.balance.netTCo2EPerYr - -1811.188635417192) < 1e-9)
  }

  @Test func exampleBWoodProductsByPopulation() throws {
    let response = try Aldo.compute(Self.exampleB(.population, population: 5000))
    // 5000 / 64 299 705 = 7.776085e-5; × 918 160.6252 = 71.3970; × 441 532.8296 = 34.3340.
    #expect(abs(response.woodProducts.sawnwoodShareFraction - 7.776085442382667e-05) < 1e-17)
    #expect(abs(Aldo.entries(response, nil, nil, .woodProductsSawnwood)[0].fluxTCo2EPerYr - -71.39695471386688) < 1e-9)
    #expect(abs(Aldo.entries(response, nil, nil, .woodProductsIndustrial)[0].fluxTCo2EPerYr - -34.333970085865865) < 1e-9)
    #expect(abs(response.woodProducts.fluxTCo2EPerYr - -105.73092479973275) < 1e-9)
  }

  @Test func exampleCPractices() throws {
    var request = Aldo.request([Aldo.part("c")])
    let practices: [(Carbon_Aldo_V1_Practice, Double)] = [
      (.catchCrops, 500), (.cropsAgroforestry, 40), (.prairiesHedges, 100), (.grassyStrips, 30),
      (.vineyardsInterCoverCropping, 25), (.prairieIntensification, 80),
    ]
    request.practices = practices.map { practice, area in
      var entry = Carbon_Aldo_V1_PracticeArea()
      entry.practice = practice
      entry.areaHa = area
      return entry
    }
    let response = try Aldo.compute(request)
    // (practice, pool, CO2e ALDO sign): area × factor × 44/12, no ×20.
    let expected: [(Carbon_Aldo_V1_Practice, Carbon_Aldo_V1_Pool, Double)] = [
      (.catchCrops, .practiceSoil, 440), (.cropsAgroforestry, .practiceSoil, 44),
      (.cropsAgroforestry, .practiceBiomass, 102.66666666666666), (.prairiesHedges, .practiceSoil, 36.666666666666664),
      (.prairiesHedges, .practiceBiomass, 55), (.grassyStrips, .practiceSoil, 53.9),
      (.vineyardsInterCoverCropping, .practiceSoil, 29.333333333333332), (.prairieIntensification, .practiceSoil, 114.4),
    ]
    #expect(response.entries.count == expected.count)
    for (practice, pool, co2e) in expected {
      let entry = try #require(response.entries.first(where: { $0.practice == practice && $0.pool == pool }))
      #expect(abs(entry.fluxTCo2EPerYr - -co2e) < 1e-9, "\(practice) \(pool)")
    }
    #expect(abs(response.balance.netTCo2EPerYr - -875.9666666666666) < 1e-9)
    #expect(abs(Aldo.group(response, .crops) - -640.5666666666666) < 1e-9)
    #expect(abs(Aldo.group(response, .grasslands) - -206.06666666666666) < 1e-9)
    #expect(abs(Aldo.group(response, .vineyards) - -29.333333333333332) < 1e-9)
  }

  @Test func everyExampleFilePasses() throws {
    let problems = try Aldo.harness().verifyExamples(in: Aldo.examplesDirectory)
    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
  }
}
