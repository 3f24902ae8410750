import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// Invalid inputs (status and field path), stocks, reference data and the commune directory.
@Suite(.cpuBound) struct ValidationAndStocksTests {
  @Test func invalidFluxInputsNameTheirField() throws {
    let cases: [(Carbon_Aldo_V1_ComputeFluxRequest, ModuleStatus, String)] = [
      (Aldo.request([]), .invalidArgument, "parts"),
      (Aldo.request([Aldo.part(zone: "")]), .invalidArgument, "parts[0].pedoclimatic_zone"),
      (Aldo.request([Aldo.part(), Aldo.part(zone: "6_1")]), .invalidArgument, "parts[1].pedoclimatic_zone"),
      (Aldo.request([Aldo.part(region: "99")]), .invalidArgument, "parts[0].region_code"),
      (Aldo.request([Aldo.part(clc: [("211", "999", 6)])]), .invalidArgument, "parts[0].clc_changes[0].code_2018"),
      (Aldo.request([Aldo.part(clc: [("211", "231", -6)])]), .invalidArgument, "parts[0].clc_changes[0].area_ha"),
      (Aldo.request([Aldo.part(clc: [("211", "231", .nan)])]), .invalidArgument, "parts[0].clc_changes[0].area_ha"),
      (Aldo.request([Aldo.part(annual: [(.unspecified, .cropland, 1)])]), .invalidArgument,
       "parts[0].annual_changes[0].from_land_use"),
      (Aldo.request([Aldo.part(annual: [(.cropland, .woodProducts, 1)])]), .invalidArgument,
       "parts[0].annual_changes[0].to_land_use"),
      (Aldo.request([Aldo.part(annual: [(.cropland, .cropland, 1)])]), .invalidArgument,
       "parts[0].annual_changes[0].to_land_use"),
      (Aldo.request([Aldo.part(annual: [(.cropland, .grassland, .infinity)])]), .invalidArgument,
       "parts[0].annual_changes[0].area_ha_per_yr"),
      (Aldo.request([Aldo.part(stands: [Aldo.stand("B7", "B", "XXX", "")])]), .invalidArgument,
       "parts[0].forest_stands[0].rad13"),
      (Aldo.request([Aldo.part(stands: [Aldo.stand("Z9", "B", "HDF", "")])]), .invalidArgument,
       "parts[0].forest_stands[0].groupeser"),
      (Aldo.request([Aldo.part(stands: [Aldo.stand("B7", "B", "HDF", "", mixed: -1)])]), .invalidArgument,
       "parts[0].forest_stands[0].mixed_ha"),
    ]
    for (request, status, field) in cases {
      try Aldo.expectError(Aldo.flux, request, status: status, field: field)
    }
  }

  @Test func invalidOptionsNameTheirField() throws {
    var request = Aldo.request([Aldo.part()])
    request.sealedShareFraction = 1.5
    try Aldo.expectError(Aldo.flux, request, status: .invalidArgument, field: "sealed_share_fraction")

    request = Aldo.request([Aldo.part()])
    var practice = Carbon_Aldo_V1_PracticeArea()
    practice.areaHa = 3
    request.practices = [practice]
    try Aldo.expectError(Aldo.flux, request, status: .invalidArgument, field: "practices[0].practice")
    request.practices[0].practice = .catchCrops
    request.practices[0].areaHa = -3
    try Aldo.expectError(Aldo.flux, request, status: .invalidArgument, field: "practices[0].area_ha")
    request.practices[0].practice = .directSowingFiveYearWork
    request.practices[0].areaHa = 3
    try Aldo.expectError(Aldo.flux, request, status: .failedPrecondition, field: "aldo.practices.not_in_aldo_list")

    request = Aldo.request([Aldo.part()])
    var override = Carbon_Aldo_V1_FactorOverride()
    override.name = "soil_flux/2_1/not_a_column"
    override.value = 1
    request.factorOverrides = [override]
    try Aldo.expectError(Aldo.flux, request, status: .invalidArgument, field: "factor_overrides[0].name")
    // Shares of one harvest: BO + BI above 100 % is refused.
    request.factorOverrides[0].name = "wood_use/HDF/bi_percent"
    request.factorOverrides[0].value = 70
    try Aldo.expectError(Aldo.flux, request, status: .invalidArgument, field: "factor_overrides[0].value")
    request.factorOverrides[0].value = .nan
    try Aldo.expectError(Aldo.flux, request, status: .invalidArgument, field: "factor_overrides[0].value")

    request = Aldo.request([Aldo.part()])
    var area = Carbon_Aldo_V1_AreaOverride()
    area.fromLandUse = .cropland
    area.toLandUse = .cropland
    request.areaOverrides = [area]
    try Aldo.expectError(Aldo.flux, request, status: .invalidArgument, field: "area_overrides[0].to_land_use")
  }

