import CarbonHostProtocol
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Signs the receipts of calls that end close together in one batch (one Ed25519 signature
/// over their Merkle root, `ReceiptTree`), so that a busy host does not pay a signature per call
/// (about 14 µs here, a tenth of what a small call costs the host in all).
///
/// A receipt asked for more than `window` after the previous signature is signed at once: a
/// caller that waits for each answer before sending the next never waits for a batch. Sooner
/// than that — calls are arriving faster than one per window — it opens (or joins) a batch that
/// closes `window` after it opened; each call then gets its own receipt with its inclusion path.
/// (Counting the calls in flight instead does not work: a call spends nearly all its time in the
/// transport, so between admission and answer the host almost never sees two at once.)
///
/// Off by default (`batch_window_us = 0`): on the 2-core machine of docs/performance.md a
/// 500 µs window did not raise throughput at 64 calls in flight and lowered it at 16 (callers
/// wait on the window while the cores idle). It is for hosts whose CPU goes to signatures.
final class ReceiptBatcher: Sendable {
  /// The key and the host's name.
  let signer: ReceiptSigner
  /// How long a batch stays open; nil signs every receipt alone, at once.
  private let window: Duration?
  /// A batch closes at this size whatever the time.
  private let maxBatch = 4096
  private let state = Mutex(State())

  private struct Pending {
    let content: Data
    let continuation: CheckedContinuation<Carbon_Host_V1_Receipt, Never>
  }

  private struct State {
    var pending: [Pending] = []
    /// A batch is open (its closing is scheduled).
    var open = false
    /// When the last batch was signed.
    var lastSigned: ContinuousClock.Instant?
  }

  init(signer: ReceiptSigner, window: Duration?) {
    self.signer = signer
    self.window = window.flatMap { $0 > .zero ? $0 : nil }
  }

  /// The signed receipt of `content` (a serialized `ReceiptContent`).
  func receipt(for content: Data) async -> Carbon_Host_V1_Receipt {
    // No batching: signed here, without suspending the call.
    guard let window else { return signer.signBatch([content])[0] }
    return await withCheckedContinuation { continuation in
      var schedule = false
      let now = ContinuousClock.now
      let batch = state.withLock { state -> [Pending]? in
        state.pending.append(Pending(content: content, continuation: continuation))
        if state.open {
          return state.pending.count >= maxBatch ? Self.take(&state, at: now) : nil
        }
        guard let last = state.lastSigned, now - last < window else { return Self.take(&state, at: now) }
        state.open = true
        schedule = true
        return nil
      }
      if let batch {
        sign(batch)
      } else if schedule {
        MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(window.nanoseconds)) { self.close() }
      }
    }
  }

  /// The window of the open batch is over.
  private func close() {
    let now = ContinuousClock.now
    if let batch = state.withLock({ $0.open ? Self.take(&$0, at: now) : nil }) { sign(batch) }
  }

  /// The pending receipts, the batch closed.
  private static func take(_ state: inout State, at now: ContinuousClock.Instant) -> [Pending]? {
    state.open = false
    state.lastSigned = now
    guard !state.pending.isEmpty else { return nil }
    defer { state.pending = [] }
    return state.pending
  }

  private func sign(_ batch: [Pending]) {
    let receipts = signer.signBatch(batch.map(\.content))
    for (pending, receipt) in zip(batch, receipts) { pending.continuation.resume(returning: receipt) }
  }
}
