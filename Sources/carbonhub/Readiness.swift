import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Tells a supervisor that `serve` is ready: a pid file (`--pid-file`) written once the socket
/// is bound and removed at exit, and systemd's readiness protocol (`Type=notify`: `READY=1` on
/// the datagram socket named by `NOTIFY_SOCKET`, `STOPPING=1` once the server has drained).
struct Readiness {
  let pidFile: String?
  /// `NOTIFY_SOCKET` of the environment: a path, or `@name` for an abstract socket.
  let notifySocket: String? = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }

  /// The server listens: write the pid file, send READY=1 with the status line.
  func ready(status: String) throws {
    if let pidFile {
      // Through a temporary file and a rename: a reader never sees a half-written pid.
      let temporary = pidFile + ".tmp-\(getpid())"
      try "\(getpid())\n".write(toFile: temporary, atomically: false, encoding: .utf8)
      guard rename(temporary, pidFile) == 0 else {
        throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot write the pid file \(pidFile): \(String(cString: strerror(errno)))"])
      }
    }
    notify("READY=1\nMAINPID=\(getpid())\nSTATUS=\(status)")
  }

  /// The server stopped (drained, or failed to start): STOPPING=1, and the pid file goes.
  func stopping() {
    notify("STOPPING=1")
    if let pidFile { unlink(pidFile) }
  }

  /// Sends one sd_notify datagram; a supervisor that is not there is not an error.
  private func notify(_ message: String) {
    guard let notifySocket else { return }
    let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var path = Array(notifySocket.utf8)
    if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard path.count < capacity else { return }
    withUnsafeMutableBytes(of: &address.sun_path) { buffer in
      buffer.copyBytes(from: path)
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
    _ = message.withCString { text in
      withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, text, strlen(text), 0, $0, length) }
      }
    }
  }
}
