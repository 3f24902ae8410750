import CarbonPluginLoader
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A running host: the deployment's modules served over gRPC with TLS, plus the host's own
/// services (host API, health, reflection).
///
/// ```swift
/// let server = try await HostServer(config: config, logger: logger)
/// try await server.run { address in print("listening on \(address)") }
/// ```
/// It is a swift-service-lifecycle `Service`: `carbonhub serve` runs it in a `ServiceGroup`,
/// which turns SIGTERM and SIGINT into a graceful shutdown.
public final class HostServer: Sendable {
  public let config: DeploymentConfig
  public let registry: ModuleRegistry
  /// Calls, loader events, refusals and worker restarts, rendered for Prometheus.
  public let metrics = HostMetrics()
  /// Request and response bytes held across all calls, against `[limits] memory_budget_mb`.
  public let memoryBudget: MemoryBudget
  /// The host's resident memory against `[limits] max_resident_mb` (nil: no such limit).
  public let residentMemory: ResidentMemoryGuard?
  /// Open connections, against `[limits]`'s connection limits.
  public let connections: ConnectionGuard
  /// The threads in-process plugins' unary calls run on (`[limits] plugin_threads`).
  public let pluginThreads: PluginThreads
  /// The identity of each open client connection (mTLS).
  public let peers = PeerDirectory()
  /// The deployment's host-wide access rules.
  public let access: AccessPolicy
  /// TLS material in use (nil with `insecure_loopback`).
  public let tls: TLSFiles?
  /// This host's name in logs, metrics and the `carbonhub-instance` response header.
  public let instanceName: String
  /// Signs module calls' receipts (nil when `[receipts] enabled = false`).
  public let receipts: ReceiptSigner?
  private let logger: Logger
  private typealias Transport = ModuleRoutingTransport<HTTP2ServerTransport.Custom<HostListenerFactory>>
  private let server: GRPCServer<Transport>
  private let transport: HTTP2ServerTransport.Custom<HostListenerFactory>
  private let metricsAddress = Mutex<String?>(nil)
  private let httpAddress = Mutex<String?>(nil)
  /// The HTTP/JSON gateway's listener settings (nil without `http_listen`).
  private let gateway: (gateway: JSONGateway, tls: HostListenerFactory.TLS?)?
  /// The service group of a running host, and whether `shutdown()` was asked.
  private let lifecycle = Mutex<(group: ServiceGroup?, stopRequested: Bool)>((nil, false))
  /// The drain of a stopping host (`[limits] drain_timeout_ms`).
  private let drain: HostDrain

  /// The certificate and key files the server presents, and the CA clients should trust when
  /// they are development certificates.
  public struct TLSFiles: Sendable {
    public let certificate: String
    public let key: String
    /// The development CA (nil when the deployment gives its own certificate).
    public let developmentCA: String?
  }

