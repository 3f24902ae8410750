import CarbonDomain
import Foundation

/// The frame every chart of the module shares: a wrapped title, a y axis with its ticks and
/// label, x ticks at given years, a legend below the plot whose entries wrap instead of being
/// cut, and a footer with the source and the data version. It knows nothing of SNBC, so it can
/// move to the plugin kit when one frame serves every module.
///
/// Text is measured with a conservative estimate (0.62 em per character for sans-serif,
/// wider than the average glyph), since an SVG has no layout engine: a line wrapped to that
/// estimate fits in the width whatever the renderer's font.
struct ChartFrame: Sendable {
  /// How a legend entry is drawn.
  enum Swatch: Sendable {
    /// A line segment, with a dash pattern ("" = solid).
    case line(color: String, width: Double, dash: String)
    /// A dot.
    case dot(color: String)
  }

  /// A legend entry.
  struct LegendEntry: Sendable {
    let label: String
    let swatch: Swatch
  }

  let title: String
  let yAxisLabel: String
  let legend: [LegendEntry]
  /// Source and data-version lines, printed under the legend.
  let footer: [String]

  /// Total width, px.
  let width = 760.0
  /// Height of the plot area, px.
  let plotHeight = 300.0
  let fontSize = 12.0
  let titleFontSize = 15.0
  let lineHeight = 16.0
  /// Left margin (y tick labels and the rotated axis label), right margin.
  let marginLeft = 70.0
  let marginRight = 30.0

  /// Room a four-digit year label needs on the x axis, px (4 × 0.62 em at 12 px, plus a gap).
  static let yearLabelWidth = 36.0

  /// Width of the plot area, px.
  var plotWidth: Double { width - marginLeft - marginRight }

  /// Characters of `fontSize` text that surely fit in `pixels`.
  static func characters(fitting pixels: Double, fontSize: Double) -> Int {
    max(8, Int(pixels / (fontSize * 0.62)))
  }

