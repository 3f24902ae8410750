import CarbonDomain
import Foundation
import Testing

/// `JSONValue`: numbers kept as written and read with a correctly rounded conversion.
///
/// Why it exists: Foundation's JSONSerialization on this platform reads some decimals as a
/// neighbouring double. Among the ESCA examples' numbers, "15.341088000000001" read as
/// 15.341088 and "0.1200192000000003" as 0.12001920000000026 (measured 2026-12-03, Swift 6.3).
/// A request the host rewrote or converted through it reached the module with another number.
@Suite("JSONValue: exact numbers, strict syntax, faithful rewriting")
struct JSONValueTests {
  @Test func numbersKeepTheirTextAndConvertCorrectlyRounded() throws {
    let text = #"{"a":15.341088000000001,"b":[0.1200192000000003,-0,1E+2,-1.5e-7],"c":12345678901234567890}"#
    let value = try JSONValue(parsing: Array(text.utf8))
    #expect(String(decoding: value.serialized, as: UTF8.self) == text, "written back byte for byte")
    // The nearest doubles, not merely close ones: compared by their bits.
    #expect(value["a"]?.doubleValue?.bitPattern == (15.341088000000001 as Double).bitPattern)
    #expect(value["a"]?.doubleValue != 15.341088, "a different double")
    #expect(value["b"]?.elements?[0].doubleValue?.bitPattern == (0.1200192000000003 as Double).bitPattern)
    #expect(value["b"]?.elements?[2].doubleValue == 100)
    #expect(value["c"] == .number("12345678901234567890"), "a 64-bit integer beyond Double's precision keeps its digits")
  }

  @Test func syntaxErrorsSayWhatAndWhere() {
    for (text, message, line, column) in [
      ("{\"a\":1,}", "expected a member name", 1, 8),
      ("{\n  \"a\": 01}", "expected ',' or '}'", 2, 9),
      ("[1.]", "digits expected after '.'", 1, 4),
      ("[\"tab\there\"]", "control character", 1, 6),
      ("{\"a\":tru}", "expected true", 1, 6),
      ("[1] [2]", "unexpected text after", 1, 5),
      ("\"\\ud800\"", "followed by a low one", 1, 8),
      ("", "unexpected end", 1, 1),
    ] {
      do {
        _ = try JSONValue(parsing: Array(text.utf8))
        Issue.record("\(text.debugDescription) parsed")
      } catch {
        #expect(error.message.contains(message) && error.line == line && error.column == column, "\(text.debugDescription): \(error)")
      }
    }
    let deep = String(repeating: "[", count: JSONValue.maximumDepth + 1) + String(repeating: "]", count: JSONValue.maximumDepth + 1)
    #expect(throws: JSONValue.SyntaxError.self) { try JSONValue(parsing: Array(deep.utf8)) }
  }

  @Test func stringsEscapesAndMembers() throws {
    var value = try JSONValue(parsing: Array(#"{"s":"é\u00e9\ud83c\udf3e\n\"","actor":"x","actor":"y","n":null}"#.utf8))
    #expect(value["s"] == .string("éé🌾\n\""))
    #expect(value["actor"] == .string("y"), "the last of duplicate keys")
    value.set("actor", to: .string("cn:coop-a"))
    value.removeMember("n")
    value.set("added", to: .bool(true))
    #expect(String(decoding: value.serialized, as: UTF8.self) == #"{"s":"éé🌾\n\"","actor":"cn:coop-a","added":true}"#)
    var control: [UInt8] = []
    JSONValue.writeString("a\u{01}b", into: &control)
    #expect(String(decoding: control, as: UTF8.self) == #""a\u0001b""#)
  }
}
