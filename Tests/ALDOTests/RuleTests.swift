import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// Hand-computed cases for each rule branch (zone 2_1 unless said otherwise; 44/12 = 3.6667).
@Suite(.cpuBound) struct RuleTests {
  static let co2PerC = 44.0 / 12.0
  /// N2O (t) for a carbon loss L (tC, negative), as ALDO codes it.
  static func n2oAsCoded(_ loss: Double) -> Double { loss / 15 * 0.01 * 44 / 25 + loss / 15 * 0.3 * 0.0075 * 44 / 28 }

  @Test func instantaneousArtificialisation() throws {
    // Crops → sealed 5 ha/yr: soil cult_art_imp = −20 tC/ha × 1 year × 5 = −100 tC/yr → +366.67 t CO2e/yr.
    // N2O: L = −100 → −100/15 × (0.01 × 1.76 + 0.3 × 0.0075 × 1.5714) = −0.140905 t → × 273 = 38.467 t CO2e.
    let response = try Aldo.compute(Aldo.request([Aldo.part(annual: [(.cropland, .artificialSealed, 5)])]))
    let soil = try #require(Aldo.entries(response, .cropland, .artificialSealed, .soil).first)
    #expect(soil.years == 1)
    #expect(abs(soil.stockChangeTCPerYr - -100) < 1e-12)
    #expect(abs(soil.fluxTCo2EPerYr - 100 * Self.co2PerC) < 1e-9)
    let n2o = try #require(Aldo.entries(response, .cropland, .artificialSealed, .n2O).first)
    #expect(abs(n2o.n2OTPerYr - 0.14090476190476190) < 1e-12)
    #expect(abs(n2o.fluxTCo2EPerYr - 0.14090476190476190 * 273) < 1e-9)
    // No biomass: "cultures vers sols artificiels imperméabilisés" is empty in biomass-hors-forets.
    #expect(Aldo.entries(response, .cropland, .artificialSealed, .biomass).isEmpty)
    #expect(abs(Aldo.group(response, .artificialSoils) - (366.6666666666667 + 38.46700000000000)) < 1e-6)
    #expect(response.balance.emittedTCo2EPerYr > 0 && response.balance.sequesteredTCo2EPerYr == 0)
    // Issue 20 point 9: a change entry's area is a rate, ha/yr, in its own field; area_ha (ha) is
    // left for entries that cover an area.
    #expect(soil.areaHaPerYr == 5 && soil.areaHa == 0)
  }

  @Test func slowChangeSpreadOverTwentyYears() throws {
    // Zone 1_1, crops → grassland 2 ha/yr: cult_prai = 0.53 tC/ha/yr × 20 years × 2 = 21.2 tC/yr → −77.73 t CO2e/yr.
    // Biomass "cultures vers prairies zones herbacées" is empty: no biomass entry; a gain gives no N2O.
    let response = try Aldo.compute(Aldo.request([Aldo.part(zone: "1_1", annual: [(.cropland, .grassland, 2)])]))
    #expect(response.entries.count == 1)
    let soil = try #require(response.entries.first)
    #expect(soil.pool == .soil && soil.years == 20 && soil.unitStockChangeTC == 0.53)
    #expect(abs(soil.fluxTCo2EPerYr - -21.2 * Self.co2PerC) < 1e-9)
    #expect(abs(response.balance.sequesteredTCo2EPerYr - -77.73333333333333) < 1e-9)
    #expect(response.n2OTPerYr == 0)
  }

  @Test func grasslandToForestLosesSoilButGainsLitter() throws {
    // prai_for = −0.18 × 20 × 3 = −10.8 tC; litter +9 × 3 = 27 tC; L = 16.2 > 0 → no N2O;
    // net 16.2 tC × 44/12 = 59.4 t CO2e stored → −59.4.
    let response = try Aldo.compute(Aldo.request([Aldo.part(annual: [(.grassland, .forestConifer, 3)])]))
    #expect(response.entries.map(\.pool).sorted(by: { $0.rawValue < $1.rawValue }) == [.soil, .litter])
    #expect(abs(Aldo.group(response, .forests) - -59.4) < 1e-9)
  }

