import CarbonDomain
import CarbonPluginKit

/// A standalone SVG bar chart of the flux by land use: one bar per group, emissions (positive)
/// above the axis, sequestration (negative) below, as the observatory shows it.
struct FluxChart {
  var title: String
  var width: Double
  var height: Double

  /// The SVG document for a balance.
  func svg(_ balance: Carbon_Aldo_V1_FluxBalance) -> String {
    let rows = balance.landUses.filter { $0.group != .hedges || $0.netFluxTCo2EPerYr != 0 }
    let top = 60.0, bottom = 70.0, left = 90.0, right = 20.0
    let plotHeight = max(height - top - bottom, 10)
    let plotWidth = max(width - left - right, 10)
    let maxUp = max(rows.map(\.netFluxTCo2EPerYr).max() ?? 0, 0)
    let maxDown = max(-(rows.map(\.netFluxTCo2EPerYr).min() ?? 0), 0)
    let span = maxUp + maxDown > 0 ? maxUp + maxDown : 1
    // The axis sits where zero falls, so both directions keep their true proportions.
    let axisY = top + plotHeight * (maxUp / span)
    let slot = plotWidth / Double(max(rows.count, 1))
    let barWidth = slot * 0.6
    var svg = """
      <?xml version="1.0" encoding="UTF-8"?>
      <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="sans-serif">
      <title>\(title.xmlEscaped)</title>
      <rect x="0" y="0" width="\(fmt(width))" height="\(fmt(height))" fill="#ffffff"/>
      <text x="\(fmt(width / 2))" y="24" text-anchor="middle" font-size="16" font-weight="bold">\(title.xmlEscaped)</text>
      <text x="\(fmt(width / 2))" y="44" text-anchor="middle" font-size="11" fill="#444444">t CO2e/an — négatif = séquestration nette, positif = émission nette. Net : \(number(balance.netTCo2EPerYr).xmlEscaped)</text>

      """
    for (index, row) in rows.enumerated() {
      let value = row.netFluxTCo2EPerYr
      let barHeight = abs(value) / span * plotHeight
      let x = left + slot * Double(index) + (slot - barWidth) / 2
      let y = value >= 0 ? axisY - barHeight : axisY
      let color = value >= 0 ? "#c0392b" : "#27ae60"
      let labelY = value >= 0 ? y - 4 : y + barHeight + 12
      svg += """
        <g><title>\(row.label.xmlEscaped) : \(number(value).xmlEscaped) t CO2e/an</title>
        <rect x="\(fmt(x))" y="\(fmt(y))" width="\(fmt(barWidth))" height="\(fmt(barHeight))" fill="\(color)"/>
        <text x="\(fmt(x + barWidth / 2))" y="\(fmt(labelY))" text-anchor="middle" font-size="10">\(number(value).xmlEscaped)</text>
        <text x="\(fmt(x + barWidth / 2))" y="\(fmt(top + plotHeight + 32 + Double(index % 2) * 14))" text-anchor="middle" font-size="11">\(row.label.xmlEscaped)</text></g>

        """
    }
    svg += """
      <line x1="\(fmt(left))" y1="\(fmt(axisY))" x2="\(fmt(width - right))" y2="\(fmt(axisY))" stroke="#000000" stroke-width="1"/>
      <text x="\(fmt(left - 6))" y="\(fmt(top + 10))" text-anchor="end" font-size="10" fill="#c0392b">émissions ↑</text>
      <text x="\(fmt(left - 6))" y="\(fmt(top + plotHeight))" text-anchor="end" font-size="10" fill="#27ae60">séquestration ↓</text>
      </svg>

      """
    return svg
  }

  /// A number with thin grouping, as the seed writes them (e.g. "-2 036 858").
  func number(_ value: Double) -> String {
    // Out-of-range or non-finite values clamp instead of trapping.
    let rounded: Int64 = abs(value) < 9e18 ? Int64(value.rounded()) : (value < 0 ? Int64.min : Int64.max)
    let digits = String(rounded.magnitude)
    var grouped = ""
    for (index, character) in digits.enumerated() {
      if index > 0 && (digits.count - index) % 3 == 0 { grouped += " " }
      grouped.append(character)
    }
    return (rounded < 0 ? "-" : "") + grouped
  }

  private func fmt(_ value: Double) -> String {
    let rounded = (value * 100).rounded() / 100
    guard rounded.isFinite, abs(rounded) < 1e15 else { return "0" }
    return rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
  }

}

extension AldoModule {
  public func renderFluxChart(_ request: Carbon_Aldo_V1_RenderFluxChartRequest) throws(ModuleError)
    -> Carbon_Aldo_V1_RenderFluxChartResponse
  {
    var trace = newTrace()
    let balance: Carbon_Aldo_V1_FluxBalance
    if !request.landUses.isEmpty {
      balance = BalanceBuilder.balance(of: try Self.groupInputs(request.landUses, field: "land_uses"))
      Self.recordTotals(balance, in: &trace)
    } else {
      guard request.hasFlux else { throw .invalidArgument("flux", "is required when land_uses is empty") }
      balance = try flux(request.flux, field: "flux.", trace: &trace).balance
    }
    let width = request.widthPx == 0 ? 800 : try Validate.inRange(request.widthPx, 300...4000, "width_px")
    let height = request.heightPx == 0 ? 480 : try Validate.inRange(request.heightPx, 200...4000, "height_px")
    let title = request.title.isEmpty ? "Flux de carbone par occupation des sols" : request.title
    var response = Carbon_Aldo_V1_RenderFluxChartResponse()
    response.svg = FluxChart(title: title, width: Double(width), height: Double(height)).svg(balance)
    response.balance = balance
    response.trace = trace.build()
    return response
  }
}
