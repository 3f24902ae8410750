import CarbonDomain
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
