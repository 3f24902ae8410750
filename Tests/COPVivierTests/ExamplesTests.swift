import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing
@testable import COPVivierModule

@Suite("Sample requests", .cpuBound)
struct ExamplesTests {
  /// `Plugins/COPVivier/examples`, found from this file: Tests/COPVivierTests/ → repository root.
  static let examplesDirectory: String = {
    var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("Plugins/COPVivier/examples").path
  }()

  @Test("every example request gives its expected answer (in process, JSON)")
  func examples() throws {
    let harness = try ModuleHarness<COPVivierModule>()
    let problems = try harness.verifyExamples(in: Self.examplesDirectory)
    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
  }
}
