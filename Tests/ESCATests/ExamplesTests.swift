import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Testing
@testable import ESCAModule

/// Every sample request of Plugins/ESCA/examples runs in process with its expectations (the
/// host integration tests run the same files over TLS gRPC).
@Suite(.cpuBound) struct ExamplesTests {
  @Test func everyExampleMatchesItsExpectation() throws {
    let problems = try Esca.harness().verifyExamples(in: Esca.examplesDirectory())
    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
  }

  @Test func everyMethodHasAnExample() throws {
    let cases = try ExampleCase.load(directory: Esca.examplesDirectory())
    for method in EscaModule.methods {
      let name = String(method.path.split(separator: "/").last ?? "")
      #expect(cases.contains { $0.method == name && $0.name.isEmpty }, "no \(name).json example")
    }
  }
}
