import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// The forest data of a territory (reference pack README §5): the two 2018 EPCI mergers, BD Forêt
/// rows that cover only part of a territory, and BD Forêt's SER-group codes the IGN table lacks.
@Suite(.cpuBound) struct TerritoryForestDataTests {
  typealias T = TerritoryAcceptanceTests

  static func growth(_ response: Carbon_Aldo_V1_ComputeFluxResponse) -> Double {
    Aldo.entries(response, nil, nil, .forestGrowth).reduce(0) { $0 + $1.fluxTCo2EPerYr }
  }

  /// Harvest of a subtype's area (README §2.8): BFT = removals × area; 0.9·BFT + 0.5·(VAT − BFT).
  static func harvest(_ area: Double, _ removals: Double, _ vat: Double) -> Double {
    let bft = area * removals
    return 0.9 * bft + 0.5 * (bft * vat - bft)
  }

  /// Wood products by harvest (observatory sign) of a harvest at a rad13's %BO / %BI.
  static func wood(_ harvest: Double, bo: Double, bi: Double) -> Double {
    -(harvest * bo / 100 / 19_253_833.33 * 918_160.6252 + harvest * bi / 100 / 10_472_666.67 * 441_532.8296)
  }

  /// Pack README §5.3: « Against the 2018 commune list (communes_17122018.csv), two 2018 EPCIs are
  /// missing. Build them from their predecessors: 200077014 = 243800455 + 246900633 » and §5.6 a
  /// steps 1–2: « sum the predecessors' areas » with the rates « Σ_g w_g × bilan_carbone » — the
  /// pack's forest-territory-check.py takes each predecessor at its own GRECO weights.
  /// 200077014 (region 84, rad13 ARA, poplar basin Sud):
  /// - 243800455: broadleaf 7 387.1 ha × (0.927 C + 0.073 G), conifer 104.7 × C, mixed 17.5 × C, poplar 421.2;
  /// - 246900633: broadleaf 3 723.8 × G, conifer 131.6 × G, mixed 229.1 × G, poplar 18.9.
  /// IGN 2016–2020 bilan_carbone (tC/ha/yr): C broadleaf 0.62, conifer −0.61, mixed −0.1; G 1.32, 0.52,
  /// 1.45; basin Sud poplar −0.33 → 10 062.868 t C/yr × 44/12 = 36 896.478 t CO2e/yr stored (the
  /// script's −36 896.5; before the fix the module gave rad13 ARA rates, −52 079).
  @Test func merger200077014TakesItsPredecessorsGrecoMix() throws {
    let response = try Aldo.compute(T.territory(.epci, ["200077014"]))
    #expect(response.territory.forestStatus == .epciSubstitute)
    let stored =
      7387.1 * (0.927 * 0.62 + 0.073 * 1.32) + 104.7 * -0.61 + 17.5 * -0.1 + 421.2 * -0.33
      + 3723.8 * 1.32 + 131.6 * 0.52 + 229.1 * 1.45 + 18.9 * -0.33
    #expect(abs(Self.growth(response) - -stored * 44 / 12) < 1e-6, "\(Self.growth(response))")
    #expect(abs(Self.growth(response) - -36_896.47797) < 1e-4, "the pack script's figure")
    // Removals (m³/ha/yr): C 3.33 / 12.92 / 6.45, G 1.45 / 10.13 / 3.71, basin Sud poplar 21.89;
    // ARA: 44.1982128170333 % BO, 6.70173892767572 % BI (script: −1 110.1019).
    let harvest =
      Self.harvest(7387.1 * 0.927, 3.33, 1.44) + Self.harvest(7387.1 * 0.073, 1.45, 1.44) + Self.harvest(104.7, 12.92, 1.3)
      + Self.harvest(17.5, 6.45, 1.37) + Self.harvest(421.2, 21.89, 1.3) + Self.harvest(3723.8, 1.45, 1.44)
      + Self.harvest(131.6, 10.13, 1.3) + Self.harvest(229.1, 3.71, 1.37) + Self.harvest(18.9, 21.89, 1.3)
    let wood = Aldo.group(response, .woodProducts)
    #expect(abs(wood - Self.wood(harvest, bo: 44.1982128170333, bi: 6.70173892767572)) < 1e-6, "\(wood)")
    #expect(abs(wood - -1_110.101937597984) < 1e-6, "the pack script's figure")
    #expect(response.trace.decisions.contains { $0.rule == "epci_2018_merger" && $0.choice == "200077014 = 243800455 + 246900633" })
  }

