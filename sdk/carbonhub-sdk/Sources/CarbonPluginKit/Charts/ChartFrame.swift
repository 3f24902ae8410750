import Foundation

/// The frame every module's SVG chart shares: a title (and optional subtitle) on top, the
/// source and data-version lines at the bottom, a white background, and the plot area left
/// between them.
///
/// A chart read outside the product (pasted in a report, printed for a council) must still say
/// what it shows and where its numbers come from, so the frame never omits the source line; long
/// titles and source lines wrap instead of running off the edge.
///
/// ```swift
/// let frame = ChartFrame(title: "Flux de carbone — Hauts-de-France", width: 800, height: 480,
///                        sourceLines: ["Source : ALDO (ADEME), données 2018 ; calcul carbonhub aldo 1.2.0"])
/// var svg = frame.open()
/// // draw inside frame.plot …
/// svg += frame.close()
/// ```
public struct ChartFrame: Sendable {
  /// The rectangle left for the plot, in SVG pixels.
  public struct Area: Sendable, Equatable {
    /// Left edge.
    public var left: Double
    /// Top edge.
    public var top: Double
    /// Width.
    public var width: Double
    /// Height.
    public var height: Double
    /// Right edge.
    public var right: Double { left + width }
    /// Bottom edge.
    public var bottom: Double { top + height }
  }

  /// The chart's title (client-supplied text is escaped).
  public var title: String
  /// An optional line under the title (units, sign convention).
  public var subtitle: String?
  /// Source and data-version lines, written at the bottom in small type.
  public var sourceLines: [String]
  /// The document's width in px.
  public var width: Double
  /// The document's height in px, grown as needed to fit wrapped titles and source lines.
  public private(set) var height: Double
  /// Margins around the plot inside the frame (room for axis labels and a legend).
  public var margins: (left: Double, right: Double, top: Double, bottom: Double)

  private let titleLines: [String]
  private let subtitleLines: [String]
  private let wrappedSourceLines: [String]
  private static let titleSize = 16.0, subtitleSize = 11.0, sourceSize = 10.0

  /// A frame of `width` × `plotHeight` (the plot's own height, without title and source lines).
  public init(
    title: String, subtitle: String? = nil, sourceLines: [String], width: Double, plotHeight: Double,
    margins: (left: Double, right: Double, top: Double, bottom: Double) = (70, 20, 10, 40)
  ) {
    self.title = title
    self.subtitle = subtitle
    self.sourceLines = sourceLines
    self.width = width
    self.margins = margins
    let textWidth = max(width - 20, 40)
    titleLines = SVGText.wrapped(title, width: textWidth, fontSize: Self.titleSize)
    subtitleLines = subtitle.map { SVGText.wrapped($0, width: textWidth, fontSize: Self.subtitleSize) } ?? []
    wrappedSourceLines = sourceLines.flatMap { SVGText.wrapped($0, width: textWidth, fontSize: Self.sourceSize) }
    height = Self.headerHeight(titleLines.count, subtitleLines.count) + margins.top + plotHeight + margins.bottom
      + Self.footerHeight(wrappedSourceLines.count)
  }

  private static func headerHeight(_ titles: Int, _ subtitles: Int) -> Double {
    12 + Double(titles) * 20 + Double(subtitles) * 14
  }

  private static func footerHeight(_ lines: Int) -> Double { Double(lines) * 13 + 10 }

  /// Where the plot goes.
  public var plot: Area {
    let top = Self.headerHeight(titleLines.count, subtitleLines.count) + margins.top
    let bottom = height - Self.footerHeight(wrappedSourceLines.count) - margins.bottom
    return Area(left: margins.left, top: top, width: max(width - margins.left - margins.right, 10), height: max(bottom - top, 10))
  }

