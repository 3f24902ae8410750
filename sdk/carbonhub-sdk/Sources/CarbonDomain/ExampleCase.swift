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
        // JSONValue: expected numbers read exactly (a 1e-9 tolerance is tighter than what
        // JSONSerialization's rounding of some decimals costs).
        let object: JSONValue
        do {
          object = try JSONValue(parsing: data)
        } catch {
          throw ExampleFileError(path: expectPath, message: "\(error)")
        }
        guard object.members != nil else { throw ExampleFileError(path: expectPath, message: "not a JSON object") }
        if case .string(let name)? = object["status"] { status = name }
        if case .string(let name)? = object["field"] { field = name }
        for member in (object["values"]?.members ?? []).sorted(by: { $0.key < $1.key }) {
          guard let list = member.value.elements, let first = list.first else { continue }
          if case .string(let text) = first {
            values.append((member.key, .string(text)))
          } else if let number = first.doubleValue {
            let tolerance = (list.count > 1 ? list[1].doubleValue : nil) ?? 1e-9
            values.append((member.key, .number(number, tolerance: tolerance)))
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
    guard let root = try? JSONValue(parsing: Array(responseJSON.utf8)) else {
      return problems + ["\(label): the response is not JSON"]
    }
    for (path, expectation) in expectedValues {
      let found = Self.value(at: path, in: root)
      switch expectation {
      case .number(let expected, let tolerance):
        // proto3 JSON omits zero values: a missing number reads as 0.
        // A boolean compares as 1 or 0 (the expect files give `[1.0]` for true).
        let actual = found.map { value -> Double in
          if case .bool(let flag) = value { return flag ? 1 : 0 }
          return value.doubleValue ?? .nan
        } ?? 0
        if !(abs(actual - expected) <= tolerance) {
          problems.append("\(label): \(path) = \(actual), expected \(expected) ± \(tolerance)")
        }
      case .string(let expected):
        let actual = found.map(Self.text) ?? ""
        if actual != expected { problems.append("\(label): \(path) = \(actual.quoted), expected \(expected.quoted)") }
      }
    }
    return problems
  }

  /// The value at a dotted path with `[i]` indexes, or nil.
  static func value(at path: String, in root: JSONValue) -> JSONValue? {
    var current: JSONValue? = root
    for component in path.split(separator: ".") {
      var key = Substring(component)
      var indexes: [Int] = []
      while let open = key.lastIndex(of: "["), key.hasSuffix("]"), let index = Int(key[key.index(after: open)..<key.index(before: key.endIndex)]) {
        indexes.insert(index, at: 0)
        key = key[..<open]
      }
      if !key.isEmpty { current = current?[String(key)] }
      for index in indexes {
        guard let list = current?.elements, index >= 0, index < list.count else { return nil }
        current = list[index]
      }
    }
    return current
  }

  /// A response value as a string expectation compares it: a string's text, a number's
  /// literal, `true`/`false`, and "" for null or a container.
  static func text(_ value: JSONValue) -> String {
    switch value {
    case .string(let text): return text
    case .number(let literal): return literal
    case .bool(let flag): return flag ? "true" : "false"
    case .null, .array, .object: return ""
    }
  }
}

/// An `.expect.json` file that cannot be read.
public struct ExampleFileError: Error, CustomStringConvertible {
  /// The file.
  public let path: String
  /// What is wrong with it.
  public let message: String

  public init(path: String, message: String) {
    self.path = path
    self.message = message
  }

  public var description: String { "\(path): \(message)" }
}