  /// 200077055 = 200072122 + 247700024 (region 11, rad13 IDF, basin Nord), both GRECO B only:
  /// broadleaf 5 571.3 + 4 901.6 ha × 1.05, conifer 2.2 + 62.5 × 0.64, mixed 13.2 + 50.9 × 0.64,
  /// poplar 154.4 + 102.2 × 0.98 → 11 330.445 t C/yr × 44/12 = 41 544.965 (script −41 545.0; the
  /// module gave rad13 IDF → France rates, −51 585). Wood at IDF 26.8429583901886 % BO,
  /// 10.0910378495062 % BI, removals B 2.88 / 7.41 / 4.82, Nord poplar 9.82 (script −635.571).
  @Test func merger200077055TakesItsPredecessorsGrecoMix() throws {
    let response = try Aldo.compute(T.territory(.epci, ["200077055"]))
    let stored = (5571.3 + 4901.6) * 1.05 + (2.2 + 62.5) * 0.64 + (13.2 + 50.9) * 0.64 + (154.4 + 102.2) * 0.98
    #expect(abs(Self.growth(response) - -stored * 44 / 12) < 1e-6, "\(Self.growth(response))")
    #expect(abs(Self.growth(response) - -41_544.965) < 1e-4)
    let harvest =
      Self.harvest(5571.3 + 4901.6, 2.88, 1.44) + Self.harvest(2.2 + 62.5, 7.41, 1.3) + Self.harvest(13.2 + 50.9, 4.82, 1.37)
      + Self.harvest(154.4 + 102.2, 9.82, 1.3)
    let wood = Aldo.group(response, .woodProducts)
    #expect(abs(wood - Self.wood(harvest, bo: 26.8429583901886, bi: 10.0910378495062)) < 1e-6, "\(wood)")
    #expect(abs(wood - -635.5712429705757) < 1e-6)
  }

  /// The merged weights are derived from the predecessors' rows, not typed: per subtype, each
  /// predecessor's weights × its share of the subtype's area. 200077014 broadleaf:
  /// C = 7 387.1 × 0.927 / 11 110.9 = 0.616 33, G = (7 387.1 × 0.073 + 3 723.8) / 11 110.9 = 0.383 67;
  /// conifer: C = 104.7 / 236.3, G = 131.6 / 236.3.
  @Test func mergedWeightsComeFromThePredecessorsRows() throws {
    let weights = try #require(try CommuneReference.shippedFiles.get().grecoWeights?["200077014"])
    let broadleaf = Dictionary(uniqueKeysWithValues: (weights[.forestBroadleaf] ?? []).map { ($0.greco, $0.weight) })
    #expect(broadleaf.count == 2)
    #expect(abs((broadleaf["C"] ?? 0) - 7387.1 * 0.927 / 11_110.9) < 1e-12)
    #expect(abs((broadleaf["G"] ?? 0) - (7387.1 * 0.073 + 3723.8) / 11_110.9) < 1e-12)
    let conifer = Dictionary(uniqueKeysWithValues: (weights[.forestConifer] ?? []).map { ($0.greco, $0.weight) })
    #expect(abs((conifer["C"] ?? 0) - 104.7 / 236.3) < 1e-12 && abs((conifer["G"] ?? 0) - 131.6 / 236.3) < 1e-12)
  }

  /// Region 84 holds 200077014: its standing-forest growth is the pack script's M2 figure
  /// (`forest-territory-check.py --region 84`: 9 117 002.47; the module gave 9 132 185 before, the
  /// 15 183 t gap being that EPCI alone).
  @Test func region84MatchesThePackScript() throws {
    let response = try Aldo.compute(T.territory(.region, ["84"]))
    #expect(abs(Self.growth(response) - -9_117_002.471358852) < 1e-3, "\(Self.growth(response))")
  }

