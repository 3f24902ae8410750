import CarbonPluginKit
import CarbonPluginTesting
import Foundation
import SwiftProtobuf
import Testing

@testable import SNBCModule

/// Shared helpers of the SNBC tests.
enum SNBCTest {
  /// `Plugins/SNBC/examples`, found from this file's path (Tests/SNBCTests/ → repo root).
  static var examplesDirectory: String {
    var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    while url.path != "/" {
      url.deleteLastPathComponent()
      let candidate = url.appendingPathComponent("Plugins/SNBC/examples")
      if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
    }
    return "/work/main/Plugins/SNBC/examples"
  }

  /// An example request, decoded.
  static func example<M: SwiftProtobuf.Message>(_ file: String, as type: M.Type) throws -> M {
    let text = try String(contentsOfFile: examplesDirectory + "/" + file, encoding: .utf8)
    return try M(jsonString: text)
  }

  static let assess = "/carbon.snbc.v1.Snbc/AssessTrajectory"
  static let plan = "/carbon.snbc.v1.Snbc/PlanAndMonitor"
  static let chart = "/carbon.snbc.v1.Snbc/RenderTrajectoryChart"

  /// Calls AssessTrajectory.
  static func assess(_ request: Carbon_Snbc_V1_AssessTrajectoryRequest) throws(ModuleError)
    -> Carbon_Snbc_V1_AssessTrajectoryResponse
  {
    let harness = try ModuleHarness<SNBCModule>()
    return try harness.call(assess, request, as: Carbon_Snbc_V1_AssessTrajectoryResponse.self)
  }

  /// The error of a call that must fail.
  static func failure(_ body: () throws(ModuleError) -> Void) -> ModuleError? {
    do {
      try body()
      return nil
    } catch {
      return error
    }
  }
}
