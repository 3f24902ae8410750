import Foundation
import NIOPosix
import Synchronization

/// The threads that run in-process plugins' unary calls: a fixed number of their own
/// (`[limits] plugin_threads`), never Swift's cooperative pool nor Dispatch's global one. A call
/// that finds every thread busy waits its turn in order; its deadline still runs from when it
/// was admitted, and a call whose deadline passed (or whose caller left) before its turn is
/// never started.
///
/// Calls of a method that has answered quickly (`FastCalls`) run on the calling task instead:
/// for them the two thread hand-offs cost more than the call, and a few microseconds on a
/// cooperative thread cannot starve it.
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
  /// Which methods may run on the calling task; nil when every call goes to the pool.
  let fastCalls: FastCalls?

  /// Starts `count` threads; `inlineFastCalls` lets methods that answer quickly run on the
  /// calling task (`[limits] inline_fast_calls`).
  public init(count: Int, inlineFastCalls: Bool = true) {
    self.count = count
    pool = NIOThreadPool(numberOfThreads: count)
    fastCalls = inlineFastCalls ? FastCalls() : nil
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

/// Which methods' calls are short enough to run on the calling task. A method qualifies once its
/// recent calls all took less than `threshold`: a slow call disqualifies it at once, and it
/// requalifies only after `threshold` has held again for a while (its recent duration decays by
/// an eighth per call). Large requests and a method's first call always go to the pool, and at
/// most `maxInline` calls run inline at once, so a call that is slow by surprise holds at most
/// that many cooperative threads, once.
final class FastCalls: Sendable {
  /// Longest recent duration that still runs inline.
  static let threshold: Duration = .microseconds(100)
  /// Largest request that may run inline, bytes.
  static let maxRequestBytes = 64 * 1024

  let maxInline: Int
  private let inline = Atomic<Int>(0)
  /// Recent duration of each method's calls, nanoseconds.
  private let recent = Mutex<[String: Int64]>([:])

  init(maxInline: Int = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)) {
    self.maxInline = maxInline
  }

  /// Takes an inline slot for a call of `path` with a request of `bytes`, or returns false when
  /// the call must go to the pool. A true answer must be followed by `finish`.
  func begin(_ path: String, bytes: Int) -> Bool {
    guard bytes <= Self.maxRequestBytes,
      let recent = recent.withLock({ $0[path] }), recent < Self.threshold.nanoseconds
    else { return false }
    guard inline.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue <= maxInline else {
      inline.wrappingSubtract(1, ordering: .releasing)
      return false
    }
    return true
  }

  /// Ends an inline call that `begin` admitted.
  func finish() { inline.wrappingSubtract(1, ordering: .releasing) }

  /// Records how long a call of `path` took, inline or on the pool.
  func record(_ path: String, _ duration: Duration) {
    let nanoseconds = duration.nanoseconds
    recent.withLock { recent in
      let old = recent[path] ?? nanoseconds
      recent[path] = max(nanoseconds, old - old / 8 + nanoseconds / 8)
    }
  }
}

extension Duration {
  /// The duration in whole nanoseconds (saturating).
  var nanoseconds: Int64 {
    let (seconds, attoseconds) = components
    let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    return overflow ? .max : product &+ attoseconds / 1_000_000_000
  }
}
