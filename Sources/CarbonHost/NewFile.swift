import Foundation

/// Files that must not exist yet, created with their final mode from the start (O_EXCL): a
/// private key is never readable by others, not even between a write and a chmod, and an
/// existing key is never overwritten.
public enum NewFile {
  /// Why a file could not be created: its path and the system's reason.
  public struct Failure: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot create \(path): \(reason)" }
  }

  /// Creates `path` with `mode` and writes `text` to it.
  public static func create(_ path: String, _ text: String, mode: mode_t) throws(Failure) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    guard descriptor >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
    defer { close(descriptor) }
    let bytes = Array(text.utf8)
    guard bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
      throw Failure(path: path, reason: String(cString: strerror(errno)))
    }
  }
}
