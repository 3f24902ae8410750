import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Testing

@testable import SNBCModule

@Suite("Sample requests", .cpuBound)
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

@Suite("Concurrency", .cpuBound)
struct ConcurrencyTests {
  @Test("one instance answers concurrent calls with identical results")
  func concurrentCalls() async throws {
    let harness = try ModuleHarness<SNBCModule>()
    let json = try String(contentsOfFile: SNBCTest.examplesDirectory + "/AssessTrajectory.json", encoding: .utf8)
    let expected = try harness.callJSON(SNBCTest.assess, json)
    let results = try await withThrowingTaskGroup(of: String.self) { group in
      for _ in 0..<16 { group.addTask { try harness.callJSON(SNBCTest.assess, json) } }
      var all: [String] = []
      for try await result in group { all.append(result) }
      return all
    }
    #expect(results.count == 16)
    #expect(results.allSatisfy { $0 == expected })
  }
}
