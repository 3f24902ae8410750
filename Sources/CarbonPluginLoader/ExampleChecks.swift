import CarbonDomain
import Foundation

extension ExampleCase {
  /// Runs this example on a loaded module, in proto3 JSON as `carbonhub call` sends it, and
  /// returns what does not match its `.expect.json` (empty when it passes). For a module in any
  /// language: a server-streaming answer is compared as the JSON array of its messages, a
  /// bidirectional method gets the example as its one request.
  public func check(on instance: PluginInstance) -> [String] {
    guard let method = instance.library.methods.first(where: { $0.path.hasSuffix("/" + self.method) }) else {
      return ["\(requestPath): the module has no method \(self.method)"]
    }
    do {
      let responses = try instance.callCollecting(method, request: Array(requestJSON.utf8), encoding: .json)
      let text = responses.map { String(decoding: $0, as: UTF8.self) }
      let response = method.isServerStreaming ? "[" + text.joined(separator: ",") + "]" : text.first ?? ""
      return mismatches(responseJSON: response, status: "OK", field: nil)
    } catch {
      return mismatches(responseJSON: nil, status: error.status.name, field: error.field)
    }
  }

  /// Runs every example of `directory` on `instance`: the number of cases and every mismatch.
  public static func check(directory: String, on instance: PluginInstance) throws -> (cases: Int, problems: [String]) {
    let cases = try load(directory: directory)
    return (cases.count, cases.flatMap { $0.check(on: instance) })
  }
}