  /// A constant override outside what the method can mean is refused, naming the override
  /// (`factor_overrides[i].value`): a divisor (years between CLC inventories, C:N ratio, France's
  /// population or harvest) or a conversion factor must be > 0, a fraction in [0, 1], a stock ≥ 0.
  /// Before, `clc_years_between_inventories` 0 gave a net 0, `c_to_co2_factor` −3.667 turned the
  /// +457.55 of 60 ha 211 → 112 into −334.45, `n2o_soil_c_to_n_ratio` 0 dropped the N2O (396.0).
  @Test func impossibleConstantOverridesAreRefused() throws {
    let cases: [(String, Double)] = [
      ("constant/clc_years_between_inventories", 0), ("constant/c_to_co2_factor", -3.667),
      ("constant/n2o_soil_c_to_n_ratio", 0), ("constant/france_total_population", 0),
      ("constant/n2o_leaching_fraction", 1.5), ("constant/wood_products_france_stock_bo", -1),
      ("constant/wood_products_france_harvest_bi", 0), ("constant/n2o_gwp", -273),
    ]
    let harness = try Aldo.harness()
    for (name, value) in cases {
      var request = Aldo.request([Aldo.part(clc: [("211", "112", 60)])])
      var override = Carbon_Aldo_V1_FactorOverride()
      override.name = name
      override.value = value
      request.factorOverrides = [override]
      do {
        _ = try harness.call(Aldo.flux, request, as: Carbon_Aldo_V1_ComputeFluxResponse.self)
        Issue.record("\(name) = \(value) was accepted")
      } catch {
        #expect(error.status == .invalidArgument)
        #expect(error.field == "factor_overrides[0].value")
        #expect(error.message.contains(name), "\(error.message)")
      }
    }
    // The stocks path applies the same bounds.
    var stocks = Carbon_Aldo_V1_ComputeStocksRequest()
    stocks.parts = [WoodStocksAndEpciTests.exampleBStockPart()]
    var override = Carbon_Aldo_V1_FactorOverride()
    override.name = "constant/wood_products_france_harvest_bo"
    override.value = 0
    stocks.factorOverrides = [override]
    try Aldo.expectError(Aldo.stocks, stocks, status: .invalidArgument, field: "factor_overrides[0].value")
    // A value inside the bounds still applies: 60 ha / 6 = 10 ha/yr, C = 10, p = 0.8: sealed 8 ha/yr
    // × −20 + grassed 2 ha/yr × 19 = −122 t C (soil) with a 0.35 × 20 × 2 = 14 t C biomass gain;
    // with c_to_co2_factor 3 instead of 44/12 the carbon part is −108 × 3 = −324 stored → +324
    // (the same ratio to the default's +396 as 3 to 44/12).
    var request = Aldo.request([Aldo.part(clc: [("211", "112", 60)])])
    override.name = "constant/c_to_co2_factor"
    override.value = 3
    request.factorOverrides = [override]
    let response = try Aldo.compute(request)
    let carbon = response.entries.filter { $0.pool != .n2O }.reduce(0) { $0 + $1.fluxTCo2EPerYr }
    #expect(abs(carbon - 324) < 1e-9, "\(carbon)")
  }

  /// Every constant of Data/aldo-constants.csv has a bound, so a new one cannot slip through.
  @Test func everyConstantHasABound() throws {
    let data = try AldoReferenceData.embedded.get()
    #expect(Set(data.constants.keys) == Set(AldoReferenceData.constantBounds.keys))
  }

