import CarbonDomain
import CarbonPluginKit
import Foundation
#if canImport(FoundationXML)
  import FoundationXML
#endif
import Testing

@testable import SNBCModule

/// Renders SVG to PNG with `rsvg-convert` (Debian librsvg2-bin) and reads the PNG's header.
enum PNGRendering {
  struct Failure: Error, CustomStringConvertible {
    let description: String
  }

  /// The PNG's width and height in pixels and its size in bytes; throws when the SVG does
  /// not render (ill-formed XML, bad attribute values).
  static func render(_ svg: String) throws -> (width: Int, height: Int, bytes: Int) {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("snbc-chart-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let input = directory.appendingPathComponent("chart.svg")
    let output = directory.appendingPathComponent("chart.png")
    try Data(svg.utf8).write(to: input)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/rsvg-convert")
    process.arguments = ["--format=png", "--output=\(output.path)", input.path]
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw Failure(description: "rsvg-convert exited \(process.terminationStatus)") }
    let png = [UInt8](try Data(contentsOf: output))
    // Signature, then the IHDR chunk: width and height big-endian at bytes 16 and 20.
    guard png.count > 24, png.prefix(8).elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
      throw Failure(description: "not a PNG")
    }
    func word(_ offset: Int) -> Int { png[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
    return (word(16), word(20), png.count)
  }
}

@Suite("Charts tell the same story as the verdict")
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
    #expect(texts(french, class: "legend").first == "Entreprise : trajectoire prévue")
    #expect(texts(french, class: "xtick") == ["2019", "2024", "2030", "2050"])
    #expect(texts(french, class: "title").joined(separator: " ").contains("Trajectoire consolidée"))
    let footer = texts(french, class: "footer").joined(separator: " ")
    #expect(footer.contains("Source : Guide national") && footer.contains("annexe II"))
    #expect(footer.contains("snbc2-guide-2021.2"))
    request.language = .en
    let english = try SNBCTest.assess(request).chartSvg
    #expect(english.contains("Index (2019 = 100)") && !english.contains("Indice"))
    #expect(texts(english, class: "footer").joined(separator: " ").contains("Data: snbc-annexes version snbc2-guide-2021.2"))
    request.language = .UNRECOGNIZED(7)
    let error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.field == "language")
  }

  @Test("a long legend wraps instead of being cut; the chart grows to hold it")
  func legendWraps() throws {
    var request = try SNBCTest.example("RenderTrajectoryChart.json", as: Carbon_Snbc_V1_RenderTrajectoryChartRequest.self)
    request.seriesID = "production d'énergie – autres"
    request.seriesID = "energy_production.other"
    let response = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, request, as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    let legend = texts(response.svg, class: "legend")
    // Company, reference (long: wrapped or not, whole), actuals.
    let label = "Production d'énergie – autres (émissions fugitives, combustibles solides, etc.) (AMS 2018)"
    #expect(legend.joined(separator: " ").contains(label.xmlEscaped))
    let limit = ChartFrame.characters(fitting: 760 - 70 - 40 - 16, fontSize: 12)
    #expect(legend.allSatisfy { $0.count <= limit + 20 })  // escaped apostrophes add characters
    // A title of 400 characters wraps over several lines, every word kept, and the SVG grows.
    let short = height(response.svg) ?? 0
    request.title = String(repeating: "Trajectoire de décarbonation ", count: 14)
    let long = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, request, as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    let titleLines = texts(long.svg, class: "title")
    #expect(titleLines.count > 3)
    #expect(titleLines.joined(separator: " ") == request.title.trimmingCharacters(in: .whitespaces))
    #expect((height(long.svg) ?? 0) > short)
    // A word longer than a line is split, not lost.
    #expect(ChartFrame.wrap(String(repeating: "x", count: 25), limit: 10) == ["xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"])
    #expect(ChartFrame.wrap("a b c", limit: 3) == ["a b", "c"])
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
    // 660 px for 31 years: 21.3 px a year, so the labels alternate between the two rows
    // (42.6 px apart on each) and all 32 years are printed.
    #expect(labels.count == 32)
    #expect(Set(labels.map(\.1)).count == 2)
    for row in Set(labels.map(\.1)) {
      let xs = labels.filter { $0.1 == row }.map(\.0)
      #expect(zip(xs, xs.dropFirst()).allSatisfy { $1 - $0 >= ChartFrame.yearLabelWidth })
    }
    // Every year keeps its tick line (32 grid lines besides the 6 y lines and 2 axes).
    #expect(svg.components(separatedBy: "stroke=\"#eee\"").count - 1 == 32)
    #expect(texts(svg, class: "xtick").first == "2019")
    // Denser than two rows can hold (101 years on 660 px, 6.6 px a year): labels are left out
    // rather than overlapped; each row keeps ≥ 36 px between labels (every 6th year: 39.6 px),
    // 17 labels a row.
    let frame = ChartFrame(title: "t", yAxisLabel: "y", legend: [], footer: [])
    let layout = frame.layout()
    let dense = frame.svg(
      layout: layout, yTop: 100, y: { 100 - $0 }, xTicks: Array(1950...2050),
      x: { frame.marginLeft + Double($0 - 1950) * 6.6 }, plot: "")
    let printed = texts(dense, class: "xtick").compactMap { Int($0) }
    #expect(printed.prefix(4) == [1950, 1951, 1956, 1957])  // rows 1, 2, 1, 2
    #expect(printed.count == 34)
  }

  @Test("control characters in labels leave the SVG well formed (they become spaces)")
  func controlCharacters() throws {
    var request = try SNBCTest.example("RenderTrajectoryChart.json", as: Carbon_Snbc_V1_RenderTrajectoryChartRequest.self)
    request.title = "Chimie\u{0}\u{1}\u{7}\u{1B}[31m SA\u{B}\u{C}\u{FFFE}\u{85} <b>&\"'"
    let response = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, request, as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    #expect(!response.svg.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    #expect(response.svg.contains("Chimie"))
    #expect(response.svg.contains("&lt;b&gt;&amp;&quot;&apos;"))
    #expect(XMLParser(data: Data(response.svg.utf8)).parse(), "the SVG must be well-formed XML")
    let png = try PNGRendering.render(response.svg)
    #expect(png.width == 760)
  }

  @Test("every chart renders to a PNG of its size with rsvg-convert; a broken SVG fails")
  func rendersToPNG() throws {
    var request = try chemicals()
    request.includeChart = true
    let consolidated = try SNBCTest.assess(request).chartSvg
    let png = try PNGRendering.render(consolidated)
    // 760 px wide, as tall as the SVG says; a drawn chart, not an empty page, weighs kilobytes.
    #expect(png.width == 760 && png.height == height(consolidated))
    #expect(png.bytes > 10_000, "\(png.bytes) bytes")
    let chart = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, try SNBCTest.example("RenderTrajectoryChart.json", as: Carbon_Snbc_V1_RenderTrajectoryChartRequest.self),
      as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    let single = try PNGRendering.render(chart.svg)
    #expect(single.width == 760 && single.bytes > 10_000)
    // The check can fail: an SVG cut short, or with a raw control character, is refused.
    #expect(throws: PNGRendering.Failure.self) { try PNGRendering.render(String(consolidated.prefix(400))) }
    #expect(throws: PNGRendering.Failure.self) {
      try PNGRendering.render(consolidated.replacingOccurrences(of: "Trajectoire", with: "Traj\u{1}ectoire"))
    }
  }
}
