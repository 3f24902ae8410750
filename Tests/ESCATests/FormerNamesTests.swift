import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

@testable import ESCAModule

/// Issue 20 point 9: "one spelling for tonnes of carbon per hectare, one for percentages … Rename
/// with the `reserved` discipline of proto evolution (old JSON names still accepted for one
/// release)". ESCA's `*_tc_per_ha` are `*_t_c_per_ha` (as ALDO and `t_co2e` spell units) and its
/// `*_pct` are `*_percent` (as SNBC and SOBAC), each with `(carbon.domain.v1.formerly)`.
@Suite(.cpuBound) struct FormerNamesTests {
  /// A nested former name (`analysis.coarse_elements_pct`) and a top-level one
  /// (`stock_tc_per_ha` inside `stock`) are read as the current fields.
  @Test func requestsWithTheFormerNamesGiveTheSameAnswer() throws {
    let harness = try Esca.harness()
    let current = #"{"analysis": {"carbon_g_per_kg": 12, "depth_cm": 30, "bulk_density_g_per_cm3": 1.4, "coarse_elements_percent": 10, "bulk_density_method": "BULK_DENSITY_METHOD_PEDOTRANSFER"}, "purpose": "ANALYSIS_PURPOSE_CLAIM"}"#
    let former = current.replacingOccurrences(of: "coarse_elements_percent", with: "coarse_elements_pct")
    let now = try Carbon_Esca_V1_SoilStockResponse(jsonString: try harness.callJSON(Esca.service + "ComputeSoilStock", current))
    let before = try Carbon_Esca_V1_SoilStockResponse(jsonString: try harness.callJSON(Esca.service + "ComputeSoilStock", former))
    // 12 g/kg × 1.4 × 30 cm × 0.1 × (1 − 10 %) = 45.36 t C/ha: the coarse elements were read.
    #expect(abs(now.stockTCPerHa - 45.36) < 1e-9)
    #expect(before.stockTCPerHa == now.stockTCPerHa)
    let response = try harness.callJSON(Esca.service + "ComputeSoilStock", former)
    #expect(response.contains(#""stock_t_c_per_ha""#) && !response.contains("stock_tc_per_ha"))
  }
}
