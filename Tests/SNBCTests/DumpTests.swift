import CarbonPluginKit
import Foundation
import Testing
@testable import SNBCModule
@Test func dump() throws {
  let h = try ModuleHarness<SNBCModule>()
  let json = try String(contentsOfFile: SNBCTest.examplesDirectory + "/AssessTrajectory.json", encoding: .utf8)
  let out = try h.callJSON(SNBCTest.assess, json)
  try out.write(toFile: "/tmp/snbcgen/assess.json", atomically: true, encoding: .utf8)
}
