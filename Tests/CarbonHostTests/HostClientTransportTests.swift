import Foundation
import GRPCCore
import Synchronization
import Testing

@testable import CarbonHost

/// `HostClientTransport`'s retry of a call whose stream never opened (grpc-swift-nio-transport's
/// stale pick; see the type's documentation).
@Suite("Client transport: a call that could not open its stream is retried, nothing else")
struct HostClientTransportTests {
  private static let stalePick = RPCError(code: .unavailable, message: "subchannel isn't ready")

  @Test func aStalePickIsRetriedUntilTheStreamOpens() async throws {
    let attempts = Mutex(0)
    let answer = try await StreamOpening.retrying(for: .seconds(2)) { opened in
      let attempt = attempts.withLock { $0 += 1; return $0 }
      if attempt < 3 { throw Self.stalePick }
      opened()
      return "answered on attempt \(attempt)"
    }
    #expect(answer == "answered on attempt 3")
  }

  @Test func anErrorAfterTheStreamOpenedIsNotRetried() async throws {
    // The call may have reached the server: retrying could run it twice.
    let attempts = Mutex(0)
    await #expect(throws: RPCError.self) {
      try await StreamOpening.retrying(for: .seconds(2)) { opened in
        attempts.withLock { $0 += 1 }
        opened()
        throw Self.stalePick
      }
    }
    #expect(attempts.withLock { $0 } == 1)
  }

  @Test func otherErrorsAreNotRetried() async throws {
    for error: any Error in [
      RPCError(code: .unavailable, message: "Channel is in a transient failure state and 'wait for ready' isn't enabled."),
      RPCError(code: .unavailable, message: "worker of module units crashed"),
      RPCError(code: .internalError, message: "subchannel isn't ready"),
      CancellationError(),
    ] {
      let attempts = Mutex(0)
      do {
        _ = try await StreamOpening.retrying(for: .seconds(2)) { _ -> Int in
          attempts.withLock { $0 += 1 }
          throw error
        }
        Issue.record("expected \(error)")
      } catch {}
      #expect(attempts.withLock { $0 } == 1, "\(error)")
    }
  }

  @Test func itGivesUpWhenTheSettleTimeHasPassed() async throws {
    let attempts = Mutex(0)
    let started = ContinuousClock.now
    let caught = await #expect(throws: RPCError.self) {
      try await StreamOpening.retrying(for: .milliseconds(100)) { _ -> Int in
        attempts.withLock { $0 += 1 }
        throw Self.stalePick
      }
    }
    #expect(caught?.message == "subchannel isn't ready", "the last error reaches the caller")
    // Pauses of 5, 10, 20, 40 ms fit in 100 ms; the next (80 ms) would not.
    #expect((2...5).contains(attempts.withLock { $0 }), "\(attempts.withLock { $0 })")
    #expect(ContinuousClock.now - started < .seconds(5))
  }

  @Test func theMessagesMatchedAreTheOnesTheLibraryBuiltHereGives() throws {
    // If grpc-swift-nio-transport changes its wording, the retry silently stops applying:
    // this test says so instead.
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let sources = root.appendingPathComponent(".build/checkouts/grpc-swift-nio-transport/Sources/GRPCNIOTransportCore/Client/Connection")
    let text = try ["LoadBalancers/Subchannel.swift", "Connection.swift", "GRPCChannel.swift"].map {
      try String(contentsOf: sources.appendingPathComponent($0), encoding: .utf8)
    }.joined()
    for message in StreamOpening.stalePickMessages {
      #expect(text.contains("message: \"\(message)\""), "\(message) no longer in grpc-swift-nio-transport")
    }
  }
}
