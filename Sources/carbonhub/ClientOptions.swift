import ArgumentParser
import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore

/// Options of every client command: where the server is and which CA to trust.
struct ClientOptions: ParsableArguments {
  @Option(name: .long, help: "Server address, HOST:PORT.")
  var server: String = Defaults.listen

  @Option(name: .long, help: "CA certificate (PEM) to trust.")
  var ca: String?

  @Option(name: .customLong("state-dir"), help: "The server's state directory: trust its development CA.")
  var stateDir: String?

  @Flag(name: .customLong("insecure-loopback"), help: "Connect in plaintext (server started with --insecure-loopback).")
  var insecureLoopback = false

  @Option(name: .long, help: "Client certificate (PEM) to present, for hosts that check callers (mTLS).")
  var cert: String?

  @Option(name: .long, help: "Private key (PEM) of --cert.")
  var key: String?

  func validate() throws {
    if (cert == nil) != (key == nil) { throw ValidationError("give both --cert and --key, or neither") }
    for file in [cert, key].compactMap({ $0 }) where !FileManager.default.fileExists(atPath: file) {
      throw ValidationError("\(file): no such file")
    }
  }

  /// The CA file to trust, or nil for plaintext.
  var caFile: String? {
    if insecureLoopback { return nil }
    return ca ?? ((stateDir ?? Defaults.stateDirectory) + "/tls/ca.pem")
  }

  /// Runs `body` with a connected client of the host service; RPC errors become a non-zero
  /// exit with the gRPC status and message on standard error.
  func withHost<Result: Sendable>(
    _ body: @Sendable (Carbon_Host_V1_Host.Client<HostClientTransport>) async throws -> Result
  ) async throws -> Result {
    try await withClient { client in try await body(Carbon_Host_V1_Host.Client(wrapping: client)) }
  }

  /// Runs `body` with a connected gRPC client; RPC errors become a non-zero exit with the
  /// gRPC status and message on standard error.
  func withClient<Result: Sendable>(
    _ body: @Sendable (GRPCClient<HostClientTransport>) async throws -> Result
  ) async throws -> Result {
    if let caFile, !FileManager.default.fileExists(atPath: caFile) {
      throw ValidationError("CA file \(caFile) not found: give --ca FILE or the server's --state-dir")
    }
    let identity = cert.flatMap { cert in key.map { ClientTransportFactory.ClientCertificate(certificate: cert, key: $0) } }
    let transport = try ClientTransportFactory.make(server: server, caFile: caFile, clientCertificate: identity)
    do {
      return try await withGRPCClient(transport: transport) { client in try await body(client) }
    } catch let error as RPCError {
      if let handshake = Self.tlsHandshakeFailure(error) {
        printError(handshake.explanation(caFile: caFile, server: server))
        throw ExitCode(1)
      }
      var text = "error: \(error.code) (\(Status.Code(error.code).rawValue)): \(error.message)"
      if let field = error.metadata[stringValues: "carbon-error-field"].first(where: { _ in true }) {
        text += "\n  field: \(field)"
      }
      printError(text)
      throw ExitCode(1)
    }
  }
}

/// Why a TLS handshake failed, read from the transport's error: the connection error alone
/// ("closed the connection before the HTTP/2 preface") does not tell a user what to fix.
struct TLSHandshakeFailure {
  /// BoringSSL's reason codes, e.g. `CERTIFICATE_VERIFY_FAILED`.
  let reasons: [String]

  /// A message naming the cause and what to do.
  func explanation(caFile: String?, server: String) -> String {
    if reasons.contains("CERTIFICATE_VERIFY_FAILED") {
      return """
        error: TLS: the certificate of \(server) could not be verified with the CA in \(caFile ?? "(none)") \
        (CERTIFICATE_VERIFY_FAILED: issued by another CA, expired, or not for this host name).
          Trust the CA that issued it: --ca FILE, or --state-dir DIR of that server.
        """
    }
    if reasons.contains(where: { $0.contains("CERTIFICATE_REQUIRED") || $0.contains("HANDSHAKE_FAILURE") }) {
      return """
        error: TLS: \(server) refused the handshake (\(reasons.joined(separator: ", "))); \
        if it checks its callers, present a client certificate with --cert FILE --key FILE.
        """
    }
    return "error: TLS: the handshake with \(server) failed (\(reasons.joined(separator: ", ")))"
  }
}

extension ClientOptions {
  /// The TLS handshake failure behind an RPC error, if that is what it is.
  static func tlsHandshakeFailure(_ error: RPCError) -> TLSHandshakeFailure? {
    var cause: (any Error)? = error.cause
    var seen = 0
    while let current = cause, seen < 8 {
      let text = String(reflecting: current)
      if text.contains("handshakeFailed") || text.contains("OPENSSL_internal") {
        let reasons = text.matches(of: /OPENSSL_internal:([A-Z0-9_]+)/).map { String($0.output.1) }
        return TLSHandshakeFailure(reasons: reasons.isEmpty ? ["handshake failed"] : reasons)
      }
      cause = (current as? RPCError)?.cause
      seen += 1
    }
    return nil
  }
}

extension Status.Code {
  init(_ code: RPCError.Code) {
    self = Status.Code(rawValue: code.rawValue) ?? .unknown
  }
}
