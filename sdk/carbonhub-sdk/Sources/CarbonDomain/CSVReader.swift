/// Reads CSV text as RFC 4180 describes it, with the variants French spreadsheets write: the
/// one CSV reader of the platform (reference tables, SOBAC's farm ledger, COP's project import).
///
/// - Fields may be double-quoted; inside quotes `""` is a quote, and the delimiter and line
///   breaks are data (a CRLF inside quotes is kept as "\n"). A quote is special only at the
///   start of a field, as RFC 4180 has it: `5" pipe` is read as written.
/// - Records end at LF, CRLF or a lone CR. A UTF-8 byte order mark at the start is dropped.
/// - The delimiter is `,`, `;` (what a French spreadsheet writes, its decimals having commas), or
///   detected on the first record: `;` when that line has more `;` than `,`.
/// - Blank lines (nothing, or only spaces and tabs) are skipped. With `comments`, a line whose
///   first character is `#` is a comment: kept apart, never a record (reference tables document
///   their source this way).
///
/// It works on the UTF-8 bytes: every character with a meaning in CSV is ASCII and no byte of a
/// multi-byte character is, so the text is cut only between characters. Walking `Character`s
/// instead (grapheme clusters) made a 20 MB import spend most of its time reading.
public struct CSVReader: Sendable {
  /// Which character separates fields.
  public enum Delimiter: Sendable, Equatable {
    case comma
    case semicolon
    /// `;` when the first record's line has more `;` than `,`, else `,`.
    case detect
  }

  /// One record and the line of the text it starts on (1-based; a quoted field may span lines).
  public struct Record: Sendable, Equatable {
    public let line: Int
    public let fields: [String]

    public init(line: Int, fields: [String]) {
      self.line = line
      self.fields = fields
    }
  }

  /// What a text holds: its records in order, its comment lines, and the delimiter used.
  public struct Document: Sendable {
    public let records: [Record]
    /// Comment lines without their `#`, trimmed of spaces (only with `comments`).
    public let comments: [String]
    /// `,` or `;`.
    public let delimiter: Character
  }

  /// Text that is not CSV, with the 1-based line where the problem starts.
  public struct ParseError: Error, CustomStringConvertible, Equatable {
    public let line: Int
    public let message: String

    public init(line: Int, message: String) {
      self.line = line
      self.message = message
    }

    public var description: String { "line \(line): \(message)" }
  }

  public var delimiter: Delimiter
  /// Whether lines starting with `#` are comments.
  public var comments: Bool

  public init(delimiter: Delimiter = .detect, comments: Bool = false) {
    self.delimiter = delimiter
    self.comments = comments
  }

  private static let newline = UInt8(ascii: "\n")
  private static let carriageReturn = UInt8(ascii: "\r")
  private static let quote = UInt8(ascii: "\"")
  private static let hash = UInt8(ascii: "#")
  private static let semicolon = UInt8(ascii: ";")
  private static let comma = UInt8(ascii: ",")

  /// Reads `text`; throws when a quoted field is never closed, naming the line it opened on.
  public func read(_ text: String) throws(ParseError) -> Document {
    let all = Array(text.utf8)
    var body = all[...]
    if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
    let separator: UInt8
    switch delimiter {
    case .comma: separator = Self.comma
    case .semicolon: separator = Self.semicolon
    case .detect: separator = Self.detectedDelimiter(body, skippingComments: comments)
    }

    var records: [Record] = []
    var commentLines: [String] = []
    var fields: [String] = []
    var field: [UInt8] = []
    var inQuotes = false
    var recordHasQuotes = false
    var fieldQuoteLine = 1
    var line = 1
    var recordLine = 1
    var index = body.startIndex
    let end = body.endIndex

    func endField() {
      fields.append(String(decoding: field, as: UTF8.self))
      field.removeAll(keepingCapacity: true)
    }
    func endRecord() {
      endField()
      let blank = !recordHasQuotes && fields.count == 1 && fields[0].utf8.allSatisfy { $0 == 0x20 || $0 == 0x09 }
      if !blank { records.append(Record(line: recordLine, fields: fields)) }
      fields = []
      recordHasQuotes = false
    }
    /// Moves past a line break at `index` (LF, CRLF or CR) whose first byte was just read.
    func skipLineBreak(_ byte: UInt8) {
      if byte == Self.carriageReturn && index < end && body[index] == Self.newline { index += 1 }
      line += 1
    }

    while index < end {
      let byte = body[index]
      index += 1
      if inQuotes {
        if byte == Self.quote {
          if index < end && body[index] == Self.quote {
            field.append(Self.quote)
            index += 1
          } else {
            inQuotes = false
          }
        } else if byte == Self.newline || byte == Self.carriageReturn {
          // A line break inside a quoted field is data, kept as "\n" whatever its spelling.
          field.append(Self.newline)
          skipLineBreak(byte)
        } else {
          field.append(byte)
        }
      } else if byte == Self.quote && field.isEmpty {
        inQuotes = true
        recordHasQuotes = true
        fieldQuoteLine = line
      } else if byte == separator {
        endField()
      } else if byte == Self.newline || byte == Self.carriageReturn {
        endRecord()
        skipLineBreak(byte)
        recordLine = line
      } else if comments && byte == Self.hash && field.isEmpty && fields.isEmpty && !recordHasQuotes {
        let start = index
        while index < end && body[index] != Self.newline && body[index] != Self.carriageReturn { index += 1 }
        commentLines.append(String(decoding: body[start..<index], as: UTF8.self).trimmingSpaces())
        if index < end {
          let lineBreak = body[index]
          index += 1
          skipLineBreak(lineBreak)
        }
        recordLine = line
      } else {
        field.append(byte)
      }
    }
    if inQuotes { throw ParseError(line: fieldQuoteLine, message: "a quoted field opened on this line is never closed") }
    if !field.isEmpty || !fields.isEmpty || recordHasQuotes { endRecord() }
    return Document(records: records, comments: commentLines, delimiter: Character(Unicode.Scalar(separator)))
  }

  /// `;` when the first record's line (after any comments and blank lines) has more `;` than `,`.
  private static func detectedDelimiter(_ bytes: ArraySlice<UInt8>, skippingComments: Bool) -> UInt8 {
    var semicolons = 0
    var commas = 0
    var atLineStart = true
    var inComment = false
    for byte in bytes {
      if byte == newline || byte == carriageReturn {
        if semicolons + commas > 0 { break }
        atLineStart = true
        inComment = false
        continue
      }
      if atLineStart && skippingComments && byte == hash { inComment = true }
      atLineStart = false
      if inComment { continue }
      if byte == semicolon { semicolons += 1 } else if byte == comma { commas += 1 }
    }
    return semicolons > commas ? semicolon : comma
  }
}