  @Test func forestLocationFallbacks() throws {
    // HDF conifer, no groupeser/greco: rad13 HDF + Conifere is replaced by greco B (0.64 tC/ha/yr):
    // 10 ha → 6.4 tC/yr. IDF conifer: rad13 IDF Conifere is "n.s", no basin → France Conifere 0.53: 10 ha → 5.3 tC/yr.
    let response = try Aldo.compute(
      Aldo.request([
        Aldo.part(stands: [Aldo.stand("", "", "HDF", "", conifer: 10), Aldo.stand("", "", "IDF", "", conifer: 10)])
      ]))
    let growth = response.entries.filter { $0.pool == .forestGrowth }
    #expect(growth.count == 2)
    #expect(growth[0].reference.contains("greco/B/Conifere") && abs(growth[0].stockChangeTCPerYr - 6.4) < 1e-12)
    #expect(growth[1].reference.contains("France/France/Conifere") && abs(growth[1].stockChangeTCPerYr - 5.3) < 1e-12)
    // Wood by harvest: IDF conifer from France (6.97 m³/ha/yr): BFT 69.7, VAT 90.61, harvest 62.73 + 10.455 = 73.185 m³.
    let idfSawnwood = 73.185 * 26.8429583901886 / 100
    let hdfSawnwood = (0.9 * 74.1 + 0.5 * (74.1 * 1.3 - 74.1)) * 35.4311094618812 / 100  // greco B 7.41 m³/ha/yr
    #expect(abs(response.woodProducts.harvestSawnwoodM3PerYr - (idfSawnwood + hdfSawnwood)) < 1e-9)
  }

  @Test func practicesHandComputed() throws {
    // cropsHedges 50 ha: soil 0.06 × 50 = 3 tC, biomass 0.09 × 50 = 4.5 tC → 7.5 tC → −27.5 t CO2e (crops).
    // orchardsInterCoverCropping 10 ha: 0.49 × 10 = 4.9 tC → −17.9667 (orchards).
    var request = Aldo.request([Aldo.part()])
    for (practice, area) in [(Carbon_Aldo_V1_Practice.cropsHedges, 50.0), (.orchardsInterCoverCropping, 10)] {
      var entry = Carbon_Aldo_V1_PracticeArea()
      entry.practice = practice
      entry.areaHa = area
      request.practices.append(entry)
    }
    let response = try Aldo.compute(request)
    #expect(abs(Aldo.group(response, .crops) - -27.5) < 1e-9)
    #expect(abs(Aldo.group(response, .orchards) - -4.9 * Self.co2PerC) < 1e-9)
    #expect(response.entries.count == 3)  // orchards' biomass factor is 0: dropped
  }

  /// Pack README §2.10 « For each practice, flux = area × factor »: ALDO keys practices by name
  /// and takes one area each, so a practice given twice is refused naming the second entry (it
  /// was summed, catchCrops 500 + 300 ha → −704), as a pair given twice in area_overrides is.
  @Test func aPracticeGivenTwiceIsRefused() throws {
    var request = Aldo.request([Aldo.part()])
    for (practice, area) in [(Carbon_Aldo_V1_Practice.catchCrops, 500.0), (.cropsHedges, 10), (.catchCrops, 300)] {
      var entry = Carbon_Aldo_V1_PracticeArea()
      entry.practice = practice
      entry.areaHa = area
      request.practices.append(entry)
    }
    try Aldo.expectError(Aldo.flux, request, status: .invalidArgument, field: "practices[2].practice")
    // Once: catchCrops 500 ha × 0.24 = 120 t C → −440 t CO2e/yr.
    request.practices.removeLast()
    request.practices.removeLast()
    #expect(abs(Aldo.group(try Aldo.compute(request), .crops) - -440) < 1e-9)
  }

  /// Pack README §2.8 « By population ("consommation"): share = commune population / 64299705 »:
  /// parts without a population give a share of 0, so wood products 0 — said by a warning, as
  /// ComputeStocks says it, never a silent 0. With population 64 299.705 the share is 1/1000:
  /// −(918 160.6252 + 441 532.8296) / 1000 = −1 359.6935 t CO2e/yr.
  @Test func woodByPopulationWithoutPopulationIsSaid() throws {
    var request = Aldo.request([Aldo.part()])
    request.woodProductsMethod = .population
    let none = try Aldo.compute(request)
    #expect(Aldo.group(none, .woodProducts) == 0)
    #expect(none.trace.warnings.contains { $0.hasPrefix("No part gives a population") })
    request.parts[0].population = 64_299.705
    let some = try Aldo.compute(request)
    #expect(abs(Aldo.group(some, .woodProducts) - -(918_160.6252 + 441_532.8296) / 1000) < 1e-6)
    #expect(!some.trace.warnings.contains { $0.hasPrefix("No part gives a population") })
  }