  /// Without reference_dir, a part's commune_insee is still checked against ALDO's commune list
  /// shipped beside the plugin (communes_17122018.csv); a known code is accepted as a label.
  @Test func partCommuneCodeIsCheckedAgainstTheShippedList() throws {
    var part = Aldo.part(clc: [("211", "112", 6)])
    part.communeInsee = "99999"
    try Aldo.expectError(Aldo.flux, Aldo.request([part]), status: .invalidArgument, field: "parts[0].commune_insee")
    part.communeInsee = "59257"
    // 6 ha / 6 = 1 ha/yr crops → artificial: sealed 0.8 × −20 = −16 t C, grassed 0.2 × 19 = 3.8 t C
    // and biomass 0.2 × 0.35 × 20 = 1.4 t C → −10.8 t C stored → +39.6 t CO2e/yr, plus N2O.
    let response = try Aldo.compute(Aldo.request([part]))
    let carbon = response.entries.filter { $0.pool != .n2O }.reduce(0) { $0 + $1.fluxTCo2EPerYr }
    #expect(abs(carbon - 10.8 * 44 / 12) < 1e-9, "\(carbon)")
  }

  /// METHODS.md §3: « by default the module reproduces ALDO as coded, oddities included ».
  /// carbone-haies.csv writes Aisne and Allier "2" and "3"; ALDO looks them up as "02" / "03",
  /// misses them and uses its default 101.347 t C/km: its own export (export-stocks-100-communes.csv)
  /// gives 02198 Clamecy `stock_de_reference` 101.347 on every hedge row. Clamecy's hedge row of
  /// 1.14702677154965 km → 1.14702677154965 × 101.347 = 116.2477 t C (the file's 97.8196 would give
  /// 112.2016). The file's row stays reachable by override: hedge/02 = 97.8195561667002.
  @Test func aisneAndAllierHedgesTakeAldosDefaultAsCoded() throws {
    var part = Carbon_Aldo_V1_StockPart()
    part.name = "02198 Clamecy"
    part.pedoclimaticZone = "2_3"
    part.regionCode = "32"
    part.departmentCode = "02"
    part.hedgesKm = 1.14702677154965
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.parts = [part]
    let harness = try Aldo.harness()
    let response = try harness.call(Aldo.stocks, request, as: Carbon_Aldo_V1_ComputeStocksResponse.self)
    let hedge = try #require(response.entries.first { $0.landUse == .hedges })
    #expect(hedge.densityTCPerKm == 101.347)
    #expect(abs(hedge.stockTC - 116.2477) < 5e-5, "\(hedge.stockTC)")
    #expect(response.trace.decisions.contains { $0.rule == "hedge_department_leading_zero" && $0.reason.contains("\"2\" (97.8195561667002 tC/km)") })
    // Allier likewise: 1 km × 101.347.
    request.parts[0].departmentCode = "03"
    request.parts[0].hedgesKm = 1
    let allier = try harness.call(Aldo.stocks, request, as: Carbon_Aldo_V1_ComputeStocksResponse.self)
    #expect(allier.entries.first { $0.landUse == .hedges }?.stockTC == 101.347)
    // The override brings the file's row: 1.14702677154965 × 97.8195561667002 = 112.2016 t C.
    request.parts[0].departmentCode = "02"
    request.parts[0].hedgesKm = 1.14702677154965
    var override = Carbon_Aldo_V1_FactorOverride()
    override.name = "hedge/02"
    override.value = 97.8195561667002
    request.factorOverrides = [override]
    let overridden = try harness.call(Aldo.stocks, request, as: Carbon_Aldo_V1_ComputeStocksResponse.self)
    #expect(abs((overridden.entries.first { $0.landUse == .hedges }?.stockTC ?? 0) - 112.2016) < 5e-5)
    #expect(overridden.overrides.first?.defaultValue == 101.347)
    // ListReferenceData shows the value used (the default) and says why.
    let list = try harness.call(Aldo.list, Carbon_Aldo_V1_ListReferenceDataRequest(), as: Carbon_Aldo_V1_ListReferenceDataResponse.self)
    let aisne = try #require(list.values.first { $0.name == "hedge/02" })
    #expect(aisne.value == 101.347 && aisne.source.contains("row \"2\" (97.8195561667002 tC/km)"))
    #expect(list.values.first { $0.name == "hedge/59" }?.source == "Data/carbone-haies.csv")
  }