  /// The text as one plain line: characters XML 1.0 forbids (C0 controls other than tab, LF,
  /// CR; U+FFFE, U+FFFF), the C1 controls, and line breaks and tabs too (a label is one line)
  /// become spaces.
  static func plain(_ text: String) -> String {
    var result = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
      switch scalar.value {
      case 0x00...0x1F, 0x7F...0x9F, 0xFFFE, 0xFFFF: result.append(" ")
      default: result.append(scalar)
      }
    }
    return String(result)
  }

  /// The text as safe SVG character data: ``plain(_:)``, then the five XML special
  /// characters escaped.
  static func clean(_ text: String) -> String { plain(text).xmlEscaped }

  /// Greedy word wrap to at most `limit` characters a line; a word longer than a line is cut
  /// across lines, so nothing is ever lost or overflows.
  static func wrap(_ text: String, limit: Int) -> [String] {
    var lines: [String] = []
    var current = ""
    for word in plain(text).split(separator: " ", omittingEmptySubsequences: true) {
      var word = Substring(word)
      while word.count > limit {
        if !current.isEmpty {
          lines.append(current)
          current = ""
        }
        lines.append(String(word.prefix(limit)))
        word = word.dropFirst(limit)
      }
      if current.isEmpty {
        current = String(word)
      } else if current.count + 1 + word.count <= limit {
        current += " " + word
      } else {
        lines.append(current)
        current = String(word)
      }
    }
    if !current.isEmpty || lines.isEmpty { lines.append(current) }
    return lines
  }

  /// Grid step: 20 index points up to 200, then a 1-2-5 step giving at most about ten lines.
  static func tickStep(forTop top: Double) -> Double {
    guard top > 200 else { return 20 }
    let raw = top / 10
    let magnitude = pow(10, (log10(raw)).rounded(.down))
    for multiple in [1.0, 2, 5, 10] where multiple * magnitude >= raw { return multiple * magnitude }
    return 10 * magnitude
  }

  /// Positions computed once for a chart.
  struct Layout: Sendable {
    let titleLines: [String]
    let plotTop: Double
    let plotBottom: Double
    let legendLines: [[String]]
    let legendTop: Double
    let footerLines: [String]
    let footerTop: Double
    let height: Double
  }

  /// Where everything goes: the height grows with the wrapped title, legend and footer.
  func layout() -> Layout {
    let titleLines = Self.wrap(title, limit: Self.characters(fitting: width - 2 * 16, fontSize: titleFontSize))
    let plotTop = 16 + Double(titleLines.count) * 20 + 12
    let plotBottom = plotTop + plotHeight
    let legendLimit = Self.characters(fitting: width - marginLeft - 40 - 16, fontSize: fontSize)
    let legendLines = legend.map { Self.wrap($0.label, limit: legendLimit) }
    // Two rows of x tick labels and the axis gap.
    let legendTop = plotBottom + 48
    let legendHeight = legendLines.reduce(0) { $0 + Double($1.count) * lineHeight + 4 }
    let footerLimit = Self.characters(fitting: width - 2 * 16, fontSize: 10)
    let footerLines = footer.flatMap { Self.wrap($0, limit: footerLimit) }
    let footerTop = legendTop + legendHeight + 10
    let height = footerTop + Double(footerLines.count) * 13 + 10
    return Layout(
      titleLines: titleLines, plotTop: plotTop, plotBottom: plotBottom, legendLines: legendLines,
      legendTop: legendTop, footerLines: footerLines, footerTop: footerTop, height: height.rounded(.up))
  }

  private static func f(_ value: Double) -> String { String(format: "%.1f", value) }

  /// The whole SVG: frame (title, axes, y ticks up to `yTop`, x ticks at `xTicks` placed by
  /// `x`, legend, footer) around `plot`, the curves drawn by the caller in plot coordinates.
  func svg(
    layout: Layout, yTop: Double, y: (Double) -> Double, xTicks: [Int32], x: (Int32) -> Double, plot: String
  ) -> String {
    let f = Self.f
    let height = Int(layout.height)
    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(height)" viewBox="0 0 \(Int(width)) \(height)" font-family="sans-serif" font-size="\(Int(fontSize))">
      <title>\(Self.clean(title))</title>
      <rect width="100%" height="100%" fill="white"/>

      """
    for (index, line) in layout.titleLines.enumerated() {
      svg += "<text class=\"title\" x=\"16\" y=\"\(f(16 + 15 + Double(index) * 20))\" font-size=\"\(Int(titleFontSize))\" font-weight=\"bold\">\(Self.clean(line))</text>\n"
    }
    // y grid and ticks.
    let step = Self.tickStep(forTop: yTop)
    var tick = 0.0
    while tick <= yTop {
      svg += "<line x1=\"\(f(marginLeft))\" y1=\"\(f(y(tick)))\" x2=\"\(f(marginLeft + plotWidth))\" y2=\"\(f(y(tick)))\" stroke=\"#ddd\"/>"
      svg += "<text class=\"ytick\" x=\"\(f(marginLeft - 8))\" y=\"\(f(y(tick) + 4))\" text-anchor=\"end\">\(String(format: "%.0f", tick))</text>\n"
      tick += step
    }
    // x ticks: every tick gets its line; its label goes on the first of two rows where it
    // does not overlap the previous label, and is left out only when both rows are taken
    // (more objectives than the axis can print; their values are in the response).
    var lastLabelX = [-Double.infinity, -Double.infinity]
    for year in xTicks {
      let position = x(year)
      svg += "<line x1=\"\(f(position))\" y1=\"\(f(layout.plotTop))\" x2=\"\(f(position))\" y2=\"\(f(layout.plotBottom + 4))\" stroke=\"#eee\"/>"
      guard let row = lastLabelX.firstIndex(where: { position - $0 >= Self.yearLabelWidth }) else {
        svg += "\n"
        continue
      }
      lastLabelX[row] = position
      svg += "<text class=\"xtick\" x=\"\(f(position))\" y=\"\(f(layout.plotBottom + 18 + Double(row) * 14))\" text-anchor=\"middle\">\(year)</text>\n"
    }
    svg += "<line x1=\"\(f(marginLeft))\" y1=\"\(f(layout.plotBottom))\" x2=\"\(f(marginLeft + plotWidth))\" y2=\"\(f(layout.plotBottom))\" stroke=\"black\"/>\n"
    svg += "<line x1=\"\(f(marginLeft))\" y1=\"\(f(layout.plotTop))\" x2=\"\(f(marginLeft))\" y2=\"\(f(layout.plotBottom))\" stroke=\"black\"/>\n"
    let middle = (layout.plotTop + layout.plotBottom) / 2
    svg += "<text x=\"18\" y=\"\(f(middle))\" transform=\"rotate(-90 18 \(f(middle)))\" text-anchor=\"middle\">\(Self.clean(yAxisLabel))</text>\n"
    svg += plot
    // Legend: one entry per block, wrapped lines under each other.
    var top = layout.legendTop
    for (entry, lines) in zip(legend, layout.legendLines) {
      let swatchY = top + 8
      switch entry.swatch {
      case .line(let color, let width, let dash):
        let dashAttribute = dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\""
        svg += "<line x1=\"\(f(marginLeft))\" y1=\"\(f(swatchY))\" x2=\"\(f(marginLeft + 28))\" y2=\"\(f(swatchY))\" stroke=\"\(color)\" stroke-width=\"\(width)\"\(dashAttribute)/>"
      case .dot(let color):
        svg += "<circle cx=\"\(f(marginLeft + 14))\" cy=\"\(f(swatchY))\" r=\"4\" fill=\"\(color)\"/>"
      }
      for (index, line) in lines.enumerated() {
        svg += "<text class=\"legend\" x=\"\(f(marginLeft + 40))\" y=\"\(f(top + 12 + Double(index) * lineHeight))\">\(Self.clean(line))</text>"
      }
      svg += "\n"
      top += Double(lines.count) * lineHeight + 4
    }
    for (index, line) in layout.footerLines.enumerated() {
      svg += "<text class=\"footer\" x=\"16\" y=\"\(f(layout.footerTop + 10 + Double(index) * 13))\" font-size=\"10\" fill=\"#555\">\(Self.clean(line))</text>\n"
    }
    svg += "</svg>\n"
    return svg
  }
}
