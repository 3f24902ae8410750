import Crypto
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A plugin library (or one of its sidecar files) opened for loading, after the checks that make
/// its bytes as trustworthy as the host's own executable:
///
/// - the path is resolved to its real path; a path that is itself a symbolic link is refused
///   unless the deployment allows them (`trust.allow_symlinks`);
/// - every directory from the root down to the file, on the real path and on the path as
///   given, is owned by root or by the host's user and writable by nobody else, except a
///   root-owned directory with the sticky bit (such as /tmp), where others may add files but
///   not replace ours;
/// - the file itself, checked with `fstat` on the descriptor that is then read, is a regular
///   file owned by root or by the host's user and writable by nobody else.
///
/// These are OpenSSH's `StrictModes` rules: whoever could write the file or rename anything on
/// its path could run code as the host's user.
struct PluginFile {
  /// The real path (no symbolic link, no `.` or `..`).
  let path: String
  /// An open, read-only descriptor of that file (close-on-exec); the caller closes it.
  let descriptor: Int32

  /// Opens `path` for loading after every ownership and permission check.
  ///
  /// - Parameters:
  ///   - path: the path as configured (absolute, or relative to the working directory).
  ///   - allowSymlinks: accept a path whose last component is a symbolic link (its target is
  ///     then checked like any file).
  ///   - missing: the error for a file that does not exist.
  static func open(
    _ path: String, allowSymlinks: Bool, missing: (String) -> PluginLoadError
  ) throws(PluginLoadError) -> PluginFile {
    let nominal = URL(fileURLWithPath: path).standardizedFileURL.path
    var link = stat()
    guard lstat(nominal, &link) == 0 else { throw missing(nominal) }
    if (link.st_mode & S_IFMT) == S_IFLNK && !allowSymlinks {
      let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: nominal)) ?? "?"
      throw .symbolicLink(path: nominal, target: target)
    }
    guard let resolved = realpath(nominal, nil) else { throw missing(nominal) }
    let real = String(cString: resolved)
    free(resolved)
    // Directories first: once each is known to be changeable only by root or the host's user,
    // nobody else can swap the file under the path between this check and the open below.
    try checkDirectories(above: real)
    if real != nominal { try checkDirectories(above: nominal) }
    let fd = Glibc.open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { throw missing(real) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
      Glibc.close(fd)
      throw missing(real)
    }
    do {
      try checkOwnerAndMode(path: real, info, isDirectory: false)
    } catch {
      Glibc.close(fd)
      throw error
    }
    return PluginFile(path: real, descriptor: fd)
  }

  /// The user ids that may own a plugin file or a directory above it: root and the host's
  /// effective user.
  static var trustedOwners: Set<uid_t> { [0, geteuid()] }

  /// Checks every directory from `path`'s parent up to `/`.
  private static func checkDirectories(above path: String) throws(PluginLoadError) {
    var directory = (path as NSString).deletingLastPathComponent
    while !directory.isEmpty {
      var info = stat()
      guard stat(directory, &info) == 0 else { throw .fileNotFound(path: directory) }
      try checkOwnerAndMode(path: directory, info, isDirectory: true)
      if directory == "/" { break }
      directory = (directory as NSString).deletingLastPathComponent
    }
  }

  /// The rule for one file or directory: owned by a trusted user, writable by nobody else (a
  /// directory may be writable by all when it is root's and sticky, like /tmp).
  private static func checkOwnerAndMode(path: String, _ info: stat, isDirectory: Bool) throws(PluginLoadError) {
    guard trustedOwners.contains(info.st_uid) else {
      throw .unsafeOwner(path: path, owner: UInt32(info.st_uid), hostUser: UInt32(geteuid()))
    }
    let mode = UInt32(info.st_mode)
    guard mode & UInt32(S_IWGRP | S_IWOTH) != 0 else { return }
    if isDirectory && mode & UInt32(S_ISVTX) != 0 && info.st_uid == 0 { return }
    throw .unsafePermissions(path: path, mode: mode)
  }

  /// SHA-256 of the file's bytes (lowercase hex); nil on a read error.
  func sha256() -> String? { Self.sha256(of: descriptor) }

  /// SHA-256 of an open file, read in chunks from offset 0 (lowercase hex); nil on a read error.
  static func sha256(of fd: Int32) -> String? {
    var hasher = SHA256()
    let complete = readChunks(of: fd) { hasher.update(bufferPointer: $0) }
    guard complete else { return nil }
    return hasher.finalize().map { String(format: "%02x", $0) }.joined()
  }

  /// The whole file's bytes.
  func contents() -> Data? {
    var data = Data()
    guard Self.readChunks(of: descriptor, { data.append(contentsOf: $0) }) else { return nil }
    return data
  }

  /// Calls `body` with each chunk of the file from offset 0; false on a read error.
  private static func readChunks(of fd: Int32, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var offset: off_t = 0
    while true {
      let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, offset) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { return false }
      if count == 0 { return true }
      buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
      offset += off_t(count)
    }
  }

  /// Forbids every change to the copy. The kernel refuses the write seal with EBUSY while
  /// something else still holds one of the copy's pages (it waits about 150 ms for them first):
  /// seen once on a loaded machine, a worker starting while the test suite ran in parallel. A
  /// few more tries, a little longer apart, before giving up.
  private static func seal(_ copy: Int32) -> Bool {
    for attempt in 1...5 {
      if fcntl(copy, addSeals, sealSeal | sealShrink | sealGrow | sealWrite) == 0 { return true }
      guard errno == EBUSY || errno == EINTR else { return false }
      if attempt < 5 { usleep(useconds_t(50_000 * attempt)) }
    }
    return false
  }

  /// A sealed in-memory copy of the file (`memfd`), and the SHA-256 of the copy.
  ///
  /// The host `dlopen`s the copy, never the file: the bytes hashed are the bytes mapped, and a
  /// later write to the file (an admin's `cp` over it, same inode) cannot reach the mapped code
  /// (a shared mapping of a file rewritten in place crashes the process with SIGBUS or runs
  /// half-written code). The seals forbid any write to the copy, even through its descriptor.
  ///
  /// Copies with the same digest are shared: loading the same bytes twice maps them once (glibc
  /// then hands back the loaded library, as it did for the same file), so repeated loads of one
  /// plugin cost no memory.
  func privateCopy() throws(PluginLoadError) -> PrivateCopy {
    guard let create = Self.memfdCreate else {
      throw .privateCopyFailed(path: path, reason: "memfd_create is not available (Linux 3.17 and glibc 2.27 needed)")
    }
    // Named after the real path (`/memfd:carbonhub:<path> (deleted)` in /proc/self/maps), so a
    // plugin can still find the files installed beside its library (the plugin kit's
    // `PluginImage.directory()`); the kernel allows 249 bytes.
    let fullName = Self.memfdNamePrefix + path
    let name = fullName.utf8.count <= 249 ? fullName : (path as NSString).lastPathComponent
    let copy = create(name, Self.memfdCloexec | Self.memfdAllowSealing)
    guard copy >= 0 else { throw .privateCopyFailed(path: path, reason: "memfd_create: \(String(cString: strerror(errno)))") }
    var writeFailed: Int32 = 0
    let complete = Self.readChunks(of: descriptor) { chunk in
      var written = 0
      while written < chunk.count && writeFailed == 0 {
        let count = write(copy, chunk.baseAddress! + written, chunk.count - written)
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { writeFailed = errno; return }
        written += count
      }
    }
    guard complete, writeFailed == 0 else {
      Glibc.close(copy)
      throw .privateCopyFailed(path: path, reason: "copying the file failed: \(String(cString: strerror(writeFailed == 0 ? errno : writeFailed)))")
    }
    guard Self.seal(copy), let digest = Self.sha256(of: copy) else {
      Glibc.close(copy)
      throw .privateCopyFailed(path: path, reason: "sealing the copy failed: \(String(cString: strerror(errno)))")
    }
    return Self.sharedCopies.withLock { copies in
      if let existing = copies[digest] {
        Glibc.close(copy)
        return PrivateCopy(descriptor: existing, sha256: digest)
      }
      copies[digest] = copy
      return PrivateCopy(descriptor: copy, sha256: digest)
    }
  }

  /// A sealed in-memory copy of a plugin file; it stays open for the life of the process, like
  /// the library mapped from it.
  struct PrivateCopy {
    /// The memfd.
    let descriptor: Int32
    /// SHA-256 of its bytes, lowercase hex.
    let sha256: String
    /// The name `dlopen` is given.
    var loadPath: String { "/proc/self/fd/\(descriptor)" }
  }

  /// The prefix of a private copy's memfd name, before the real path of the file it copies.
  public static let memfdNamePrefix = "carbonhub:"

  /// Digest → memfd of every private copy made by this process.
  private static let sharedCopies = LockedCopies()

  // memfd_create(2) and file seals (fcntl(2)): Swift's Glibc module does not declare them
  // (they are behind _GNU_SOURCE), so the function is looked up in libc and the constants are
  // the kernel's ABI values from <linux/memfd.h> and <linux/fcntl.h>.
  private typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
  private static let memfdCreate: MemfdCreate? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create")
    .map { unsafeBitCast($0, to: MemfdCreate.self) }
  private static let memfdCloexec: UInt32 = 0x0001
  private static let memfdAllowSealing: UInt32 = 0x0002
  private static let addSeals: Int32 = 1024 + 9
  private static let sealSeal: Int32 = 0x0001
  private static let sealShrink: Int32 = 0x0002
  private static let sealGrow: Int32 = 0x0004
  private static let sealWrite: Int32 = 0x0008
}

/// The shared private copies, under a lock.
private final class LockedCopies: @unchecked Sendable {
  private let lock = NSLock()
  private var copies: [String: Int32] = [:]

  func withLock<T>(_ body: (inout [String: Int32]) -> T) -> T {
    lock.lock()
    defer { lock.unlock() }
    return body(&copies)
  }
}