  /// Loads the deployment's modules and prepares the server (not yet listening).
  public init(config: DeploymentConfig, logger: Logger) async throws {
    try config.validate()
    self.config = config
    let address = try ListenAddress(config.listen)

    if config.insecureLoopback {
      tls = nil
      logger.warning("serving PLAINTEXT on a loopback address (insecure_loopback): for local debugging only")
    } else if let certificate = config.tlsCertificate, let key = config.tlsKey {
      tls = TLSFiles(certificate: certificate, key: key, developmentCA: nil)
    } else {
      let dev = DevelopmentCertificates(directory: config.stateDirectory + "/tls")
      if try dev.ensure() {
        logger.notice("development CA and server certificate created or renewed (certificates last 90 days)", metadata: ["dir": "\(dev.directory)"])
      }
      tls = TLSFiles(certificate: dev.serverCertificatePath, key: dev.serverKeyPath, developmentCA: dev.caCertificatePath)
    }

    instanceName = config.instanceName ?? config.listen
    access = AccessPolicy(config.access)
    var logger = logger
    logger[metadataKey: "instance"] = "\(instanceName)"
    self.logger = logger
    // Before any module loads: a bad key file stops the host with the key named.
    receipts = try ReceiptSigner.load(
      config.receipts, stateDirectory: config.stateDirectory, instanceName: instanceName, logger: logger)
    registry = await ModuleRegistry.load(config, logger: logger, metrics: metrics)
    memoryBudget = MemoryBudget(limit: config.limits.memoryBudgetBytes)
    residentMemory = config.limits.maxResidentBytes.map(ResidentMemoryGuard.init(limitBytes:))
    pluginThreads = PluginThreads(
      count: config.limits.pluginThreads ?? PluginThreads.defaultCount, inlineFastCalls: config.limits.inlineFastCalls)
    connections = ConnectionGuard(limits: config.limits, tls: tls != nil, metrics: metrics)
    let audit = try AuditLog(path: config.auditLog ?? config.stateDirectory + "/audit.log")
    logger.info("audit log", metadata: ["file": "\(audit.path)"])
    var clientVerifier: ClientCertificateVerifier?
    if let clientCA = config.access.clientCA, !config.access.crl.isEmpty, tls != nil {
      let revocations = try RevocationLists(files: config.access.crl, clientCAFile: clientCA, logger: logger)
      clientVerifier = ClientCertificateVerifier(revocations: revocations, logger: logger, audit: audit)
      logger.info("certificate revocation lists", metadata: [
        "files": "\(config.access.crl.joined(separator: ","))",
        "revoked": "\(revocations.current().reduce(0) { $0 + $1.revokedSerialNumbers.count })",
      ])
    }
    let listenerTLS = tls.map {
      HostListenerFactory.TLS(
        certificateChainFile: $0.certificate, privateKeyFile: $0.key, clientCAFile: config.access.clientCA, clientVerifier: clientVerifier)
    }
    let listener = try HostListenerFactory(
      host: address.host == "localhost" ? "127.0.0.1" : address.host, port: address.port, tls: listenerTLS,
      peers: peers, connections: connections, eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
    let limits = CallLimits(
      deployment: config, budget: memoryBudget, resident: residentMemory, metrics: metrics, threads: pluginThreads)
    drain = limits.drain
    var transportConfig = Self.transportConfig(config)
    // Each request stream gets its size guard and its drain guard first, in front of the
    // transport's own handler, and its receipt trailer is kept out of the HPACK table.
    let signsReceipts = receipts != nil
    transportConfig.channelDebuggingCallbacks.onAcceptHTTP2Stream = { [registry, metrics] channel in
      channel.eventLoop.submit {
        let sizeGuard = OversizedRequestGuard(
          limitOf: { path in
            // Before the call's headers choose a version: the largest limit of those serving it.
            registry.servingVersions(of: path).map { OversizedRequestGuard.Limit(bytes: limits.maxMessageBytes(of: $0), module: $0.name) }
              .max { $0.bytes < $1.bytes }
          },
          onRefusal: { metrics.record(.requestTooLarge) })
        let drain = ModuleCallDrain(drain: limits.drain, registry: registry)
        try channel.pipeline.syncOperations.addHandlers([sizeGuard, drain], position: .first)
        if signsReceipts { try channel.pipeline.syncOperations.addHandler(UnindexedReceiptHeaders(), position: .first) }
      }
    }
    transport = HTTP2ServerTransport.Custom(listenerFactory: listener, config: transportConfig)
    let calls = ModuleCalls(
      registry: registry, metrics: metrics, peers: peers, logger: logger, instanceName: instanceName, audit: audit,
      receipts: receipts.map { ReceiptBatcher(signer: $0, window: config.receipts.batchWindow) }, limits: limits)
    if config.httpListen != nil {
      let openAPI = OpenAPIDocument(registry: registry, instanceName: instanceName)
      gateway = (JSONGateway(calls: calls, access: access, openAPI: openAPI), listenerTLS)
    } else {
      gateway = nil
    }
    server = GRPCServer(
      transport: ModuleRoutingTransport(base: transport, hostServices: Set(HealthService.hostServices)),
      services: [
        PluginRoutes(calls: calls),
        HostAPIService(calls: calls, access: access),
        HostAdminService(registry: registry, peers: peers, access: access, audit: audit, limits: limits),
        HealthService(registry: registry),
        ReflectionService(registry: registry),
      ],
      interceptors: [
        CallEnvelopeInterceptor(instanceName: instanceName, moduleOwning: { [registry] in registry.owner(of: $0)?.name }),
        AccessInterceptor(policy: access, peers: peers, audit: audit),
      ])
  }

  /// The transport's share of `[limits]`: a ceiling on what it reads of a request (each
  /// module's own limit is checked per call, with a status naming it), idle connections
  /// closed, keepalive pings at the common clients' rates accepted, and the concurrent-stream
  /// limit advertised.
  private static func transportConfig(_ config: DeploymentConfig) -> HTTP2ServerTransport.Custom<HostListenerFactory>.Config {
    var transport = HTTP2ServerTransport.Custom<HostListenerFactory>.Config.defaults
    let limits = config.limits
    transport.rpc.maxRequestPayloadSize = config.transportMessageCeiling
    transport.http2.maxConcurrentStreams = limits.maxConcurrentStreams
    transport.connection.maxIdleTime = .milliseconds(limits.idleTimeoutMilliseconds)
    transport.connection.keepalive.clientBehavior = .init(
      minPingIntervalWithoutCalls: .milliseconds(limits.keepaliveMinPingIntervalMilliseconds),
      allowWithoutCalls: limits.keepalivePermitWithoutCalls)
    return transport
  }

  /// The bound address once listening ("127.0.0.1:8443").
  public var listeningAddress: String {
    get async throws {
      guard let address = await transport.listeningAddress else {
        throw RPCError(code: .unavailable, message: "the server is not listening")
      }
      if let v4 = address.ipv4 { return "\(v4.host):\(v4.port)" }
      if let v6 = address.ipv6 { return "[\(v6.host)]:\(v6.port)" }
      return "\(address)"
    }
  }

  /// Serves until `shutdown()` or the graceful shutdown of the service group it runs in, then
  /// drains in-flight calls and returns. `onListening` runs once the socket is bound, with the
  /// bound address.
  ///
  /// The host's parts run as the services of one `ServiceGroup`, which owns their tasks and
  /// stops them in reverse order: the gRPC listener drains its calls first, then the metrics
  /// listener closes, then the modules' workers stop (nothing is left to call them) and the
  /// plugin threads end. A drain that outlasts `[limits] drain_timeout_ms` is cut short: the
  /// calls left are cancelled. Any part failing cancels the rest.
  public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
    let modules = ModulesService(registry: registry, pluginThreads: pluginThreads, logger: logger)
    var parts: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: modules, serviceName: "modules")]
    if let metricsListen = config.metricsListen {
      let endpoint: MetricsEndpoint
      do {
        endpoint = try await MetricsEndpoint(
          listen: try ListenAddress(metricsListen), group: MultiThreadedEventLoopGroup.singleton
        ) { [metrics, registry, instanceName, memoryBudget, connections, residentMemory] in
          metrics.render(
            registry: registry, budget: memoryBudget, connections: connections, instance: instanceName, resident: residentMemory)
        }
      } catch {
        // The workers already started with the modules must not outlive the failed start.
        await modules.stop()
        throw error
      }
      metricsAddress.withLock { $0 = endpoint.address }
      logger.info("metrics endpoint listening", metadata: ["address": "http://\(endpoint.address)/metrics"])
      parts.append(.init(service: MetricsListener(endpoint: endpoint), serviceName: "metrics listener"))
    }
    if let httpListen = config.httpListen, let gateway {
      let listener: HTTPGatewayListener
      do {
        listener = try await HTTPGatewayListener(
          listen: try ListenAddress(httpListen), tls: gateway.tls, peers: peers, connections: connections, gateway: gateway.gateway,
          maxBodyBytes: config.transportMessageCeiling,
          // Idle: no call open for `idle_timeout_ms`, and a stream may go quiet for its deadline.
          idleTimeout: .milliseconds(Int64(max(config.limits.idleTimeoutMilliseconds, config.limits.streamingTimeoutMilliseconds))),
          logger: logger, group: MultiThreadedEventLoopGroup.singleton)
      } catch {
        await modules.stop()
        throw Self.listenError(error, address: httpListen)
      }
      httpAddress.withLock { $0 = listener.address }
      logger.info("HTTP/JSON gateway listening", metadata: ["address": "\(listener.address)"])
      parts.append(
        .init(service: GatewayService(listener: listener, drain: .milliseconds(config.limits.drainTimeoutMilliseconds)), serviceName: "HTTP gateway"))
    }
    parts.append(
      .init(
        service: GRPCListener(server: server, drain: drain, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup,
        serviceName: "gRPC listener"))
    var groupConfig = ServiceGroupConfiguration(services: parts, logger: logger)
    // A backstop: at `drain_timeout_ms` the calls left are cancelled (`ModuleCallDrain`) and
    // end within moments; whatever still runs 5 s later is cancelled with the group.
    groupConfig.maximumGracefulShutdownDuration = .milliseconds(config.limits.drainTimeoutMilliseconds) + .seconds(5)
    let group = ServiceGroup(configuration: groupConfig)
    let stopRequested = lifecycle.withLock { lifecycle in
      lifecycle.group = group
      return lifecycle.stopRequested
    }
    if stopRequested { await group.triggerGracefulShutdown() }

    try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      let address: String
      do {
        address = try await listeningAddress
      } catch {
        // The socket could not be bound: the group holds the cause.
        do {
          try await tasks.next()
        } catch let cause {
          throw Self.listenError(cause, address: config.listen)
        }
        throw error
      }
      logger.info("serving", metadata: [
        "address": "\(address)", "tls": "\(tls == nil ? "off" : "on")",
        "modules": "\(registry.serving.map(\.name).joined(separator: ","))",
        "client_certificates": "\(config.access.clientCA == nil ? "off" : access.requiresClientCertificate ? "required" : "optional")",
      ])
      onListening(address)
      try await tasks.waitForAll()
    }
    logger.info("stopped")
  }

  /// Why the server could not listen, in words an operator acts on; "address already in use"
  /// named as such (it comes wrapped in the transport's errors).
  static func listenError(_ cause: any Error, address: String) -> RPCError {
    let text = String(reflecting: cause)
    if text.contains("Address already in use") || text.contains("errno: \(EADDRINUSE)") {
      return RPCError(
        code: .unavailable,
        message: "cannot listen on \(address): address already in use (another carbonhub or another program holds this port; stop it, or choose another with --listen or `listen`)")
    }
    return RPCError(code: .unavailable, message: "cannot listen on \(address): \(cause)")
  }

  /// The bound address of the HTTP/JSON gateway once listening (nil without `http_listen`).
  public var httpListeningAddress: String? { httpAddress.withLock { $0 } }

  /// The bound address of the metrics endpoint once listening (nil without `metrics_listen`).
  public var metricsListeningAddress: String? { metricsAddress.withLock { $0 } }

  /// Drains and stops the host, as the graceful shutdown of a service group it runs in does:
  /// no new call is accepted, module calls in flight have `[limits] drain_timeout_ms` to finish,
  /// then the workers stop and `run` returns. Returns once the drain has begun.
  public func shutdown() async {
    let group = lifecycle.withLock { lifecycle in
      lifecycle.stopRequested = true
      return lifecycle.group
    }
    // Not running yet: `run` sees `stopRequested` and stops at once.
    await group?.triggerGracefulShutdown()
  }
}

