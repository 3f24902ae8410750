import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
#if canImport(FoundationXML)
  import FoundationXML
#endif
import Testing

@testable import SNBCModule

@Suite("Charts tell the same story as the verdict", .cpuBound)
struct ChartTests {
  typealias Request = Carbon_Snbc_V1_AssessTrajectoryRequest

  func chemicals() throws -> Request { try SNBCTest.example("AssessTrajectory.json", as: Request.self) }

  /// The texts of the elements of a class, in document order.
  func texts(_ svg: String, class name: String) -> [String] {
    svg.components(separatedBy: "class=\"\(name)\"").dropFirst().compactMap { part in
      guard let start = part.firstIndex(of: ">"), let end = part.range(of: "</text>") else { return nil }
      return String(part[part.index(after: start)..<end.lowerBound])
    }
  }

  /// The content of every text element, in document order, joined by spaces (wrapped lines
  /// join back into their sentence).
  func allText(_ svg: String) -> String {
    svg.components(separatedBy: "<text").dropFirst().compactMap { part -> String? in
      guard let start = part.firstIndex(of: ">"), let end = part.range(of: "</text>") else { return nil }
      return String(part[part.index(after: start)..<end.lowerBound])
    }.joined(separator: " ")
  }

  /// The lines of the title (bold text).
  func titleLines(_ svg: String) -> [String] {
    svg.components(separatedBy: "font-weight=\"bold\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
  }

  /// The height attribute of the root element.
  func height(_ svg: String) -> Int? {
    guard let range = svg.range(of: "height=\"") else { return nil }
    return Int(svg[range.upperBound...].prefix { $0.isNumber })
  }

  @Test("the consolidated chart draws the consolidated verdict's reference, not the all-sectors curve")
  func consolidatedReference() throws {
    var request = try chemicals()
    request.includeChart = true
    let response = try SNBCTest.assess(request)
    let index = Dictionary(uniqueKeysWithValues: response.chartReferenceIndex.map { ($0.year, $0.index) })
    #expect(index[2019] == 100)
    // At each horizon: 100 × (1 − weighted reference reduction of the verdict).
    for item in response.consolidated {
      let year = response.categories[0].horizons.first { $0.horizon == item.horizon }?.targetYear ?? 0
      #expect(abs((index[year] ?? -1) - 100 * (1 - item.weightedSectorReductionFraction)) < 1e-9, "\(year)")
    }
    // By hand, 2024: chimie 17.97/20.82 and electricity 19.56/23.36, weighted 100000 : 20000.
    let byHand = 100 * (100000 * 17.97 / 20.82 + 20000 * 19.56 / 23.36) / 120000
    #expect(abs((index[2024] ?? 0) - byHand) < 1e-9)
    // The all-sectors AMS curve would give 100 × 379.69/407.86... at 2021→2024 — not what is drawn:
    // all sectors S(2019) = 464.2 − 93.9 × 0.4 = 426.64; S(2024) = 379.69 → 88.995.
    #expect(abs((index[2024] ?? 0) - 100 * 379.69 / 426.64) > 1)
    // The company curve is the consolidated plan: 120000 → 102000 (2024) = 85.
    #expect(response.chartCompanyIndex.first { $0.year == 2024 }.map { abs($0.index - 85) < 1e-9 } == true)
    #expect(response.trace.decisions.contains { $0.rule == "chart_reference" && $0.choice == "CONSOLIDATED_REFERENCE" })
    // The SVG reference polyline has one vertex per year 2019-2050.
    let polyline = try #require(response.chartSvg.components(separatedBy: "id=\"reference\"").last)
    let points = polyline.components(separatedBy: "points=\"")[1].prefix { $0 != "\"" }
    #expect(points.split(separator: " ").count == 32)
  }

  @Test("French labels by default, English on request; ticks at the reference year and the horizons")
  func languageAndTicks() throws {
    var request = try chemicals()
    request.includeChart = true
    let french = try SNBCTest.assess(request).chartSvg
    #expect(french.contains("Indice (2019 = 100)"))
    #expect(french.contains(">Entreprise : trajectoire prévue</text>"))
    #expect(texts(french, class: "xtick") == ["2019", "2024", "2030", "2050"])
    #expect(titleLines(french).joined(separator: " ") == "Chimie Exemple SA – Trajectoire consolidée de l&apos;entreprise")
    let text = allText(french)
    #expect(text.contains("Source : Guide national") && text.contains("annexe II, scénario AMS 2018"))
    #expect(text.contains("Données : snbc-annexes version snbc2-guide-2021.2"))
    request.language = .en
    let english = try SNBCTest.assess(request).chartSvg
    #expect(english.contains("Index (2019 = 100)") && !english.contains("Indice"))
    #expect(allText(english).contains("Data: snbc-annexes version snbc2-guide-2021.2"))
    request.language = .UNRECOGNIZED(7)
    let error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.field == "language")
  }

