import Foundation

/// How a CSV file is written: separators, line ending, byte-order mark.
///
/// Two dialects cover the people this product serves: ``standard`` (RFC 4180, what programs
/// and English-locale spreadsheets read) and ``frenchSpreadsheet`` (what Excel and LibreOffice
/// open directly with a French locale: `;` between fields, a decimal comma, UTF-8 with a BOM
/// so accents survive, CRLF line ends).
public struct CSVDialect: Sendable, Equatable {
  /// The field separator.
  public var fieldSeparator: Character
  /// The decimal separator of numbers.
  public var decimalSeparator: Character
  /// The line ending, after the header and every row.
  public var lineEnding: String
  /// Whether the text starts with a UTF-8 byte-order mark (U+FEFF).
  public var byteOrderMark: Bool
  /// A short name, for responses that say which dialect they used.
  public var name: String

  /// A dialect from its parts.
  public init(name: String, fieldSeparator: Character, decimalSeparator: Character, lineEnding: String, byteOrderMark: Bool) {
    self.name = name
    self.fieldSeparator = fieldSeparator
    self.decimalSeparator = decimalSeparator
    self.lineEnding = lineEnding
    self.byteOrderMark = byteOrderMark
  }

  /// RFC 4180: `,` between fields, `.` decimals, LF line ends, no BOM.
  public static let standard = CSVDialect(
    name: "standard", fieldSeparator: ",", decimalSeparator: ".", lineEnding: "\n", byteOrderMark: false)

  /// French spreadsheets: `;` between fields, decimal comma, CRLF, UTF-8 with BOM.
  public static let frenchSpreadsheet = CSVDialect(
    name: "french-spreadsheet", fieldSeparator: ";", decimalSeparator: ",", lineEnding: "\r\n", byteOrderMark: true)
}

/// Writes an ``ExportTable`` as CSV text.
///
/// Fields are quoted when they hold the separator, a quote, CR or LF (quotes doubled, RFC 4180).
/// Text cells that a spreadsheet would run as a formula — starting with `=`, `+`, `-`, `@`, a tab
/// or a CR (OWASP "CSV injection") — get a leading apostrophe, which spreadsheets show as text;
/// numbers are never altered (a negative number is a ``ExportCell/number(_:decimals:)``).
public enum CSVWriter {
  /// The CSV text of `table` in `dialect`.
  /// - Throws: ``ExportError`` when a number is not finite or a row is longer than the header.
  public static func text(of table: ExportTable, dialect: CSVDialect = .standard) throws(ExportError) -> String {
    if let defect = table.firstDefect() { throw ExportError(description: defect) }
    var output = dialect.byteOrderMark ? "\u{FEFF}" : ""
    output.reserveCapacity(64 * (table.rows.count + 1))
    writeRow(table.header.map { ExportCell.text($0) }, columns: table.header.count, dialect: dialect, into: &output)
    for row in table.rows {
      writeRow(row, columns: table.header.count, dialect: dialect, into: &output)
    }
    return output
  }

  /// Text that a spreadsheet would not run as a formula: a leading apostrophe before `=`, `+`,
  /// `-`, `@`, tab or CR.
  public static func neutralised(_ text: String) -> String {
    guard let first = text.unicodeScalars.first else { return text }
    switch first {
    case "=", "+", "-", "@", "\t", "\r": return "'" + text
    default: return text
    }
  }

  /// A number as the dialect writes it: fixed decimals when asked, otherwise the shortest
  /// representation that reads back to the same value, without a trailing `.0`.
  public static func format(_ value: Double, decimals: Int?, decimalSeparator: Character = ".") -> String {
    var text: String
    if let decimals {
      text = fixed(value, decimals: decimals)
    } else {
      text = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
    if decimalSeparator != "." { text = String(text.map { $0 == "." ? decimalSeparator : $0 }) }
    return text
  }

  private static func fixed(_ value: Double, decimals: Int) -> String {
    let digits = max(0, min(decimals, 15))
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (value * scale).rounded()
    guard abs(scaled) < 9e18 else { return "\(value)" }
    let integer = Int64(scaled)
    let negative = integer < 0
    var magnitude = String(integer.magnitude)
    guard digits > 0 else { return (negative ? "-" : "") + magnitude }
    if magnitude.count <= digits { magnitude = String(repeating: "0", count: digits - magnitude.count + 1) + magnitude }
    let split = magnitude.index(magnitude.endIndex, offsetBy: -digits)
    return (negative ? "-" : "") + magnitude[..<split] + "." + magnitude[split...]
  }

  private static func writeRow(_ row: [ExportCell], columns: Int, dialect: CSVDialect, into output: inout String) {
    for column in 0..<columns {
      if column > 0 { output.append(dialect.fieldSeparator) }
      guard column < row.count else { continue }
      switch row[column] {
      case .empty: break
      case .number(let value, let decimals):
        output += quotedIfNeeded(format(value, decimals: decimals, decimalSeparator: dialect.decimalSeparator), dialect)
      case .text(let text):
        output += quotedIfNeeded(neutralised(text), dialect)
      }
    }
    output += dialect.lineEnding
  }

  private static func quotedIfNeeded(_ field: String, _ dialect: CSVDialect) -> String {
    let needsQuotes = field.contains { $0 == dialect.fieldSeparator || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
    guard needsQuotes else { return field }
    return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }
}