  @Test func deforestationWithoutStandAsCodedAndCorrected() throws {
    // Broadleaf → crops 1 ha/yr, no BD Forêt row. As coded: density 0, so the biomass loss is
    // 0 (crops stock) − 0 = 0 and is dropped; soil −5 tC, litter −9 tC, N2O on L = −14.
    var request = Aldo.request([Aldo.part(annual: [(.forestBroadleaf, .cropland, 1)])])
    let asCoded = try Aldo.compute(request)
    #expect(Aldo.entries(asCoded, .forestBroadleaf, .cropland, .forestBiomassLoss).isEmpty)
    #expect(asCoded.trace.warnings.contains(where: { $0.contains("density 0") }))
    let expectedAsCoded = (5 + 9) * Self.co2PerC - Self.n2oAsCoded(-14) * 273
    #expect(abs(Aldo.group(asCoded, .crops) - expectedAsCoded) < 1e-9)
    // Corrected: France broadleaf density 90.35 + 8.33 = 98.68 tC/ha; N2O with 44/28 and GWP 265.
    request.mode = .corrected
    let corrected = try Aldo.compute(request)
    let loss = try #require(Aldo.entries(corrected, .forestBroadleaf, .cropland, .forestBiomassLoss).first)
    #expect(abs(loss.stockChangeTCPerYr - -98.68) < 1e-9)
    let n2oCorrected = -14.0 / 15 * 0.01 * 44 / 28 + -14.0 / 15 * 0.3 * 0.0075 * 44 / 28
    let expectedCorrected = (5 + 9 + 98.68) * Self.co2PerC - n2oCorrected * 265
    #expect(abs(Aldo.group(corrected, .crops) - expectedCorrected) < 1e-9)
    #expect(corrected.trace.rules.contains(where: { $0.rule == "aldo.corrected.n2o_direct_factor" }))
    #expect(corrected.mode == .corrected)
  }

  @Test func artificialSplitFromForestIsNotAreaConservingAsCoded() throws {
    // 311 → 112 60 ha and 311 → 141 3 ha: C = 10, A = 0.5 ha/yr. As coded: sealed = 0.8 × 10.5 = 8.4,
    // grassed = 0.2 × C = 2 (A ignored), wooded = 0.5: 10.9 = C + A + p·A. Corrected: grassed = 0.2 × 10.5 − 0.5 = 1.6.
    let clc = [("311", "112", 60.0), ("311", "141", 3.0)]
    func areas(_ mode: Carbon_Aldo_V1_CalculationMode) throws -> [LandUse: Double] {
      var request = Aldo.request([Aldo.part(clc: clc)])
      request.mode = mode
      var result: [LandUse: Double] = [:]
      for area in try Aldo.compute(request).annualAreas { result[area.toLandUse] = area.areaHaPerYr }
      return result
    }
    let asCoded = try areas(.asCoded)
    #expect(abs((asCoded[.artificialSealed] ?? 0) - 8.4) < 1e-12)
    #expect(abs((asCoded[.artificialGrassed] ?? 0) - 2) < 1e-12)
    #expect(abs((asCoded[.artificialWooded] ?? 0) - 0.5) < 1e-12)
    let corrected = try areas(.corrected)
    #expect(abs((corrected[.artificialGrassed] ?? 0) - 1.6) < 1e-12)
  }

  @Test func artificialSplitWhenTheWoodedShareIsLarge() throws {
    // Crops → 112 6 ha and → 141 6 ha: C = 1, A = 1; A ≥ 0.2 × 2, so sealed = C = 1, grassed = 0, wooded = A = 1.
    // From orchards the wooded part is forced to 0.
    let response = try Aldo.compute(
      Aldo.request([Aldo.part(clc: [("211", "112", 6), ("211", "141", 6), ("222", "141", 6)])]))
    let areas = response.annualAreas.map { ($0.fromLandUse, $0.toLandUse, $0.areaHaPerYr) }
    #expect(areas.count == 2)
    #expect(areas.contains(where: { $0 == (.cropland, .artificialSealed, 1) }))
    #expect(areas.contains(where: { $0 == (.cropland, .artificialWooded, 1) }))
  }

  @Test func proportionSealedChangesTheSplit() throws {
    // p = 0.5, crops → 112 60 ha (C = 10), A = 0: sealed 5, grassed 5.
    var request = Aldo.request([Aldo.part(clc: [("211", "112", 60)])])
    request.sealedShareFraction = 0.5
    let response = try Aldo.compute(request)
    #expect(response.annualAreas.map(\.areaHaPerYr) == [5, 5])
    #expect(response.trace.decisions.contains(where: { $0.rule == "sealed_share_fraction" && $0.choice == "0.5" }))
  }

