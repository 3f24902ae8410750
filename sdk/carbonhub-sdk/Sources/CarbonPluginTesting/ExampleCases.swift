import CarbonDomain
import CarbonPluginKit
import Foundation

extension ModuleHarness {
  /// Runs every example of a directory in process (JSON, like `carbonhub call`) and returns
  /// the mismatches; empty means every example passed.
  public func verifyExamples(in directory: String) throws -> [String] {
    let cases = try ExampleCase.load(directory: directory)
    guard !cases.isEmpty else { return ["no example in \(directory)"] }
    var problems: [String] = []
    for example in cases {
      guard let method = Module.methods.first(where: { $0.path.hasSuffix("/" + example.method) }) else {
        problems.append("\(example.requestPath): no method \(example.method)")
        continue
      }
      do {
        let response: String
        if method.kind == .serverStreaming {
          response = "[" + (try streamJSON(method.path, example.requestJSON)).joined(separator: ",") + "]"
        } else if method.kind == .bidiStreaming {
          // A bidirectional method's example is its one request (as the host's InvokeStream sends).
          let responses = try bidiBytes(method.path, [Array(example.requestJSON.utf8)], encoding: .json)
          response = "[" + responses.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",") + "]"
        } else {
          response = try callJSON(method.path, example.requestJSON)
        }
        problems += example.mismatches(responseJSON: response, status: "OK", field: nil)
      } catch {
        problems += example.mismatches(responseJSON: nil, status: error.status.name, field: error.field)
      }
    }
    return problems
  }
}
