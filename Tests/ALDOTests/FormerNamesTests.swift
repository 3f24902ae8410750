import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// Issue 20 point 9: "Rename with the `reserved` discipline of proto evolution (old JSON names
/// still accepted for one release)". ALDO's `from`/`to` (a Python keyword: `change.from` does
/// not parse) are `from_land_use`/`to_land_use`, with `(carbon.domain.v1.formerly)`.
@Suite(.cpuBound) struct FormerNamesTests {
  let current = #"{"parts": [{"name": "z", "pedoclimatic_zone": "2_1", "region_code": "32", "annual_changes": [{"from_land_use": "LAND_USE_CROPLAND", "to_land_use": "LAND_USE_ARTIFICIAL_SEALED", "area_ha_per_yr": 10}]}]}"#

  @Test func aJSONRequestWithTheFormerNamesGivesTheSameAnswer() throws {
    let harness = try Aldo.harness()
    let former = current.replacingOccurrences(of: "from_land_use", with: "from").replacingOccurrences(of: "to_land_use", with: "to")
    let withFormer = try Carbon_Aldo_V1_ComputeFluxResponse(jsonString: try harness.callJSON(Aldo.flux, former))
    let withCurrent = try Carbon_Aldo_V1_ComputeFluxResponse(jsonString: try harness.callJSON(Aldo.flux, current))
    #expect(withFormer.balance.netTCo2EPerYr == withCurrent.balance.netTCo2EPerYr)
    #expect(withFormer.annualAreas.map(\.fromLandUse) == [.cropland])
    // Responses use the current names only.
    let json = try harness.callJSON(Aldo.flux, former)
    #expect(json.contains(#""from_land_use""#) && !json.contains(#""from":"#))
  }

  /// A former name that is not one stays an error naming the request.
  @Test func anUnknownNameIsStillRefused() throws {
    let harness = try Aldo.harness()
    let wrong = current.replacingOccurrences(of: "from_land_use", with: "origin")
    #expect(throws: ModuleError.self) { try harness.callJSON(Aldo.flux, wrong) }
  }
}
