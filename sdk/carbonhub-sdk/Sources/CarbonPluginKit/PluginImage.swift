import Foundation

/// Where the library holding a module's code lives, to find files installed beside it.
///
/// A module that ships files next to its `.so` (ALDO's territory tables) cannot rely on the
/// process's executable or working directory. And the host does not map the file it checked:
/// it `dlopen`s a sealed in-memory copy (`memfd`) named `carbonhub:<real path>`, so that a
/// later write to the file never reaches running code (see docs/security.md). This reads the
/// mapping that holds the caller's code in `/proc/self/maps` and gives the directory of the real
/// file in both cases — the library loaded from disk (tests, `carbonhub verify`), or the host's
/// private copy.
public enum PluginImage {
  /// The directory of the library (or executable) whose code contains `dsoHandle`; call it as
  /// `PluginImage.directory()` from the module's own code. Nil when it cannot be found.
  public static func directory(containing dsoHandle: UnsafeRawPointer = #dsohandle) -> String? {
    guard let path = path(containing: dsoHandle) else { return nil }
    return (path as NSString).deletingLastPathComponent
  }

  /// The real path of the library (or executable) whose code contains `dsoHandle`.
  public static func path(containing dsoHandle: UnsafeRawPointer = #dsohandle) -> String? {
    let address = UInt(bitPattern: dsoHandle)
    // Read to the end: Foundation's String(contentsOfFile:) stops after the first read of a
    // /proc file (4 KiB), and a host with a few dozen threads has maps far longer than that.
    guard let file = FileHandle(forReadingAtPath: "/proc/self/maps") else { return nil }
    defer { try? file.close() }
    let maps = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
    for line in maps.split(separator: "\n") {
      let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
      guard fields.count == 6 else { continue }
      let bounds = fields[0].split(separator: "-")
      guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
        start <= address, address < end
      else { continue }
      return realPath(ofMapping: fields[5].trimmingCharacters(in: .whitespaces))
    }
    return nil
  }

  /// The file behind a mapping's name: the path itself, or the real path a host's private copy
  /// is named after (`/memfd:carbonhub:/opt/plugins/libALDO.so (deleted)`).
  static func realPath(ofMapping name: String) -> String? {
    var name = name
    let memfd = "/memfd:carbonhub:"
    if name.hasPrefix(memfd) {
      name.removeFirst(memfd.count)
      if name.hasSuffix(" (deleted)") { name.removeLast(" (deleted)".count) }
    } else if name.hasPrefix("/memfd:") {
      return nil  // another memfd: no file behind it
    }
    guard name.hasPrefix("/") else { return nil }
    return URL(fileURLWithPath: name).resolvingSymlinksInPath().path
  }
}