  /// The document's start: XML declaration, `<svg>`, `<title>`, background, title and subtitle.
  public func open() -> String {
    let w = SVGText.coordinate(width), h = SVGText.coordinate(height)
    var svg = """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)" font-family="DejaVu Sans, sans-serif">
      <title>\(SVGText.escaped(title))</title>
      <rect x="0" y="0" width="\(w)" height="\(h)" fill="#ffffff"/>

      """
    var y = 12.0
    for line in titleLines {
      y += 20
      svg += ##"<text x="\##(SVGText.coordinate(width / 2))" y="\##(SVGText.coordinate(y - 4))" text-anchor="middle" font-size="16" font-weight="bold">\##(SVGText.escaped(line))</text>"## + "\n"
    }
    for line in subtitleLines {
      y += 14
      svg += ##"<text x="\##(SVGText.coordinate(width / 2))" y="\##(SVGText.coordinate(y - 2))" text-anchor="middle" font-size="11" fill="#444444">\##(SVGText.escaped(line))</text>"## + "\n"
    }
    return svg
  }

  /// The document's end: the source lines and `</svg>`.
  public func close() -> String {
    var svg = ""
    var y = height - Self.footerHeight(wrappedSourceLines.count) + 10
    for line in wrappedSourceLines {
      y += 13
      svg += ##"<text x="10" y="\##(SVGText.coordinate(y - 3))" font-size="10" fill="#555555">\##(SVGText.escaped(line))</text>"## + "\n"
    }
    return svg + "</svg>\n"
  }
}

/// A value axis: round tick values covering a range, and the mapping from values to pixels.
public struct ValueAxis: Sendable {
  /// The tick values, ascending, the first ≤ the range's minimum and the last ≥ its maximum.
  public let ticks: [Double]
  /// The plot's vertical extent in pixels (top < bottom).
  public let top: Double, bottom: Double

  /// An axis for values in `low...high` (0 is always included, so bars start at an axis),
  /// about `targetTicks` ticks on a 1-2-5 step, drawn between `top` and `bottom` px.
  public init(covering low: Double, _ high: Double, top: Double, bottom: Double, targetTicks: Int = 6) {
    let minimum = min(low.isFinite ? low : 0, 0), maximum = max(high.isFinite ? high : 0, 0)
    let span = maximum - minimum > 0 ? maximum - minimum : 1
    let step = Self.niceStep(span / Double(max(targetTicks - 1, 1)))
    let first = (minimum / step).rounded(.down) * step
    let last = (maximum / step).rounded(.up) * step
    var ticks: [Double] = []
    var value = first
    while value <= last + step / 2 && ticks.count < 50 {
      ticks.append(abs(value) < step / 1e9 ? 0 : value)
      value += step
    }
    if ticks.count < 2 { ticks.append(first + step) }
    self.ticks = ticks
    self.top = top
    self.bottom = bottom
  }

  /// The 1-2-5 step at or above `raw`.
  public static func niceStep(_ raw: Double) -> Double {
    guard raw.isFinite, raw > 0 else { return 1 }
    let magnitude = pow(10, log10(raw).rounded(.down))
    for multiple in [1.0, 2, 2.5, 5, 10] where multiple * magnitude >= raw * (1 - 1e-12) { return multiple * magnitude }
    return 10 * magnitude
  }

  /// The pixel height of `value`.
  public func y(_ value: Double) -> Double {
    guard let low = ticks.first, let high = ticks.last, high > low else { return bottom }
    return bottom - (value - low) / (high - low) * (bottom - top)
  }

  /// The axis drawn at `x`: a vertical line, tick marks, labels (formatted by `label`), light
  /// horizontal grid lines across to `gridRight`, and an optional axis title written vertically.
  public func svg(x: Double, gridRight: Double, title: String? = nil, label: (Double) -> String) -> String {
    var svg = ##"<g class="value-axis" font-size="10">"## + "\n"
    for tick in ticks {
      let y = SVGText.coordinate(self.y(tick))
      let stroke = tick == 0 ? "#000000" : "#dddddd"
      svg += ##"<line x1="\##(SVGText.coordinate(x))" y1="\##(y)" x2="\##(SVGText.coordinate(gridRight))" y2="\##(y)" stroke="\##(stroke)" stroke-width="1"/>"##
      svg += ##"<text x="\##(SVGText.coordinate(x - 4))" y="\##(SVGText.coordinate(self.y(tick) + 3))" text-anchor="end">\##(SVGText.escaped(label(tick)))</text>"## + "\n"
    }
    svg += ##"<line x1="\##(SVGText.coordinate(x))" y1="\##(SVGText.coordinate(top))" x2="\##(SVGText.coordinate(x))" y2="\##(SVGText.coordinate(bottom))" stroke="#000000" stroke-width="1"/>"## + "\n"
    if let title {
      let middle = (top + bottom) / 2
      svg += ##"<text x="12" y="\##(SVGText.coordinate(middle))" transform="rotate(-90 12 \##(SVGText.coordinate(middle)))" text-anchor="middle" font-size="11">\##(SVGText.escaped(title))</text>"## + "\n"
    }
    return svg + "</g>\n"
  }
}

