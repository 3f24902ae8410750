import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// Issue 18 acceptance: region 32 (Hauts-de-France) named by its code reproduces the seed's
/// published table (aldo-flux-hauts-de-france.txt), within the tolerances: 2 % for the
/// groups computed from exact ALDO data, 10 % for forests and wood products (EPCI substitute).
@Suite(.cpuBound) struct TerritoryAcceptanceTests {
  static func territory(
    _ level: Carbon_Aldo_V1_TerritoryLevel, _ codes: [String], forest: Carbon_Aldo_V1_ForestData = .unspecified
  ) -> Carbon_Aldo_V1_ComputeFluxRequest {
    var request = Carbon_Aldo_V1_ComputeFluxRequest()
    request.territory.codes = codes.map { value in
      var code = Carbon_Aldo_V1_TerritoryCode()
      code.level = level
      code.code = value
      return code
    }
    request.territory.forestData = forest
    return request
  }

  /// The region computed once for every test of the suite (3 798 communes).
  static let hautsDeFrance: Result<Carbon_Aldo_V1_ComputeFluxResponse, Error> = Result {
    try Aldo.compute(territory(.region, ["32"]))
  }

  /// Relative gap to the seed.
  static func gap(_ value: Double, _ seed: Double) -> Double { (value - seed) / abs(seed) }

  static func pool(_ response: Carbon_Aldo_V1_ComputeFluxResponse, _ group: Carbon_Aldo_V1_LandUseGroup, _ pool: Carbon_Aldo_V1_Pool) -> Double {
    response.balance.landUses.first { $0.group == group }?.pools.first { $0.pool == pool }?.fluxTCo2EPerYr ?? 0
  }

  /// « les cultures : 13 337 t éq. CO2 émises » · « les sols artificiels : 49 966 t éq. CO2 émises »
  /// · « Les vergers avec 149 t éq. CO2/an de séquestration nette » — exact ALDO data (CLC, zones,
  /// biomass), within 2 %. Measured: crops 13 337.4 (+0.003 %), orchards −149.48 (+0.3 %),
  /// artificial soils 50 025.6 (+0.12 %: its 12 094 t of deforestation use the EPCI density, see below).
  @Test func groupsFromExactAldoDataAreWithinTwoPercent() throws {
    let response = try Self.hautsDeFrance.get()
    #expect(response.territory.communeCount == 3798)
    #expect(response.territory.epciCount == 94)
    for (group, seed) in [(Carbon_Aldo_V1_LandUseGroup.crops, 13_337.0), (.orchards, -149.0), (.artificialSoils, 49_966.0)] {
      let value = Aldo.group(response, group)
      #expect(abs(Self.gap(value, seed)) < 0.02, "\(group): \(value) against the seed's \(seed)")
    }
    #expect(abs(Aldo.group(response, .crops) - 13_337) < 1, "crops match to the tonne")
    #expect(Aldo.group(response, .vineyards) == 0)
  }

  /// « les prairies : 3 447 t éq. CO2 émises, principalement dues ici à la destruction de forêts »
  /// · « Les zones humides avec 2 996 t éq. CO2/an de séquestration nette ».
  /// Measured: grasslands +3 701.7 (+7.4 %), wetlands −2 786.3 (+7.0 %). Both gaps are the
  /// density of the forest lost by deforestation: ALDO takes it from each commune's BD Forêt rows
  /// (not shipped, README §5.1), the module from the EPCI's GRECO mix (greco B: broadleaf
  /// 99.57 + 6.83 = 106.4, mixed 82.17 + 7.18 = 89.35 t C/ha). Without the deforestation pool the
  /// groups are exact ALDO data; the seed then implies a mean net loss of ≈ 79 t C/ha on the
  /// 12.7 ha/yr of forest → grassland and ≈ 78 t C/ha on the 3.8 ha/yr of forest → wetland, inside
  /// the range of IGN's rows for these forests (France mixed 94.0, rad13 HDF broadleaf 103.4, the
  /// lower B groupeser rows), against the module's 84.4 and 93.3 (net loss = forest density − destination stock). This test proves that reading:
  /// the seed's figure is what the module gives with a net loss in that range.
  @Test func grasslandAndWetlandGapsAreTheDeforestationDensity() throws {
    let response = try Self.hautsDeFrance.get()
    let co2PerC = 44.0 / 12
    for (group, seed) in [(Carbon_Aldo_V1_LandUseGroup.grasslands, 3_447.0), (.wetlands, -2_996.0)] {
      let value = Aldo.group(response, group)
      #expect(abs(Self.gap(value, seed)) < 0.10, "\(group): \(value)")
      let deforestation = Self.pool(response, group, .forestBiomassLoss)
      let lostArea = response.entries.filter { $0.group == group && $0.pool == .forestBiomassLoss }.reduce(0) { $0 + $1.areaHaPerYr }
      // The seed's figure minus everything but deforestation = ALDO's deforestation; per ha lost:
      let impliedLoss = (seed - (value - deforestation)) / co2PerC / lostArea
      let moduleLoss = deforestation / co2PerC / lostArea
      #expect(deforestation > 0 && lostArea > 3)
      #expect((60.0...95.0).contains(impliedLoss), "\(group): implied ALDO loss \(impliedLoss) t C/ha")
      #expect(impliedLoss < moduleLoss, "\(group): the EPCI density loses more than ALDO's commune rows")
    }
  }

