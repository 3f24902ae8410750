import CarbonDomain
import Testing

/// The platform's one CSV reader (`CSVReader`), on the rules of RFC 4180 §2 (quoted where a test
/// proves one of them) and the variants French spreadsheets write.
@Suite("CSV reader: RFC 4180 and spreadsheet variants")
struct CSVReaderTests {
  private func fields(_ text: String, _ reader: CSVReader = CSVReader()) throws -> [[String]] {
    try reader.read(text).records.map(\.fields)
  }

  /// RFC 4180 §2.1: "Each record is located on a separate line, delimited by a line break (CRLF)."
  /// §2.2: "The last record in the file may or may not have an ending line break."
  @Test func recordsEndAtAnyLineBreakAndTheLastMayHaveNone() throws {
    #expect(try fields("aaa,bbb,ccc\r\nzzz,yyy,xxx\r\n") == [["aaa", "bbb", "ccc"], ["zzz", "yyy", "xxx"]])
    #expect(try fields("aaa,bbb,ccc\nzzz,yyy,xxx") == [["aaa", "bbb", "ccc"], ["zzz", "yyy", "xxx"]])
    #expect(try fields("a,b\rc,d\r") == [["a", "b"], ["c", "d"]], "a lone CR (old Mac spreadsheets)")
  }

  /// §2.6: "Fields containing line breaks (CRLF), double quotes, and commas should be enclosed in
  /// double-quotes." §2.7: "a double-quote appearing inside a field must be escaped by preceding
  /// it with another double quote."
  @Test func quotedFieldsHoldDelimitersLineBreaksAndQuotes() throws {
    let document = try CSVReader().read("\"aaa\",\"b\r\nbb\",\"ccc\"\nzzz,\"y\"\"y\",\"x,x\"\nlast,1,2\n")
    #expect(document.records.map(\.fields) == [["aaa", "b\nbb", "ccc"], ["zzz", "y\"y", "x,x"], ["last", "1", "2"]])
    #expect(document.records.map(\.line) == [1, 3, 4], "a record's line is where it starts; the quoted break counts")
  }

  /// §2.5: "If fields are not enclosed with double quotes, then double quotes may not appear inside
  /// the fields" — a spreadsheet writes them anyway (`5" pipe`): read as written, not as a quote.
  @Test func aQuoteInsideAnUnquotedFieldIsData() throws {
    #expect(try fields("size,item\n5\" pipe,x\n") == [["size", "item"], ["5\" pipe", "x"]])
  }

  @Test func emptyFieldsAreKept() throws {
    #expect(try fields("a,,c\n,,\n\"\",x,\n") == [["a", "", "c"], ["", "", ""], ["", "x", ""]])
  }

  @Test func theByteOrderMarkIsDroppedAndMultiByteTextKept() throws {
    #expect(try fields("\u{FEFF}commune;surface\nSaint-Étienne;12,5\n") == [["commune", "surface"], ["Saint-Étienne", "12,5"]])
  }

  @Test func theDelimiterIsDetectedOnTheFirstRecord() throws {
    let french = try CSVReader().read("nom;surface;note\nA;1,5;\"x; y\"\n")
    #expect(french.delimiter == ";")
    #expect(french.records.map(\.fields) == [["nom", "surface", "note"], ["A", "1,5", "x; y"]])
    #expect(try CSVReader().read("a,b;c\n").delimiter == ",", "more commas than semicolons")
    #expect(try CSVReader().read("a;b;c,d\n").delimiter == ";")
    #expect(try CSVReader(delimiter: .comma).read("a;b\n").records.map(\.fields) == [["a;b"]], "a fixed delimiter is not guessed")
    #expect(try CSVReader(comments: true).read("# source, licence, year\nx;y\n").delimiter == ";", "comments do not vote")
  }

  @Test func blankLinesAreSkippedAndCommentsKeptApart() throws {
    let document = try CSVReader(comments: true).read("# version: 2 \n\n  \t\ncode,value\n#\tsource: x\na,1\n\n")
    #expect(document.comments == ["version: 2", "source: x"])
    #expect(document.records == [.init(line: 4, fields: ["code", "value"]), .init(line: 6, fields: ["a", "1"])])
    #expect(try fields("#tag,1\n") == [["#tag", "1"]], "without comments, '#' is data")
    #expect(try fields("\"\"\n") == [[""]], "a quoted empty field is a record, not a blank line")
  }

  @Test func anUnclosedQuoteNamesTheLineItOpenedOn() {
    #expect(throws: CSVReader.ParseError(line: 2, message: "a quoted field opened on this line is never closed")) {
      try CSVReader().read("a,b\n1,\"open\n2,3\n")
    }
  }

  @Test func referenceTablesCheckTheFieldCountPerRow() {
    #expect(throws: ReferenceTable.ParseError(line: 3, message: "expected 2 fields, found 3")) {
      try ReferenceTable(csv: "code,value\na,1\nb,2,3\n")
    }
    #expect(throws: ReferenceTable.ParseError(line: 1, message: "no header row")) { try ReferenceTable(csv: "# only a comment\n") }
  }
}
