extension StringProtocol {
  /// The text with the five XML special characters replaced by their entities, safe inside an
  /// SVG or XML element or a quoted attribute. The modules' charts put user-supplied labels
  /// (territory and company names) in SVG: unescaped, a name with `<` would break or inject
  /// markup.
  public var xmlEscaped: String {
    var result = ""
    result.reserveCapacity(utf8.count)
    for character in self {
      switch character {
      case "&": result += "&amp;"
      case "<": result += "&lt;"
      case ">": result += "&gt;"
      case "\"": result += "&quot;"
      case "'": result += "&apos;"
      default: result.append(character)
      }
    }
    return result
  }
}
