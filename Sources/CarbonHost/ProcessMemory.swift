import Foundation

/// Memory figures of a process from `/proc/<pid>/status` (Linux), in KiB: what the load
/// generator reports for a server and the benchmarks for themselves.
public struct ProcessMemory: Sendable, Equatable {
  /// Resident set size now (`VmRSS`).
  public let residentKiB: Int
  /// Peak resident set size (`VmHWM`), since start or since `resetPeak()`.
  public let peakResidentKiB: Int

  /// The figures of process `pid` ("self" when nil); nil when the process is gone or the
  /// file has no such lines (not Linux).
  public static func read(pid: Int32? = nil) -> ProcessMemory? {
    let file = "/proc/\(pid.map(String.init) ?? "self")/status"
    guard let status = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
    var rss: Int?
    var hwm: Int?
    for line in status.split(separator: "\n") {
      let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard fields.count >= 2 else { continue }
      if fields[0] == "VmRSS:" { rss = Int(fields[1]) }
      if fields[0] == "VmHWM:" { hwm = Int(fields[1]) }
    }
    guard let rss, let hwm else { return nil }
    return ProcessMemory(residentKiB: rss, peakResidentKiB: hwm)
  }

  /// Resets the peak (`VmHWM`) of process `pid` ("self" when nil) to its current RSS, so that a
  /// later `read()` gives the peak of what ran in between (writes 5 to `/proc/PID/clear_refs`,
  /// Linux ≥ 4.0; another process must belong to the same user).
  @discardableResult
  public static func resetPeak(pid: Int32? = nil) -> Bool {
    guard let handle = FileHandle(forWritingAtPath: "/proc/\(pid.map(String.init) ?? "self")/clear_refs") else { return false }
    defer { try? handle.close() }
    return (try? handle.write(contentsOf: Data("5".utf8))) != nil
  }
}