  @Test func artificialOriginIsCountedTwiceAsCodedOnceCorrected() throws {
    // 112 → 211 6 ha: code 112 is in both the sealed and the grassed lists.
    var request = Aldo.request([Aldo.part(clc: [("112", "211", 6)])])
    let asCoded = try Aldo.compute(request)
    #expect(asCoded.annualAreas.map(\.fromLandUse) == [.artificialSealed, .artificialGrassed])
    #expect(asCoded.trace.warnings.contains(where: { $0.contains("both sealed and grassed") }))
    request.mode = .corrected
    #expect(try Aldo.compute(request).annualAreas.map(\.fromLandUse) == [.artificialSealed])
  }

  @Test func litterRulesAsCodedAndCorrected() throws {
    // Wooded artificial → crops: as coded no litter; corrected −9 tC/ha. Sealed → forest: as coded none, corrected +9.
    var request = Aldo.request([
      Aldo.part(annual: [(.artificialWooded, .cropland, 1), (.artificialSealed, .forestMixed, 1)])
    ])
    let asCoded = try Aldo.compute(request)
    #expect(asCoded.entries.filter { $0.pool == .litter }.isEmpty)
    request.mode = .corrected
    let corrected = try Aldo.compute(request)
    #expect(Aldo.entries(corrected, .artificialWooded, .cropland, .litter).first?.stockChangeTCPerYr == -9)
    #expect(Aldo.entries(corrected, .artificialSealed, .forestMixed, .litter).first?.stockChangeTCPerYr == 9)
  }

