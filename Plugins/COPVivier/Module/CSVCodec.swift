/// RFC 4180 CSV reading for the form's export (writing is the plugin kit's `CSVWriter`): ',' or ';' delimiter (detected on
/// the header line), quoted fields with doubled quotes and line breaks inside quotes.
enum CSVCodec {
  /// A parsed record with the line it starts on (1-based, in the file).
  struct Record {
    let line: Int
    let fields: [String]
  }

  /// The delimiter of a file: ';' when the header line has more ';' than ','.
  private static func delimiter(of bytes: ArraySlice<UInt8>) -> UInt8 {
    var semicolons = 0
    var commas = 0
    for byte in bytes {
      if byte == newline || byte == carriageReturn { break }
      if byte == UInt8(ascii: ";") { semicolons += 1 } else if byte == UInt8(ascii: ",") { commas += 1 }
    }
    return semicolons > commas ? UInt8(ascii: ";") : UInt8(ascii: ",")
  }

  private static let newline = UInt8(ascii: "\n")
  private static let carriageReturn = UInt8(ascii: "\r")
  private static let quote = UInt8(ascii: "\"")

  /// Splits a CSV text into records; nil when a quote is never closed.
  ///
  /// Works on the UTF-8 bytes: every character with a meaning in CSV is ASCII, and a byte of a
  /// multi-byte character is never ASCII, so the text is cut only between characters. Walking
  /// `Character`s instead (grapheme clusters) made a 20 MB import spend most of its time here.
  static func parse(_ text: String) -> (records: [Record], unterminatedQuoteLine: Int?) {
    let all = Array(text.utf8)
    var body = all[...]
    if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
    let separator = delimiter(of: body)
    var records: [Record] = []
    var fields: [String] = []
    var field: [UInt8] = []
    var inQuotes = false
    var line = 1
    var recordLine = 1
    var fieldWasQuoted = false
    func endField() {
      fields.append(String(decoding: field, as: UTF8.self))
      field.removeAll(keepingCapacity: true)
    }
    func endRecord() {
      endField()
      if !(fields.count == 1 && fields[0].isEmpty && !fieldWasQuoted) { records.append(Record(line: recordLine, fields: fields)) }
      fields = []
      fieldWasQuoted = false
    }
    var index = body.startIndex
    let end = body.endIndex
    while index < end {
      let byte = body[index]
      index += 1
      if inQuotes {
        if byte == quote {
          if index < end && body[index] == quote {
            field.append(quote)
            index += 1
          } else {
            inQuotes = false
          }
        } else if byte == carriageReturn && index < end && body[index] == newline {
          // CRLF inside a quoted cell is one line break, kept as "\n".
          field.append(newline)
          index += 1
          line += 1
        } else {
          if byte == newline { line += 1 }
          field.append(byte)
        }
      } else if byte == quote && field.isEmpty {
        inQuotes = true
        fieldWasQuoted = true
      } else if byte == separator {
        endField()
        fieldWasQuoted = false
      } else if byte == newline || byte == carriageReturn {
        if byte == carriageReturn && index < end && body[index] == newline { index += 1 }
        endRecord()
        line += 1
        recordLine = line
      } else {
        field.append(byte)
      }
    }
    if inQuotes { return (records, recordLine) }
    if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord() }
    return (records, nil)
  }
}
