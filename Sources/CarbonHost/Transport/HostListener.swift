import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// The host's listening socket: TCP, TLS 1.2+ with the deployment's certificate, and — when the
/// deployment names a client CA — client certificates verified against it and recorded in a
/// `PeerDirectory`.
///
/// grpc-swift-nio-transport's own Posix listener can only require a client certificate at the
/// TLS layer (a caller without one fails the handshake and never sees a gRPC status). This
/// listener asks for one without requiring it, so that the host can answer UNAUTHENTICATED with
/// a message, and PERMISSION_DENIED per module.
struct HostListenerFactory: HTTP2ServerTransport.ListenerFactory {
  /// TLS settings; nil serves plaintext (loopback debugging only, checked by the config).
  struct TLS: Sendable {
    var certificateChainFile: String
    var privateKeyFile: String
    /// CA whose client certificates are accepted; nil asks for none.
    var clientCAFile: String?
    /// Verifies client certificates in place of BoringSSL when the deployment has CRLs.
    var clientVerifier: ClientCertificateVerifier? = nil

    /// The server's TLS context (Mozilla's intermediate profile) offering `applicationProtocols`
    /// in ALPN.
    func makeContext(applicationProtocols: [String]) throws -> NIOSSLContext {
      var configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(certificateChainFile).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)))
      configuration.minimumTLSVersion = .tlsv12
      configuration.cipherSuites = TLSProfile.intermediateTLS12CipherSuites
      configuration.applicationProtocols = applicationProtocols
      if let clientCAFile {
        // Verify a certificate when one is presented; whether one is required is decided per
        // call, so that the caller gets a status rather than a failed handshake.
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCAFile))
        configuration.sendCANameList = true
      }
      return try NIOSSLContext(configuration: configuration)
    }

    /// Adds TLS to a new connection's pipeline: the handshake (client certificates checked
    /// against the revocation lists when there are), its deadline, and the recording of the
    /// client's verified identity in `peers`.
    func secure(_ channel: any Channel, context: NIOSSLContext, connections: ConnectionGuard, peers: PeerDirectory) throws {
      let handler =
        if let clientVerifier {
          NIOSSLServerHandler(
            context: context, customVerificationCallback: clientVerifier.handshakeCallback(peer: PeerAddress.describe(channel.remoteAddress)))
        } else {
          NIOSSLServerHandler(context: context)
        }
      try channel.pipeline.syncOperations.addHandler(handler)
      if let deadline = connections.handshakeDeadline() {
        try channel.pipeline.syncOperations.addHandler(deadline)
      }
      if clientCAFile != nil {
        try channel.pipeline.syncOperations.addHandler(PeerIdentityRecorder(peers: peers))
      }
    }
  }

  let host: String
  let port: Int
  let tls: TLS?
  let peers: PeerDirectory
  let eventLoopGroup: any EventLoopGroup
  /// Admits connections within the deployment's limits and times out TLS handshakes.
  let connections: ConnectionGuard

  /// Builds the SSL context once, so that a bad certificate file fails at start-up.
  private let sslContext: NIOSSLContext?

  init(
    host: String, port: Int, tls: TLS?, peers: PeerDirectory, connections: ConnectionGuard, eventLoopGroup: any EventLoopGroup
  ) throws {
    self.connections = connections
    self.host = host
    self.port = port
    self.tls = tls
    self.peers = peers
    self.eventLoopGroup = eventLoopGroup
    sslContext = try tls.map { try $0.makeContext(applicationProtocols: ["grpc-exp", "h2"]) }
  }

  func makeListeningChannel(
    listenerConfigurator: HTTP2ServerTransport.ListenerConfigurator,
    connectionConfigurator: HTTP2ServerTransport.ConnectionConfigurator
  ) async throws -> NIOAsyncChannel<HTTP2ServerTransport.ConnectionConfigurator.ConnectionChannel, Never> {
    let sslContext = self.sslContext
    let tls = self.tls
    let peers = self.peers
    let connections = self.connections
    return try await ServerBootstrap(group: eventLoopGroup)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .serverChannelInitializer { channel in listenerConfigurator.configure(channel: channel) }
      .bind(host: host, port: port) { channel in
        guard connections.admit(channel) else {
          // Closed before TLS: a connection beyond the limits costs no handshake.
          return channel.close().flatMapThrowing { throw ConnectionRefused() }
        }
        return channel.eventLoop.makeCompletedFuture {
          if let tls, let sslContext { try tls.secure(channel, context: sslContext, connections: connections, peers: peers) }
        }.flatMap {
          connectionConfigurator.configure(channel: channel, tls: sslContext == nil ? .none : .configured(requireALPN: false))
        }
      }
  }
}

/// A connection closed as it was accepted, beyond `max_connections` or
/// `max_connections_per_address`.
struct ConnectionRefused: Error {}

/// The TLS settings of Mozilla's "intermediate" server profile (version 5.7), as far as
/// BoringSSL implements them: TLS 1.2 and 1.3 only; for TLS 1.2, ECDHE key exchange with
/// AES-GCM or ChaCha20-Poly1305 only (no CBC, no SHA-1 MAC, no RSA key exchange). TLS 1.3's
/// suites are all AEAD and not configurable in BoringSSL. The profile's DHE suites are left
/// out: BoringSSL has no finite-field Diffie-Hellman.
enum TLSProfile {
  /// The OpenSSL-syntax cipher list for TLS 1.2 (Mozilla intermediate, ECDHE suites).
  static let intermediateTLS12CipherSuites = [
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
  ].joined(separator: ":")
}

/// Records a connection's verified client certificate in the `PeerDirectory` once the TLS
/// handshake completes, and forgets it when the connection closes.
private final class PeerIdentityRecorder: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = NIOAny
  private let peers: PeerDirectory
  private var key: String?

  init(peers: PeerDirectory) {
    self.peers = peers
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if case TLSUserEvent.handshakeCompleted = event {
      let key = PeerAddress.describe(context.channel.remoteAddress)
      self.key = key
      let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
      if let certificate = handler?.peerCertificate, let identity = CallerIdentity(certificate) {
        peers.record(identity, for: key)
      }
    }
    context.fireUserInboundEventTriggered(event)
  }

  func channelInactive(context: ChannelHandlerContext) {
    if let key { peers.forget(key) }
    context.fireChannelInactive()
  }
}

/// The peer strings grpc-swift-nio-transport puts in `ServerContext.remotePeer`.
enum PeerAddress {
  static func describe(_ address: NIOCore.SocketAddress?) -> String {
    switch address {
    case .v4(let v4)?: return "ipv4:\(v4.host):\(address?.port ?? 0)"
    case .v6(let v6)?: return "ipv6:[\(v6.host)]:\(address?.port ?? 0)"
    case .unixDomainSocket?: return "unix:\(address?.pathname ?? "")"
    case nil: return "<unknown>"
    }
  }
}
