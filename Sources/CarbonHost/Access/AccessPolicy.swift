import GRPCCore

/// The deployment's host-wide access rules (`[access]`): whether a client certificate is
/// required, and who holds the `admin` role. Per-module allow-lists live in the registry, where
/// admins change them at run time.
public struct AccessPolicy: Sendable {
  /// Calls without a verified client certificate are refused with UNAUTHENTICATED.
  public let requiresClientCertificate: Bool
  /// Identities holding the `admin` role.
  public let admins: [String]

  public init(_ access: DeploymentConfig.Access) {
    requiresClientCertificate = access.requireClientCertificate
    admins = access.admins
  }

  /// The roles `identity` holds.
  public func roles(of identity: CallerIdentity) -> [String] {
    adminGrant(of: identity) == nil ? [] : ["admin"]
  }

  /// The caller's name that `access.admins` lists (typed: `cn:ops` matches only a common
  /// name), nil when the caller is not an admin. Admin actions are logged under this name.
  public func adminGrant(of identity: CallerIdentity) -> CallerIdentity.Name? {
    identity.match(in: admins.filter { $0 != "*" })
  }

  /// UNAUTHENTICATED for a caller without a verified client certificate when the deployment
  /// requires one (recorded in the audit log); nil when the caller may go on.
  func authenticationRefusal(_ identity: CallerIdentity, peer: String, action: String, audit: AuditLog?) -> RPCError? {
    guard requiresClientCertificate && !identity.isAuthenticated else { return nil }
    audit?.record(
      .init(kind: "refusal", who: "\(identity)", peer: peer, action: action, outcome: "UNAUTHENTICATED", detail: "no client certificate"))
    return RPCError(code: .unauthenticated, message: "this host requires a client certificate issued by its client CA (access.client_ca)")
  }

  /// Services only admins may call.
  static let adminServices: Set<String> = ["carbon.host.v1.HostAdmin"]
}

/// Enforces the host-wide rules on every call, before any handler runs: UNAUTHENTICATED for a
/// caller without a certificate when one is required, PERMISSION_DENIED for a non-admin calling
/// an admin RPC. (Module allow-lists are checked by `ModuleCalls`, which knows the module.)
struct AccessInterceptor: ServerInterceptor {
  let policy: AccessPolicy
  let peers: PeerDirectory
  /// Where refusals are recorded.
  let audit: AuditLog?

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    let identity = peers.identity(of: context.remotePeer)
    let service = context.descriptor.service.fullyQualifiedService
    let action = "\(service)/\(context.descriptor.method)"
    if let refusal = policy.authenticationRefusal(identity, peer: context.remotePeer, action: action, audit: audit) {
      return StreamingServerResponse(error: refusal)
    }
    if AccessPolicy.adminServices.contains(service) && !policy.roles(of: identity).contains("admin") {
      audit?.record(
        .init(
          kind: "refusal", who: "\(identity)", peer: context.remotePeer, action: action, outcome: "PERMISSION_DENIED",
          detail: "not in access.admins"))
      return StreamingServerResponse(
        error: RPCError(
          code: .permissionDenied,
          message: "\(service)/\(context.descriptor.method) needs the admin role; caller '\(identity)' is not in access.admins"))
    }
    return try await next(request, context)
  }
}
