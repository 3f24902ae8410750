import CarbonPluginKit

/// The report's SVG charts, in French like the seed, drawn in the plugin kit's `ChartFrame`
/// (title on top; source, rules and data-version lines at the bottom) with `ChartLegend`
/// (wraps, never cuts) and `ValueAxis`. Plain SVG 1.1: no script, no external resource.
enum SVGCharts {
  /// Category colours and labels, in table order (the seed's four categories).
  static let categories: [ChartLegend.Entry] = [
    .init("À remonter COP N", color: "#2e7d32"), .init("À travailler COP N+1", color: "#f9a825"),
    .init("Hors COP, à examiner en CRTE", color: "#1565c0"), .init("Non remontés", color: "#9e9e9e"),
  ]
  /// Colours cycled over thematics.
  static let palette = [
    "#1b5e20", "#0277bd", "#f57f17", "#6a1b9a", "#c62828", "#00838f", "#558b2f", "#4e342e", "#ad1457", "#283593",
    "#ef6c00", "#757575",
  ]
  /// Font size of labels, px.
  static let fontSize = 12.0
  /// Height of the bar plots, px.
  static let plotHeight = 260.0

  /// The estimated rendered width of a label (the kit's estimate).
  static func textWidth(_ text: String, size: Double = fontSize) -> Double { SVGText.estimatedWidth(text, fontSize: size) }

  /// A frame wide enough for its title on one line, with room under the plot for the x labels
  /// and the legend at that width.
  private static func frame(title: String, source: [String], width: Double, legend: ChartLegend?) -> ChartFrame {
    let width = max(width, textWidth(title, size: 16) + 40).rounded(.up)
    let legendHeight = legend?.height(width: width - 40) ?? 0
    return ChartFrame(
      title: title, sourceLines: source, width: width, plotHeight: plotHeight,
      margins: (left: 70, right: 20, top: 10, bottom: 40 + legendHeight + (legend == nil ? 0 : 10)))
  }

  /// The frame closed with its legend under the x labels.
  private static func finish(_ frame: ChartFrame, body: String, legend: ChartLegend?) -> String {
    var svg = frame.open() + body
    if let legend { svg += legend.svg(x: 20, y: frame.plot.bottom + 34, width: frame.width - 40) }
    return svg + frame.close()
  }

  /// One bar slot per label, wide enough for the longest label.
  private static func slotWidth(_ labels: [String]) -> Double { max(110, (labels.map { textWidth($0) }.max() ?? 0) + 20) }

  /// Stacked bars: one bar per department (without the TOTAL row), one segment per category.
  static func departments(_ rows: [Carbon_Cop_V1_DepartmentRow], source: [String]) -> String {
    let bars = rows.filter { $0.department != "TOTAL" }
    let labels = bars.map { "\($0.name) (\($0.department))" }
    let slot = slotWidth(labels)
    let legend = ChartLegend(categories)
    let frame = frame(title: "Projets par département et par catégorie", source: source, width: 90 + Double(bars.count) * slot, legend: legend)
    let plot = frame.plot
    let axis = ValueAxis(covering: 0, Double(bars.map(\.projectCount).max() ?? 1), top: plot.top, bottom: plot.bottom)
    var body = axis.svg(x: plot.left, gridRight: plot.right, title: "Nombre de projets") { SVGText.grouped($0) }
    for (index, row) in bars.enumerated() {
      let center = plot.left + slot * (Double(index) + 0.5)
      var below = 0.0
      let counts = [row.carryCount, row.workNextRoundCount, row.outsideCopCrteCount, row.notCarriedCount]
      for (category, count) in counts.enumerated() where count > 0 {
        let top = axis.y(below + Double(count)), bottom = axis.y(below)
        body += rect(center - 30, top, 60, bottom - top, categories[category].color, tooltip: "\(row.name) : \(count)")
        below += Double(count)
      }
      body += text(center, axis.y(below) - 4, "\(row.projectCount)", anchor: "middle")
      body += text(center, plot.bottom + 16, labels[index], anchor: "middle")
    }
    return finish(frame, body: body, legend: legend)
  }

  /// 100 % stacked bars: the category shares within each department and in the region (the
  /// seed's « Poids en % par catégorie de projet dans chaque département et en région »).
  static func departmentShares(_ rows: [Carbon_Cop_V1_DepartmentRow], source: [String]) -> String {
    let labels = rows.map { $0.department == "TOTAL" ? "Région" : "\($0.name) (\($0.department))" }
    let shares = rows.map { [$0.carrySharePercent, $0.workNextRoundSharePercent, $0.outsideCopCrteSharePercent, $0.notCarriedSharePercent] }
    return percentBars(
      title: "Poids en % par catégorie de projet dans chaque département et en région", labels: labels,
      segments: shares.map { $0.enumerated().map { (share: $1, color: categories[$0].color, name: categories[$0].label) } },
      legend: ChartLegend(categories), source: source)
  }