  /// Issue 18 item 2, module README: « never a silent 0 ». One BD Forêt row for one of the 53
  /// communes of CA du Pays de Saint-Omer (200069037): that commune's growth is computed
  /// (10 ha × greco B broadleaf 1.05 t C/ha/yr × 44/12 = 38.5 t CO2e/yr), the 52 others are not —
  /// status PARTIAL and a warning naming them and their forest, ign19.csv 7 110.2 ha × 52/53 =
  /// 6 976.05 ha (« about 6976 ha »). Their deforestation keeps the EPCI's GRECO-mix density
  /// (B:1.000 everywhere, as is the row's), so grasslands are those of the substitute run, not
  /// ALDO's density-0 figure (−35.1 before the fix).
  @Test func rowsForPartOfATerritoryLeaveTheRestNotComputedAndSaySo() throws {
    var request = T.territory(.epci, ["200069037"])
    var row = Carbon_Aldo_V1_CommuneForestStand()
    row.communeInsee = "62288"
    row.stand = Aldo.stand("", "B", "HDF", "Nord", broadleaf: 10)
    request.territory.forestStands = [row]
    let response = try Aldo.compute(request)
    #expect(response.territory.forestStatus == .partial)
    #expect(abs(Self.growth(response) - -38.5) < 1e-9, "\(Self.growth(response))")
    let warning = response.trace.warnings.first { $0.hasPrefix("FOREST PARTIAL: the request's BD Forêt rows cover 1 of 53 communes") }
    #expect(warning?.contains("hold about 6976 ha of forest") == true, "\(response.trace.warnings)")
    #expect(warning?.contains("62053 Audincthun") == true, "a commune without a row is named")
    #expect(!(warning?.contains("62288 Ecques") ?? true), "the commune with a row is not")
    #expect(response.territory.forestMethod.hasSuffix("52 commune(s) without rows not computed"))
    let substitute = try Aldo.compute(T.territory(.epci, ["200069037"]))
    #expect(abs(Aldo.group(response, .grasslands) - Aldo.group(substitute, .grasslands)) < 1e-6)
    #expect(Aldo.group(response, .grasslands) > 2_000, "\(Aldo.group(response, .grasslands))")
  }

  /// forest_data EPCI_SUBSTITUTE or NONE with BD Forêt rows: the rows are left out (warned), so
  /// CC de la Haute-Deûle's growth is the substitute's alone, −581.427 (broadleaf 130.3 ha × 1.05 +
  /// poplar 22.2 ha × 0.98 = 158.571 t C × 44/12), not that plus the row's 300 ha × B5 1.12 × 44/12
  /// = 1 232 counted a second time; with NONE there is no growth at all.
  @Test func rowsAreNotAddedToAnotherForestChoice() throws {
    var request = T.territory(.epci, ["245901061"], forest: .epciSubstitute)
    var row = Carbon_Aldo_V1_CommuneForestStand()
    row.communeInsee = "59477"
    row.stand = Aldo.stand("B5", "B", "HDF", "Nord", broadleaf: 300)
    request.territory.forestStands = [row]
    let substitute = try Aldo.compute(request)
    #expect(abs(Self.growth(substitute) - -(130.3 * 1.05 + 22.2 * 0.98) * 44 / 12) < 1e-9, "\(Self.growth(substitute))")
    #expect(substitute.trace.warnings.contains { $0.hasPrefix("BD Forêt rows of 1 commune(s) (territory.forest_stands): their growth and wood products by harvest are left out") })
    request.territory.forestData = .none
    let none = try Aldo.compute(request)
    #expect(Aldo.entries(none, nil, nil, .forestGrowth).isEmpty)
    #expect(none.territory.forestStatus == .notComputed)
  }

