import CarbonDomain
import Foundation

/// A sample request kept next to a plugin, with what its answer must contain. Sample files
/// document each method for users (`carbonhub call <module>.<Method> --json <file>`) and are
/// run by the tests, in process and over TLS through the host.
///
/// Layout, in `Plugins/<Name>/examples/`:
/// - `<Method>.json` or `<Method>.<case>.json`: the request in proto3 JSON;
/// - `<Method>[.<case>].expect.json` (optional): the expectation,
///   ```json
///   { "status": "OK",
///     "values":  { "bonus.g_co2e_per_mj": [148.9, 0.05], "farms[0].case": ["CASE_1"] } }
///   ```
///   `status` is a gRPC status name (default "OK"); `field` the expected error field;
///   `values` maps a path in the JSON response (snake_case field names, `[i]` for list items)
///   to `[number, tolerance]` or `[string]`. Without an expect file the call must succeed.
public struct ExampleCase: Sendable {
  /// The method name ("ComputeBonus").
  public let method: String
  /// The case name ("" for `<Method>.json`).
  public let name: String
  /// The request file path.
  public let requestPath: String
  /// The request, proto3 JSON.
  public let requestJSON: String
  /// Expected status name ("OK", "INVALID_ARGUMENT"...).
  public let expectedStatus: String
  /// Expected error field, if any.
  public let expectedField: String?
  /// Expected values by response path: a number with tolerance, or a string.
  public let expectedValues: [(path: String, expectation: Expectation)]

  /// What a response value must be.
  public enum Expectation: Sendable {
    case number(Double, tolerance: Double)
    case string(String)
  }

  public init(
    method: String, name: String, requestPath: String, requestJSON: String, expectedStatus: String = "OK",
    expectedField: String? = nil, expectedValues: [(path: String, expectation: Expectation)] = []
  ) {
    self.method = method
    self.name = name
    self.requestPath = requestPath
    self.requestJSON = requestJSON
    self.expectedStatus = expectedStatus
    self.expectedField = expectedField
    self.expectedValues = expectedValues
  }

  /// Every example of a directory, sorted by file name.
  public static func load(directory: String) throws -> [ExampleCase] {
    let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    return try files.filter { $0.hasSuffix(".json") && !$0.hasSuffix(".expect.json") }.map { file in
      let stem = String(file.dropLast(".json".count))
      let parts = stem.split(separator: ".", maxSplits: 1)
      let path = directory + "/" + file
      let request = try String(contentsOfFile: path, encoding: .utf8)
      var status = "OK"
      var field: String? = nil
      var values: [(String, Expectation)] = []
      let expectPath = directory + "/" + stem + ".expect.json"
      if let data = FileManager.default.contents(atPath: expectPath) {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
          throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: expectPath])
        }
        status = object["status"] as? String ?? "OK"
        field = object["field"] as? String
        for (key, value) in (object["values"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
          guard let list = value as? [Any], let first = list.first else { continue }
          if let text = first as? String {
            values.append((key, .string(text)))
          } else if let number = (first as? NSNumber)?.doubleValue {
            let tolerance = (list.count > 1 ? (list[1] as? NSNumber)?.doubleValue : nil) ?? 1e-9
            values.append((key, .number(number, tolerance: tolerance)))
          }
        }
      }
      return ExampleCase(
        method: String(parts[0]), name: parts.count > 1 ? String(parts[1]) : "", requestPath: path,
        requestJSON: request, expectedStatus: status, expectedField: field, expectedValues: values)
    }
  }

  /// Checks an outcome: the response JSON on success, or the status name and field on error.
  /// Returns what does not match (empty when the case passes).
  public func mismatches(responseJSON: String?, status: String, field: String?) -> [String] {
    let label = name.isEmpty ? method : "\(method).\(name)"
    var problems: [String] = []
    if status != expectedStatus {
      problems.append("\(label): status \(status), expected \(expectedStatus)")
      return problems
    }
    if let expectedField, expectedField != field {
      problems.append("\(label): error field \(field ?? "none"), expected \(expectedField)")
    }
    guard let responseJSON, !expectedValues.isEmpty else { return problems }
    guard let root = try? JSONSerialization.jsonObject(with: Data(responseJSON.utf8)) else {
      return problems + ["\(label): the response is not JSON"]
    }
    for (path, expectation) in expectedValues {
      let found = Self.value(at: path, in: root)
      switch expectation {
      case .number(let expected, let tolerance):
        // proto3 JSON omits zero values: a missing number reads as 0.
        let actual = found.map { ($0 as? NSNumber)?.doubleValue ?? Double.nan } ?? 0
        if !(abs(actual - expected) <= tolerance) {
          problems.append("\(label): \(path) = \(actual), expected \(expected) ± \(tolerance)")
        }
      case .string(let expected):
        let actual = found.map { "\($0)" } ?? ""
        if actual != expected { problems.append("\(label): \(path) = \(actual.quoted), expected \(expected.quoted)") }
      }
    }
    return problems
  }

  /// The value at a dotted path with `[i]` indexes, or nil.
  static func value(at path: String, in root: Any) -> Any? {
    var current: Any? = root
    for component in path.split(separator: ".") {
      var key = Substring(component)
      var indexes: [Int] = []
      while let open = key.lastIndex(of: "["), key.hasSuffix("]"), let index = Int(key[key.index(after: open)..<key.index(before: key.endIndex)]) {
        indexes.insert(index, at: 0)
        key = key[..<open]
      }
      if !key.isEmpty { current = (current as? [String: Any])?[String(key)] }
      for index in indexes {
        guard let list = current as? [Any], index >= 0, index < list.count else { return nil }
        current = list[index]
      }
    }
    return current
  }
}

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
        problems += example.mismatches(responseJSON: nil, status: error.status.grpcName, field: error.field)
      }
    }
    return problems
  }
}

extension ModuleStatus {
  /// The gRPC status name, e.g. "INVALID_ARGUMENT".
  public var grpcName: String {
    switch self {
    case .ok: return "OK"
    case .cancelled: return "CANCELLED"
    case .unknown: return "UNKNOWN"
    case .invalidArgument: return "INVALID_ARGUMENT"
    case .deadlineExceeded: return "DEADLINE_EXCEEDED"
    case .notFound: return "NOT_FOUND"
    case .alreadyExists: return "ALREADY_EXISTS"
    case .permissionDenied: return "PERMISSION_DENIED"
    case .resourceExhausted: return "RESOURCE_EXHAUSTED"
    case .failedPrecondition: return "FAILED_PRECONDITION"
    case .aborted: return "ABORTED"
    case .outOfRange: return "OUT_OF_RANGE"
    case .unimplemented: return "UNIMPLEMENTED"
    case .internal: return "INTERNAL"
    case .unavailable: return "UNAVAILABLE"
    case .dataLoss: return "DATA_LOSS"
    case .unauthenticated: return "UNAUTHENTICATED"
    }
  }
}
