import GRPCCore
import GRPCNIOTransportHTTP2

/// Builds the client side of a TLS connection to a host, as `carbonhub` client commands and
/// the integration tests use it.
public enum ClientTransportFactory {
  /// A client certificate and its private key (PEM files), for hosts that check callers.
  public struct ClientCertificate: Sendable {
    public var certificate: String
    public var key: String

    public init(certificate: String, key: String) {
      self.certificate = certificate
      self.key = key
    }
  }

  /// A transport to `server`, presenting `clientCertificate` if given, ("HOST:PORT", "[::1]:PORT") that trusts the CA in `caFile`, or
  /// plaintext when `caFile` is nil (for `--insecure-loopback` hosts only).
  ///
  /// TLS cannot put an IP address in SNI, so for an IP-literal host the TLS server name (and
  /// the HTTP/2 authority) is `serverName` — "localhost" by default, which the development
  /// certificate carries next to its 127.0.0.1 and ::1 IP SANs. A call whose stream could not
  /// open on a connection that was going away is retried (see `HostClientTransport`).
  public static func make(
    server: String, caFile: String?, serverName: String = "localhost", clientCertificate: ClientCertificate? = nil
  ) throws -> HostClientTransport {
    let address = try ListenAddress(server)
    let isIPLiteral = address.host.contains(":") || address.host.allSatisfy { $0.isNumber || $0 == "." }
    let target: any ResolvableTarget =
      address.host.contains(":") ? .ipv6(address: address.host, port: address.port)
      : isIPLiteral ? .ipv4(address: address.host, port: address.port)
      : .dns(host: address.host, port: address.port)
    let security: HTTP2ClientTransport.Posix.TransportSecurity
    if let caFile {
      security = .tls { config in
        config.trustRoots = .certificates([.file(path: caFile, format: .pem)])
        if let clientCertificate {
          config.certificateChain = [.file(path: clientCertificate.certificate, format: .pem)]
          config.privateKey = .file(path: clientCertificate.key, format: .pem)
        }
      }
    } else {
      security = .plaintext
    }
    return HostClientTransport(
      try HTTP2ClientTransport.Posix(
        target: target, transportSecurity: security,
        config: .defaults { config in
          if isIPLiteral && caFile != nil { config.http2.authority = serverName }
          config.http2.targetWindowSize = 8 * 1024 * 1024
        }))
  }
}
