import Foundation

/// Test helpers that check exported files with the real programs people open them with:
/// LibreOffice for spreadsheets, librsvg for charts. Both come from Debian's packages
/// (`libreoffice-calc-nogui`, `librsvg2-bin`), which `scripts/install-packages.sh` installs.
///
/// A test that needs one of them fails with the package to install when it is missing: a skip
/// would hide an export that no program can open.
public enum ExternalTools {
  /// What went wrong running a tool: its name, exit status and standard error.
  public struct Failure: Error, CustomStringConvertible {
    /// The message, naming the tool and what it printed.
    public var description: String
  }

  /// Every sheet of an `.xlsx` file as LibreOffice reads it, converted to CSV (`,` separated,
  /// UTF-8), in sheet order. Runs `libreoffice --headless` with a private profile, so that
  /// several conversions may run at once.
  public static func libreOfficeSheetsAsCSV(xlsx: [UInt8]) async throws -> [String] {
    let directory = try temporaryDirectory("xlsx")
    defer { try? FileManager.default.removeItem(at: directory) }
    let input = directory.appendingPathComponent("workbook.xlsx")
    try Data(xlsx).write(to: input)
    // Filter options: `,` separator, `"` quote, UTF-8 (76), first line 1, …, sheet -1 = every
    // sheet, each to workbook-<SheetName>.csv (LibreOffice ≥ 7.2).
    let filter = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    try await run(
      "libreoffice",
      ["-env:UserInstallation=file://\(directory.path)/profile", "--headless", "--convert-to", filter,
       "--outdir", directory.path, input.path],
      package: "libreoffice-calc-nogui")
    let outputs = try FileManager.default.contentsOfDirectory(atPath: directory.path)
      .filter { $0.hasSuffix(".csv") }
    guard !outputs.isEmpty else { throw Failure(description: "libreoffice wrote no CSV for the workbook") }
    // LibreOffice names them workbook-<sheet>.csv; keep the workbook's order via the sheet list.
    let sheetOrder = try sheetNames(xlsx: xlsx)
    return try sheetOrder.map { name in
      let match = outputs.first { $0 == "workbook-\(name).csv" } ?? (sheetOrder.count == 1 ? outputs[0] : nil)
      guard let match else { throw Failure(description: "no CSV for sheet \"\(name)\" among \(outputs)") }
      return try String(contentsOf: directory.appendingPathComponent(match), encoding: .utf8)
    }
  }

  /// Renders an SVG document to PNG with `rsvg-convert` and returns the PNG's pixel size.
  /// An ill-formed SVG makes rsvg-convert fail, and so this throws.
  ///
  /// With `CARBONHUB_CHART_DIR` set in the environment, the PNG is also kept there as
  /// `<name>.png`, so that a person can look at every chart the tests draw.
  public static func renderPNG(svg: String, name: String = "chart") async throws -> (width: Int, height: Int) {
    let path = ProcessInfo.processInfo.environment["CARBONHUB_CHART_DIR"].map { "\($0)/\(name).png" }
    let directory = try temporaryDirectory("svg")
    defer { try? FileManager.default.removeItem(at: directory) }
    let input = directory.appendingPathComponent("chart.svg")
    let output = path.map { URL(fileURLWithPath: $0) } ?? directory.appendingPathComponent("chart.png")
    try Data(svg.utf8).write(to: input)
    try await run("rsvg-convert", ["--format", "png", "--output", output.path, input.path], package: "librsvg2-bin")
    let png = try Data(contentsOf: output)
    // PNG: 8-byte signature, then the IHDR chunk: length, "IHDR", width, height (big-endian).
    guard png.count > 24, png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
      throw Failure(description: "rsvg-convert did not write a PNG")
    }
    func bigEndian(_ offset: Int) -> Int { png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
    return (bigEndian(16), bigEndian(20))
  }

  /// The sheet names of a workbook, read from its `xl/workbook.xml` (stored entries only, as
  /// the plugin kit writes them).
  static func sheetNames(xlsx: [UInt8]) throws -> [String] {
    guard let xml = storedEntry("xl/workbook.xml", in: xlsx) else {
      throw Failure(description: "no stored xl/workbook.xml in the workbook")
    }
    var names: [String] = []
    var rest = Substring(xml)
    while let start = rest.range(of: "<sheet name=\"") {
      rest = rest[start.upperBound...]
      guard let end = rest.firstIndex(of: "\"") else { break }
      names.append(String(rest[..<end]).replacingOccurrences(of: "&amp;", with: "&")
        .replacingOccurrences(of: "&apos;", with: "'").replacingOccurrences(of: "&quot;", with: "\"")
        .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">"))
    }
    return names
  }

  private static func storedEntry(_ path: String, in zip: [UInt8]) -> String? {
    var offset = 0
    func le(_ at: Int, _ count: Int) -> Int { (0..<count).reduce(0) { $0 | Int(zip[at + $1]) << (8 * $1) } }
    while offset + 30 <= zip.count, le(offset, 4) == 0x0403_4b50 {
      let size = le(offset + 18, 4), nameLength = le(offset + 26, 2), extra = le(offset + 28, 2)
      let name = String(decoding: zip[offset + 30..<offset + 30 + nameLength], as: UTF8.self)
      let dataStart = offset + 30 + nameLength + extra
      if name == path { return String(decoding: zip[dataStart..<dataStart + size], as: UTF8.self) }
      offset = dataStart + size
    }
    return nil
  }

  private static func temporaryDirectory(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("carbonhub-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// Runs `tool` and waits for it without holding a thread: the tests run on Swift's
  /// cooperative pool (two threads on a 2-core machine), which a blocking wait for LibreOffice
  /// would take from every other test of the process for seconds.
  private static func run(_ tool: String, _ arguments: [String], package: String) async throws {
    guard let executable = ["/usr/bin", "/usr/local/bin", "/bin"].map({ "\($0)/\(tool)" })
      .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
    else {
      throw Failure(description: "\(tool) is not installed: install the Debian package \(package) (scripts/install-packages.sh)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    let (exits, exited) = AsyncStream<Void>.makeStream()
    process.terminationHandler = { _ in exited.finish() }
    try process.run()
    let (stderrRead, stderrDone) = AsyncStream<Data>.makeStream()
    // A blocking read, on a thread of its own.
    Thread {
      stderrDone.yield(errors.fileHandleForReading.readDataToEndOfFile())
      stderrDone.finish()
    }.start()
    var stderr = Data()
    for await chunk in stderrRead { stderr = chunk }
    for await _ in exits {}
    guard process.terminationStatus == 0 else {
      throw Failure(description: "\(tool) exited \(process.terminationStatus): \(String(decoding: stderr, as: UTF8.self))")
    }
  }
}
