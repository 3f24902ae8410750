/// RFC 4180 CSV reading for the form's export (writing is the plugin kit's `CSVWriter`): ',' or ';' delimiter (detected on
/// the header line), quoted fields with doubled quotes and line breaks inside quotes.
enum CSVCodec {
  /// A parsed record with the line it starts on (1-based, in the file).
  struct Record {
    let line: Int
    let fields: [String]
  }

  /// The delimiter of a file: ';' when the header line has more ';' than ','.
  static func delimiter(of text: Substring) -> Character {
    let header = text.prefix { $0 != "\n" && $0 != "\r\n" }
    return header.filter { $0 == ";" }.count > header.filter { $0 == "," }.count ? ";" : ","
  }

  /// Splits a CSV text into records; nil when a quote is never closed.
  static func parse(_ text: String) -> (records: [Record], unterminatedQuoteLine: Int?) {
    var body = Substring(text)
    if body.first == "\u{FEFF}" { body = body.dropFirst() }
    let separator = delimiter(of: body)
    var records: [Record] = []
    var fields: [String] = []
    var field = ""
    var inQuotes = false
    var line = 1
    var recordLine = 1
    var fieldWasQuoted = false
    var iterator = body.makeIterator()
    var pending: Character? = nil
    func endRecord() {
      fields.append(field)
      if !(fields.count == 1 && fields[0].isEmpty && !fieldWasQuoted) { records.append(Record(line: recordLine, fields: fields)) }
      fields = []
      field = ""
      fieldWasQuoted = false
    }
    while let c = pending ?? iterator.next() {
      pending = nil
      if inQuotes {
        if c == "\"" {
          if let next = iterator.next() {
            if next == "\"" { field.append("\"") } else { inQuotes = false; pending = next }
          } else {
            inQuotes = false
          }
        } else {
          if c == "\n" || c == "\r\n" { line += 1 }
          field.append(c == "\r\n" ? "\n" : c)
        }
      } else if c == "\"" && field.isEmpty {
        inQuotes = true
        fieldWasQuoted = true
      } else if c == separator {
        fields.append(field)
        field = ""
        fieldWasQuoted = false
      } else if c == "\n" || c == "\r\n" || c == "\r" {
        endRecord()
        line += 1
        recordLine = line
      } else {
        field.append(c)
      }
    }
    if inQuotes { return (records, recordLine) }
    if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord() }
    return (records, nil)
  }
}