extension HostServer: Service {
  /// Serves until the service group shuts down gracefully (SIGTERM or SIGINT in `carbonhub
  /// serve`), then drains in-flight calls and returns.
  public func run() async throws { try await run(onListening: { _ in }) }
}

/// The gRPC listener: serves until the group's graceful shutdown, then lets in-flight calls
/// finish (`ModuleCallDrain`); the group cancels it if they outlast `drain_timeout_ms`.
private struct GRPCListener<Transport: ServerTransport>: Service {
  let server: GRPCServer<Transport>
  let drain: HostDrain
  let logger: Logger

  func run() async throws {
    try await withGracefulShutdownHandler {
      try await server.serve()
    } onGracefulShutdown: { [logger, server, drain] in
      logger.notice("graceful shutdown: draining in-flight calls", metadata: ["drain_timeout": "\(drain.timeout)"])
      drain.begin()
      server.beginGracefulShutdown()
    }
  }
}

/// The HTTP/JSON gateway (`http_listen`), bound before the group starts: at the group's
/// shutdown it stops accepting and lets its requests finish for up to `drain_timeout_ms`.
private struct GatewayService: Service {
  let listener: HTTPGatewayListener
  let drain: Duration

  func run() async throws {
    try? await gracefulShutdown()
    await listener.close(drain: drain)
  }
}

/// The Prometheus listener (`metrics_listen`), bound before the group starts: closed at the
/// group's shutdown.
private struct MetricsListener: Service {
  let endpoint: MetricsEndpoint

  func run() async throws {
    try? await gracefulShutdown()
    await endpoint.close()
  }
}

/// The modules: at the group's shutdown — after the gRPC listener has drained — the isolated
/// modules' workers stop (with `[workers] stop_grace_ms` for calls still in them) and the
/// in-process plugins' threads end.
private struct ModulesService: Service {
  let registry: ModuleRegistry
  let pluginThreads: PluginThreads
  let logger: Logger

  func run() async throws {
    // Cancelled instead (a part failed): the workers are stopped all the same.
    try? await gracefulShutdown()
    await stop()
  }

  /// Stops the workers, then the plugin threads.
  func stop() async {
    await registry.shutdown()
    await pluginThreads.shutdown()
    logger.info("modules stopped")
  }
}
