import CarbonPluginLoader
import Foundation
import Synchronization

/// Runs plugin calls off Swift's cooperative thread pool: a plugin call is synchronous C code
/// that may run for seconds (a batch) and must not starve the gRPC event handling.
enum PluginDispatch {
  private static let queue = DispatchQueue(label: "carbonhub.plugin-calls", attributes: .concurrent)

  /// Runs a unary call.
  static func unary(
    _ instance: PluginInstance, _ path: String, _ request: [UInt8], _ encoding: WireEncoding
  ) async -> Result<[UInt8], PluginCallError> {
    await withCheckedContinuation { continuation in
      queue.async {
        continuation.resume(
          returning: Result { () throws(PluginCallError) in try instance.call(path, request: request, encoding: encoding) })
      }
    }
  }

  /// Runs a server-streaming call on its own thread and returns its responses as an async
  /// sequence. At most `window` responses are produced ahead of the consumer (the plugin's
  /// emit blocks beyond that), so memory stays flat however large the batch; when the
  /// consumer stops, the plugin is told to stop at its next emit.
  static func streaming(
    _ instance: PluginInstance, _ path: String, _ request: [UInt8], _ encoding: WireEncoding,
    window: Int = 64
  ) -> StreamingCall {
    let call = StreamingCall(window: window)
    let thread = Thread {
      do {
        try instance.callStreaming(path, request: request, encoding: encoding) { message in
          call.credits.wait()
          guard !call.isCancelled else { return false }
          call.continuation.yield(message)
          return true
        }
        call.continuation.finish()
      } catch {
        call.continuation.finish(throwing: error)
      }
    }
    thread.name = "carbonhub-stream"
    thread.start()
    return call
  }
}

/// The consumer side of a streaming plugin call.
final class StreamingCall: Sendable {
  let messages: AsyncThrowingStream<[UInt8], any Error>
  fileprivate let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
  // Starts at 0 and is signalled up to the window: libdispatch aborts when a semaphore is
  // released below its initial value.
  fileprivate let credits = DispatchSemaphore(value: 0)
  private let cancelled = CancellationFlag()

  fileprivate var isCancelled: Bool { cancelled.isSet }

  fileprivate init(window: Int) {
    (messages, continuation) = AsyncThrowingStream.makeStream(bufferingPolicy: .unbounded)
    for _ in 0..<window { credits.signal() }
    continuation.onTermination = { [cancelled, credits] termination in
      if case .cancelled = termination {
        cancelled.set()
        credits.signal()
      }
    }
  }

  /// Called by the consumer after it has written one message.
  func consumed() { credits.signal() }

  /// Called by the consumer when it stops early (client gone).
  func cancel() {
    cancelled.set()
    credits.signal()
  }
}

/// A flag set once, read from any thread.
private final class CancellationFlag: Sendable {
  private let value = Atomic<Bool>(false)
  var isSet: Bool { value.load(ordering: .acquiring) }
  func set() { value.store(true, ordering: .releasing) }
}
