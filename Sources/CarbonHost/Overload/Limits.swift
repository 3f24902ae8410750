import Foundation

extension DeploymentConfig {
  /// What one client, or all of them together, may cost the host (`[limits]`): the protections
  /// of Envoy's buffer limits, overload manager and timeouts, and of grpc-core's connection
  /// management. Every value has a default that holds without a `[limits]` table; see
  /// docs/deployment.md.
  public struct Limits: Sendable, Equatable {
    /// Request and response bytes held for calls in flight, across all calls
    /// (`memory_budget_mb`); while it is exceeded, new calls get RESOURCE_EXHAUSTED. Default: a
    /// quarter of the machine's memory.
    public var memoryBudgetBytes: Int = Limits.defaultMemoryBudgetBytes
    /// The host's resident memory above which new calls are refused (`max_resident_mb`); nil:
    /// no such limit. It sees what the memory budget cannot: plugins' decoded requests and
    /// working memory.
    public var maxResidentBytes: Int? = nil
    /// Bytes of responses a streaming call may hold for a client that does not read
    /// (`stream_buffer_bytes`): beyond it the plugin's `emit` waits. At least one message is
    /// always held, whatever its size.
    public var streamBufferBytes: Int = 1 << 20
    /// Server-side deadline of a unary call when neither the module (`call_timeout_ms`) nor a
    /// shorter `grpc-timeout` sets one (`unary_timeout_ms`).
    public var unaryTimeoutMilliseconds: Int = 30_000
    /// The same for server- and bidirectional-streaming calls (`streaming_timeout_ms`).
    public var streamingTimeoutMilliseconds: Int = 300_000
    /// Time a new connection has to complete its TLS handshake (`handshake_timeout_ms`); a
    /// connection that sends no ClientHello is closed when it passes.
    public var handshakeTimeoutMilliseconds: Int = 10_000
    /// A connection with no call open for this long is closed (`idle_timeout_ms`).
    public var idleTimeoutMilliseconds: Int = 300_000
    /// When the host stops, the time module calls in flight have to finish before they are
    /// cancelled (`drain_timeout_ms`).
    public var drainTimeoutMilliseconds: Int = 30_000
    /// Connections open at once (`max_connections`); more are closed as they are accepted.
    public var maxConnections: Int = 1_000
    /// Connections open at once from one client address (`max_connections_per_address`).
    public var maxConnectionsPerAddress: Int = 100
    /// Calls open at once on one connection, advertised in HTTP/2 SETTINGS
    /// (`max_concurrent_streams`) so that clients queue further calls instead of failing.
    public var maxConcurrentStreams: Int = 100
    /// The shortest interval between a client's keepalive pings the host accepts
    /// (`keepalive_min_ping_interval_ms`); pings more frequent than that count as strikes and
    /// a third strike closes the connection (gRFC A8/A9).
    public var keepaliveMinPingIntervalMilliseconds: Int = 10_000
    /// Accept keepalive pings on a connection with no call open (`keepalive_permit_without_calls`).
    public var keepalivePermitWithoutCalls: Bool = true
    /// Threads that run in-process plugins' unary calls (`plugin_threads`); more calls wait
    /// their turn. nil: four per core, at least 16.
    public var pluginThreads: Int? = nil
    /// Let calls of methods that answer in under 100 µs run on the calling task instead of a
    /// plugin thread (`inline_fast_calls`, default true); see `FastCalls`.
    public var inlineFastCalls: Bool = true

    public init() {}

    /// A quarter of the machine's physical memory.
    public static var defaultMemoryBudgetBytes: Int {
      Int(clamping: ProcessInfo.processInfo.physicalMemory / 4)
    }

    /// Reads `[limits]`; each number must be greater than 0.
    init(_ file: DeploymentFile.Limits) throws(DeploymentConfig.Error) {
      func positive(_ value: Int?, _ key: DeploymentFile.Limits.CodingKeys) throws(DeploymentConfig.Error) -> Int? {
        try DeploymentConfig.positive(value, key: "limits.\(key.rawValue)")
      }
      if let megabytes = try positive(file.memoryBudgetMB, .memoryBudgetMB) {
        guard megabytes <= Int.max >> 20 else { throw DeploymentConfig.Error(key: "limits.memory_budget_mb", message: "is too large") }
        memoryBudgetBytes = megabytes << 20
      }
      if let megabytes = try positive(file.maxResidentMB, .maxResidentMB) {
        guard megabytes <= Int.max >> 20 else { throw DeploymentConfig.Error(key: "limits.max_resident_mb", message: "is too large") }
        maxResidentBytes = megabytes << 20
      }
      if let bytes = try positive(file.streamBufferBytes, .streamBufferBytes) {
        guard bytes >= 1024 else { throw DeploymentConfig.Error(key: "limits.stream_buffer_bytes", message: "must be at least 1024") }
        streamBufferBytes = bytes
      }
      unaryTimeoutMilliseconds = try positive(file.unaryTimeoutMilliseconds, .unaryTimeoutMilliseconds) ?? unaryTimeoutMilliseconds
      streamingTimeoutMilliseconds =
        try positive(file.streamingTimeoutMilliseconds, .streamingTimeoutMilliseconds) ?? streamingTimeoutMilliseconds
      handshakeTimeoutMilliseconds =
        try positive(file.handshakeTimeoutMilliseconds, .handshakeTimeoutMilliseconds) ?? handshakeTimeoutMilliseconds
      idleTimeoutMilliseconds = try positive(file.idleTimeoutMilliseconds, .idleTimeoutMilliseconds) ?? idleTimeoutMilliseconds
      drainTimeoutMilliseconds = try positive(file.drainTimeoutMilliseconds, .drainTimeoutMilliseconds) ?? drainTimeoutMilliseconds
      maxConnections = try positive(file.maxConnections, .maxConnections) ?? maxConnections
      maxConnectionsPerAddress = try positive(file.maxConnectionsPerAddress, .maxConnectionsPerAddress) ?? maxConnectionsPerAddress
      maxConcurrentStreams = try positive(file.maxConcurrentStreams, .maxConcurrentStreams) ?? maxConcurrentStreams
      keepaliveMinPingIntervalMilliseconds =
        try positive(file.keepaliveMinPingIntervalMilliseconds, .keepaliveMinPingIntervalMilliseconds)
        ?? keepaliveMinPingIntervalMilliseconds
      keepalivePermitWithoutCalls = file.keepalivePermitWithoutCalls ?? keepalivePermitWithoutCalls
      pluginThreads = try positive(file.pluginThreads, .pluginThreads)
      inlineFastCalls = file.inlineFastCalls ?? inlineFastCalls
    }
  }
}
