import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing
@testable import COPVivierModule

/// The report as the seed shows it (Partie 4), on six hand-made projects whose every figure is
/// computed by hand below.
@Suite("Round report as the seed shows it (shares within departments, thematics, impact, EPCIs, owners)", .cpuBound)
struct RoundReportTests {
  let harness: ModuleHarness<COPVivierModule>
  init() throws { harness = try ModuleHarness<COPVivierModule>() }

  /// Six projects: four in the Oise (carry, carry, work, not carried), two in the Somme (carry, CRTE).
  static func projects() -> [Carbon_Cop_V1_Project] {
    var p1 = carriedProject(department: "60", lever: "Vélo")  // Transport et mobilités
    p1.expectedImpactKtCo2EPerYr = 0.5
    var p2 = carriedProject(department: "60", lever: "Sobriété dans l'eau")  // Eau
    p2.expectedImpactKtCo2EPerYr = 1.25
    p2.epci = "200067999"  // the SIREN of the CA du Beauvaisis: the same EPCI as p1
    p2.owner = "Beauvais"
    p2.ownerType = "Commune"
    var p3 = carriedProject(department: "60", lever: "Désimperméabilisation des sols")  // Eau, no impact given
    p3.maturity = .idea  // → work for the next round
    p3.epci = "Communauté de communes de l'Oise Picarde"  // = "CC de l'Oise Picarde" (200068005)
    p3.owner = "Breteuil"
    p3.ownerType = "commune"
    var p4 = carriedProject(department: "60", lever: "")
    p4.contributesToObjectives = .no  // → not carried
    p4.epci = "CC Imaginaire"  // not an EPCI of the region
    p4.owner = "Syndicat mixte du bassin de l'Oise"
    p4.ownerType = "Syndicat mixte"
    var p5 = carriedProject(department: "80", lever: "Sobriété dans l'eau")
    p5.expectedImpactKtCo2EPerYr = 2
    p5.epci = ""
    p5.owner = "CA Amiens Métropole"  // an EPCI owner counts when 'epci' is empty
    var p6 = carriedProject(department: "80", lever: "")
    p6.contributesToObjectives = .no
    p6.answersOtherLocalIssue = true  // → outside COP, examine in the CRTE
    p6.thematic = "Autre enjeu local"
    p6.epci = ""
    p6.owner = "Amiens"
    p6.ownerType = "Commune"
    return [p1, p2, p3, p4, p5, p6]
  }

  private func report() throws -> Carbon_Cop_V1_BuildReportResponse {
    var request = Carbon_Cop_V1_BuildReportRequest()
    request.projects = Self.projects()
    return try harness.call(Path.report, request, as: Carbon_Cop_V1_BuildReportResponse.self)
  }

  // Seed: « Poids en % par catégorie de projet dans chaque département et en région ».
  @Test("category shares within each department and in the region")
  func sharesWithinDepartment() throws {
    let rows = Dictionary(uniqueKeysWithValues: try report().departments.map { ($0.department, $0) })
    // Oise: 4 projects, carry 2 → 50 %, work 1 → 25 %, CRTE 0, not carried 1 → 25 %.
    let oise = try #require(rows["60"])
    #expect([oise.carrySharePercent, oise.workNextRoundSharePercent, oise.outsideCopCrteSharePercent, oise.notCarriedSharePercent] == [50, 25, 0, 25])
    // Somme: 2 projects, carry 1 → 50 %, CRTE 1 → 50 %.
    let somme = try #require(rows["80"])
    #expect([somme.carrySharePercent, somme.outsideCopCrteSharePercent] == [50, 50])
    // Aisne: no project → 0, not NaN.
    #expect(rows["02"]?.carrySharePercent == 0)
    // Region: 6 projects, carry 3 → 50 %, work 1 → 16.67 %, CRTE 1, not carried 1.
    let total = try #require(rows["TOTAL"])
    #expect(total.carrySharePercent == 50)
    #expect(abs(total.workNextRoundSharePercent - 100.0 / 6.0) < 1e-12)
  }

  // Seed: « De nombreux projets sur l'eau dans la Somme et l'Oise (env. 20 %) ».
  @Test("department × thematic table, shares of the department's projects")
  func departmentThematics() throws {
    let cells = try report().departmentThematics
    func cell(_ department: String, _ thematic: String) -> Carbon_Cop_V1_DepartmentThematicCell? {
      cells.first { $0.department == department && $0.thematic == thematic }
    }
    // Oise: Eau 2 of 4 = 50 %, Transport 1 of 4 = 25 %, not specified 1 of 4 = 25 %.
    #expect(cell("60", "Eau")?.projectCount == 2)
    #expect(cell("60", "Eau")?.shareOfDepartmentPercent == 50)
    #expect(cell("60", "Transport et mobilités")?.shareOfDepartmentPercent == 25)
    #expect(cell("60", "")?.projectCount == 1)
    // Somme: Eau 1 of 2 = 50 %.
    #expect(cell("80", "Eau")?.shareOfDepartmentPercent == 50)
    #expect(cells.filter { $0.department == "80" }.count == 2)
    #expect(cells.first?.department == "60" && cells.first?.thematic == "Eau")  // by department, most first
  }

