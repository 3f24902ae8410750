import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

#if canImport(FoundationXML)
  import FoundationXML
#endif

@testable import ALDOModule

/// The seed (aldo-flux-hauts-de-france.txt): Hauts-de-France, 2012–2018 annual mean.
@Suite(.cpuBound) struct SeedBalanceTests {
  /// The per-land-use fluxes the seed lists, observatory sign (negative = sequestration).
  static let seedGroups: [(Carbon_Aldo_V1_LandUseGroup, Double)] = [
    (.forests, -2_060_617), (.woodProducts, -39_845), (.wetlands, -2_996), (.orchards, -149),
    (.crops, 13_337), (.grasslands, 3_447), (.artificialSoils, 49_966),
  ]

  static func seedInputs() -> [Carbon_Aldo_V1_GroupFluxInput] {
    seedGroups.map { group, value in
      var input = Carbon_Aldo_V1_GroupFluxInput()
      input.group = group
      input.netFluxTCo2EPerYr = value
      return input
    }
  }

  @Test func seedTotalsAndForestShare() throws {
    var request = Carbon_Aldo_V1_SummarizeBalanceRequest()
    request.landUses = Self.seedInputs()
    let response = try Aldo.harness().call(Aldo.summarize, request, as: Carbon_Aldo_V1_SummarizeBalanceResponse.self)
    let balance = response.balance
    // −2 060 617 − 39 845 − 2 996 − 149 = −2 103 607; the seed prints −2 103 608 (its rounding, ±1 t).
    #expect(balance.sequesteredTCo2EPerYr == -2_103_607)
    #expect(abs(balance.sequesteredTCo2EPerYr - -2_103_608) <= 1)
    // 13 337 + 3 447 + 49 966 = 66 750.
    #expect(balance.emittedTCo2EPerYr == 66_750)
    // −2 103 607 + 66 750 = −2 036 857; the seed prints −2 036 858.
    #expect(abs(balance.netTCo2EPerYr - -2_036_858) <= 1)
    #expect(balance.netSequestration)
    // Forests: 2 060 617 / 2 103 607 = 0.97956 ≈ 98 %.
    let forests = try #require(balance.landUses.first(where: { $0.group == .forests }))
    #expect(abs(forests.sequestrationShareFraction - 2_060_617.0 / 2_103_607.0) < 1e-12)
    #expect((forests.sequestrationShareFraction * 100).rounded() == 98)
    #expect(forests.emissionShareFraction == 0)
    // Artificial soils: 49 966 / 66 750 of the emissions, no share of the sequestration.
    let artificial = try #require(balance.landUses.first(where: { $0.group == .artificialSoils }))
    #expect(abs(artificial.emissionShareFraction - 49_966.0 / 66_750.0) < 1e-12)
    #expect(artificial.sequestrationShareFraction == 0)
    // Every group is listed in the seed's order, hedges and vineyards at 0.
    #expect(balance.landUses.map(\.group) == Carbon_Aldo_V1_LandUseGroup.balanceOrder)
    #expect(response.trace.value(of: "sequestered") == -2_103_607)
  }

  @Test func summarizeRejectsAnUnsetGroup() throws {
    var request = Carbon_Aldo_V1_SummarizeBalanceRequest()
    var input = Carbon_Aldo_V1_GroupFluxInput()
    input.netFluxTCo2EPerYr = -3
    request.landUses = [input]
    try Aldo.expectError(Aldo.summarize, request, status: .invalidArgument, field: "land_uses[0].group")
  }

  @Test func summarizeRejectsNaN() throws {
    var request = Carbon_Aldo_V1_SummarizeBalanceRequest()
    request.landUses = Self.seedInputs()
    request.landUses[2].netFluxTCo2EPerYr = .nan
    try Aldo.expectError(Aldo.summarize, request, status: .invalidArgument, field: "land_uses[2].net_flux_t_co2e_per_yr")
  }

