import CarbonDomain
import Foundation

/// One sample request of a module's `examples/` folder: `<Method>.json` or
/// `<Method>.<variant>.json`, with the status its `.expect.json` documents (default OK).
public struct SampleRequest: Sendable, Equatable {
  /// The method name ("Convert"), as in the plugin's method paths.
  public let method: String
  /// The variant of a sample beyond the first ("incompatible" for `Convert.incompatible.json`).
  public let variant: String?
  /// The request, proto3 JSON.
  public let json: [UInt8]
  /// The status the sample expects.
  public let expectedStatus: CarbonStatus

  public init(method: String, variant: String?, json: [UInt8], expectedStatus: CarbonStatus) {
    self.method = method
    self.variant = variant
    self.json = json
    self.expectedStatus = expectedStatus
  }
}

/// Reads the sample requests every module folder keeps in `examples/`, so that `verify`, the
/// load generator and the benchmarks use the same inputs.
public enum SampleRequests {
  /// Every `*.json` request of `directory` (not the `.expect.json` files), sorted by file name,
  /// as `ExampleCase` reads them (the one reader of example folders). Throws, naming the file,
  /// when an expect file is not JSON or names a status that does not exist: a sample must not
  /// silently count as expected to succeed.
  public static func load(directory: String) throws -> [SampleRequest] {
    try ExampleCase.load(directory: directory).map { example in
      guard let status = CarbonStatus(name: example.expectedStatus) else {
        throw ExampleFileError(
          path: example.requestPath, message: "its expect file's status \(example.expectedStatus.quoted) is not a gRPC status name")
      }
      return SampleRequest(
        method: example.method, variant: example.name.isEmpty ? nil : example.name, json: Array(example.requestJSON.utf8),
        expectedStatus: status)
    }
  }

  /// The examples folder under `root` (a repository checkout) whose samples all name methods
  /// of `methods`, the most of them: `Plugins/ESCA/examples` for ESCA's method names. Method
  /// names alone are ambiguous (two modules have `ListReferenceData`), whole folders are not.
  public static func findDirectory(forMethods methods: Set<String>, under root: String) -> String? {
    var best: (directory: String, matches: Int)?
    for directory in exampleDirectories(under: root) {
      let names = Set(((try? load(directory: directory)) ?? []).map(\.method))
      guard !names.isEmpty, names.isSubset(of: methods) else { continue }
      if names.count > best?.matches ?? 0 { best = (directory, names.count) }
    }
    return best?.directory
  }

  /// `Plugins/*/examples` and `Plugins/examples/*/examples` under `root`.
  static func exampleDirectories(under root: String) -> [String] {
    let plugins = root + "/Plugins"
    var found: [String] = []
    var isDirectory: ObjCBool = false
    for name in ((try? FileManager.default.contentsOfDirectory(atPath: plugins)) ?? []).sorted() {
      let examples = plugins + "/" + name + "/examples"
      if FileManager.default.fileExists(atPath: examples, isDirectory: &isDirectory), isDirectory.boolValue {
        found.append(examples)
      }
      for inner in ((try? FileManager.default.contentsOfDirectory(atPath: plugins + "/" + name)) ?? []).sorted() {
        let nested = plugins + "/" + name + "/" + inner + "/examples"
        if FileManager.default.fileExists(atPath: nested, isDirectory: &isDirectory), isDirectory.boolValue {
          found.append(nested)
        }
      }
    }
    return found
  }

  /// The methods whose calculation a load test or a soak drives by default, by module name:
  /// the module's main calculation rather than its reference-data listing. A module not named
  /// here is driven through its first unary method that has a sample expected to succeed.
  public static let mainMethods: [String: String] = [
    "units": "Convert", "gwp": "ToCo2e", "esca": "ComputeBonus", "sobac": "EvaluateFarmProject",
    "aldo": "ComputeFlux", "snbc": "AssessTrajectory", "cop-vivier": "QualifyProject",
  ]

  /// The representative request of a module: the first OK sample (no variant first) of its
  /// main method, else of its first unary method that has one. `methods` are the module's
  /// (name, isServerStreaming) pairs in declaration order.
  public static func representative(
    module: String, methods: [(name: String, isServerStreaming: Bool)], samples: [SampleRequest]
  ) -> SampleRequest? {
    let succeeding = samples.filter { $0.expectedStatus == .ok }.sorted { ($0.variant ?? "") < ($1.variant ?? "") }
    if let main = mainMethods[module], let sample = succeeding.first(where: { $0.method == main }) {
      return sample
    }
    for method in methods where !method.isServerStreaming {
      if let sample = succeeding.first(where: { $0.method == method.name }) { return sample }
    }
    return nil
  }
}
