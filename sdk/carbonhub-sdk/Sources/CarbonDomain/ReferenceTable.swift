/// A table of reference data read from an embedded CSV data file.
///
/// Format: UTF-8, comma-separated as `CSVReader` reads it, one header row; lines starting with
/// `#` are comments (the data file's source and licence live there). Every module keeps its reference tables in such files, next to its sources, embedded
/// with SwiftPM's `.embedInCode` so a plugin carries them inside its shared library.
public struct ReferenceTable: Sendable {
  /// Column names, in file order.
  public let columns: [String]
  /// Rows, each with one value per column.
  public let rows: [[String]]
  /// Comment lines (without the `#`), which document the source.
  public let comments: [String]

  /// A parse failure, with the 1-based line number.
  public typealias ParseError = CSVReader.ParseError

  /// Parses CSV text (`CSVReader`, comma-delimited, `#` comment lines): the first record is
  /// the header, every other record must have as many fields.
  public init(csv text: String) throws(ParseError) {
    let document = try CSVReader(delimiter: .comma, comments: true).read(text)
    guard let header = document.records.first else {
      throw ParseError(line: 1, message: "no header row")
    }
    let rows = document.records.dropFirst()
    for row in rows where row.fields.count != header.fields.count {
      throw ParseError(line: row.line, message: "expected \(header.fields.count) fields, found \(row.fields.count)")
    }
    columns = header.fields
    self.rows = rows.map(\.fields)
    comments = document.comments
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
