import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing
@testable import COPVivierModule

@Suite("Seed report (06/12/2024 table and lever activation)", .cpuBound)
struct SeedReportTests {
  let harness: ModuleHarness<COPVivierModule>
  init() throws { harness = try ModuleHarness<COPVivierModule>() }

  private func seedReport() throws -> Carbon_Cop_V1_BuildReportResponse {
    var request = Carbon_Cop_V1_BuildReportRequest()
    request.useSeedPool = true
    request.includeCharts = true
    return try harness.call(Path.report, request, as: Carbon_Cop_V1_BuildReportResponse.self)
  }

  @Test("the generated pool reproduces the seed's department × category table")
  func departmentTable() throws {
    let report = try seedReport()
    // Seed Partie 4: (dossiers, à remonter, à travailler, hors COP/CRTE, non remontés).
    let expected: [(String, [Int32])] = [
      ("02", [171, 136, 16, 7, 12]), ("59", [193, 104, 54, 20, 15]), ("60", [347, 216, 91, 16, 24]),
      ("62", [199, 132, 49, 8, 10]), ("80", [369, 200, 116, 34, 19]), ("TOTAL", [1279, 788, 326, 85, 80]),
    ]
    #expect(report.departments.count == expected.count)
    for (row, (code, counts)) in zip(report.departments, expected) {
      #expect(row.department == code)
      #expect(
        [row.projectCount, row.carryCount, row.workNextRoundCount, row.outsideCopCrteCount, row.notCarriedCount] == counts,
        "department \(code)")
      #expect(row.unqualifiedCount == 0)
    }
    #expect(report.departments.first?.name == "Aisne")
  }

  @Test("the lever table reproduces the seed's counts and shares")
  func leverTable() throws {
    let report = try seedReport()
    // Base = 788 + 326 = 1114.
    #expect(report.leverBaseCount == 1114)
    let top = report.topLevers
    #expect(top.count == 12)
    let expected: [(String, Int32, Double)] = [
      ("Rénovation (tertiaire)", 235, 21.1), ("Électricité renouvelable", 76, 6.8), ("Sobriété dans l'eau", 66, 5.9),
      ("Vélo", 66, 5.9), ("Rénovation (résidentiel)", 56, 5.0), ("Désimperméabilisation des sols", 53, 4.8),
      ("Continuités écologiques", 52, 4.7), ("Restauration des habitats naturels", 44, 3.9),
      ("Loi Egalim / climat et résilience", 42, 3.8), ("Sobriété foncière", 42, 3.8),
      // The seed prints 29,2 % for 323: 323 / 1114 × 100 = 28.99 % (seed misprint, METHODS.md §5).
      ("Autres leviers", 323, 29.0), ("Non renseigné", 59, 5.3),
    ]
    for (lever, (name, count, share)) in zip(top, expected) {
      #expect(lever.lever == name)
      #expect(lever.projectCount == count, "\(name)")
      #expect(abs(lever.shareLeverBasePercent - share) < 0.05, "\(name) \(lever.shareLeverBasePercent)")
    }
    // 235 / 1114 × 100 = 21.0951…
    #expect(abs((top.first?.shareLeverBasePercent ?? 0) - 21.095152603231597) < 1e-9)
    #expect(report.trace.decisions.contains { $0.rule == "cop.shares_unrounded" })
  }

  @Test("least and never invested levers are the seed's lists")
  func leastAndNever() throws {
    let report = try seedReport()
    #expect(report.leastLevers.map(\.lever) == [
      "Mise en décharge", "Usage des produits phytosanitaires", "Élevage durable", "Gestion des prairies",
      "Pratiques stockantes", "Biogaz", "Bouclage biomasse", "Agriculture biologique et de HVE", "Gestion des forêts",
      "Surface en aire protégée",
    ])
    #expect(report.leastLevers.map(\.projectCount) == [1, 1, 2, 2, 3, 3, 3, 4, 4, 5])
    #expect(Set(report.neverInvestedLevers) == [
      "Efficacité et carburants décarbonés des véhicules", "Produits bois", "Fertilisation azotée",
      "Bâtiments & Machines agricoles", "Captage de méthane dans les ISDND",
    ])
  }

  @Test("the charts are SVG documents with the table's numbers")
  func charts() throws {
    let report = try seedReport()
    #expect(report.departmentChartSvg.hasPrefix("<?xml") && report.departmentChartSvg.contains("<svg xmlns"))
    #expect(report.departmentChartSvg.contains(">347<"))
    #expect(report.departmentChartSvg.contains("Oise (60)"))
    #expect(report.leverChartSvg.contains("235 (21,1 %)"))
    #expect(report.leverChartSvg.contains("323 (29,0 %)"))
    #expect(report.departmentChartSvg.hasSuffix("</svg>\n"))
    // For a visual check: COPVIVIER_SVG_DIR=/tmp/svg swift test --filter charts
    if let directory = ProcessInfo.processInfo.environment["COPVIVIER_SVG_DIR"] {
      try report.departmentChartSvg.write(toFile: directory + "/departments.svg", atomically: true, encoding: .utf8)
      try report.leverChartSvg.write(toFile: directory + "/levers.svg", atomically: true, encoding: .utf8)
    }
    #expect(report.leverChartSvg.hasSuffix("</svg>\n"))
  }

  /// The width and height an SVG document declares, px.
  private func declaredSize(_ svg: String) -> (Int, Int)? {
    func attribute(_ name: String) -> Int? {
      guard let range = svg.range(of: " \(name)=\"") else { return nil }
      return Double(svg[range.upperBound...].prefix { $0 != "\"" }).map { Int($0.rounded()) }
    }
    guard let width = attribute("width"), let height = attribute("height") else { return nil }
    return (width, height)
  }

  @Test("every chart is titled with its source and data version and renders to a PNG of its declared size (rsvg-convert)")
  func chartsRenderToPNG() async throws {
    let report = try seedReport()
    let charts = [
      ("departments", report.departmentChartSvg, "Projets par département et par catégorie"),
      ("department-shares", report.departmentShareChartSvg, "Poids en % par catégorie de projet dans chaque département et en région"),
      ("department-thematics", report.departmentThematicChartSvg, "Répartition des projets par thématique dans chaque département (%)"),
      ("levers", report.leverChartSvg, "Activation des leviers (projets à remonter + à travailler, levier principal)"),
    ]
    for (name, svg, title) in charts {
      #expect(svg.contains(">\(title)</text>"), "\(name): visible title")
      #expect(svg.contains("Source : vivier généré aux effectifs du bilan du 06/12/2024"), "\(name): source line")
      #expect(svg.contains("données cop-hdf-2024.2"), "\(name): data version")
      #expect(svg.contains("Règles cop-rules-3"), "\(name): rules version")
      let size = try #require(declaredSize(svg), "\(name): no width/height")
      let png = try await ExternalTools.renderPNG(svg: svg, name: "cop-\(name)")  // kept in $CARBONHUB_CHART_DIR
      #expect(png.width == size.0 && png.height == size.1, "\(name): PNG \(png) for SVG \(size)")
      #expect(png.width >= 600 && png.height >= 200, "\(name): PNG \(png) too small")
    }
    // The share chart prints the seed's proportions, e.g. the Aisne: 136 / 171 = 79.5 % to carry.
    #expect(report.departmentShareChartSvg.contains("79,5 %"))
    // Region: 788 / 1279 = 61.6 %.
    #expect(report.departmentShareChartSvg.contains("61,6 %"))
    // A label longer than the default slot widens the chart instead of being cut.
    var long = report.topLevers
    var lever = Carbon_Cop_V1_LeverCount()
    lever.lever = String(repeating: "Levier au nom très long ", count: 6)
    lever.projectCount = 3
    long.append(lever)
    let wide = SVGCharts.levers(long, source: ["Source : test"])
    let wideSize = try #require(declaredSize(wide))
    #expect(Double(wideSize.0) >= SVGCharts.textWidth(lever.lever) + 400)
    #expect(try await ExternalTools.renderPNG(svg: wide).width == wideSize.0)
  }

  @Test("a broken SVG makes the PNG check fail (the check can fail)")
  func brokenSVGFails() async {
    await #expect(throws: (any Error).self) { _ = try await ExternalTools.renderPNG(svg: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\"><rect></svg>") }
  }

  @Test("thematic shares and EPCI coverage of inline projects")
  func thematicsAndCoverage() throws {
    var request = Carbon_Cop_V1_BuildReportRequest()
    request.projects = [
      carriedProject(lever: "Vélo"), carriedProject(lever: "Covoiturage"), carriedProject(lever: "Rénovation (tertiaire)"),
      { var p = carriedProject(lever: "Biogaz"); p.epci = "CC du Vexin-Thelle"; return p }(),
    ]
    request.epciTotalCount = 92
    let report = try harness.call(Path.report, request, as: Carbon_Cop_V1_BuildReportResponse.self)
    // Vélo and Covoiturage are "Transport et mobilités": 2 of 4 projects = 50 %.
    #expect(report.thematics.first?.thematic == "Transport et mobilités")
    #expect(report.thematics.first?.projectCount == 2)
    #expect(abs((report.thematics.first?.sharePercent ?? 0) - 50) < 1e-9)
    #expect(report.thematics.count == 3)
    // 2 distinct EPCIs of 92: 2.1739… %.
    #expect(report.epciCoveredCount == 2)
    #expect(abs(report.epciCoveragePercent - 200.0 / 92.0) < 1e-9)
  }

  @Test("a report needs exactly one source")
  func oneSource() throws {
    var request = Carbon_Cop_V1_BuildReportRequest()
    request.useSeedPool = true
    request.roundYear = 2024
    #expect(throws: ModuleError.self) { try harness.call(Path.report, request, as: Carbon_Cop_V1_BuildReportResponse.self) }
    let error = capture { _ = try harness.call(Path.report, request, as: Carbon_Cop_V1_BuildReportResponse.self) }
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "round_year")
  }

  @Test("reference data: panorama, aliases, SGPE values tagged not retained, effort shares")
  func referenceData() throws {
    let data = try harness.call(Path.reference, Carbon_Cop_V1_GetReferenceDataRequest(), as: Carbon_Cop_V1_GetReferenceDataResponse.self)
    #expect(data.panoramaLevers.count == 43)
    #expect(data.panoramaLevers.first { $0.lever == "Efficacité et sobriété logistique" }?.sector == "Transport de marchandises")
    #expect(data.formLevers.count == 41)  // 25 printed in the seed + 16 reconstructed
    for alias in ["Vélo", "Rénovation (tertiaire)", "Continuités écologiques", "Bouclage biomasse", "Gestion des forêts", "velo", "RENOVATION (TERTIAIRE)"] {
      #expect(ReferenceData.lever(named: alias) != nil, "\(alias)")
    }
    #expect(ReferenceData.lever(named: "Points noirs prioritaires de continuité écologique")?.name == "Continuités écologiques")
    #expect(data.sgpeLeverValues.map(\.valueKtCo2E) == [174, 151, 134, 113, 108, 53, 60])
    #expect(data.sgpeLeverValues.allSatisfy { $0.panorama.contains("not retained") })
    #expect(data.effortShares.count == 7)
    // SRADDET shares sum to 100 %: 37.44 + 19 + 17.48 + 6.93 + 1.81 + 4.28 + 13.06 = 100.00.
    #expect(abs(data.effortShares.map(\.sraddetSharePercent).reduce(0, +) - 100) < 1e-9)
    #expect(data.departments.map(\.code) == ["02", "59", "60", "62", "80"])
    // Every form lever's panorama lever exists in the panorama.
    let panorama = Set(data.panoramaLevers.map(\.lever))
    for lever in data.formLevers where !lever.panoramaLever.isEmpty {
      #expect(panorama.contains(lever.panoramaLever), "\(lever.name) → \(lever.panoramaLever)")
    }
  }

  // Seed, Partie 4: « Le levier « vélo » ne représente qu'un des huit leviers attachés à cette
  // thématique » (Transport et mobilités).
  @Test("'Vélo' is one of EIGHT form levers of 'Transport et mobilités', one per panorama transport lever")
  func eightTransportLevers() throws {
    let data = try harness.call(Path.reference, Carbon_Cop_V1_GetReferenceDataRequest(), as: Carbon_Cop_V1_GetReferenceDataResponse.self)
    let transport = data.formLevers.filter { $0.thematic == "Transport et mobilités" }
    #expect(transport.count == 8)
    #expect(transport.contains { $0.name == "Vélo" })
    // The panorama's transport rows (6 passenger + 2 freight, labels corrected) are 8 levers,
    // each reached by exactly one form lever.
    let panoramaTransport = data.panoramaLevers.filter { $0.sector.hasPrefix("Transport") }.map(\.lever)
    #expect(panoramaTransport.count == 8)
    #expect(Set(transport.map(\.panoramaLever)) == Set(panoramaTransport))
    // No two form levers share a name or an alias.
    var seen: [String: String] = [:]
    for lever in data.formLevers {
      for spelling in [lever.name] + lever.aliases {
        let key = ReferenceData.fold(spelling)
        #expect(seen[key] == nil || seen[key] == lever.name, "\(spelling) names both \(seen[key] ?? "") and \(lever.name)")
        seen[key] = lever.name
      }
    }
    #expect(ReferenceData.lever(named: "Report modal")?.name == "Vélo")
    // The ninth lever of version 2024.1 is refused, naming its replacement.
    var request = Carbon_Cop_V1_QualifyProjectRequest()
    request.project = carriedProject(lever: "Transports en commun")
    let error = capture { _ = try harness.call(Path.qualify, request, as: Carbon_Cop_V1_QualifyProjectResponse.self) }
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "project.primary_lever")
    #expect(error?.message.contains(#"use "Vélo""#) == true)
  }
}
