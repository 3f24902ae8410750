import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One end of the host ↔ worker Unix stream socket, with blocking frame I/O. Each side reads on
/// a dedicated thread and writes from threads that may block (never from Swift's cooperative
/// pool): the socket is an ordinary blocking file descriptor.
struct WorkerSocket: Sendable {
  let descriptor: Int32

  /// A connected pair, both ends close-on-exec (so that no other child process inherits them
  /// and keeps a worker's end open after the worker died).
  static func pair() throws(WorkerProtocolError) -> (host: WorkerSocket, worker: WorkerSocket) {
    var fds: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
      throw WorkerProtocolError("socketpair failed: \(String(cString: strerror(errno)))")
    }
    return (WorkerSocket(descriptor: fds[0]), WorkerSocket(descriptor: fds[1]))
  }

  /// Writes the whole buffer. `MSG_NOSIGNAL`: a peer that died must give an error here, not a
  /// SIGPIPE that would kill this process. Returns false once the peer is gone.
  func send(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let sent = Glibc.send(descriptor, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
        if sent < 0 {
          if errno == EINTR { continue }
          return false
        }
        offset += sent
      }
      return true
    }
  }

  /// Reads frames until the peer closes the socket or sends something undecodable, handing each
  /// to `handle` on the calling thread. Returns why it stopped (nil: the peer closed its end).
  ///
  /// A reset is the peer closing too: a process that exits (or dies) with unread bytes in its
  /// receive queue — a worker that aborts while the host's ping waits for it — resets the
  /// connection instead of ending the stream. Reading it as a failure of the socket would make
  /// the host kill a worker that is already dying and lose the real cause (its signal, its
  /// memory limit) under "killed by the host".
  func readFrames(_ handle: (WorkerFrame) -> Void) -> String? {
    var assembler = FrameAssembler()
    let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)
    defer { chunk.deallocate() }
    while true {
      let received = recv(descriptor, chunk.baseAddress, chunk.count, 0)
      if received < 0 {
        if errno == EINTR { continue }
        if errno == ECONNRESET { return nil }
        return "recv failed: \(String(cString: strerror(errno)))"
      }
      if received == 0 { return nil }
      assembler.append(UnsafeRawBufferPointer(rebasing: chunk[0..<received]))
      do {
        while let frame = try assembler.next() { handle(frame) }
      } catch {
        return error.description
      }
    }
  }

  /// Stops both directions: a reader blocked in `recv` on either end returns.
  func shutdownBoth() { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }

  /// Closes the descriptor.
  func close() { _ = Glibc.close(descriptor) }
}