  @Test("expected impact summed by lever and thematic over the carried + to-work projects that give one")
  func impactSums() throws {
    let report = try report()
    // Eau: p2 1.25 + p5 2 = 3.25 kt CO2e/yr; p3 (work) gives none: 3 projects, 2 with an impact.
    let eau = try #require(report.impactByThematic.first)
    #expect(eau.key == "Eau")
    #expect(eau.expectedImpactKtCo2EPerYr == 3.25)
    #expect(eau.projectCount == 3)
    #expect(eau.withImpactCount == 2)
    #expect(report.impactByThematic.first { $0.key == "Transport et mobilités" }?.expectedImpactKtCo2EPerYr == 0.5)
    // Not-carried and CRTE projects (p4, p6) are not in the sums: thematic "Autre enjeu local" absent.
    #expect(!report.impactByThematic.contains { $0.key == "Autre enjeu local" })
    // By lever: Sobriété dans l'eau 1.25 + 2 = 3.25, Vélo 0.5, Désimperméabilisation 0 (none given).
    #expect(report.impactByLever.map(\.key) == ["Sobriété dans l'eau", "Vélo", "Désimperméabilisation des sols"])
    #expect(report.impactByLever.map(\.expectedImpactKtCo2EPerYr) == [3.25, 0.5, 0])
    // Trace: 3.75 kt = 3750 t CO2e/yr.
    #expect(report.trace.terms.first { $0.name == "expected_impact_carry_work" }?.value == 3750)
  }

  // Seed: « La remontée des projets couvre 77 % des EPCI, 189 communes, 1 conseil départemental.
  // … Certains projets ont été remontés par des PNR, PETR, Syndicats mixtes, agences d'urbanisme ».
  @Test("EPCI coverage against the embedded list; communes and owner types counted as the seed counts them")
  func coverageAndOwners() throws {
    let report = try report()
    // Covered: CA du Beauvaisis (p1 by name, p2 by SIREN: one EPCI, 2 projects), CC de l'Oise
    // Picarde (p3, long form of the name), CA Amiens Métropole (p5, owner). 3 of the 91 EPCIs
    // counted in the region: 3 / 91 × 100 = 3.2967…%.
    #expect(report.epciRegionCount == 91)
    #expect(report.epciCoveredCount == 3)
    #expect(abs(report.epciCoveragePercent - 300.0 / 91.0) < 1e-9)
    let covered = Dictionary(uniqueKeysWithValues: report.epcisCovered.map { ($0.siren, $0) })
    #expect(covered["200067999"]?.name == "CA du Beauvaisis")
    #expect(covered["200067999"]?.projectCount == 2)
    #expect(covered["200068005"]?.projectCount == 1)
    #expect(covered["248000531"]?.projectCount == 1)
    #expect(report.epciUnrecognised == ["CC Imaginaire"])
    #expect(report.trace.warnings.contains { $0.contains("CC Imaginaire") })
    // Communes: Beauvais, Breteuil, Amiens ("Commune" and "commune" are one type) = 3.
    #expect(report.communeOwnerCount == 3)
    let types = Dictionary(uniqueKeysWithValues: report.ownerTypes.map { (ReferenceData.fold($0.ownerType), $0) })
    #expect(types["commune"]?.distinctOwnerCount == 3)
    #expect(types["epci"]?.distinctOwnerCount == 2)  // CA du Beauvaisis (p1), CA Amiens Métropole (p5)
    #expect(types["syndicat mixte"]?.distinctOwnerCount == 1)
    // A given epci_total_count replaces the list's denominator: 3 / 92.
    var request = Carbon_Cop_V1_BuildReportRequest()
    request.projects = Self.projects()
    request.epciTotalCount = 92
    let given = try harness.call(Path.report, request, as: Carbon_Cop_V1_BuildReportResponse.self)
    #expect(abs(given.epciCoveragePercent - 300.0 / 92.0) < 1e-9)
  }

  @Test("the embedded EPCI list: one entry per SIREN and per name key; names and SIRENs resolve alike")
  func epciList() {
    #expect(ReferenceData.epcis.count == 94)
    #expect(Set(ReferenceData.epcis.map(\.siren)).count == 94)
    #expect(Set(ReferenceData.epcis.map { ReferenceData.epciNameKey($0.name) }).count == 94)
    #expect(ReferenceData.epci("CA du Beauvaisis")?.siren == "200067999")
    #expect(ReferenceData.epci("Communauté d’agglomération du Beauvaisis")?.siren == "200067999")
    #expect(ReferenceData.epci("200 067 999")?.name == "CA du Beauvaisis")
    #expect(ReferenceData.epci("Métropole Européenne de Lille")?.siren == "245900410")
    #expect(ReferenceData.epci("123456789") == nil)
  }
}
