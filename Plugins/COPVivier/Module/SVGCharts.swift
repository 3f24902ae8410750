/// The report's SVG charts, as plain SVG 1.1 text (no script, no external resource), in French
/// like the seed. Every chart carries a visible title and a source line naming where its data
/// come from and the data version; legends wrap onto new lines instead of being cut.
enum SVGCharts {
  /// Category colours and labels, in table order (the seed's four categories).
  static let categories: [(label: String, color: String)] = [
    ("À remonter COP N", "#2e7d32"), ("À travailler COP N+1", "#f9a825"),
    ("Hors COP, à examiner en CRTE", "#1565c0"), ("Non remontés", "#9e9e9e"),
  ]
  /// Colours cycled over thematics.
  static let palette = ["#1b5e20", "#0277bd", "#f57f17", "#6a1b9a", "#c62828", "#00838f", "#558b2f", "#4e342e", "#ad1457", "#283593", "#ef6c00", "#757575"]

  /// Font size of the chart text, px; `textWidth` estimates a string's width from it.
  static let fontSize = 12.0

  /// Escapes text for SVG content and attributes.
  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }

  /// A generous estimate of the rendered width of `text` in the chart font (sans-serif):
  /// 0.62 em per character, so that layout never cuts a label.
  static func textWidth(_ text: String, size: Double = fontSize) -> Double { Double(text.count) * size * 0.62 }

  /// The frame of a chart: title, source line, plot, legend; builds the SVG document.
  struct Frame {
    /// Title shown at the top (and as the document's `<title>`).
    let title: String
    /// Source line shown at the bottom, e.g. "Source : … — données cop-hdf-2024.2".
    let source: String
    /// Width of the document, px (widened to fit the title and source lines).
    var width: Double
    /// Body (plot and legend) already placed below `top`.
    var body = ""
    /// Height of the title band, px.
    let top = 44.0

    init(title: String, source: String, width: Double) {
      self.title = title
      self.source = source
      // Whole pixels, so that the PNG has exactly the declared size.
      self.width = max(width, SVGCharts.textWidth(title, size: 15) + 40, SVGCharts.textWidth(source, size: 10) + 40).rounded(.up)
    }

    /// Places a legend of (label, colour) items from `y`, wrapping to new lines within the
    /// width; returns the y after it.
    mutating func legend(_ items: [(label: String, color: String)], at y: Double) -> Double {
      var x = 20.0, line = y
      for item in items {
        let itemWidth = 18 + SVGCharts.textWidth(item.label) + 18
        if x + itemWidth > width - 10 && x > 20 {
          x = 20
          line += 20
        }
        body += "<rect x=\(q(x)) y=\(q(line)) width=\"12\" height=\"12\" fill=\"\(item.color)\"/>"
        body += "<text x=\(q(x + 16)) y=\(q(line + 10))>\(SVGCharts.escape(item.label))</text>\n"
        x += itemWidth
      }
      return line + 20
    }

    /// The SVG document, `height` being the y where the body ends.
    func document(height: Double) -> String {
      let total = (height + 30).rounded(.up)
      var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\(q(width)) height=\(q(total)) viewBox=\"0 0 \(SVGCharts.number(width)) \(SVGCharts.number(total))\" font-family=\"sans-serif\" font-size=\"12\">\n"
      svg += "<title>\(SVGCharts.escape(title))</title>\n"
      svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
      svg += "<text x=\"20\" y=\"26\" font-size=\"15\" font-weight=\"bold\">\(SVGCharts.escape(title))</text>\n"
      svg += body
      svg += "<text x=\"20\" y=\(q(total - 10)) font-size=\"10\" fill=\"#555555\">\(SVGCharts.escape(source))</text>\n"
      return svg + "</svg>\n"
    }
  }

  /// Stacked bars: one bar per department (without the TOTAL row), one segment per category.
  static func departments(_ rows: [Carbon_Cop_V1_DepartmentRow], source: String) -> String {
    let bars = rows.filter { $0.department != "TOTAL" }
    let labels = bars.map { "\($0.name) (\($0.department))" }
    let slot = max(110, (labels.map { textWidth($0) }.max() ?? 0) + 20)
    var frame = Frame(title: "Projets par département et par catégorie", source: source, width: 80 + Double(bars.count) * slot)
    let plotTop = frame.top + 20, plotHeight = 260.0, baseline = plotTop + plotHeight
    let maximum = max(1, bars.map { Int($0.projectCount) }.max() ?? 1)
    frame.body += "<line x1=\"60\" y1=\(q(baseline)) x2=\(q(frame.width - 20)) y2=\(q(baseline)) stroke=\"#333333\"/>\n"
    for (index, row) in bars.enumerated() {
      let center = 60 + slot * (Double(index) + 0.5)
      var y = baseline
      let counts = [row.carryCount, row.workNextRoundCount, row.outsideCopCrteCount, row.notCarriedCount]
      for (category, count) in counts.enumerated() where count > 0 {
        let h = Double(count) / Double(maximum) * plotHeight
        y -= h
        frame.body += "<rect x=\(q(center - 30)) y=\(q(y)) width=\"60\" height=\(q(h)) fill=\"\(categories[category].color)\"><title>\(escape(row.name)) : \(count)</title></rect>\n"
      }
      frame.body += "<text x=\(q(center)) y=\(q(y - 4)) text-anchor=\"middle\">\(row.projectCount)</text>\n"
      frame.body += "<text x=\(q(center)) y=\(q(baseline + 16)) text-anchor=\"middle\">\(escape(labels[index]))</text>\n"
    }
    let end = frame.legend(categories, at: baseline + 34)
    return frame.document(height: end)
  }

  /// 100 % stacked bars: the category shares within each department and in the region (the
  /// seed's « Poids en % par catégorie de projet dans chaque département et en région »).
  static func departmentShares(_ rows: [Carbon_Cop_V1_DepartmentRow], source: String) -> String {
    let labels = rows.map { $0.department == "TOTAL" ? "Région" : "\($0.name) (\($0.department))" }
    let slot = max(110, (labels.map { textWidth($0) }.max() ?? 0) + 20)
    var frame = Frame(
      title: "Poids en % par catégorie de projet dans chaque département et en région", source: source,
      width: 100 + Double(rows.count) * slot)
    let plotTop = frame.top + 20, plotHeight = 260.0, baseline = plotTop + plotHeight
    for tick in stride(from: 0, through: 100, by: 25) {
      let y = baseline - Double(tick) / 100 * plotHeight
      frame.body += "<line x1=\"60\" y1=\(q(y)) x2=\(q(frame.width - 20)) y2=\(q(y)) stroke=\"#dddddd\"/>"
      frame.body += "<text x=\"54\" y=\(q(y + 4)) text-anchor=\"end\">\(tick) %</text>\n"
    }
    for (index, row) in rows.enumerated() {
      let center = 80 + slot * (Double(index) + 0.5)
      var y = baseline
      let shares = [row.carrySharePercent, row.workNextRoundSharePercent, row.outsideCopCrteSharePercent, row.notCarriedSharePercent]
      for (category, share) in shares.enumerated() where share > 0 {
        let h = share / 100 * plotHeight
        y -= h
        frame.body += "<rect x=\(q(center - 30)) y=\(q(y)) width=\"60\" height=\(q(h)) fill=\"\(categories[category].color)\"><title>\(escape(labels[index])) : \(percent(share)) %</title></rect>"
        if h >= 14 {
          frame.body += "<text x=\(q(center)) y=\(q(y + h / 2 + 4)) text-anchor=\"middle\" fill=\"#ffffff\">\(percent(share)) %</text>"
        }
        frame.body += "\n"
      }
      frame.body += "<text x=\(q(center)) y=\(q(baseline + 16)) text-anchor=\"middle\">\(escape(labels[index]))</text>\n"
    }
    let end = frame.legend(categories, at: baseline + 34)
    return frame.document(height: end)
  }

  /// 100 % stacked bars of the thematics within each department (the seed's « De nombreux
  /// projets sur l'eau dans la Somme et l'Oise (env. 20 %) »).
  static func departmentThematics(
    _ cells: [Carbon_Cop_V1_DepartmentThematicCell], departments: [Carbon_Cop_V1_DepartmentRow], source: String
  ) -> String {
    var thematics: [String] = []
    for cell in cells where !thematics.contains(cell.thematic) { thematics.append(cell.thematic) }
    thematics.sort()
    let color = Dictionary(uniqueKeysWithValues: thematics.enumerated().map { ($1, palette[$0 % palette.count]) })
    let bars = departments.filter { $0.department != "TOTAL" }
    let labels = bars.map { "\($0.name) (\($0.department))" }
    let slot = max(110, (labels.map { textWidth($0) }.max() ?? 0) + 20)
    var frame = Frame(
      title: "Répartition des projets par thématique dans chaque département (%)", source: source,
      width: 100 + Double(bars.count) * slot)
    let plotTop = frame.top + 20, plotHeight = 260.0, baseline = plotTop + plotHeight
    for tick in stride(from: 0, through: 100, by: 25) {
      let y = baseline - Double(tick) / 100 * plotHeight
      frame.body += "<line x1=\"60\" y1=\(q(y)) x2=\(q(frame.width - 20)) y2=\(q(y)) stroke=\"#dddddd\"/>"
      frame.body += "<text x=\"54\" y=\(q(y + 4)) text-anchor=\"end\">\(tick) %</text>\n"
    }
    for (index, department) in bars.enumerated() {
      let center = 80 + slot * (Double(index) + 0.5)
      var y = baseline
      for cell in cells where cell.department == department.department && cell.shareOfDepartmentPercent > 0 {
        let h = cell.shareOfDepartmentPercent / 100 * plotHeight
        y -= h
        let name = cell.thematic.isEmpty ? "Non renseignée" : cell.thematic
        frame.body += "<rect x=\(q(center - 30)) y=\(q(y)) width=\"60\" height=\(q(h)) fill=\"\(color[cell.thematic] ?? "#757575")\"><title>\(escape(name)) : \(cell.projectCount) (\(percent(cell.shareOfDepartmentPercent)) %)</title></rect>"
        if h >= 14 {
          frame.body += "<text x=\(q(center)) y=\(q(y + h / 2 + 4)) text-anchor=\"middle\" fill=\"#ffffff\">\(percent(cell.shareOfDepartmentPercent)) %</text>"
        }
        frame.body += "\n"
      }
      frame.body += "<text x=\(q(center)) y=\(q(baseline + 16)) text-anchor=\"middle\">\(escape(labels[index]))</text>\n"
    }
    let end = frame.legend(thematics.map { ($0.isEmpty ? "Non renseignée" : $0, color[$0] ?? "#757575") }, at: baseline + 34)
    return frame.document(height: end)
  }

  /// Horizontal bars of the lever activation table with shares.
  static func levers(_ levers: [Carbon_Cop_V1_LeverCount], source: String) -> String {
    let rowHeight = 22.0, barWidth = 400.0
    let left = max(120, (levers.map { textWidth($0.lever) }.max() ?? 0) + 20)
    var frame = Frame(
      title: "Activation des leviers (projets à remonter + à travailler, levier principal)", source: source,
      width: left + barWidth + 130)
    let maximum = max(1, levers.map { Int($0.projectCount) }.max() ?? 1)
    var y = frame.top + 10
    for lever in levers {
      let w = Double(lever.projectCount) / Double(maximum) * barWidth
      frame.body += "<text x=\(q(left - 8)) y=\(q(y + 14)) text-anchor=\"end\">\(escape(lever.lever))</text>"
      // The two buckets are not levers: grey.
      let bucket = lever.lever == RoundReport.otherLevers || lever.lever == RoundReport.notSpecified
      frame.body += "<rect x=\(q(left)) y=\(q(y)) width=\(q(w)) height=\"16\" fill=\"\(bucket ? "#9e9e9e" : "#2e7d32")\"/>"
      frame.body += "<text x=\(q(left + w + 6)) y=\(q(y + 14))>\(lever.projectCount) (\(percent(lever.shareLeverBasePercent)) %)</text>\n"
      y += rowHeight
    }
    return frame.document(height: y + 6)
  }

  /// A coordinate as an attribute value, one decimal.
  static func q(_ value: Double) -> String { "\"" + number(value) + "\"" }

  /// A number with one decimal at most, '.' separator (SVG syntax).
  static func number(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    let sign = tenths < 0 ? "-" : ""
    return tenths % 10 == 0 ? "\(tenths / 10)" : "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
  }

  /// A share rounded to 0.1 for display only (the response keeps the unrounded value).
  static func percent(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10),\(abs(tenths % 10))"
  }
}
