import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// Issue 18 point 5: stocks of a territory named by code, with what shipped data cannot give.
@Suite(.cpuBound) struct TerritoryStocksTests {
  static func request(_ level: Carbon_Aldo_V1_TerritoryLevel, _ code: String) -> Carbon_Aldo_V1_ComputeStocksRequest {
    var request = Carbon_Aldo_V1_ComputeStocksRequest()
    request.territory = TerritoryAcceptanceTests.territory(level, [code]).territory
    return request
  }

  /// CC de la Haute-Deûle (245901061), GRECO B, ign19.csv broadleaf 130.3 ha, poplar 22.2 ha:
  /// broadleaf 130.3 × (greco B carbone 99.57 + bois_mort 6.83 + litter 9) = 15 036.62 t C;
  /// poplar 22.2 × (bassin Nord 53.98 + 1.9 + 9) = 1 440.336 t C.
  @Test func anEpcisForestAndWoodProductStocks() throws {
    let response = try Aldo.harness().call(Aldo.stocks, Self.request(.epci, "245901061"), as: Carbon_Aldo_V1_ComputeStocksResponse.self)
    let forests = response.groups.first { $0.group == .forests }
    #expect(abs((forests?.stockTC ?? 0) - (130.3 * 115.4 + 22.2 * 64.88)) < 1e-9, "\(String(describing: forests))")
    #expect(abs((forests?.areaHa ?? 0) - 152.5) < 1e-9)
    // Wood products by harvest: the flux's harvest share × the national stocks (t C).
    func harvest(_ bft: Double, _ vat: Double) -> Double { 0.9 * bft + 0.5 * (bft * vat - bft) }
    let total = harvest(2.88 * 130.3, 1.44) + harvest(9.82 * 22.2, 1.3)
    let bo = total * 0.354311094618812 / 19_253_833.33 * response.woodProducts.nationalStockSawnwoodTC
    let bi = total * 0.106304710046248 / 10_472_666.67 * response.woodProducts.nationalStockIndustrialTC
    #expect(abs(response.woodProducts.stockSawnwoodTC - bo) < 1e-9)
    #expect(abs(response.woodProducts.stockIndustrialTC - bi) < 1e-9)
    // What shipped data cannot give is said, not silently 0.
    #expect(response.notComputed.count == 3)
    #expect(response.notComputed.first?.contains("clc18.csv") == true)
    #expect(response.trace.warnings.filter { $0.hasPrefix("STOCK NOT COMPUTED") }.count == 3)
    #expect(response.territory.forestStatus == .epciSubstitute)
  }

  @Test func aCommuneAloneSaysItsForestIsNotComputed() throws {
    let response = try Aldo.harness().call(Aldo.stocks, Self.request(.commune, "59477"), as: Carbon_Aldo_V1_ComputeStocksResponse.self)
    #expect(response.territory.forestStatus == .notComputed)
    #expect(response.notComputed.contains { $0.hasPrefix("standing forest") })
    #expect(response.groups.first { $0.group == .forests } == nil)
  }

  @Test func badTerritoryNamesItsField() throws {
    try Aldo.expectError(Aldo.stocks, Self.request(.region, "99"), status: .invalidArgument, field: "territory.codes[0].code")
    var both = Self.request(.commune, "59477")
    both.parts = [Carbon_Aldo_V1_StockPart()]
    try Aldo.expectError(Aldo.stocks, both, status: .invalidArgument, field: "parts")
  }
}
