import Foundation
import NIOPosix

/// The threads that run in-process plugins' unary calls: a fixed number of their own
/// (`[limits] plugin_threads`), never Swift's cooperative pool nor Dispatch's global one. A call
/// that finds every thread busy waits its turn in order; its deadline still runs from when it
/// was admitted, and a call whose deadline passed (or whose caller left) before its turn is
/// never started.
///
/// Each host has its own (`HostServer.pluginThreads`); code that calls plugins without a host
/// (benchmarks, tools) uses `standalone`.
public final class PluginThreads: Sendable {
  /// Threads when the deployment says nothing: four per core, at least 16 — enough for plugin
  /// calls that wait on I/O (a database) as well as those that compute.
  public static var defaultCount: Int { max(16, 4 * ProcessInfo.processInfo.activeProcessorCount) }

  /// A pool for plugin calls made outside a host, started on first use.
  public static let standalone = PluginThreads(count: defaultCount)

  /// Threads in the pool.
  public let count: Int
  private let pool: NIOThreadPool

  /// Starts `count` threads.
  public init(count: Int) {
    self.count = count
    pool = NIOThreadPool(numberOfThreads: count)
    pool.start()
  }

  /// Runs `work` on one of the pool's threads.
  func submit(_ work: @escaping @Sendable () -> Void) {
    pool.submit { _ in work() }
  }

  /// Stops the threads once the work already submitted has run.
  func shutdown() async {
    try? await pool.shutdownGracefully()
  }
}