  /// forest_data NONE leaves out what the proto says, « growth and wood products by harvest »,
  /// and nothing else: the commune's BD Forêt row still gives its deforestation density (pack §2.6:
  /// « The forest density is the area-weighted mean over the commune's surface-foret rows »), not
  /// the density 0 of §3.4 (« gives a spurious positive flux »). Lumbres (62534): CLC 311 → 131 is
  /// 3.22029582167263 ha / 6 = 0.5367160 ha/yr from broadleaf, sealed 0.8 × that and grassed
  /// 0.2 × that (§2.2 « From a forest type, vegetated = (1−p)·C »); the row's B1 falls back to
  /// greco B broadleaf, 99.57 live + 6.83 dead = 106.4 t C/ha. Sealed: 0.4293728 × (0 − 106.4) t C
  /// × 44/12 → +167.51 t CO2e/yr; grassed: 0.1073432 × (7 − 106.4) × 44/12 → +39.12 (it was −2.76,
  /// a sink, with density 0). Only growth tells NONE from BD_FORET: artificial soils are equal.
  @Test func forestDataNoneKeepsTheRowsDeforestationDensity() throws {
    var request = T.territory(.commune, ["62534"], forest: .none)
    var row = Carbon_Aldo_V1_CommuneForestStand()
    row.communeInsee = "62534"
    row.stand = Aldo.stand("B1", "B", "HDF", "Nord", broadleaf: 300)
    request.territory.forestStands = [row]
    let none = try Aldo.compute(request)
    let fromBroadleaf = 3.22029582167263 / 6
    let sealed = try #require(Aldo.entries(none, .forestBroadleaf, .artificialSealed, .forestBiomassLoss).first)
    #expect(abs(sealed.fluxTCo2EPerYr - 0.8 * fromBroadleaf * 106.4 * 44 / 12) < 1e-9, "\(sealed.fluxTCo2EPerYr)")
    let grassed = try #require(Aldo.entries(none, .forestBroadleaf, .artificialGrassed, .forestBiomassLoss).first)
    #expect(abs(grassed.fluxTCo2EPerYr - -(0.2 * fromBroadleaf * (7 - 106.4)) * 44 / 12) < 1e-9, "\(grassed.fluxTCo2EPerYr)")
    #expect(abs(grassed.fluxTCo2EPerYr - 39.12) < 0.005)
    #expect(grassed.reference.contains("the commune's BD Forêt rows (forest_data NONE: density only)"), "\(grassed.reference)")
    #expect(Aldo.entries(none, nil, nil, .forestGrowth).isEmpty)
    #expect(Aldo.group(none, .woodProducts) == 0)
    #expect(none.trace.warnings.contains { $0.contains("they still give their communes' deforestation density") })
    request.territory.forestData = .bdForet
    let exact = try Aldo.compute(request)
    #expect(!Aldo.entries(exact, nil, nil, .forestGrowth).isEmpty)
    #expect(abs(Aldo.group(none, .artificialSoils) - Aldo.group(exact, .artificialSoils)) < 1e-9)
    #expect(abs(Aldo.group(none, .artificialSoils) - 486.6) < 0.05, "\(Aldo.group(none, .artificialSoils))")
  }

