import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// Wood-product stocks (ALDO's share of the national BO/BI stocks) and the EPCI reference.
@Suite(.cpuBound) struct WoodStocksAndEpciTests {
  /// A stock part in zone 2_1, Hauts-de-France, with the two BD Forêt rows of worked example (b).
  static func exampleBStockPart(_ name: String = "b", population: Double = 0) -> Carbon_Aldo_V1_StockPart {
    var part = Carbon_Aldo_V1_StockPart()
    part.name = name
    part.pedoclimaticZone = "2_1"
    part.regionCode = "32"
    part.forestStands = [
      Aldo.stand("B5", "B", "HDF", "Nord", broadleaf: 300, conifer: 40, mixed: 25, poplar: 12),
      Aldo.stand("B7", "B", "HDF", "", broadleaf: 80, conifer: 20, mixed: 10, poplar: 3),
    ]
    part.population = population
    return part
  }

  static func stocks(_ request: Carbon_Aldo_V1_ComputeStocksRequest) throws -> Carbon_Aldo_V1_ComputeStocksResponse {
    try Aldo.harness().call(Aldo.stocks, request, as: Carbon_Aldo_V1_ComputeStocksResponse.self)
  }

  static func group(_ response: Carbon_Aldo_V1_ComputeStocksResponse, _ group: Carbon_Aldo_V1_LandUseGroup) -> Double {
    response.groups.first(where: { $0.group == group })?.stockTC ?? .nan
  }

  @Test func woodProductStocksByHarvestShareTheNationalStocks() throws {
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.parts = [Self.exampleBStockPart()]
    let response = try Self.stocks(request)
    let wood = response.woodProducts
    #expect(wood.method == .harvest)
    // Harvest and shares of worked example (b): BO 726.8433 m³/yr / 19 253 833.33 = 3.775058e-5,
    // BI 218.0764 / 10 472 666.67 = 2.082338e-5.
    #expect(abs(wood.harvestSawnwoodM3PerYr - 726.8433459005856) < 1e-9)
    #expect(abs(wood.harvestIndustrialM3PerYr - 218.07635241604441) < 1e-9)
    #expect(abs(wood.sawnwoodShareFraction - 3.775057846626668e-05) < 1e-17)
    #expect(abs(wood.industrialShareFraction - 2.0823383316566917e-05) < 1e-17)
    // × national stocks (CITEPA 2016–2019, tC): 3.775058e-5 × 33 741 446.79 = 1 273.76 tC BO,
    // 2.082338e-5 × 58 436 577.05 = 1 216.85 tC BI, 2 490.61 tC in all.
    #expect(wood.nationalStockSawnwoodTC == 33_741_446.79)
    #expect(wood.nationalStockIndustrialTC == 58_436_577.05)
    #expect(abs(wood.stockSawnwoodTC - 1_273.759134611257) < 1e-6)
    #expect(abs(wood.stockIndustrialTC - 1_216.8472436202471) < 1e-6)
    #expect(abs(Self.group(response, .woodProducts) - 2_490.606378231504) < 1e-6)
    let row = try #require(response.groups.first(where: { $0.group == .woodProducts }))
    #expect(abs(row.stockTCo2E - 2_490.606378231504 * 44 / 12) < 1e-6)
    #expect(row.areaHa == 0)
    let entries = response.entries.filter { $0.group == .woodProducts }
    #expect(entries.map(\.pool) == [.woodProductsSawnwood, .woodProductsIndustrial])
    #expect(entries.allSatisfy { $0.landUse == .woodProducts && $0.areaHa == 0 && $0.reference.contains("wood_products_france_stock_") })
    // The total includes the wood products and every group's share is of that total.
    let sum = response.groups.reduce(0) { $0 + $1.stockTC }
    #expect(abs(response.totalTC - sum) < 1e-6)
    #expect(abs(row.shareFraction - 2_490.606378231504 / response.totalTC) < 1e-12)
    #expect(!response.trace.warnings.contains(where: { $0.contains("not computed") }))
    #expect(response.trace.decisions.contains(where: { $0.rule == "wood_products_method" && $0.choice == "HARVEST" }))
  }

  @Test func woodProductStocksUseTheSameShareAsTheFlux() throws {
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.parts = [Self.exampleBStockPart()]
    let stocks = try Self.stocks(request)
    let flux = try Aldo.compute(WorkedExampleTests.exampleB())
    #expect(stocks.woodProducts.sawnwoodShareFraction == flux.woodProducts.sawnwoodShareFraction)
    #expect(stocks.woodProducts.industrialShareFraction == flux.woodProducts.industrialShareFraction)
  }

  @Test func woodProductStocksByPopulationAddThePartsPopulations() throws {
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.woodProductsMethod = .population
    request.parts = [Self.exampleBStockPart("b1", population: 3_000), Self.exampleBStockPart("b2", population: 2_000)]
    let response = try Self.stocks(request)
    // 5 000 / 64 299 705 = 7.776085e-5; × 33 741 446.79 = 2 623.76 tC BO; × 58 436 577.05 = 4 544.08 tC BI.
    #expect(response.woodProducts.population == 5_000)
    #expect(response.woodProducts.harvestSawnwoodM3PerYr == 0)
    #expect(abs(response.woodProducts.sawnwoodShareFraction - 7.776085442382667e-05) < 1e-17)
    #expect(abs(response.woodProducts.stockSawnwoodTC - 2_623.7637318864836) < 1e-6)
    #expect(abs(response.woodProducts.stockIndustrialTC - 4_544.07816101178) < 1e-6)
    #expect(abs(Self.group(response, .woodProducts) - 7_167.841892898264) < 1e-6)
  }

