/// A table of reference data read from an embedded CSV data file.
///
/// Format: UTF-8, comma-separated, one header row; lines starting with `#` are comments (the
/// data file's source and licence live there); fields may be double-quoted (`""` escapes a
/// quote). Every module keeps its reference tables in such files, next to its sources, embedded
/// with SwiftPM's `.embedInCode` so a plugin carries them inside its shared library.
public struct ReferenceTable: Sendable {
  /// Column names, in file order.
  public let columns: [String]
  /// Rows, each with one value per column.
  public let rows: [[String]]
  /// Comment lines (without the `#`), which document the source.
  public let comments: [String]

  /// A parse failure, with the 1-based line number.
  public struct ParseError: Error, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
  }

  /// Parses CSV text (LF or CRLF line ends).
  public init(csv text: String) throws(ParseError) {
    var columns: [String]? = nil
    var rows: [[String]] = []
    var comments: [String] = []
    var lineNumber = 0
    // "\r\n" is one Character in Swift: split on any newline so CRLF files parse too.
    for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
      lineNumber += 1
      var line = Substring(rawLine)
      if line.first == "\u{FEFF}" { line = line.dropFirst() }
      if line.trimmingSpaces().isEmpty { continue }
      if line.hasPrefix("#") {
        comments.append(String(line.dropFirst()).trimmingSpaces())
        continue
      }
      let fields = try Self.split(line, lineNumber: lineNumber)
      if let columns {
        guard fields.count == columns.count else {
          throw ParseError(
            line: lineNumber,
            message: "expected \(columns.count) fields, found \(fields.count)")
        }
        rows.append(fields)
      } else {
        columns = fields
      }
    }
    guard let columns else { throw ParseError(line: lineNumber, message: "no header row") }
    self.columns = columns
    self.rows = rows
    self.comments = comments
  }

  /// Parses embedded bytes (as produced by `.embedInCode`).
  public init(bytes: [UInt8]) throws(ParseError) {
    try self.init(csv: String(decoding: bytes, as: UTF8.self))
  }

  /// Index of a column, or nil.
  public func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }

  /// Rows as dictionaries keyed by column name.
  public var records: [[String: String]] {
    rows.map { Dictionary(uniqueKeysWithValues: zip(columns, $0)) }
  }

  private static func split(_ line: Substring, lineNumber: Int) throws(ParseError) -> [String] {
    var fields: [String] = []
    var current = ""
    var inQuotes = false
    var iterator = line.makeIterator()
    var pending: Character? = nil
    while let c = pending ?? iterator.next() {
      pending = nil
      if inQuotes {
        if c == "\"" {
          if let next = iterator.next() {
            if next == "\"" { current.append("\"") } else { inQuotes = false; pending = next }
          } else {
            inQuotes = false
          }
        } else {
          current.append(c)
        }
      } else if c == "\"" {
        inQuotes = true
      } else if c == "," {
        fields.append(current)
        current = ""
      } else {
        current.append(c)
      }
    }
    guard !inQuotes else { throw ParseError(line: lineNumber, message: "unterminated quote") }
    fields.append(current)
    return fields
  }
}

extension StringProtocol {
  /// The text without leading and trailing spaces and tabs (the padding of CSV cells and
  /// comment lines).
  ///
  /// Scans the Unicode scalars from both ends: a profile of SOBAC showed the former
  /// `drop(while:).reversed()…` version, which builds reversed Character collections,
  /// taking most of the time of loading a reference table.
  public func trimmingSpaces() -> String {
    trimming { $0 == " " || $0 == "\t" }
  }

  /// The text without leading and trailing white space (the Unicode White_Space property:
  /// spaces, tabs, line breaks, no-break spaces), as Foundation's
  /// `trimmingCharacters(in: .whitespacesAndNewlines)` gives it but without bridging to
  /// NSString, which took a sixth of a large CSV import.
  public func trimmingWhitespace() -> String {
    // ASCII answers without the Unicode property tables: tab, line feed … carriage return, space.
    trimming { $0.isASCII ? $0 == " " || (0x09...0x0D).contains($0.value) : $0.properties.isWhitespace }
  }

  /// The text without the leading and trailing scalars that are `padding`.
  private func trimming(_ padding: (Unicode.Scalar) -> Bool) -> String {
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !padding($0) }) else { return "" }
    let last = scalars.lastIndex(where: { !padding($0) })!
    return String(self[first..<scalars.index(after: last)])
  }
}
