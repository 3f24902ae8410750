/// The report's two SVG charts, as plain SVG 1.1 text (no script, no external resource).
enum SVGCharts {
  /// Category colours and labels, in table order.
  static let categories: [(label: String, color: String)] = [
    ("A remonter COP N", "#2e7d32"), ("A travailler COP N+1", "#f9a825"),
    ("Hors COP, à examiner en CRTE", "#1565c0"), ("Non remontés", "#9e9e9e"),
  ]

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }

  /// Stacked bars: one bar per department (without the TOTAL row), one segment per category.
  static func departments(_ rows: [Carbon_Cop_V1_DepartmentRow]) -> String {
    let bars = rows.filter { $0.department != "TOTAL" }
    let width = max(860, 120 + bars.count * 110), height = 420, plotTop = 40, plotHeight = 300
    let maximum = max(1, bars.map { Int($0.projectCount) }.max() ?? 1)
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"12\">\n"
    svg += "<title>Projets par département et catégorie</title>\n"
    svg += "<line x1=\"60\" y1=\"\(plotTop + plotHeight)\" x2=\"\(width - 20)\" y2=\"\(plotTop + plotHeight)\" stroke=\"#333\"/>\n"
    for (index, row) in bars.enumerated() {
      let x = 80 + index * 110
      var y = Double(plotTop + plotHeight)
      let counts = [row.carryCount, row.workNextRoundCount, row.outsideCopCrteCount, row.notCarriedCount]
      for (slot, count) in counts.enumerated() where count > 0 {
        let h = Double(count) / Double(maximum) * Double(plotHeight)
        y -= h
        svg += "<rect x=\"\(x)\" y=\(quote(y)) width=\"60\" height=\(quote(h)) fill=\"\(categories[slot].color)\"><title>\(escape(row.name)): \(count)</title></rect>\n"
      }
      svg += "<text x=\"\(x + 30)\" y=\(quote(y - 4)) text-anchor=\"middle\">\(row.projectCount)</text>\n"
      svg += "<text x=\"\(x + 30)\" y=\"\(plotTop + plotHeight + 16)\" text-anchor=\"middle\">\(escape(row.name)) (\(escape(row.department)))</text>\n"
    }
    for (slot, category) in categories.enumerated() {
      let x = 20 + slot * 210
      svg += "<rect x=\"\(x)\" y=\"\(height - 40)\" width=\"12\" height=\"12\" fill=\"\(category.color)\"/>"
      svg += "<text x=\"\(x + 16)\" y=\"\(height - 30)\">\(escape(category.label))</text>\n"
    }
    return svg + "</svg>\n"
  }

  /// Horizontal bars of the lever activation table with shares.
  static func levers(_ levers: [Carbon_Cop_V1_LeverCount]) -> String {
    let rowHeight = 22, left = 300, barWidth = 400
    let height = 50 + levers.count * rowHeight
    let maximum = max(1, levers.map { Int($0.projectCount) }.max() ?? 1)
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(left + barWidth + 120)\" height=\"\(height)\" font-family=\"sans-serif\" font-size=\"12\">\n"
    svg += "<title>Activation des leviers (COP N + N+1)</title>\n"
    for (index, lever) in levers.enumerated() {
      let y = 30 + index * rowHeight
      let w = Double(lever.projectCount) / Double(maximum) * Double(barWidth)
      svg += "<text x=\"\(left - 8)\" y=\"\(y + 14)\" text-anchor=\"end\">\(escape(lever.lever))</text>"
      // The two buckets are not levers: grey.
      let bucket = lever.lever == RoundReport.otherLevers || lever.lever == RoundReport.notSpecified
      svg += "<rect x=\"\(left)\" y=\"\(y)\" width=\(quote(w)) height=\"16\" fill=\"\(bucket ? "#9e9e9e" : "#2e7d32")\"/>"
      svg += "<text x=\(quote(Double(left) + w + 6)) y=\"\(y + 14)\">\(lever.projectCount) (\(percent(lever.shareLeverBasePercent)) %)</text>\n"
    }
    return svg + "</svg>\n"
  }

  private static func quote(_ value: Double) -> String {
    "\"" + String(Int((value * 10).rounded())) .insertingDecimal() + "\""
  }

  /// A share rounded to 0.1 for display only (the response keeps the unrounded value).
  static func percent(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10),\(abs(tenths % 10))"
  }
}

extension String {
  /// "1234" (tenths) → "123.4".
  fileprivate func insertingDecimal() -> String {
    let negative = hasPrefix("-")
    var digits = negative ? String(dropFirst()) : self
    while digits.count < 2 { digits = "0" + digits }
    return (negative ? "-" : "") + digits.dropLast() + "." + digits.suffix(1)
  }
}
