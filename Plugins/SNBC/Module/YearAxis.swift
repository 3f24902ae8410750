import CarbonPluginKit

/// The time axis of the trajectory charts: a tick at each given year (the reference year and
/// the objectives), its label on the first of two rows where it does not overlap the previous
/// label, left out only when both rows are taken (the values stay in the response). The plugin
/// kit draws value axes; years as ticks at chosen objectives are this module's own need.
struct YearAxis: Sendable {
  /// Room a four-digit year label needs, px (4 characters × 0.6 em at 12 px, plus a gap).
  static let labelWidth = 36.0
  /// Height the two label rows take under the plot, px.
  static let height = 36.0

  let years: [Int32]
  let first: Int32
  let last: Int32
  let left: Double
  let width: Double

  /// Pixel position of a year.
  func x(_ year: Int32) -> Double {
    left + Double(year - first) / Double(max(last - first, 1)) * width
  }

  /// The axis line, the ticks from `top` to `bottom` (the plot's height) and the labels below.
  func svg(top: Double, bottom: Double) -> String {
    let c = SVGText.coordinate
    var svg = "<g class=\"year-axis\" font-size=\"12\">\n"
    var lastLabelX = [-Double.infinity, -Double.infinity]
    for year in years {
      let position = x(year)
      svg += "<line x1=\"\(c(position))\" y1=\"\(c(top))\" x2=\"\(c(position))\" y2=\"\(c(bottom + 4))\" stroke=\"#eeeeee\"/>"
      guard let row = lastLabelX.firstIndex(where: { position - $0 >= Self.labelWidth }) else {
        svg += "\n"
        continue
      }
      lastLabelX[row] = position
      svg += "<text class=\"xtick\" x=\"\(c(position))\" y=\"\(c(bottom + 16 + Double(row) * 14))\" text-anchor=\"middle\">\(year)</text>\n"
    }
    svg += "<line x1=\"\(c(left))\" y1=\"\(c(bottom))\" x2=\"\(c(left + width))\" y2=\"\(c(bottom))\" stroke=\"#000000\"/>\n"
    return svg + "</g>\n"
  }
}