/// A legend whose entries flow into as many rows as the width needs: an entry is never cut.
public struct ChartLegend: Sendable {
  /// One entry: a colour swatch (or dashed line) and its label.
  public struct Entry: Sendable {
    /// The label (escaped when drawn).
    public var label: String
    /// An SVG colour.
    public var color: String
    /// Drawn as a dashed line instead of a filled swatch.
    public var dashed: Bool
    /// An entry.
    public init(_ label: String, color: String, dashed: Bool = false) {
      self.label = label
      self.color = color
      self.dashed = dashed
    }
  }

  /// The entries in order.
  public var entries: [Entry]
  private static let fontSize = 11.0, rowHeight = 16.0, swatch = 18.0, gap = 16.0

  /// A legend of `entries`.
  public init(_ entries: [Entry]) { self.entries = entries }

  /// Each entry's position (row, x offset) when the legend is `width` px wide; a label longer
  /// than the width wraps onto more rows.
  private func layout(width: Double) -> [(lines: [String], x: Double, row: Int)] {
    var placed: [(lines: [String], x: Double, row: Int)] = []
    var x = 0.0, row = 0
    for entry in entries {
      let lines = SVGText.wrapped(entry.label, width: max(width - Self.swatch - 6, 40), fontSize: Self.fontSize)
      let entryWidth = Self.swatch + 6 + (lines.map { SVGText.estimatedWidth($0, fontSize: Self.fontSize) }.max() ?? 0)
      if x > 0 && x + entryWidth > width { x = 0; row += (placed.last?.lines.count ?? 1) }
      placed.append((lines, x, row))
      x += entryWidth + Self.gap
      if lines.count > 1 { x = 0; row += lines.count }
    }
    return placed
  }

  /// The height the legend takes at `width`.
  public func height(width: Double) -> Double {
    let placed = layout(width: width)
    guard let last = placed.last else { return 0 }
    let rows = placed.map { $0.row + $0.lines.count }.max() ?? last.row + 1
    return Double(rows) * Self.rowHeight
  }

  /// The legend drawn from (`x`, `y`) across `width` px.
  public func svg(x: Double, y: Double, width: Double) -> String {
    var svg = ##"<g class="legend" font-size="11">"## + "\n"
    for ((lines, dx, row), entry) in zip(layout(width: width), entries) {
      let left = x + dx, baseline = y + Double(row) * Self.rowHeight + 12
      if entry.dashed {
        svg += ##"<line x1="\##(SVGText.coordinate(left))" y1="\##(SVGText.coordinate(baseline - 4))" x2="\##(SVGText.coordinate(left + Self.swatch))" y2="\##(SVGText.coordinate(baseline - 4))" stroke="\##(entry.color)" stroke-width="2" stroke-dasharray="4 3"/>"##
      } else {
        svg += ##"<rect x="\##(SVGText.coordinate(left))" y="\##(SVGText.coordinate(baseline - 10))" width="\##(SVGText.coordinate(Self.swatch))" height="10" fill="\##(entry.color)"/>"##
      }
      for (index, line) in lines.enumerated() {
        svg += ##"<text x="\##(SVGText.coordinate(left + Self.swatch + 6))" y="\##(SVGText.coordinate(baseline + Double(index) * Self.rowHeight))">\##(SVGText.escaped(line))</text>"##
      }
      svg += "\n"
    }
    return svg + "</g>\n"
  }
}
