import ArgumentParser
import CarbonHost
import Foundation
import GRPCCore
import Logging
import ServiceLifecycle

extension CarbonHub {
  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Serve the deployment's modules over TLS gRPC.",
      discussion: """
        With no --config, the embedded default serves every plugin (*.so) found next to the
        executable on 127.0.0.1:8443, with a development CA and server certificate generated on
        first start in the state directory. Flags override the deployment file.
        """)

    @Option(name: .long, help: "Deployment file (TOML).")
    var config: String?

    @Option(name: .long, help: "Address to listen on, HOST:PORT (port 0 picks a free port).")
    var listen: String?

    @Option(name: .customLong("http-listen"), help: "Also serve every module over HTTP/JSON (and its OpenAPI description) on HOST:PORT, with the same TLS.")
    var httpListen: String?

    @Option(name: .long, help: "Plugin directory.")
    var plugins: String?

    @Option(name: .customLong("state-dir"), help: "State directory (development CA, module data).")
    var stateDir: String?

    @Flag(name: .customLong("insecure-loopback"), help: "Serve plaintext on a loopback address (local debugging only).")
    var insecureLoopback = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(
      name: .customLong("pid-file"),
      help: "Write the process id here once the server listens; removed at exit. (With NOTIFY_SOCKET set, systemd is also told READY=1.)")
    var pidFile: String?

    func run() async throws {
      LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        return handler
      }
      let logger = Logger(label: "carbonhub")
      var deployment = DeploymentConfig.embeddedDefault(
        pluginDirectory: Defaults.pluginDirectory, stateDirectory: Defaults.stateDirectory)
      if let config {
        guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
          throw ValidationError("cannot read the deployment file \(config)")
        }
        do {
          deployment = try DeploymentConfig.parse(toml: text, defaults: deployment)
        } catch {
          throw ValidationError("\(config): \(error)")
        }
      }
      if let listen { deployment.listen = listen }
      if let httpListen { deployment.httpListen = httpListen }
      if let plugins { deployment.pluginDirectory = plugins }
      if let stateDir { deployment.stateDirectory = stateDir }
      if insecureLoopback { deployment.insecureLoopback = true }
      do {
        try deployment.validate()
      } catch {
        throw ValidationError("\(error)")
      }

      let server = try await HostServer(config: deployment, logger: logger)
      let readiness = Readiness(pidFile: pidFile)
      defer { readiness.stopping() }
      // SIGTERM and SIGINT drain in-flight calls, then the host stops (swift-service-lifecycle).
      let group = ServiceGroup(
        services: [Serving(server: server, readiness: readiness, logger: logger)], gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger)
      do {
        try await group.run()
      } catch let error as RPCError {
        // "cannot listen on …: address already in use" reads best without a status prefix.
        printError("carbonhub serve: \(error.message)")
        throw ExitCode(1)
      }
    }

  }

  /// The host as `carbonhub serve` runs it: the summary on standard error and readiness (pid file,
  /// systemd) once it listens.
  private struct Serving: Service {
    let server: HostServer
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
      let (server, readiness, logger) = (server, readiness, logger)
      let tls = server.tls
      let modules = server.registry.all
      try await server.run { address in
        var lines = ["carbonhub serving on \(address) (\(tls == nil ? "PLAINTEXT" : "TLS"))"]
        if let ca = tls?.developmentCA { lines.append("  clients trust the development CA: \(ca)") }
        if let http = server.httpListeningAddress {
          lines.append("  web console: \(tls == nil ? "http" : "https")://\(http)/")
        }
        if let receipts = server.receipts {
          lines.append("  receipts signed with Ed25519 key \(receipts.keyID) (public key: \(receipts.publicKey.base64))")
        }
        for module in modules {
          switch module.state {
          case .serving: lines.append("  module \(module.name) \(module.metadata?.version ?? ""): serving")
          case .failed(let reason): lines.append("  module \(module.name): FAILED: \(reason)")
          default: lines.append("  module \(module.name): \(module.state.text)")
          }
        }
        if let metrics = server.metricsListeningAddress { lines.append("  metrics: http://\(metrics)/metrics") }
        if let http = server.httpListeningAddress {
          let scheme = tls == nil ? "http" : "https"
          lines.append("  HTTP/JSON: POST \(scheme)://\(http)/v1/{module}/{Method} (OpenAPI: \(scheme)://\(http)/openapi.json)")
        }
        printError(lines.joined(separator: "\n"))
        do {
          try readiness.ready(status: "serving on \(address)")
        } catch {
          logger.error("\(error)")
        }
      }
    }
  }
}