  @Test("a long legend wraps instead of being cut; the chart grows to hold it")
  func legendWraps() throws {
    var request = try SNBCTest.example("RenderTrajectoryChart.json", as: Carbon_Snbc_V1_RenderTrajectoryChartRequest.self)
    request.seriesID = "energy_production.other"
    let response = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, request, as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    // The reference's long label is there whole (wrapped or not).
    let label = "Production d'énergie – autres (émissions fugitives, combustibles solides, etc.) (AMS 2018)"
    #expect(allText(response.svg).contains(label.xmlEscaped))
    // A legend label longer than the chart wraps over rows, every word kept, and the chart grows.
    let longLabel = String(repeating: "Trajectoire prévue de l'entreprise ", count: 8)
    let chart = TrajectoryChart(
      title: "t", referenceYear: 2019, company: [.init(year: 2019, value: 1), .init(year: 2050, value: 0.2)], actuals: [],
      reference: WeightedReference(parts: [], referenceYear: 2019), referenceLabel: longLabel,
      tickYears: [2050], labels: ChartLabels(.fr))
    let svg = chart.svg()
    #expect(allText(svg).contains(longLabel.trimmingCharacters(in: .whitespaces).xmlEscaped))
    let shortChart = TrajectoryChart(
      title: "t", referenceYear: 2019, company: [.init(year: 2019, value: 1), .init(year: 2050, value: 0.2)], actuals: [],
      reference: WeightedReference(parts: [], referenceYear: 2019), referenceLabel: "court",
      tickYears: [2050], labels: ChartLabels(.fr))
    #expect((height(svg) ?? 0) > (height(shortChart.svg()) ?? 0))
    #expect(XMLParser(data: Data(svg.utf8)).parse())
    // A title of 400 characters wraps over several lines, every word kept, and the SVG grows.
    let short = height(response.svg) ?? 0
    request.title = String(repeating: "Trajectoire de décarbonation ", count: 14)
    let long = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, request, as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    let lines = titleLines(long.svg)
    #expect(lines.count > 3)
    #expect(lines.joined(separator: " ") == request.title.trimmingCharacters(in: .whitespaces))
    #expect((height(long.svg) ?? 0) > short)
  }

