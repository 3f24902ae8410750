import CarbonDomain
import CarbonPluginABI

/// Status of a module call: the domain's `CarbonStatus`, whose values are `carbon_status`'s
/// (gRPC's codes, see `carbon_plugin.h`).
public typealias ModuleStatus = CarbonStatus

extension CarbonStatus {
  var cValue: carbon_status { carbon_status(rawValue: rawValue) }

  /// The canonical name ("INVALID_ARGUMENT").
  @available(*, deprecated, renamed: "name")
  public var grpcName: String { name }
}

/// The error a module method throws. The kit turns it into the call's status, message and
/// field path; the host forwards them to the caller as the gRPC status.
public struct ModuleError: Error, Sendable, Equatable, CustomStringConvertible {
  public var status: ModuleStatus
  public var message: String
  /// Path of the offending request field (`farms[3].years[2].quantity`) or the rule that
  /// refused the request; nil when the error concerns the whole request.
  public var field: String?

  public init(_ status: ModuleStatus, _ message: String, field: String? = nil) {
    self.status = status
    self.message = message
    self.field = field
  }

  /// A request field is missing or invalid.
  public static func invalidArgument(_ field: String, _ message: String) -> ModuleError {
    ModuleError(.invalidArgument, "\(field): \(message)", field: field)
  }

  /// A well-formed request refused by a rule of the method (named in `rule`).
  public static func failedPrecondition(rule: String, _ message: String) -> ModuleError {
    ModuleError(.failedPrecondition, "\(rule): \(message)", field: rule)
  }

  /// Something the request names does not exist.
  public static func notFound(_ field: String, _ message: String) -> ModuleError {
    ModuleError(.notFound, "\(field): \(message)", field: field)
  }

  /// A defect in the module.
  public static func `internal`(_ message: String) -> ModuleError {
    ModuleError(.internal, message)
  }

  public var description: String { "\(status) \(message)" }
}
