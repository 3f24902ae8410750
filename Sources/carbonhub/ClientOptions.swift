import ArgumentParser
import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

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
    _ body: @Sendable (Carbon_Host_V1_Host.Client<HTTP2ClientTransport.Posix>) async throws -> Result
  ) async throws -> Result {
    try await withClient { client in try await body(Carbon_Host_V1_Host.Client(wrapping: client)) }
  }

  /// Runs `body` with a connected gRPC client; RPC errors become a non-zero exit with the
  /// gRPC status and message on standard error.
  func withClient<Result: Sendable>(
    _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
  ) async throws -> Result {
    if let caFile, !FileManager.default.fileExists(atPath: caFile) {
      throw ValidationError("CA file \(caFile) not found: give --ca FILE or the server's --state-dir")
    }
    let identity = cert.flatMap { cert in key.map { ClientTransportFactory.ClientCertificate(certificate: cert, key: $0) } }
    let transport = try ClientTransportFactory.make(server: server, caFile: caFile, clientCertificate: identity)
    do {
      return try await withGRPCClient(transport: transport) { client in try await body(client) }
    } catch let error as RPCError {
      var text = "error: \(error.code) (\(Status.Code(error.code).rawValue)): \(error.message)"
      if let field = error.metadata[stringValues: "carbon-error-field"].first(where: { _ in true }) {
        text += "\n  field: \(field)"
      }
      printError(text)
      throw ExitCode(1)
    }
  }
}

extension Status.Code {
  init(_ code: RPCError.Code) {
    self = Status.Code(rawValue: code.rawValue) ?? .unknown
  }
}
