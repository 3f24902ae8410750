extension StringProtocol {
  /// The text as an error message or a log line may echo it: a JSON string literal, in double
  /// quotes, with `"`, `\`, control characters and the HTML specials `<`, `>`, `&` escaped
  /// (`\u003c` …), and cut after 120 characters with "…".
  ///
  /// Error messages travel to terminals, log files and web pages: a client's text echoed raw
  /// could end a quoted value, carry terminal escape sequences (U+001B) or inject markup
  /// (`x"><svg onload=…>`). Every message that repeats a value the client sent uses this form.
  public var quoted: String {
    let limit = 120
    var result = "\""
    result.reserveCapacity(Swift.min(utf8.count, limit) + 2)
    var count = 0
    for scalar in unicodeScalars {
      if count == limit {
        result += "…"
        break
      }
      count += 1
      switch scalar {
      case "\"": result += "\\\""
      case "\\": result += "\\\\"
      case "\n": result += "\\n"
      case "\r": result += "\\r"
      case "\t": result += "\\t"
      case "<", ">", "&", "\u{7F}"..."\u{9F}", "\u{2028}", "\u{2029}":
        result += QuotedText.unicodeEscape(scalar)
      default:
        if scalar.value < 0x20 { result += QuotedText.unicodeEscape(scalar) } else { result.unicodeScalars.append(scalar) }
      }
    }
    return result + "\""
  }
}

/// The `\u001b` form both escapes write.
private enum QuotedText {
  static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
    let hex = String(scalar.value, radix: 16, uppercase: false)
    return "\\u" + String(repeating: "0", count: Swift.max(0, 4 - hex.count)) + hex
  }
}

extension String {
  /// The text with every control character (C0, DEL, C1) written as `\u001b` and the like, and
  /// everything else kept: for messages composed by a module, which may hold echoed input the
  /// module did not quote. Keeps tabs and new lines, which messages use for layout.
  public var controlCharactersEscaped: String {
    guard unicodeScalars.contains(where: { Self.isEscapedControl($0) }) else { return self }
    var result = ""
    for scalar in unicodeScalars {
      if Self.isEscapedControl(scalar) {
        result += QuotedText.unicodeEscape(scalar)
      } else {
        result.unicodeScalars.append(scalar)
      }
    }
    return result
  }

  private static func isEscapedControl(_ scalar: Unicode.Scalar) -> Bool {
    (scalar.value < 0x20 && scalar != "\n" && scalar != "\t") || (0x7F...0x9F).contains(scalar.value)
  }
}