  @Test func stocksOfATerritory() throws {
    var part = Carbon_Aldo_V1_StockPart()
    part.name = "s"
    part.pedoclimaticZone = "2_1"
    part.regionCode = "32"
    part.departmentCode = "02"
    for (landUse, ha) in [(LandUse.cropland, 100.0), (.orchard, 10), (.forestConifer, 20)] {
      var area = Carbon_Aldo_V1_LandUseArea()
      area.landUse = landUse
      area.areaHa = ha
      part.areas.append(area)
    }
    part.hedgesKm = 3
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.parts = [part]
    let response = try Aldo.harness().call(Aldo.stocks, request, as: Carbon_Aldo_V1_ComputeStocksResponse.self)
    func group(_ group: Carbon_Aldo_V1_LandUseGroup) -> Double {
      response.groups.first(where: { $0.group == group })?.stockTC ?? .nan
    }
    // Crops 100 ha × 50 tC/ha = 5 000. Orchards 10 × (46 soil + 16 biomass) = 620.
    #expect(group(.crops) == 5_000)
    #expect(group(.orchards) == 620)
    // Conifer without stands: France IGN row, 20 × (60 soil + 77.06 live + 6.02 dead + 9 litter) = 3 041.6.
    #expect(abs(group(.forests) - 3_041.6) < 1e-9)
    // Hedges in Aisne: carbone-haies.csv writes "2", ALDO's look-up of "02" misses it, so ALDO's
    // default applies as coded (see aisneAndAllierHedgesTakeAldosDefaultAsCoded): 3 km × 101.347 t C/km.
    #expect(abs(group(.hedges) - 3 * 101.347) < 1e-9)
    // Issue 20 point 9: a hedge's entry gives its length in km and its density in t C/km, not
    // in the per-hectare fields (which held t C/km until the split).
    let hedge = try #require(response.entries.first { $0.landUse == .hedges })
    #expect(hedge.lengthKm == 3 && hedge.densityTCPerKm == 101.347)
    #expect(hedge.areaHa == 0 && hedge.densityTCPerHa == 0)
    #expect(abs(response.totalTCo2E - response.totalTC * 44 / 12) < 1e-6)
    #expect(response.trace.decisions.contains(where: { $0.rule == "forest_stock_density_without_stands" }))
  }

  @Test func invalidStocksInputs() throws {
    var part = Carbon_Aldo_V1_StockPart()
    part.pedoclimaticZone = "2_1"
    part.regionCode = "32"
    var area = Carbon_Aldo_V1_LandUseArea()
    area.landUse = .cropland
    area.areaHa = -1
    part.areas = [area]
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.parts = [part]
    try Aldo.expectError(Aldo.stocks, request, status: .invalidArgument, field: "parts[0].areas[0].area_ha")
    request.parts[0].areas[0].areaHa = 1  // one fault at a time: the declared range is checked first
    request.parts[0].pedoclimaticZone = "x"
    try Aldo.expectError(Aldo.stocks, request, status: .invalidArgument, field: "parts[0].pedoclimatic_zone")
    request.parts[0].pedoclimaticZone = "2_1"
    request.parts[0].areas[0].areaHa = 1
    request.parts[0].hedgesKm = 1
    request.parts[0].departmentCode = "999"
    try Aldo.expectError(Aldo.stocks, request, status: .invalidArgument, field: "parts[0].department_code")
    request.parts[0].departmentCode = "02"
    request.parts[0].regionCode = "99"
    try Aldo.expectError(Aldo.stocks, request, status: .invalidArgument, field: "parts[0].region_code")
    request.parts[0].regionCode = "32"
    request.parts[0].areas[0].landUse = .hedges  // a summary category, not a leaf land use
    try Aldo.expectError(Aldo.stocks, request, status: .invalidArgument, field: "parts[0].areas[0].land_use")
    request.parts[0].areas[0].landUse = .cropland
    request.parts[0].forestStands = [Aldo.stand("B7", "B", "XXX", "", broadleaf: 1)]
    try Aldo.expectError(Aldo.stocks, request, status: .invalidArgument, field: "parts[0].forest_stands[0].rad13")
  }