  @Test("ticks at every objective: labels never overlap, even with an objective every year")
  func crowdedTicks() throws {
    var request = try SNBCTest.example("RenderTrajectoryChart.json", as: Carbon_Snbc_V1_RenderTrajectoryChartRequest.self)
    request.companyPoints = (Int32(2019)...2050).map { year in
      var point = Carbon_Snbc_V1_Objective()
      point.year = year
      point.emissionsTCo2E = Double(2051 - year) * 1000
      return point
    }
    let svg = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, request, as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self
    ).svg
    // (x, y) of every year label; on one row (same y) two labels are at least 36 px apart.
    let labels = svg.components(separatedBy: "<text class=\"xtick\" x=\"").dropFirst().map { part -> (Double, String) in
      let x = Double(part.prefix { $0 != "\"" }) ?? 0
      let y = part.components(separatedBy: "y=\"")[1].prefix { $0 != "\"" }
      return (x, String(y))
    }
    // 666 px for 31 years: 21.5 px a year, so the labels alternate between the two rows
    // (43 px apart on each) and all 32 years are printed.
    #expect(labels.count == 32)
    #expect(Set(labels.map(\.1)).count == 2)
    for row in Set(labels.map(\.1)) {
      let xs = labels.filter { $0.1 == row }.map(\.0)
      #expect(zip(xs, xs.dropFirst()).allSatisfy { $1 - $0 >= YearAxis.labelWidth })
    }
    // Every year keeps its tick line.
    #expect(svg.components(separatedBy: "stroke=\"#eeeeee\"").count - 1 == 32)
    #expect(texts(svg, class: "xtick").first == "2019")
    // Denser than two rows can hold (101 years on 660 px, 6.6 px a year): labels are left out
    // rather than overlapped; each row keeps ≥ 36 px between labels (every 6th year: 39.6 px),
    // 17 labels a row.
    let dense = YearAxis(years: Array(1950...2050), first: 1950, last: 2050, left: 70, width: 660)
      .svg(top: 0, bottom: 300)
    let printed = texts(dense, class: "xtick").compactMap { Int($0) }
    #expect(printed.prefix(4) == [1950, 1951, 1956, 1957])  // rows 1, 2, 1, 2
    #expect(printed.count == 34)
  }

  @Test("control characters in labels leave the SVG well formed (XML-invalid ones are dropped)")
  func controlCharacters() async throws {
    var request = try SNBCTest.example("RenderTrajectoryChart.json", as: Carbon_Snbc_V1_RenderTrajectoryChartRequest.self)
    request.title = "Chimie\u{0}\u{1}\u{7}\u{1B}[31m SA\u{B}\u{C}\u{FFFE}\u{85} <b>&\"'"
    let response = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, request, as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    #expect(!response.svg.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    #expect(response.svg.contains("Chimie"))
    #expect(response.svg.contains("&lt;b&gt;&amp;&quot;&apos;"))
    #expect(XMLParser(data: Data(response.svg.utf8)).parse(), "the SVG must be well-formed XML")
    let png = try await ExternalTools.renderPNG(svg: response.svg, name: "snbc-control-characters")
    #expect(png.width == 760 && png.height == height(response.svg))
  }

  @Test("every chart renders to a PNG of its size with rsvg-convert; a broken SVG fails")
  func rendersToPNG() async throws {
    var request = try chemicals()
    request.includeChart = true
    let consolidated = try SNBCTest.assess(request).chartSvg
    let png = try await ExternalTools.renderPNG(svg: consolidated, name: "snbc-consolidated")
    // 760 px wide, as tall as the SVG says (title, plot, years, legend, source lines).
    #expect(png.width == 760 && png.height == height(consolidated))
    #expect(png.height > 400)
    let chart = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, try SNBCTest.example("RenderTrajectoryChart.json", as: Carbon_Snbc_V1_RenderTrajectoryChartRequest.self),
      as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    let single = try await ExternalTools.renderPNG(svg: chart.svg, name: "snbc-trajectory")
    #expect(single.width == 760 && single.height == height(chart.svg))
    // The check can fail: an SVG cut short, or with a raw control character, is refused.
    await #expect(throws: ExternalTools.Failure.self) { try await ExternalTools.renderPNG(svg: String(consolidated.prefix(400))) }
    await #expect(throws: ExternalTools.Failure.self) {
      try await ExternalTools.renderPNG(svg: consolidated.replacingOccurrences(of: "Trajectoire", with: "Traj\u{1}ectoire"))
    }
  }
}