  @Test func soilSubstitutions() throws {
    let data = try AldoReferenceData.embedded.get()
    let rules = LandUseChangeRules(data: data, correctLitter: false)
    // Wetland → sealed = zh_cult + cult_art_imp = −75 + −20 = −95 (zone 2_1).
    #expect(rules.soilUnit(from: .wetlands, to: .artificialSealed, zone: "2_1")?.value == -95)
    // Sealed origin is treated as crops: sealed → grassland = cult_prai = 0.37.
    #expect(rules.soilUnit(from: .artificialSealed, to: .grasslandHerbaceous, zone: "2_1")?.value == 0.37)
    // Grassed origin as grassland, wooded origin as forest: wooded → crops = for_cult = −0.25.
    #expect(rules.soilUnit(from: .artificialWooded, to: .crops, zone: "2_1")?.value == -0.25)
    // Grassland → wooded artificial = prai_for; crops → orchards = 0; between prairie subtypes = 0.
    #expect(rules.soilUnit(from: .grasslandShrubby, to: .artificialWooded, zone: "2_1")?.value == -0.18)
    #expect(rules.soilUnit(from: .crops, to: .orchards, zone: "2_1")?.value == 0)
    #expect(rules.soilUnit(from: .grasslandWooded, to: .grasslandHerbaceous, zone: "2_1")?.value == 0)
    // Orchards → wetlands as crops → wetlands = cult_zh = 75; years 1 because a wetland is involved.
    #expect(rules.soilUnit(from: .orchards, to: .wetlands, zone: "2_1")?.value == 75)
    #expect(rules.soilYears(from: .orchards, to: .wetlands) == 1)
    #expect(rules.soilYears(from: .crops, to: .orchards) == 20)
    // Biomass years: the first matching rule wins (orchards → grassland wooded: "to prai_arbo" → 20).
    #expect(rules.biomassYears(from: .orchards, to: .grasslandWooded) == 20)
    #expect(rules.biomassYears(from: .grasslandWooded, to: .orchards) == 1)
    #expect(rules.biomassYears(from: .forestMixed, to: .crops) == nil)
    // Key replacement: herbaceous → wooded grassland reads the "… vers sols artificiels arborés …" column.
    #expect(rules.biomassColumn(from: .grasslandHerbaceous, to: .grasslandWooded)
      == "prairies zones herbacées vers sols artificiels arborés et buissonants")
  }

  @Test func areaOverrideSharesByDefaultAreas() throws {
    // Part 1 (zone 2_1) has 3 ha/yr crops → grassland, part 2 (zone 1_1) 1 ha/yr. Override: 8 ha/yr in total,
    // so 6 and 2 ha/yr: 0.37 × 20 × 6 + 0.53 × 20 × 2 = 44.4 + 21.2 = 65.6 tC/yr → −240.53 t CO2e/yr.
    var request = Aldo.request([
      Aldo.part("one", annual: [(.cropland, .grassland, 3)]),
      Aldo.part("two", zone: "1_1", annual: [(.cropland, .grassland, 1)]),
    ])
    var override = Carbon_Aldo_V1_AreaOverride()
    override.fromLandUse = .cropland
    override.toLandUse = .grassland
    override.areaHaPerYr = 8
    request.areaOverrides = [override]
    let response = try Aldo.compute(request)
    #expect(abs(response.balance.netTCo2EPerYr - -65.6 * Self.co2PerC) < 1e-9)
    let applied = try #require(response.overrides.first)
    #expect(applied.name == "area/cult_prai_herb" && applied.defaultValue == 4 && applied.value == 8)
  }

  /// Pack README §2.2 step 3: « The unit flux is then the area-weighted mean of the per-commune
  /// unit fluxes, or the plain mean if all areas are 0 » — over the communes, not the EPCI
  /// substitute's forest part (no zone). CA du Pays de Saint-Omer (200069037, 53 communes) has no
  /// crops → broadleaf change; 10 ha/yr given: 10/53 ha/yr per commune, mean cult_for over the
  /// communes' zones (32 × 3_1, 8 × 3_3, 7 × 2_3, 4 × 2_1, 2 × 4_1) = 15.94 / 53 = 0.300 755 t C/ha/yr,
  /// × 20 × 10 = 60.151 t C → −220.553 t CO2e/yr; litter 9 × 10 = 90 t C → −330. Before the fix the
  /// forest part took 1/54 of the area and the soil was −216.47.
  @Test func areaOverrideWithZeroDefaultsIsThePlainMeanOverCommunes() throws {
    var request = TerritoryAcceptanceTests.territory(.epci, ["200069037"])
    var override = Carbon_Aldo_V1_AreaOverride()
    override.fromLandUse = .cropland
    override.toLandUse = .forestBroadleaf
    override.areaHaPerYr = 10
    request.areaOverrides = [override]
    let response = try Aldo.compute(request)
    #expect(response.overrides.first { $0.name.hasPrefix("area/") }?.defaultValue == 0)
    let soil = Aldo.entries(response, .cropland, .forestBroadleaf, .soil).reduce(0) { $0 + $1.fluxTCo2EPerYr }
    #expect(abs(soil - -0.3007547169811323 * 20 * 10 * Self.co2PerC) < 1e-9, "\(soil)")
    #expect(abs(soil - -220.553459119497) < 1e-9)
    let litter = Aldo.entries(response, .cropland, .forestBroadleaf, .litter)
    #expect(abs(litter.reduce(0) { $0 + $1.fluxTCo2EPerYr } - -90 * Self.co2PerC) < 1e-9)
    #expect(litter.allSatisfy { !$0.part.contains("APPROXIMATION") }, "the forest part takes no share")
    let area = response.annualAreas.filter { $0.fromLandUse == .cropland && $0.toLandUse == .forestBroadleaf }.reduce(0) { $0 + $1.areaHaPerYr }
    #expect(abs(area - 10) < 1e-9)
  }

  @Test func factorOverrideIsUsedAndReported() throws {
    // soil_flux/2_1/cult_prai 0.37 → 0.5: 0.5 × 20 × 1 = 10 tC → −36.67.
    var request = Aldo.request([Aldo.part(annual: [(.cropland, .grassland, 1)])])
    var override = Carbon_Aldo_V1_FactorOverride()
    override.name = "soil_flux/2_1/cult_prai"
    override.value = 0.5
    request.factorOverrides = [override]
    let response = try Aldo.compute(request)
    #expect(abs(response.balance.netTCo2EPerYr - -10 * Self.co2PerC) < 1e-9)
    #expect(response.overrides.first?.defaultValue == 0.37)
    #expect(response.trace.rules.contains(where: { $0.rule == "aldo.override" }))
  }

  @Test func constantOverrideChangesTheN2OGwp() throws {
    var request = Aldo.request([Aldo.part(annual: [(.cropland, .artificialSealed, 5)])])
    var override = Carbon_Aldo_V1_FactorOverride()
    override.name = "constant/n2o_gwp"
    override.value = 265
    request.factorOverrides = [override]
    let n2o = try #require(Aldo.entries(try Aldo.compute(request), .cropland, .artificialSealed, .n2O).first)
    #expect(abs(n2o.fluxTCo2EPerYr - 0.14090476190476190 * 265) < 1e-9)
  }

  @Test func territoryWithoutAnyFluxToForestsDoesNotCrash() throws {
    // ALDO crashes on summary.forêts when no flux goes to forests (README §3.7); the module reports 0.
    let response = try Aldo.compute(Aldo.request([Aldo.part()]))
    #expect(Aldo.group(response, .forests) == 0)
    #expect(response.balance.netTCo2EPerYr == 0)
  }
}
