import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import SwiftProtobuf
import Testing

@testable import SOBACModule

/// Point 5 of issue 17: a unary collective response stays within what the client accepts, or
/// the error names the streaming methods.
@Suite(.cpuBound) struct CollectiveSizeTests {
  func request(_ count: Int, detail: Carbon_Sobac_V1_FarmDetail = .unspecified) -> Carbon_Sobac_V1_CollectiveProjectRequest {
    var request = Carbon_Sobac_V1_CollectiveProjectRequest()
    request.projectName = "taille"
    request.farms = (0..<count).map { steadyFarm(id: "F\($0)") }
    request.farmDetail = detail
    return request
  }

  @Test func tooLargeAUnaryResponseNamesTheStreamingMethods() throws {
    let one = try makeHarness().call(Path.collective, request(1), as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
    let farmBytes = try (one.farms[0].serializedBytes() as [UInt8]).count
    // A limit of 3.5 farms: the 4th farm passes it.
    let limit = farmBytes * 7 / 2
    let harness = try makeHarness(#"{"unary_response_max_bytes": \#(limit)}"#)
    let failure = try #require(error {
      _ = try harness.call(Path.collective, request(10), as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
    })
    #expect(failure.status == .failedPrecondition)
    #expect(failure.field == "sobac.collective.response_too_large")
    #expect(failure.message.contains("EvaluateCollectiveBatch") && failure.message.contains("EvaluateCollectiveStream"))
    #expect(failure.message.contains("at farm 4 of 10"))
    // Three farms fit.
    #expect(try harness.call(Path.collective, request(3), as: Carbon_Sobac_V1_CollectiveProjectResponse.self).farms.count == 3)
    // SUMMARY detail keeps the Récapitulatif without the per-year lines and the farm trace:
    // the same 10 farms fit, with the same final reductions.
    let summary = try harness.call(Path.collective, request(10, detail: .summary), as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
    #expect(summary.farms.count == 10)
    #expect(summary.farms[0].referenceYears.isEmpty && summary.farms[0].trace.terms.isEmpty)
    #expect(summary.farms[0].finalReductionTCo2E == one.farms[0].finalReductionTCo2E)
    #expect(abs(summary.summary.finalReductionTCo2E - 10 * one.farms[0].finalReductionTCo2E) < 1e-9)
  }

  /// The sizes the README quotes (a farm of the examples: 3 crops, 3 inputs a year).
  @Test func farmResultSizes() throws {
    let text = try String(contentsOfFile: repositoryRoot() + "/Plugins/SOBAC/examples/EvaluateFarmProject.json", encoding: .utf8)
    let farmRequest = try Carbon_Sobac_V1_EvaluateFarmProjectRequest(jsonString: text)
    let result = try makeHarness().call(Path.farm, farmRequest, as: Carbon_Sobac_V1_FarmProjectResult.self)
    let full = try (result.serializedBytes() as [UInt8]).count
    let summary = try (SobacModule.trimmed(result, to: .summary).serializedBytes() as [UInt8]).count
    let input = try (farmRequest.farm.serializedBytes() as [UInt8]).count
    print("SOBAC sizes: farm request \(input) B, result FULL \(full) B, SUMMARY \(summary) B")
    #expect(summary * 3 < full)
  }
}
