import CarbonDomain
import Foundation

/// Text and numbers as the modules' SVG charts write them.
///
/// Charts carry client-supplied labels (territory, company and project names). Every piece of
/// text goes through ``escaped(_:)``, which drops the characters XML 1.0 cannot carry (U+0001,
/// U+0008, U+001B …: one of them makes the whole document ill-formed) and escapes markup, so a
/// label can neither break the SVG nor inject elements.
public enum SVGText {
  /// `text` safe inside an SVG element or quoted attribute: XML-invalid control characters
  /// removed, `& < > " '` escaped.
  public static func escaped(_ text: String) -> String {
    let kept = text.unicodeScalars.filter { scalar in
      switch scalar.value {
      case 0x9, 0xA, 0xD, 0x20...0xFFFD, 0x10000...0x10FFFF: return true
      default: return false
      }
    }
    return String(String.UnicodeScalarView(kept)).xmlEscaped
  }

  /// A coordinate or length: at most two decimals, no exponent; a non-finite value writes 0
  /// (a chart never carries `nan`, which renderers reject).
  public static func coordinate(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    guard rounded.isFinite, abs(rounded) < 1e12 else { return "0" }
    if rounded == rounded.rounded() { return String(Int64(rounded)) }
    var text = String(format: "%.2f", rounded)
    while text.hasSuffix("0") { text.removeLast() }  // "12.50" → "12.5" (never all: rounded is not integral)
    return text
  }

  /// A number rounded to `decimals`, digits grouped by three with a narrow no-break space as
  /// French typography writes them (`-2 060 617`), with a decimal comma when `french`, else a
  /// point and a comma-free grouping by thin space as well.
  public static func grouped(_ value: Double, decimals: Int = 0, french: Bool = true) -> String {
    guard value.isFinite else { return "–" }
    let text = String(format: "%.\(max(0, min(decimals, 6)))f", value)
    let negative = text.hasPrefix("-")
    let unsigned = negative ? String(text.dropFirst()) : text
    let parts = unsigned.split(separator: ".", maxSplits: 1)
    let integer = String(parts[0])
    var groupedInteger = ""
    for (index, digit) in integer.enumerated() {
      if index > 0 && (integer.count - index) % 3 == 0 { groupedInteger += "\u{202F}" }
      groupedInteger.append(digit)
    }
    let fraction = parts.count > 1 ? (french ? "," : ".") + parts[1] : ""
    let result = groupedInteger + fraction
    let isZero = result.allSatisfy { "0,.\u{202F}".contains($0) }
    return (negative && !isZero ? "-" : "") + result
  }

  /// The approximate width of `text` in a sans-serif font of `fontSize` px: 0.6 em per
  /// character, which over-estimates common text a little so that layouts leave room.
  public static func estimatedWidth(_ text: String, fontSize: Double) -> Double {
    Double(text.count) * fontSize * 0.6
  }

  /// `text` broken at spaces into lines of at most `width` px at `fontSize` (a word longer than
  /// a line is cut). Never loses a character other than the spaces where it breaks.
  public static func wrapped(_ text: String, width: Double, fontSize: Double) -> [String] {
    let perLine = max(Int(width / (fontSize * 0.6)), 4)
    var lines: [String] = []
    var current = ""
    for word in text.split(separator: " ", omittingEmptySubsequences: true) {
      var word = Substring(word)
      while word.count > perLine {
        if !current.isEmpty { lines.append(current); current = "" }
        lines.append(String(word.prefix(perLine)))
        word = word.dropFirst(perLine)
      }
      if current.isEmpty {
        current = String(word)
      } else if current.count + 1 + word.count <= perLine {
        current += " " + word
      } else {
        lines.append(current)
        current = String(word)
      }
    }
    if !current.isEmpty { lines.append(current) }
    return lines.isEmpty ? [""] : lines
  }
}
