/// A JSON document as it was written: each number keeps its literal text and object members
/// keep their order.
///
/// Why not Foundation's `JSONSerialization`: on Linux it parses some decimals to a neighbouring
/// double (`15.341088000000001` reads as `15.341088`; measured on this toolchain, see
/// `JSONValueTests`), so a request the host rewrites (the caller's identity, a renamed field)
/// or converts to protobuf would reach the module with a different number. Here a number is
/// converted only when a caller asks for it, by Swift's correctly rounded `Double(String)`, and
/// a document written back keeps every number exactly as the client wrote it.
public enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  /// A number as written (validated against JSON's grammar).
  case number(String)
  case string(String)
  case array([JSONValue])
  /// Members in document order (a duplicate key keeps both; `subscript` finds the last).
  case object([Member])

  /// One member of an object.
  public struct Member: Sendable, Equatable {
    public var key: String
    public var value: JSONValue
    public init(_ key: String, _ value: JSONValue) {
      self.key = key
      self.value = value
    }
  }

  /// Why a text is not JSON, and where (1-based line and column).
  public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let line: Int
    public let column: Int
    public var description: String { "\(message) at line \(line), column \(column)" }
  }

  /// Nesting deeper than this is refused, so that a hostile document cannot exhaust the stack.
  public static let maximumDepth = 512

  /// Parses a complete JSON text (RFC 8259; any value at the top, whitespace around it).
  public init(parsing bytes: some Collection<UInt8>) throws(SyntaxError) {
    var parser = Parser(bytes: Array(bytes))
    parser.skipWhitespace()
    self = try parser.value(depth: 0)
    parser.skipWhitespace()
    guard parser.isAtEnd else { throw parser.error("unexpected text after the JSON value") }
  }

  // MARK: - Reading

  /// The value of the last member named `key` of an object; nil otherwise.
  public subscript(key: String) -> JSONValue? {
    guard case .object(let members) = self else { return nil }
    return members.last { $0.key == key }?.value
  }

  /// The number as a Double (correctly rounded), or nil when this is not a number.
  public var doubleValue: Double? {
    guard case .number(let literal) = self else { return nil }
    return Double(literal)
  }

  /// The object's members, or nil when this is not an object.
  public var members: [Member]? {
    guard case .object(let members) = self else { return nil }
    return members
  }

  /// The array's elements, or nil when this is not an array.
  public var elements: [JSONValue]? {
    guard case .array(let elements) = self else { return nil }
    return elements
  }

  // MARK: - Changing

  /// Sets the member `key` of an object (replacing every member of that name, in place of the
  /// first one; appended when there is none). No effect on other values.
  public mutating func set(_ key: String, to value: JSONValue) {
    guard case .object(var members) = self else { return }
    if let first = members.firstIndex(where: { $0.key == key }) {
      members[first].value = value
      members = members.enumerated().filter { $0.offset == first || $0.element.key != key }.map(\.element)
    } else {
      members.append(Member(key, value))
    }
    self = .object(members)
  }

  /// Removes every member `key` of an object. No effect on other values.
  public mutating func removeMember(_ key: String) {
    guard case .object(let members) = self else { return }
    self = .object(members.filter { $0.key != key })
  }

  // MARK: - Writing

  /// The value as compact JSON text; numbers exactly as they were read.
  public var serialized: [UInt8] {
    var out: [UInt8] = []
    write(into: &out)
    return out
  }

  private func write(into out: inout [UInt8]) {
    switch self {
    case .null: out += Array("null".utf8)
    case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
    case .number(let literal): out += Array(literal.utf8)
    case .string(let text): Self.writeString(text, into: &out)
    case .array(let elements):
      out.append(UInt8(ascii: "["))
      for (index, element) in elements.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        element.write(into: &out)
      }
      out.append(UInt8(ascii: "]"))
    case .object(let members):
      out.append(UInt8(ascii: "{"))
      for (index, member) in members.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ",")) }
        Self.writeString(member.key, into: &out)
        out.append(UInt8(ascii: ":"))
        member.value.write(into: &out)
      }
      out.append(UInt8(ascii: "}"))
    }
  }

  /// A JSON string literal (quotes, backslashes and control characters escaped).
  public static func writeString(_ text: String, into out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "\""): out += Array("\\\"".utf8)
      case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
      case UInt8(ascii: "\n"): out += Array("\\n".utf8)
      case UInt8(ascii: "\r"): out += Array("\\r".utf8)
      case UInt8(ascii: "\t"): out += Array("\\t".utf8)
      case 0..<0x20:
        let hex = Array("0123456789abcdef".utf8)
        out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
      default: out.append(byte)
      }
    }
    out.append(UInt8(ascii: "\""))
  }

  // MARK: - Parsing

  private struct Parser {
    let bytes: [UInt8]
    var index = 0

    var isAtEnd: Bool { index >= bytes.count }
    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    func error(_ message: String) -> SyntaxError {
      var line = 1
      var column = 1
      for byte in bytes[..<min(index, bytes.count)] {
        if byte == UInt8(ascii: "\n") {
          line += 1
          column = 1
        } else if byte & 0xC0 != 0x80 {
          column += 1
        }
      }
      return SyntaxError(message: message, line: line, column: column)
    }

    mutating func skipWhitespace() {
      while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
      guard depth < JSONValue.maximumDepth else { throw error("nested deeper than \(JSONValue.maximumDepth) levels") }
      guard let byte = current else { throw error("unexpected end of the text, a value was expected") }
      switch byte {
      case UInt8(ascii: "{"): return try object(depth: depth)
      case UInt8(ascii: "["): return try array(depth: depth)
      case UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "t"): return try literal("true", .bool(true))
      case UInt8(ascii: "f"): return try literal("false", .bool(false))
      case UInt8(ascii: "n"): return try literal("null", .null)
      case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
      default: throw error("unexpected character \(Self.show(byte)), a value was expected")
      }
    }

    static func show(_ byte: UInt8) -> String {
      byte >= 0x20 && byte < 0x7F ? "'\(Character(UnicodeScalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    mutating func literal(_ word: String, _ value: JSONValue) throws(SyntaxError) -> JSONValue {
      let expected = Array(word.utf8)
      guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected else {
        throw error("invalid literal, expected \(word)")
      }
      index += expected.count
      return value
    }

    mutating func object(depth: Int) throws(SyntaxError) -> JSONValue {
      index += 1
      var members: [Member] = []
      skipWhitespace()
      if current == UInt8(ascii: "}") {
        index += 1
        return .object(members)
      }
      while true {
        skipWhitespace()
        guard current == UInt8(ascii: "\"") else { throw error("expected a member name in double quotes") }
        let key = try string()
        skipWhitespace()
        guard current == UInt8(ascii: ":") else { throw error("expected ':' after the member name") }
        index += 1
        skipWhitespace()
        members.append(Member(key, try value(depth: depth + 1)))
        skipWhitespace()
        switch current {
        case UInt8(ascii: ","): index += 1
        case UInt8(ascii: "}"):
          index += 1
          return .object(members)
        default: throw error("expected ',' or '}' in an object")
        }
      }
    }

    mutating func array(depth: Int) throws(SyntaxError) -> JSONValue {
      index += 1
      var elements: [JSONValue] = []
      skipWhitespace()
      if current == UInt8(ascii: "]") {
        index += 1
        return .array(elements)
      }
      while true {
        skipWhitespace()
        elements.append(try value(depth: depth + 1))
        skipWhitespace()
        switch current {
        case UInt8(ascii: ","): index += 1
        case UInt8(ascii: "]"):
          index += 1
          return .array(elements)
        default: throw error("expected ',' or ']' in an array")
        }
      }
    }

    mutating func number() throws(SyntaxError) -> String {
      let start = index
      func digits() -> Int {
        let first = index
        while let byte = current, byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") { index += 1 }
        return index - first
      }
      if current == UInt8(ascii: "-") { index += 1 }
      if current == UInt8(ascii: "0") {
        index += 1
      } else if digits() == 0 {
        throw error("invalid number")
      }
      if current == UInt8(ascii: ".") {
        index += 1
        guard digits() > 0 else { throw error("invalid number: digits expected after '.'") }
      }
      if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
        index += 1
        if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
        guard digits() > 0 else { throw error("invalid number: digits expected in the exponent") }
      }
      return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func hex4() throws(SyntaxError) -> UInt32 {
      guard bytes.count - index >= 4 else { throw error("truncated \\u escape") }
      var value: UInt32 = 0
      for _ in 0..<4 {
        let byte = bytes[index]
        let digit: UInt8
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
        default: throw error("invalid \\u escape")
        }
        value = value << 4 | UInt32(digit)
        index += 1
      }
      return value
    }

    mutating func string() throws(SyntaxError) -> String {
      index += 1
      var out: [UInt8] = []
      while true {
        guard let byte = current else { throw error("unterminated string") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""):
          guard let text = String(validating: out, as: UTF8.self) else { throw error("a string is not valid UTF-8") }
          return text
        case UInt8(ascii: "\\"):
          guard let escape = current else { throw error("unterminated string") }
          index += 1
          switch escape {
          case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
          case UInt8(ascii: "b"): out.append(0x08)
          case UInt8(ascii: "f"): out.append(0x0C)
          case UInt8(ascii: "n"): out.append(0x0A)
          case UInt8(ascii: "r"): out.append(0x0D)
          case UInt8(ascii: "t"): out.append(0x09)
          case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
              guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw error("a high surrogate must be followed by a low one")
              }
              index += 2
              let low = try hex4()
              guard (0xDC00...0xDFFF).contains(low) else { throw error("invalid low surrogate") }
              scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid \\u escape (lone surrogate)") }
            out += Array(String(Character(unicode)).utf8)
          default: throw error("invalid escape \\\(Self.show(escape))")
          }
        case 0..<0x20:
          index -= 1  // point at the character itself
          throw error("a control character must be escaped in a string")
        default: out.append(byte)
        }
      }
    }
  }
}
