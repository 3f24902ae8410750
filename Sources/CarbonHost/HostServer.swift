import CarbonPluginLoader
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging

/// A running host: the deployment's modules served over gRPC with TLS, plus the host's own
/// services (host API, health, reflection).
///
/// ```swift
/// let server = try HostServer(config: config, logger: logger)
/// try await server.run { address in print("listening on \(address)") }
/// ```
public final class HostServer: Sendable {
  public let config: DeploymentConfig
  public let registry: ModuleRegistry
  public let metrics = CallMetrics()
  /// TLS material in use (nil with `insecure_loopback`).
  public let tls: TLSFiles?
  private let logger: Logger
  private let server: GRPCServer<HTTP2ServerTransport.Posix>
  private let transport: HTTP2ServerTransport.Posix

  /// The certificate and key files the server presents, and the CA clients should trust when
  /// they are development certificates.
  public struct TLSFiles: Sendable {
    public let certificate: String
    public let key: String
    /// The development CA (nil when the deployment gives its own certificate).
    public let developmentCA: String?
  }

  /// Loads the deployment's modules and prepares the server (not yet listening).
  public init(config: DeploymentConfig, logger: Logger) throws {
    try config.validate()
    self.config = config
    self.logger = logger
    let address = try ListenAddress(config.listen)

    if config.insecureLoopback {
      tls = nil
      logger.warning("serving PLAINTEXT on a loopback address (insecure_loopback): for local debugging only")
    } else if let certificate = config.tlsCertificate, let key = config.tlsKey {
      tls = TLSFiles(certificate: certificate, key: key, developmentCA: nil)
    } else {
      let dev = DevelopmentCertificates(directory: config.stateDirectory + "/tls")
      if try dev.ensure() {
        logger.notice("generated a development CA and server certificate", metadata: ["dir": "\(dev.directory)"])
      }
      tls = TLSFiles(certificate: dev.serverCertificatePath, key: dev.serverKeyPath, developmentCA: dev.caCertificatePath)
    }

    registry = ModuleRegistry.load(config, logger: logger)
    let security: HTTP2ServerTransport.Posix.TransportSecurity
    if let tls {
      security = .tls(certificateChain: [.file(path: tls.certificate, format: .pem)], privateKey: .file(path: tls.key, format: .pem))
    } else {
      security = .plaintext
    }
    let socketAddress: GRPCNIOTransportCore.SocketAddress =
      address.host.contains(":") ? .ipv6(host: address.host, port: address.port)
      : .ipv4(host: address.host == "localhost" ? "127.0.0.1" : address.host, port: address.port)
    transport = HTTP2ServerTransport.Posix(
      address: socketAddress, transportSecurity: security,
      config: .defaults { $0.rpc.maxRequestPayloadSize = config.maxMessageBytes })
    server = GRPCServer(
      transport: transport,
      services: [
        PluginRoutes(registry: registry, metrics: metrics),
        HostAPIService(registry: registry),
        HealthService(registry: registry),
        ReflectionService(registry: registry),
      ])
  }

  /// The bound address once listening ("127.0.0.1:8443").
  public var listeningAddress: String {
    get async throws {
      let address = try await transport.listeningAddress
      if let v4 = address.ipv4 { return "\(v4.host):\(v4.port)" }
      if let v6 = address.ipv6 { return "[\(v6.host)]:\(v6.port)" }
      return "\(address)"
    }
  }

  /// Serves until `shutdown()` or SIGINT/SIGTERM, then drains in-flight calls and returns.
  /// `onListening` runs once the socket is bound, with the bound address.
  public func run(handleSignals: Bool = true, onListening: @escaping @Sendable (String) -> Void = { _ in }) async throws {
    let signals = handleSignals ? installSignalHandlers() : []
    defer { signals.forEach { $0.cancel() } }
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await self.server.serve() }
      let address = try await listeningAddress
      logger.info("serving", metadata: [
        "address": "\(address)", "tls": "\(tls == nil ? "off" : "on")",
        "modules": "\(registry.serving.map(\.name).joined(separator: ","))",
      ])
      onListening(address)
      try await group.waitForAll()
    }
    logger.info("stopped")
  }

  /// Stops accepting calls and lets in-flight calls finish.
  public func shutdown() {
    server.beginGracefulShutdown()
  }

  private func installSignalHandlers() -> [any DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { signalNumber in
      signal(signalNumber, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
      source.setEventHandler { [logger, server] in
        logger.notice("signal received: draining in-flight calls", metadata: ["signal": "\(signalNumber)"])
        server.beginGracefulShutdown()
      }
      source.resume()
      return source
    }
  }
}
