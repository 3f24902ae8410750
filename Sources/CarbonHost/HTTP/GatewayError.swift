import CarbonDomain
import GRPCCore

/// An error as the HTTP gateway answers it: the gRPC status it stands for, as JSON
/// `{"code", "status", "message", "field", "requestId"}`, with the HTTP status grpc-gateway
/// gives that gRPC code (`httpStatus`).
struct GatewayError: Error, Sendable {
  let code: RPCError.Code
  let message: String
  /// The offending field of the request (`analysis.depth_cm`, `requests[2].farms[0]`), if known.
  var field: String? = nil

  init(code: RPCError.Code, message: String, field: String? = nil) {
    self.code = code
    self.message = message
    self.field = field
  }

  /// The gateway's form of a gRPC error: its code and message, and the field a module named in
  /// the `carbon-error-field` trailer.
  init(_ error: RPCError) {
    code = error.code
    message = error.message
    field = error.metadata[stringValues: "carbon-error-field"].first(where: { _ in true }).map { String($0) }
  }

  /// The HTTP status of a gRPC code, as grpc-gateway maps them (runtime/errors.go,
  /// `HTTPStatusFromCode`): 400 for a request that cannot succeed as sent, 401/403 for access,
  /// 404 for what does not exist, 429 for a limit, 499 for a client that left, 501 for a
  /// method that does not exist, 503 for a module not serving, 504 for a deadline.
  static func httpStatus(of code: RPCError.Code) -> Int {
    switch code {
    case .cancelled: return 499
    case .unknown, .internalError, .dataLoss: return 500
    case .invalidArgument, .failedPrecondition, .outOfRange: return 400
    case .deadlineExceeded: return 504
    case .notFound: return 404
    case .alreadyExists, .aborted: return 409
    case .permissionDenied: return 403
    case .unauthenticated: return 401
    case .resourceExhausted: return 429
    case .unimplemented: return 501
    case .unavailable: return 503
    default: return 500
    }
  }

  var httpStatus: Int { Self.httpStatus(of: code) }

  /// The JSON body; `requestId` is the call's `x-request-id`.
  func json(requestID: String?) -> [UInt8] {
    var members: [JSONValue.Member] = [
      .init("code", .number(String(code.rawValue))),
      .init("status", .string(code.name)),
      .init("message", .string(message)),
    ]
    if let field, !field.isEmpty { members.append(.init("field", .string(field))) }
    if let requestID { members.append(.init("requestId", .string(requestID))) }
    return JSONValue.object(members).serialized
  }
}