  /// forest_data EPCI_SUBSTITUTE with a BD Forêt row for a commune that loses forest: the row's
  /// growth is left out, but its density stays the commune's own (pack §2.6: « The forest density
  /// is the area-weighted mean over the commune's surface-foret rows »), not its EPCI's GRECO mix
  /// (§5.6 a step 4 « The forest density of every commune of the EPCI is Σ_g w_g (carbone +
  /// bois_mort_carbone) », written for territories without commune rows). Lumbres (62534): CLC
  /// 311 → 131, 3.22029582167263 ha / 6 = 0.5367160 ha/yr from broadleaf, sealed 0.8 × that; the
  /// row's B5 is an IGN groupeser row, Feuillu carbone 110.64 + bois_mort_carbone 7.88 = 118.52 t C/ha
  /// (greco B's mix would give 99.57 + 6.83 = 106.4). Sealed: 0.4293728 × 118.52 × 44/12 =
  /// +186.5940 t CO2e/yr (106.4 gives +167.5126). The commune is named alone, so its growth is not
  /// computed, and the warning asks for BD_FORET since its rows were given; inside its EPCI the
  /// commune's artificial soils are the same as alone (its own rows again).
  @Test func epciSubstituteKeepsTheRowsDeforestationDensity() throws {
    var request = T.territory(.commune, ["62534"], forest: .epciSubstitute)
    var row = Carbon_Aldo_V1_CommuneForestStand()
    row.communeInsee = "62534"
    row.stand = Aldo.stand("B5", "B", "HDF", "Nord", broadleaf: 300)
    request.territory.forestStands = [row]
    let alone = try Aldo.compute(request)
    let sealed = try #require(Aldo.entries(alone, .forestBroadleaf, .artificialSealed, .forestBiomassLoss).first)
    #expect(abs(sealed.fluxTCo2EPerYr - 0.8 * (3.22029582167263 / 6) * (110.64 + 7.88) * 44 / 12) < 1e-9, "\(sealed.fluxTCo2EPerYr)")
    #expect(abs(sealed.fluxTCo2EPerYr - 186.594) < 5e-5)
    #expect(sealed.reference.contains("the commune's BD Forêt rows (forest_data EPCI_SUBSTITUTE: density only)"), "\(sealed.reference)")
    #expect(Aldo.entries(alone, nil, nil, .forestGrowth).isEmpty)
    #expect(alone.territory.forestStatus == .notComputed)
    #expect(
      alone.trace.warnings.contains {
        $0.hasPrefix("FOREST NOT COMPUTED for 1 commune(s) named alone (62534 Lumbres")
          && $0.hasSuffix("their BD Forêt rows were given (62534) but forest_data EPCI_SUBSTITUTE leaves them out: ask forest_data BD_FORET (or omit it) to use them")
      }, "\(alone.trace.warnings)")
    // Without the row the EPCI's GRECO mix gives the density: the row is what changed it.
    let mix = try Aldo.compute(T.territory(.commune, ["62534"], forest: .epciSubstitute))
    let mixSealed = try #require(Aldo.entries(mix, .forestBroadleaf, .artificialSealed, .forestBiomassLoss).first)
    #expect(mixSealed.reference.contains("APPROXIMATION: EPCI 246201016 GRECO mix"), "\(mixSealed.reference)")
    #expect(mix.trace.warnings.contains { $0.hasSuffix("forest would be a guess (reference pack README §5.6 c); give their BD Forêt rows in forest_stands") })
    // Inside its EPCI (246201016) the same row keeps the same density for that commune.
    var epci = T.territory(.epci, ["246201016"], forest: .epciSubstitute)
    epci.territory.forestStands = [row]
    epci.territory.perCommune = true
    let inEpci = try Aldo.compute(epci)
    let lumbres = inEpci.communes.first { $0.communeInsee == "62534" && $0.group == .artificialSoils }
    #expect(abs((lumbres?.netFluxTCo2EPerYr ?? 0) - Aldo.group(alone, .artificialSoils)) < 1e-9, "\(String(describing: lumbres))")
  }

  /// A commune named alone whose EPCI has forest, with forest_data NONE or BD_FORET and no row:
  /// the proto's « FOREST_STATUS_NOT_COMPUTED when the territory has forest » and the module
  /// README's « its growth is not computed … never a silent 0 » — not NO_FOREST nor BD_FORET.
  /// Lumbres's EPCI 246201016 holds 4 267.3 + 48.3 + 131.4 + 44.3 = 4 491.3 ha by subtype
  /// (ign19.csv; its `total` column says 4 672), named in the warning; the stocks list the
  /// standing forest as not computed.
  @Test func aCommuneAloneWithForestIsNotComputedWhateverTheForestData() throws {
    let note = "62534 Lumbres, whose EPCI 246201016 holds 4491 ha of forest (ign19.csv)"
    let none = try Aldo.compute(T.territory(.commune, ["62534"], forest: .none))
    #expect(none.territory.forestStatus == .notComputed)
    #expect(
      none.trace.warnings.contains { $0.hasPrefix("FOREST NOT COMPUTED (forest_data NONE): the territory holds forest in the communes named alone: \(note)") },
      "\(none.trace.warnings)")
    let bdForet = try Aldo.compute(T.territory(.commune, ["62534"], forest: .bdForet))
    #expect(bdForet.territory.forestStatus == .notComputed)
    #expect(bdForet.trace.warnings.contains { $0.hasPrefix("FOREST NOT COMPUTED: forest_data BD_FORET was asked") && $0.contains(note) })
    #expect(Aldo.entries(bdForet, nil, nil, .forestGrowth).isEmpty)
    // What happened, not "ALDO's exact method", in forest_method and the forest_data decision.
    let notComputed = "not computed: forest_data BD_FORET was asked but no BD Forêt row covers the territory "
      + "(none in territory.forest_stands, no reference_dir surface-foret.csv)"
    #expect(bdForet.territory.forestMethod == notComputed, "\(bdForet.territory.forestMethod)")
    #expect(bdForet.trace.decisions.contains { $0.rule == "forest_data" && $0.reason == notComputed })
    var bdForetStocks = Carbon_Aldo_V1_ComputeStocksRequest()
    bdForetStocks.territory = T.territory(.commune, ["62534"], forest: .bdForet).territory
    let bdForetStocksResponse = try Aldo.harness().call(Aldo.stocks, bdForetStocks, as: Carbon_Aldo_V1_ComputeStocksResponse.self)
    #expect(bdForetStocksResponse.notComputed.contains("standing forest (part or all): \(notComputed); see the warnings"))
    var stocks = Carbon_Aldo_V1_ComputeStocksRequest()
    stocks.territory = T.territory(.commune, ["62534"], forest: .none).territory
    let stocksResponse = try Aldo.harness().call(Aldo.stocks, stocks, as: Carbon_Aldo_V1_ComputeStocksResponse.self)
    #expect(stocksResponse.notComputed.contains { $0.hasPrefix("standing forest") })
  }

  /// Rows covering every commune of the territory: status BD_FORET, no PARTIAL warning.
  @Test func rowsForEveryCommuneAreTheExactMethod() throws {
    var request = T.territory(.commune, ["62288"])
    var row = Carbon_Aldo_V1_CommuneForestStand()
    row.communeInsee = "62288"
    row.stand = Aldo.stand("", "B", "HDF", "Nord", broadleaf: 10)
    request.territory.forestStands = [row]
    let response = try Aldo.compute(request)
    #expect(response.territory.forestStatus == .bdForet)
    #expect(!response.trace.warnings.contains { $0.hasPrefix("FOREST PARTIAL") })
  }

  /// Pack README §5.3: « BD Forêt rows carry SER-group codes such as B1, B2, J1 and J2, while the
  /// IGN table merges some groups (BX, AX, JX). So those communes never match a groupeser row, and
  /// ALDO falls back to the GRECO. » Commune 59257 (Fromelles), its row in ALDO's own export
  /// (export-stocks-100-communes.csv): B2 / B / HDF / Nord, broadleaf 42.1 ha, poplar 3.3 ha.
  /// Harvest: greco B broadleaf 2.88 × 42.1 = 121.248 m³ BFT → 109.1232 + 0.5 × 0.44 × 121.248 =
  /// 135.79776; Nord poplar 9.82 × 3.3 = 32.406 → 29.1654 + 0.5 × 0.3 × 32.406 = 34.0263; total
  /// 169.82406 m³ × 35.4311094618812 % = BO 60.1705 m³, × 10.6304710046248 % = BI 18.0531 m³ —
  /// ALDO's export gives 60.1705485912108 and 18.053097457176627.
  @Test func aSerGroupMissingFromTheIgnTableFallsBackToTheGreco() throws {
    var request = T.territory(.commune, ["59257"])
    var row = Carbon_Aldo_V1_CommuneForestStand()
    row.communeInsee = "59257"
    row.stand = Aldo.stand("B2", "B", "HDF", "Nord", broadleaf: 42.1, poplar: 3.3)
    request.territory.forestStands = [row]
    let response = try Aldo.compute(request)
    #expect(abs(response.woodProducts.harvestSawnwoodM3PerYr - 60.1705485912108) < 1e-9)
    #expect(abs(response.woodProducts.harvestIndustrialM3PerYr - 18.053097457176627) < 1e-9)
    #expect(Aldo.entries(response, nil, nil, .forestGrowth).map(\.reference).contains("IGN greco/B/Feuillu bilan_carbone"))
    #expect(response.trace.rules.contains { $0.rule == "aldo.forest.ser_group_not_in_ign_table" && $0.effect.contains("\"B2\"") })
    // The parts path reads the same codes the same way: Pierrerue's second row is J1 / J / OCC.
    let parts = try Aldo.compute(Aldo.request([Aldo.part(region: "76", stands: [Aldo.stand("J1", "J", "OCC", "Sud", broadleaf: 237.8)])]))
    #expect(Aldo.entries(parts, nil, nil, .forestGrowth).map(\.reference) == ["IGN greco/J/Feuillu bilan_carbone"])
    // A code of no SER-group shape is still refused, naming the field.
    for code in ["Z9", "B22", "B0"] {
      try Aldo.expectError(
        Aldo.flux, Aldo.request([Aldo.part(stands: [Aldo.stand(code, "B", "HDF", "")])]), status: .invalidArgument,
        field: "parts[0].forest_stands[0].groupeser")
    }
  }

  /// The reference_dir path reads surface-foret.csv's codes as the request path does: B2 falls
  /// back to greco B with the same rule (same harvest as above), and a code of no SER-group shape
  /// fails the configuration (`config.reference_dir`).
  @Test func referenceDirReadsSerGroupsAsTheRequestDoes() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aldo-sergroup-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try "insee,zpc\n59257,3_1\n".write(to: directory.appendingPathComponent("zpc.csv"), atomically: true, encoding: .utf8)
    try "nom,insee,population,departement,region,epci\nFromelles,59257,906,59,32,245900410\n"
      .write(to: directory.appendingPathComponent("communes_17122018.csv"), atomically: true, encoding: .utf8)
    try "code12,code18,commune,area\n211,231,59257,6\n"
      .write(to: directory.appendingPathComponent("clc18-change.csv"), atomically: true, encoding: .utf8)
    let header = "INSEE_COM,CODE_EPCI,SUR_FEUILLUS,SUR_RESINEUX,SUR_MIXTES,SUR_PEUPLERAIES,code_groupeser,code_greco,code_rad13,code_bassin_populicole\n"
    let file = directory.appendingPathComponent("surface-foret.csv")
    try (header + "59257,245900410,42.1,0,0,3.3,B2,B,HDF,Nord\n").write(to: file, atomically: true, encoding: .utf8)
    let harness = try ModuleHarness<AldoModule>(configJSON: #"{"reference_dir": "\#(directory.path)"}"#)
    let response = try harness.call(Aldo.flux, T.territory(.commune, ["59257"]), as: Carbon_Aldo_V1_ComputeFluxResponse.self)
    #expect(abs(response.woodProducts.harvestSawnwoodM3PerYr - 60.1705485912108) < 1e-9)
    #expect(abs(response.woodProducts.harvestIndustrialM3PerYr - 18.053097457176627) < 1e-9)
    #expect(response.trace.rules.contains { $0.rule == "aldo.forest.ser_group_not_in_ign_table" && $0.effect.contains("59257") })
    try (header + "59257,245900410,42.1,0,0,3.3,Z9,B,HDF,Nord\n").write(to: file, atomically: true, encoding: .utf8)
    do {
      _ = try ModuleHarness<AldoModule>(configJSON: #"{"reference_dir": "\#(directory.path)"}"#)
      Issue.record("a surface-foret.csv with groupeser Z9 was accepted")
    } catch {
      #expect(error.status == .invalidArgument)
      #expect(error.field == "config.reference_dir")
      #expect(error.message.contains("code_groupeser \"Z9\""), "\(error.message)")
    }
  }
}
