import CarbonPluginKit
import Testing

@testable import SNBCModule

@Suite("Sample requests")
struct ExamplesTests {
  @Test("every example of Plugins/SNBC/examples gives its expected status, field and numbers")
  func examplesPass() throws {
    let harness = try ModuleHarness<SNBCModule>()
    let problems = try harness.verifyExamples(in: SNBCTest.examplesDirectory)
    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    let cases = try ExampleCase.load(directory: SNBCTest.examplesDirectory)
    // One sample per method at least.
    for method in SNBCModule.methods {
      #expect(cases.contains { method.path.hasSuffix("/" + $0.method) }, "no example for \(method.path)")
    }
  }
}
