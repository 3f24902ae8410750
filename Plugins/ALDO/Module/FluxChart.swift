import CarbonDomain
import CarbonPluginKit

/// A standalone SVG bar chart of the flux by land use: one bar per group, emissions (positive)
/// above the axis, sequestration (negative) below, as the observatory shows it; drawn in the
/// plugin kit's chart frame (title, sign convention, y-axis in t CO2e/an, source and data-version
/// lines), so the chart still says what it shows once pasted in a report.
struct FluxChart {
  var title: String
  var width: Double
  var height: Double
  /// Source and data-version lines written under the chart.
  var sourceLines: [String] = []
  /// Leave out the groups whose net flux is 0.
  var hideEmptyGroups = false

  /// The SVG document for a balance.
  func svg(_ balance: Carbon_Aldo_V1_FluxBalance) -> String {
    let rows = balance.landUses.filter {
      $0.netFluxTCo2EPerYr != 0 || !(hideEmptyGroups || $0.group == .hedges)
    }
    let subtitle = "t CO2e/an — négatif = séquestration nette, positif = émission nette. Net : \(number(balance.netTCo2EPerYr))"
    let frame = ChartFrame(
      title: title, subtitle: subtitle, sourceLines: sourceLines, width: width, plotHeight: max(height - 150, 120),
      margins: (90, 20, 10, 50))
    let plot = frame.plot
    let values = rows.map(\.netFluxTCo2EPerYr)
    let axis = ValueAxis(covering: values.min() ?? 0, values.max() ?? 0, top: plot.top, bottom: plot.bottom)
    var svg = frame.open()
    svg += axis.svg(x: plot.left, gridRight: plot.right, title: "t CO2e/an") { number($0) }
    let zeroY = axis.y(0)
    let slot = plot.width / Double(max(rows.count, 1))
    let barWidth = slot * 0.6
    for (index, row) in rows.enumerated() {
      let value = row.netFluxTCo2EPerYr
      let barTop = min(axis.y(value), zeroY)
      let barHeight = abs(axis.y(value) - zeroY)
      let x = plot.left + slot * Double(index) + (slot - barWidth) / 2
      let color = value >= 0 ? "#c0392b" : "#27ae60"
      let labelY = value >= 0 ? barTop - 4 : barTop + barHeight + 12
      let label = SVGText.escaped(row.label)
      svg += """
        <g><title>\(label) : \(SVGText.escaped(number(value))) t CO2e/an</title>
        <rect x="\(fmt(x))" y="\(fmt(barTop))" width="\(fmt(barWidth))" height="\(fmt(barHeight))" fill="\(color)"/>
        <text x="\(fmt(x + barWidth / 2))" y="\(fmt(labelY))" text-anchor="middle" font-size="10">\(SVGText.escaped(number(value)))</text>
        <text x="\(fmt(x + barWidth / 2))" y="\(fmt(plot.bottom + 18 + Double(index % 2) * 14))" text-anchor="middle" font-size="11">\(label)</text></g>

        """
    }
    svg += """
      <line class="zero-axis" x1="\(fmt(plot.left))" y1="\(fmt(zeroY))" x2="\(fmt(plot.right))" y2="\(fmt(zeroY))" stroke="#000000" stroke-width="1"/>

      """
    return svg + frame.close()
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
    var forestNote = ""
    if !request.landUses.isEmpty {
      balance = BalanceBuilder.balance(of: try Self.groupInputs(request.landUses, field: "land_uses"))
      Self.recordTotals(balance, in: &trace)
    } else {
      guard request.hasFlux else { throw .invalidArgument("flux", "is required when land_uses is empty") }
      let computed = try flux(request.flux, field: "flux.", trace: &trace)
      balance = computed.balance
      if computed.hasTerritory {
        forestNote = "; forêt : \(computed.territory.forestMethod.hasPrefix("APPROXIMATION") ? "approximation EPCI (BD Forêt 2019 × IGN 2016-2020)" : computed.territory.forestMethod)"
      }
    }
    let width = request.widthPx == 0 ? 800 : try Validate.inRange(request.widthPx, 300...4000, "width_px")
    let height = request.heightPx == 0 ? 480 : try Validate.inRange(request.heightPx, 200...4000, "height_px")
    let title = request.title.isEmpty ? "Flux de carbone par occupation des sols" : request.title
    var response = Carbon_Aldo_V1_RenderFluxChartResponse()
    var chart = FluxChart(title: title, width: Double(width), height: Double(height))
    chart.hideEmptyGroups = request.hideEmptyGroups
    chart.sourceLines = [
      "Source : ADEME ALDO tel que codé (incubateur-ademe/aldo a8f42b2, 2024-11-18), module carbonhub aldo \(Self.version)",
      "Données : \(AldoReferenceData.version); moyenne annuelle 2012-2018 (CORINE Land Cover)" + forestNote,
    ]
    response.svg = chart.svg(balance)
    response.balance = balance
    response.trace = trace.build()
    return response
  }
}
