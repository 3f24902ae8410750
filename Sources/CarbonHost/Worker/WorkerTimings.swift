extension DeploymentConfig {
  /// How isolated modules' workers are supervised (`[workers]`): restart backoff, start and
  /// cancellation timeouts, liveness pings and the drain at shutdown. Every value has a default
  /// that holds without a `[workers]` table; see docs/deployment.md and docs/isolated-mode.md.
  public struct WorkerTimings: Sendable, Equatable {
    /// Delays between restarts of a worker that died (`restart_delay_ms`,
    /// `restart_delay_max_ms`, `restart_reset_after_ms`).
    public var restartBackoff = WorkerSupervisor.Backoff.default
    /// Time a new worker has to load its plugin and say hello (`start_timeout_ms`).
    public var startTimeout = WorkerSupervisor.defaultStartTimeout
    /// Time a worker has to finish a call after its deadline before it is presumed hung and
    /// killed (`cancel_grace_ms`).
    public var cancelGrace = WorkerSupervisor.defaultCancelGrace
    /// Pings of a serving worker (`ping_interval_ms`, `ping_timeout_ms`).
    public var liveness = WorkerSupervisor.Liveness.default
    /// Time workers have to finish their calls when the host stops (`stop_grace_ms`).
    public var stopGrace: Duration = .seconds(5)
    /// Time a worker replaced by a reload, or stopped by a disable, has to finish its calls
    /// (`retire_grace_ms`).
    public var retireGrace: Duration = .seconds(30)

    public init() {}

    /// Reads `[workers]`; each value must be greater than 0, and the longest restart delay at
    /// least the first.
    init(_ file: DeploymentFile.Workers) throws(DeploymentConfig.Error) {
      func milliseconds(_ value: Int?, _ key: DeploymentFile.Workers.CodingKeys) throws(DeploymentConfig.Error) -> Duration? {
        try DeploymentConfig.positive(value, key: "workers.\(key.rawValue)").map { .milliseconds($0) }
      }
      restartBackoff.initial = try milliseconds(file.restartDelay, .restartDelay) ?? restartBackoff.initial
      restartBackoff.maximum = try milliseconds(file.restartDelayMax, .restartDelayMax) ?? restartBackoff.maximum
      restartBackoff.resetAfter = try milliseconds(file.restartResetAfter, .restartResetAfter) ?? restartBackoff.resetAfter
      guard restartBackoff.maximum >= restartBackoff.initial else {
        throw DeploymentConfig.Error(key: "workers.restart_delay_max_ms", message: "must be at least restart_delay_ms")
      }
      startTimeout = try milliseconds(file.startTimeout, .startTimeout) ?? startTimeout
      cancelGrace = try milliseconds(file.cancelGrace, .cancelGrace) ?? cancelGrace
      liveness.interval = try milliseconds(file.pingInterval, .pingInterval) ?? liveness.interval
      liveness.timeout = try milliseconds(file.pingTimeout, .pingTimeout) ?? liveness.timeout
      stopGrace = try milliseconds(file.stopGrace, .stopGrace) ?? stopGrace
      retireGrace = try milliseconds(file.retireGrace, .retireGrace) ?? retireGrace
    }
  }
}
