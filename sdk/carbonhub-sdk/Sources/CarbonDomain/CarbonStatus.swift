/// The status of a module call: the ABI's `carbon_status`, numbered as gRPC numbers its status
/// codes, so a plugin's status reaches the client unchanged. The platform's one status type
/// below the gRPC layer (plugins, loader, conformance checks, examples); the host maps it to
/// GRPCCore's `RPCError.Code` in one place.
public enum CarbonStatus: UInt32, Sendable, CaseIterable, CustomStringConvertible {
  case ok = 0
  case cancelled = 1
  case unknown = 2
  case invalidArgument = 3
  case deadlineExceeded = 4
  case notFound = 5
  case alreadyExists = 6
  case permissionDenied = 7
  case resourceExhausted = 8
  case failedPrecondition = 9
  case aborted = 10
  case outOfRange = 11
  case unimplemented = 12
  case `internal` = 13
  case unavailable = 14
  case dataLoss = 15
  case unauthenticated = 16

  /// The canonical name ("INVALID_ARGUMENT"), as gRPC documents it and as example
  /// expectations, audit lines and metric labels write it.
  public var name: String {
    switch self {
    case .ok: "OK"
    case .cancelled: "CANCELLED"
    case .unknown: "UNKNOWN"
    case .invalidArgument: "INVALID_ARGUMENT"
    case .deadlineExceeded: "DEADLINE_EXCEEDED"
    case .notFound: "NOT_FOUND"
    case .alreadyExists: "ALREADY_EXISTS"
    case .permissionDenied: "PERMISSION_DENIED"
    case .resourceExhausted: "RESOURCE_EXHAUSTED"
    case .failedPrecondition: "FAILED_PRECONDITION"
    case .aborted: "ABORTED"
    case .outOfRange: "OUT_OF_RANGE"
    case .unimplemented: "UNIMPLEMENTED"
    case .internal: "INTERNAL"
    case .unavailable: "UNAVAILABLE"
    case .dataLoss: "DATA_LOSS"
    case .unauthenticated: "UNAUTHENTICATED"
    }
  }

  /// The status a canonical name names; nil for anything else.
  public init?(name: String) {
    guard let status = Self.allCases.first(where: { $0.name == name }) else { return nil }
    self = status
  }

  /// The status of a number that came across the ABI or the wire: `unknown` for a number no
  /// status has (a C plugin's bug must not become another status).
  public init(code: UInt32) { self = CarbonStatus(rawValue: code) ?? .unknown }

  public var description: String { name }
}
