import Foundation
import Testing

@testable import CarbonHost

/// The host's end of the worker socket tells a worker that went away from a broken socket.
@Suite("Worker socket: how the host reads a worker's end")
struct WorkerSocketTests {
  /// A worker that dies with the host's bytes unread in its socket (a ping sent while it was
  /// aborting) resets the connection. Before, the host read the reset as a socket failure,
  /// killed the dying worker itself and reported "killed by the host: recv failed: Connection
  /// reset by peer" instead of the memory limit the worker ran into (seen when the suite ran
  /// in parallel: IsolatedDeploymentTests' Hog).
  @Test func aPeerClosingWithUnreadBytesIsAnEndOfStreamNotAFailure() throws {
    let (host, worker) = try WorkerSocket.pair()
    defer { host.close() }
    #expect(host.send(WorkerFrame.ping(id: 1).encoded()))
    worker.close()  // unread: the kernel resets the connection
    var frames = 0
    #expect(host.readFrames { _ in frames += 1 } == nil)
    #expect(frames == 0)
  }

  @Test func anUndecodableFrameStillStopsTheReaderWithItsReason() throws {
    let (host, worker) = try WorkerSocket.pair()
    defer { host.close() }
    // A length prefix far above any frame the protocol allows.
    #expect(worker.send([0xFF, 0xFF, 0xFF, 0xFF, 0x01]))
    worker.close()
    let stopped = host.readFrames { _ in }
    #expect(stopped != nil && stopped != "", "\(String(describing: stopped))")
  }
}