  /// 100 % stacked bars of the thematics within each department (the seed's « De nombreux
  /// projets sur l'eau dans la Somme et l'Oise (env. 20 %) »).
  static func departmentThematics(
    _ cells: [Carbon_Cop_V1_DepartmentThematicCell], departments: [Carbon_Cop_V1_DepartmentRow], source: [String]
  ) -> String {
    let thematics = Array(Set(cells.map(\.thematic))).sorted()
    let color = Dictionary(uniqueKeysWithValues: thematics.enumerated().map { ($1, palette[$0 % palette.count]) })
    func name(_ thematic: String) -> String { thematic.isEmpty ? "Non renseignée" : thematic }
    let bars = departments.filter { $0.department != "TOTAL" }
    return percentBars(
      title: "Répartition des projets par thématique dans chaque département (%)",
      labels: bars.map { "\($0.name) (\($0.department))" },
      segments: bars.map { department in
        cells.filter { $0.department == department.department }.map {
          (share: $0.shareOfDepartmentPercent, color: color[$0.thematic] ?? "#757575", name: name($0.thematic))
        }
      },
      legend: ChartLegend(thematics.map { ChartLegend.Entry(name($0), color: color[$0] ?? "#757575") }), source: source)
  }

  /// 100 % stacked bars with the share printed in segments tall enough for it.
  private static func percentBars(
    title: String, labels: [String], segments: [[(share: Double, color: String, name: String)]], legend: ChartLegend,
    source: [String]
  ) -> String {
    let slot = slotWidth(labels)
    let frame = frame(title: title, source: source, width: 90 + Double(labels.count) * slot, legend: legend)
    let plot = frame.plot
    let axis = ValueAxis(covering: 0, 100, top: plot.top, bottom: plot.bottom, targetTicks: 5)
    var body = axis.svg(x: plot.left, gridRight: plot.right, title: "% des projets") { "\(SVGText.grouped($0)) %" }
    for (index, bar) in segments.enumerated() {
      let center = plot.left + slot * (Double(index) + 0.5)
      var below = 0.0
      for segment in bar where segment.share > 0 {
        let top = axis.y(below + segment.share), bottom = axis.y(below)
        body += rect(center - 30, top, 60, bottom - top, segment.color, tooltip: "\(segment.name) : \(percent(segment.share)) %")
        if bottom - top >= 14 {
          body += text(center, (top + bottom) / 2 + 4, "\(percent(segment.share)) %", anchor: "middle", fill: "#ffffff")
        }
        below += segment.share
      }
      body += text(center, plot.bottom + 16, labels[index], anchor: "middle")
    }
    return finish(frame, body: body, legend: legend)
  }

  /// Horizontal bars of the lever activation table with shares.
  static func levers(_ levers: [Carbon_Cop_V1_LeverCount], source: [String]) -> String {
    let rowHeight = 22.0, barWidth = 400.0
    let labelWidth = max(120, (levers.map { textWidth($0.lever) }.max() ?? 0) + 20)
    let title = "Activation des leviers (projets à remonter + à travailler, levier principal)"
    let width = max(labelWidth + barWidth + 140, textWidth(title, size: 16) + 40).rounded(.up)
    let frame = ChartFrame(
      title: title, sourceLines: source, width: width, plotHeight: Double(levers.count) * rowHeight,
      margins: (left: labelWidth, right: 20, top: 10, bottom: 10))
    let plot = frame.plot
    let maximum = Double(max(1, levers.map(\.projectCount).max() ?? 1))
    var body = ""
    for (index, lever) in levers.enumerated() {
      let y = plot.top + Double(index) * rowHeight
      let w = Double(lever.projectCount) / maximum * barWidth
      body += text(plot.left - 8, y + 14, lever.lever, anchor: "end")
      // The two buckets are not levers: grey.
      let bucket = lever.lever == RoundReport.otherLevers || lever.lever == RoundReport.notSpecified
      body += rect(plot.left, y, w, 16, bucket ? "#9e9e9e" : "#2e7d32", tooltip: nil)
      body += text(plot.left + w + 6, y + 14, "\(lever.projectCount) (\(percent(lever.shareLeverBasePercent)) %)", anchor: "start")
    }
    return frame.open() + body + frame.close()
  }

  private static func rect(_ x: Double, _ y: Double, _ width: Double, _ height: Double, _ fill: String, tooltip: String?) -> String {
    let c = SVGText.coordinate
    let tip = tooltip.map { "<title>\(SVGText.escaped($0))</title>" } ?? ""
    return "<rect x=\"\(c(x))\" y=\"\(c(y))\" width=\"\(c(width))\" height=\"\(c(height))\" fill=\"\(fill)\">\(tip)</rect>\n"
  }

  private static func text(_ x: Double, _ y: Double, _ content: String, anchor: String, fill: String = "#000000") -> String {
    let c = SVGText.coordinate
    return "<text x=\"\(c(x))\" y=\"\(c(y))\" text-anchor=\"\(anchor)\" font-size=\"12\" fill=\"\(fill)\">\(SVGText.escaped(content))</text>\n"
  }

  /// A share rounded to 0.1 for display only (the response keeps the unrounded value).
  static func percent(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10),\(abs(tenths % 10))"
  }
}