  @Test func chartIsAValidSvgWithEmissionsAboveTheAxis() throws {
    var request = Carbon_Aldo_V1_RenderFluxChartRequest()
    request.landUses = Self.seedInputs()
    let response = try Aldo.harness().call(Aldo.chart, request, as: Carbon_Aldo_V1_RenderFluxChartResponse.self)
    let svg = response.svg
    #expect(svg.hasPrefix("<?xml"))
    #expect(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    #if canImport(FoundationXML) || os(macOS)
      let parser = XMLParser(data: Data(svg.utf8))
      #expect(parser.parse(), "SVG is not well-formed XML: \(String(describing: parser.parserError))")
    #endif
    // Axis line y, then each bar: emitting bars end at the axis, sequestering bars start at it.
    let axis = try #require(Self.attribute("y1", in: svg, after: "<line class=\"zero-axis\""))
    let bars = Self.bars(svg)
    #expect(bars.count == 8)  // every group but hedges (0 and no flux)
    for (label, y, height) in bars {
      let value = try #require(Self.seedGroups.first(where: { $0.0.label == label })?.1 ?? (label == "Vignes" ? 0 : nil))
      if value > 0 { #expect(abs(y + height - axis) < 0.02, "\(label) above") }
      if value < 0 { #expect(abs(y - axis) < 0.02, "\(label) below") }
    }
    #expect(svg.contains("-2 060 617"))
  }

  /// Issue 18 point 4: the chart says its source and data version, has a y-axis, hides empty
  /// groups on request, and rsvg-convert renders it to PNG.
  @Test func chartHasSourceLineAxisAndHidesEmptyGroupsOnRequest() async throws {
    var request = Carbon_Aldo_V1_RenderFluxChartRequest()
    request.landUses = Self.seedInputs()
    request.hideEmptyGroups = true
    let response = try Aldo.harness().call(Aldo.chart, request, as: Carbon_Aldo_V1_RenderFluxChartResponse.self)
    let svg = response.svg
    #expect(Self.bars(svg).count == 7, "vineyards (0) hidden")
    #expect(!Self.bars(svg).contains { $0.0 == "Vignes" })
    #expect(svg.contains("Source : ADEME ALDO"))
    #expect(svg.contains("Données : aldo-a8f42b2"))
    #expect(svg.contains("t CO2e/an"))
    let png = try await ExternalTools.renderPNG(svg: svg, name: "aldo-flux-seed")
    #expect(png.width == 800)
  }

  @Test func chartRejectsAnOutOfRangeWidth() throws {
    var request = Carbon_Aldo_V1_RenderFluxChartRequest()
    request.landUses = Self.seedInputs()
    request.widthPx = 10
    try Aldo.expectError(Aldo.chart, request, status: .invalidArgument, field: "width_px")
  }

  @Test func chartOfAComputedTerritoryNamesFluxFields() throws {
    var request = Carbon_Aldo_V1_RenderFluxChartRequest()
    request.flux = Aldo.request([Aldo.part(zone: "0_0")])
    try Aldo.expectError(Aldo.chart, request, status: .invalidArgument, field: "flux.parts[0].pedoclimatic_zone")
  }

  /// (label, y, height) of each bar.
  static func bars(_ svg: String) -> [(String, Double, Double)] {
    svg.components(separatedBy: "<g><title>").dropFirst().compactMap { chunk in
      guard let label = chunk.components(separatedBy: " : ").first,
        let y = attribute("y", in: chunk, after: "<rect"), let height = attribute("height", in: chunk, after: "<rect")
      else { return nil }
      return (label, y, height)
    }
  }

  static func attribute(_ name: String, in text: String, after marker: String) -> Double? {
    guard let start = text.range(of: marker) else { return nil }
    let rest = text[start.upperBound...]
    guard let attribute = rest.range(of: " \(name)=\"") else { return nil }
    let value = rest[attribute.upperBound...].prefix(while: { $0 != "\"" })
    return Double(value)
  }
}