  /// « Les forêts […] avec 2 060 617 t éq. CO2/an » · « Les produits bois avec 39 845 t éq. CO2/an »:
  /// through the EPCI forest substitute, within 10 % (the reference pack's own check gives
  /// −8.1 % and +9.1 %: 1 893 617 and 43 455, README §5.7 — reproduced to the tonne here).
  @Test func forestsAndWoodProductsThroughTheSubstituteAreWithinTenPercent() throws {
    let response = try Self.hautsDeFrance.get()
    let forests = Aldo.group(response, .forests)
    let wood = Aldo.group(response, .woodProducts)
    #expect(abs(Self.gap(forests, -2_060_617)) < 0.10, "forests \(forests)")
    #expect(abs(Self.gap(wood, -39_845)) < 0.10, "wood \(wood)")
    #expect(abs(forests - -1_893_617) < 1, "the pack's M2 figure: \(forests)")
    #expect(abs(wood - -43_455) < 1, "the pack's M2 wood figure: \(wood)")
    #expect(response.territory.forestStatus == .epciSubstitute)
    #expect(response.territory.forestMethod.hasPrefix("APPROXIMATION"))
    #expect(response.trace.warnings.contains { $0.contains("APPROXIMATION") })
    // 94 EPCIs, three across the border with Normandie (13/28, 10/44 and 2/41 communes inside).
    let straddling = response.territory.epcis.filter { $0.shareFraction < 1 }.map { "\($0.communesInside)/\($0.communesTotal)" }
    #expect(straddling.sorted() == ["10/44", "13/28", "2/41"])
    // The spread the pack asks to report (§5.6 b: forest area −0.8 % / +2.7 % for majority rule /
    // whole EPCIs); growth is area × rate, so it moves by about as much.
    func term(_ name: String) -> Double { response.trace.terms.first { $0.name == name }?.value ?? .nan }
    let used = term("forest_growth_share_of_communes")
    #expect(abs(used - Self.pool(response, .forests, .forestGrowth)) < 1e-6)
    let whole = Self.gap(term("forest_growth_whole_epcis"), used), majority = Self.gap(term("forest_growth_majority_rule"), used)
    #expect(whole < -0.015 && whole > -0.04, "whole EPCIs \(whole)")
    #expect(majority > 0.002 && majority < 0.015, "majority rule \(majority)")
    // ign19.csv: 510 557 ha of forest in the region (README §5.7).
    let area = response.trace.terms.first { $0.name == "territory_forest_area_ign19" }?.value ?? 0
    #expect(abs(area - 510_557) < 1, "\(area)")
  }

  /// « au global le bilan […] est une séquestration nette de 2 036 858 t éq. CO2/an » ·
  /// « 2 103 608 t éq. CO2 séquestrées » · « 66 750 t éq. CO2 émises ». Measured: sequestered
  /// −1 940 008 (−7.8 %, the forest substitute's −8.1 %), emitted +67 065 (+0.5 %), net
  /// −1 872 943 (−8.0 %). Forests stay ≈ 98 % of the sequestration (« 98% du total séquestré »).
  @Test func totalsFollowTheGroups() throws {
    let balance = try Self.hautsDeFrance.get().balance
    #expect(abs(Self.gap(balance.sequesteredTCo2EPerYr, -2_103_608)) < 0.10)
    #expect(abs(Self.gap(balance.emittedTCo2EPerYr, 66_750)) < 0.02)
    #expect(abs(Self.gap(balance.netTCo2EPerYr, -2_036_858)) < 0.10)
    let forestShare = balance.landUses.first { $0.group == .forests }?.sequestrationShareFraction ?? 0
    #expect(abs(forestShare - 0.98) < 0.01, "\(forestShare)")
  }
}