  @Test func referenceDataListsFilesValuesAndLandUses() throws {
    var request = Carbon_Aldo_V1_ListReferenceDataRequest()
    request.pedoclimaticZone = "2_1"
    let response = try Aldo.harness().call(Aldo.list, request, as: Carbon_Aldo_V1_ListReferenceDataResponse.self)
    // 17 embedded files, 5 shipped beside the plugin (Territory/, with their sha256).
    #expect(response.files.count == 22)
    #expect(response.files.allSatisfy { !$0.source.isEmpty && !$0.version.isEmpty })
    #expect(response.files.filter { $0.file.hasPrefix("Data/") && $0.source.hasPrefix("incubateur-ademe/aldo data/") }.allSatisfy { $0.version.contains("a8f42b2") })
    #expect(response.files.filter { $0.file.hasPrefix("Territory/") }.map(\.sha256.count) == [64, 64, 64, 64, 64])
    #expect(response.pedoclimaticZones.count == 14)
    #expect(response.values.first(where: { $0.name == "soil_flux/2_1/cult_prai" })?.value == 0.37)
    #expect(!response.values.contains(where: { $0.name.hasPrefix("soil_flux/1_1/") }))
    #expect(!response.values.contains(where: { $0.name.hasPrefix("forest/") }))
    #expect(response.landUses.first(where: { $0.landUse == .forestMixed })?.clcCodes == ["313", "324"])
    #expect(!response.communeReferenceLoaded)
    request.includeForestRows = true
    let withForest = try Aldo.harness().call(Aldo.list, request, as: Carbon_Aldo_V1_ListReferenceDataResponse.self)
    #expect(withForest.values.first(where: { $0.name == "forest/groupeser/B7/Feuillu/bilan_carbone" })?.value == 0.79)
  }

  @Test func communeReferenceDirectoryFillsZoneRegionAndChanges() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aldo-ref-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try "insee,zpc\r\n01004,2_1\r\n".write(to: directory.appendingPathComponent("zpc.csv"), atomically: true, encoding: .utf8)
    try "nom,insee,population,departement,region,epci\nAmbérieu-en-Bugey,01004,14127,01,84,240100883\n"
      .write(to: directory.appendingPathComponent("communes_17122018.csv"), atomically: true, encoding: .utf8)
    try "code12,code18,commune,area\n211,231,01004,36\n"
      .write(to: directory.appendingPathComponent("clc18-change.csv"), atomically: true, encoding: .utf8)
    let harness = try ModuleHarness<AldoModule>(configJSON: #"{"reference_dir": "\#(directory.path)"}"#)
    var part = Carbon_Aldo_V1_TerritoryPart()
    part.communeInsee = "01004"
    var request = Aldo.request([part])
    request.woodProductsMethod = .population
    let response = try harness.call(Aldo.flux, request, as: Carbon_Aldo_V1_ComputeFluxResponse.self)
    // 36 ha / 6 = 6 ha/yr crops → grassland in 2_1: 0.37 × 20 × 6 = 44.4 tC → −162.8; population 14 127.
    #expect(abs(Aldo.group(response, .grasslands) - -162.8) < 1e-9)
    #expect(response.woodProducts.population == 14_127)
    request.parts[0].communeInsee = "01005"
    do {
      _ = try harness.call(Aldo.flux, request, as: Carbon_Aldo_V1_ComputeFluxResponse.self)
      Issue.record("unknown commune accepted")
    } catch {
      #expect(error.field == "parts[0].commune_insee")
    }
  }

  @Test func missingReferenceDirectoryFailsTheConfiguration() throws {
    do {
      _ = try ModuleHarness<AldoModule>(configJSON: #"{"reference_dir": "/nonexistent/aldo"}"#)
      Issue.record("init accepted a missing directory")
    } catch {
      #expect(error.status == .invalidArgument)
      #expect(error.field == "config.reference_dir")
    }
  }

  @Test func concurrentCallsGiveTheSameAnswer() async throws {
    let harness = try Aldo.harness()
    let request = WorkedExampleTests.exampleA()
    let results = await withTaskGroup(of: Double.self) { group in
      for _ in 0..<8 {
        group.addTask {
          (try? harness.call(Aldo.flux, request, as: Carbon_Aldo_V1_ComputeFluxResponse.self))?.balance.netTCo2EPerYr ?? .nan
        }
      }
      var values: [Double] = []
      for await value in group { values.append(value) }
      return values
    }
    #expect(results.count == 8 && results.allSatisfy { abs($0 - 939.4801899999999) < 1e-9 })
  }
}
