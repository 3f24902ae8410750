import CarbonDomain
import GRPCCore

// The one mapping between a module call's `CarbonStatus` (the ABI's numbering) and GRPCCore's
// codes. The numbers are the same by design (carbon_plugin.h); the names come from
// `CarbonStatus.name`, the only table of them.

extension RPCError.Code {
  /// The gRPC error code of a failed module call's status; `ok` (never an error) and a status
  /// gRPC does not know map to `unknown`.
  init(_ status: CarbonStatus) {
    self = Status.Code(rawValue: Int(status.rawValue)).flatMap(RPCError.Code.init) ?? .unknown
  }

  /// The canonical upper-case name (`INVALID_ARGUMENT`).
  var name: String { CarbonStatus(self).name }
}

extension CarbonStatus {
  /// The status of a gRPC error code (for the host's clients too: `carbonhub load`, tests).
  public init(_ code: RPCError.Code) { self.init(code: UInt32(code.rawValue)) }

  /// The status of a gRPC status code (`ok` included).
  init(_ code: Status.Code) { self.init(code: UInt32(code.rawValue)) }
}
