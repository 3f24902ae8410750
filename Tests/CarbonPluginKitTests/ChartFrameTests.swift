import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

/// The chart frame, axis and legend every module's SVG chart is built on.
@Suite("Charts: frame, value axis, legend")
struct ChartFrameTests {
  @Test func numbersAreGroupedAsFrenchTypographyWritesThem() {
    #expect(SVGText.grouped(-2_060_617.4) == "-2\u{202F}060\u{202F}617")
    #expect(SVGText.grouped(13_337) == "13\u{202F}337")
    #expect(SVGText.grouped(1.26, decimals: 1) == "1,3")
    #expect(SVGText.grouped(1.25, decimals: 1) == "1,2")  // 1.25 is exact in binary: printf rounds half to even
    #expect(SVGText.grouped(-0.04, decimals: 1) == "0,0")
    #expect(SVGText.grouped(.nan) == "–")
    #expect(SVGText.coordinate(12.345) == "12.35")
    #expect(SVGText.coordinate(.infinity) == "0")
  }

  @Test func controlCharactersAndMarkupCannotBreakTheDocument() {
    #expect(SVGText.escaped("a\u{1}b\u{8}c\u{1B}<svg onload=x>&") == "abc&lt;svg onload=x&gt;&amp;")
  }

  @Test func wrappingKeepsEveryWordAndRespectsTheWidth() {
    let text = "Transport routier – véhicules légers (voitures particulières et véhicules utilitaires légers)"
    let lines = SVGText.wrapped(text, width: 200, fontSize: 10)  // 200 / 6 = 33 characters a line
    #expect(lines.allSatisfy { $0.count <= 33 })
    #expect(lines.joined(separator: " ") == text)
  }

  @Test func theValueAxisCoversTheRangeOnRoundTicksThroughZero() {
    // The Hauts-de-France balance: forests −2 060 617 … artificial soils +49 966 t CO2e/yr.
    let axis = ValueAxis(covering: -2_060_617, 49_966, top: 100, bottom: 400)
    // span 2 110 583 / 5 = 422 117 → 1-2-5 step 500 000: −2 500 000 … +500 000.
    #expect(axis.ticks == [-2_500_000, -2_000_000, -1_500_000, -1_000_000, -500_000, 0, 500_000])
    #expect(axis.y(500_000) == 100)
    #expect(axis.y(-2_500_000) == 400)
    #expect(axis.y(0) == 150)  // one of six steps below the top: 100 + 300 × 1/6
    #expect(ValueAxis.niceStep(0.3) == 0.5)
    #expect(ValueAxis.niceStep(20) == 20)
    #expect(ValueAxis.niceStep(21) == 25)
  }

  @Test func legendEntriesWrapIntoRowsInsteadOfBeingCut() {
    let legend = ChartLegend([
      .init("Entreprise", color: "#1f77b4"), .init("Référence sectorielle SNBC (Annexe II)", color: "#ff7f0e", dashed: true),
      .init("Émissions réelles", color: "#2ca02c"),
    ])
    #expect(legend.height(width: 1000) == 16)  // all on one row
    #expect(legend.height(width: 260) > 16)  // flows onto more rows
  }

  @Test func aFramedChartRendersAtItsComputedSizeWithTitleAndSourceLines() async throws {
    let frame = ChartFrame(
      title: "Flux de carbone par occupation du sol — Hauts-de-France, un titre assez long pour passer à la ligne",
      subtitle: "t CO2e/an ; négatif = séquestration nette",
      sourceLines: ["Source : ALDO (ADEME), jeu de données 2018 — calcul carbonhub aldo 1.2.0 \u{1B}"],
      width: 480, plotHeight: 240)
    let axis = ValueAxis(covering: -2_060_617, 49_966, top: frame.plot.top, bottom: frame.plot.bottom)
    var svg = frame.open()
    svg += axis.svg(x: frame.plot.left, gridRight: frame.plot.right, title: "t CO2e/an") { SVGText.grouped($0) }
    svg += ChartLegend([.init("Forêts", color: "#27ae60")]).svg(x: frame.plot.left, y: frame.plot.bottom + 8, width: frame.plot.width)
    svg += frame.close()
    #expect(frame.height > 240 + 20 + 14 + 13)  // plot + two title lines + subtitle + source
    #expect(svg.contains("Source : ALDO (ADEME)"))
    let size = try await ExternalTools.renderPNG(svg: svg, name: "kit-chart-frame")
    #expect(size.width == 480)
    #expect(size.height == Int(frame.height.rounded()))
  }
}