  @Test func nationalWoodStockOverrideIsUsedAndReported() throws {
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.parts = [Self.exampleBStockPart()]
    var override = Carbon_Aldo_V1_FactorOverride()
    override.name = "constant/wood_products_france_stock_bo"
    override.value = 1_000_000
    request.factorOverrides = [override]
    let response = try Self.stocks(request)
    #expect(abs(response.woodProducts.stockSawnwoodTC - 3.775057846626668e-05 * 1_000_000) < 1e-9)
    #expect(abs(response.woodProducts.stockIndustrialTC - 1_216.8472436202471) < 1e-6)
    let applied = try #require(response.overrides.first)
    #expect(applied.name == "constant/wood_products_france_stock_bo")
    #expect(applied.defaultValue == 33_741_446.79 && applied.value == 1_000_000 && applied.unit == "tC")
    #expect(response.trace.rules.contains(where: { $0.rule == "aldo.override" && $0.effect.contains("wood_products_france_stock_bo") }))
  }

  @Test func woodProductStocksWithoutStandsOrPopulationAreZeroWithAWarning() throws {
    var part = Carbon_Aldo_V1_StockPart()
    part.pedoclimaticZone = "2_1"
    part.regionCode = "32"
    var area = Carbon_Aldo_V1_LandUseArea()
    area.landUse = .forestBroadleaf
    area.areaHa = 100
    part.areas = [area]
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.parts = [part]
    var response = try Self.stocks(request)
    #expect(Self.group(response, .woodProducts) == 0)
    #expect(!response.entries.contains(where: { $0.group == .woodProducts }))
    #expect(response.trace.warnings.contains(where: { $0.contains("no harvest") }))
    request.woodProductsMethod = .population
    response = try Self.stocks(request)
    #expect(Self.group(response, .woodProducts) == 0)
    #expect(response.trace.warnings.contains(where: { $0.contains("No part gives a population") }))
  }

  @Test func invalidWoodStockInputsNameTheirField() throws {
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.parts = [Self.exampleBStockPart(population: -1)]
    try Aldo.expectError(Aldo.stocks, request, status: .invalidArgument, field: "parts[0].population")
    request.parts = [Self.exampleBStockPart()]
    request.woodProductsMethod = Carbon_Aldo_V1_WoodProductsMethod(rawValue: 7)!
    try Aldo.expectError(Aldo.stocks, request, status: .invalidArgument, field: "wood_products_method")
  }

  @Test func epciNamesTheTerritoryAndIsEchoed() throws {
    var request = Aldo.request([Aldo.part()])
    request.territoryName = ""
    request.epciSiren = "200069037"
    let flux = try Aldo.compute(request)
    #expect(flux.territoryName == "CA du Pays de Saint-Omer")
    #expect(flux.epci.siren == "200069037")
    #expect(flux.epci.nature == "CA")
    #expect(flux.epci.communeCount == 53)
    #expect(flux.epci.populationTotal == 108_082)
    #expect(flux.trace.decisions.contains(where: { $0.rule == "epci" && $0.choice.contains("Saint-Omer") }))
    // A name given by the request wins.
    request.territoryName = "Saint-Omer, scénario 2030"
    #expect(try Aldo.compute(request).territoryName == "Saint-Omer, scénario 2030")

    var stocks = Carbon_Aldo_V1_ComputeStocksRequest()
    stocks.parts = [Self.exampleBStockPart()]
    stocks.epciSiren = "200068047"
    let response = try Self.stocks(stocks)
    #expect(response.territoryName == "CA Creil Sud Oise")
    #expect(response.epci.communeCount == 11)
  }

  @Test func invalidEpciCodesNameTheirField() throws {
    var request = Aldo.request([Aldo.part()])
    for code in ["20006903", "20006903x", "999999999"] {
      request.epciSiren = code
      try Aldo.expectError(Aldo.flux, request, status: .invalidArgument, field: "epci_siren")
    }
    var chart = Carbon_Aldo_V1_RenderFluxChartRequest()
    chart.flux = request
    try Aldo.expectError(Aldo.chart, chart, status: .invalidArgument, field: "flux.epci_siren")
    var stocks = Carbon_Aldo_V1_ComputeStocksRequest()
    stocks.parts = [Self.exampleBStockPart()]
    stocks.epciSiren = "123"
    try Aldo.expectError(Aldo.stocks, stocks, status: .invalidArgument, field: "epci_siren")
  }

  @Test func epciFileIsEmbeddedWholeWithItsSource() throws {
    let data = try AldoReferenceData.embedded.get()
    // epci.csv: 1 244 EPCI (1 005 CC, 206 CA, 11 CU, 22 métropoles); quoted names keep their commas.
    #expect(data.epcis.count == 1_244)
    #expect(data.epcis.values.filter { $0.nature == "CA" }.count == 206)
    #expect(data.epcis["200006682"]?.name == "CA Beaune, Côte et Sud - Communauté Beaune-Chagny-Nolay")
    let file = try #require(data.files.first(where: { $0.name == "aldo-epci" }))
    #expect(file.file == "Data/epci.csv" && file.source.contains("epci.csv") && file.rows == 1_244)
  }
}
