import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing
@testable import COPVivierModule

@Suite("CSV import / export", .cpuBound)
struct ImportExportTests {
  let harness: ModuleHarness<COPVivierModule>
  init() throws { harness = try ModuleHarness<COPVivierModule>() }

  private func importCSV(_ csv: String, partial: Bool = false, dryRun: Bool = false) throws(ModuleError) -> Carbon_Cop_V1_ImportCsvResponse {
    var request = Carbon_Cop_V1_ImportCsvRequest()
    request.csv = csv
    request.partial = partial
    request.dryRun = dryRun
    request.actor = "DDTM 62"
    return try harness.call(Path.importCsv, request, as: Carbon_Cop_V1_ImportCsvResponse.self)
  }

  @Test("malformed rows → one error per row naming the column; dry run writes nothing")
  func malformedRows() throws {
    let csv = csvHeader
      + csvRow("ok-1")
      + csvRow("bad-lever", lever: "Téléportation")
      + csvRow("bad-maturity", maturity: "bientôt")
      + "bad-flag,Projet,CC,62,CC,Vélo,,idée,peut-être,oui,oui,DSIL,oui,oui,2024\n"
      + "short,row\n"
      + csvRow("ok-1")
      + csvRow("bad-dep", department: "Paris")
    let response = try importCSV(csv, dryRun: true)
    #expect(response.importedCount == 0)
    let byRow = Dictionary(grouping: response.errors, by: \.row)
    // RowError.row: 1 = the first data row after the header; `line` is the file's line.
    #expect(byRow[2]?.first?.column == "primary_lever")
    #expect(byRow[2]?.first?.field == "rows[1].primary_lever")
    #expect(byRow[2]?.first?.line == 3)
    #expect(byRow[3]?.first?.column == "maturity")
    #expect(byRow[4]?.first?.column == "owner_defined")
    #expect(byRow[5]?.first?.field == "rows[4]")
    #expect(byRow[6]?.first?.column == "id")  // duplicate id in the file
    #expect(byRow[7]?.first?.column == "department")
    #expect(byRow[7]?.first?.line == 8)
    #expect(response.rejectedCount == 6)
    var list = Carbon_Cop_V1_ListProjectsRequest()
    list.pageSize = 10
    #expect(try harness.call(Path.list, list, as: Carbon_Cop_V1_ListProjectsResponse.self).totalCount == 0)
  }

  @Test("semicolon-delimited French export with quoted cells and levers in one cell")
  func frenchExport() throws {
    let csv = """
      Identifiant;Titre;Porteur;Département;Levier principal;Autres leviers;Maturité;owner_defined;next_steps_defined;needs_defined;Besoins de financement;continues_action_under_way;replicable;Année;Commentaires
      fr-1;"Réseau ""vélo"" du littoral";CA du Boulonnais;Pas-de-Calais;Velo;"Covoiturage, Bus et cars décarbonés";Prêt à engager dans l'année;oui;oui;oui;DSIL 2025;oui;oui;2024;"ligne 1
      ligne 2"
      fr-2;Rénovation écoles;CC Desvres-Samer;62;Rénovation (tertiaire);;En conception;oui;non;non;;oui;oui;2024;

      """
    let response = try importCSV(csv)
    #expect(response.errors.isEmpty, "\(response.errors)")
    #expect(response.importedCount == 2)
    #expect(response.categoryCounts == [1, 1, 0, 0])
    var get = Carbon_Cop_V1_GetProjectRequest()
    get.projectID = "fr-1"
    let project = try harness.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self).project
    #expect(project.title == "Réseau \"vélo\" du littoral")
    #expect(project.department == "62")
    #expect(project.primaryLever == "Vélo")
    #expect(project.otherLevers == ["Covoiturage", "Bus et cars décarbonés"])
    #expect(project.comments == "ligne 1\nligne 2")
  }

  @Test("export CSV → import into a new pool reproduces the projects (round trip), overrides kept")
  func roundTrip() throws {
    let imported = try importCSV(csvHeader + csvRow("rt-1") + csvRow("rt-2", maturity: "idée"))
    #expect(imported.importedCount == 2)
    var override = Carbon_Cop_V1_OverrideQualificationRequest()
    override.projectID = "rt-2"
    override.category = .carryInRound
    override.justification = "Engagement confirmé en comité"
    override.actor = "DREAL"
    override.expectedVersion = 1
    _ = try harness.call(Path.override, override, as: Carbon_Cop_V1_ProjectResponse.self)

    var export = Carbon_Cop_V1_ExportProjectsRequest()
    export.format = .csv
    let csv = try harness.call(Path.export, export, as: Carbon_Cop_V1_ExportProjectsResponse.self)
    #expect(csv.projectCount == 2)

    let other = try ModuleHarness<COPVivierModule>()
    var request = Carbon_Cop_V1_ImportCsvRequest()
    request.csv = csv.content
    request.actor = "next host"
    let again = try other.call(Path.importCsv, request, as: Carbon_Cop_V1_ImportCsvResponse.self)
    #expect(again.importedCount == 2)
    var get = Carbon_Cop_V1_GetProjectRequest()
    get.projectID = "rt-2"
    let project = try other.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self).project
    #expect(project.qualification.category == .carryInRound)
    #expect(project.qualification.ruleCategory == .workForNextRound)
    #expect(project.qualification.overrideJustification == "Engagement confirmé en comité")
    #expect(project.otherLevers == ["Covoiturage", "Sobriété foncière"])

    export.format = .json
    let json = try harness.call(Path.export, export, as: Carbon_Cop_V1_ExportProjectsResponse.self)
    let array = try JSONSerialization.jsonObject(with: Data(json.content.utf8)) as? [[String: Any]]
    #expect(array?.count == 2)
  }

  @Test("a category differing from the rules without justification is a row error")
  func overrideNeedsJustification() throws {
    let csv = "id,title,department,primary_lever,category,round_year\nj-1,Projet,80,Vélo,A remonter COP 2024,2024\n"
    let response = try importCSV(csv, partial: true)
    #expect(response.importedCount == 0)
    #expect(response.errors.first?.column == "override_justification")
  }

  @Test("missing required column, unterminated quote, empty file → INVALID_ARGUMENT")
  func wholeFileErrors() throws {
    for (csv, field) in [("id,title\n1,x\n", "csv.header"), ("title,department\n\"open,80\n", "csv"), ("", "csv")] {
      let error = capture { _ = try importCSV(csv) }
      #expect(error != nil, "accepted \(csv)")
      #expect(error?.status == .invalidArgument)
      #expect(error?.field == field)
    }
  }

  @Test("a large import (seed pool, 1279 rows) is one transaction and round-trips")
  func largeImport() throws {
    var generate = Carbon_Cop_V1_GenerateSeedPoolRequest()
    generate.store = true
    generate.actor = "DREAL"
    let pool = try harness.call(Path.seedPool, generate, as: Carbon_Cop_V1_GenerateSeedPoolResponse.self)
    #expect(pool.projectCount == 1279)
    var report = Carbon_Cop_V1_BuildReportRequest()
    report.roundYear = 2024
    let stored = try harness.call(Path.report, report, as: Carbon_Cop_V1_BuildReportResponse.self)
    #expect(stored.departments.last?.projectCount == 1279)
    #expect(stored.departments.last?.carryCount == 788)
    #expect(stored.topLevers.first?.projectCount == 235)

    // Carry the to-work projects into 2025 and compare the rounds.
    var carry = Carbon_Cop_V1_CarryOverRoundRequest()
    carry.fromRoundYear = 2024
    carry.toRoundYear = 2025
    carry.actor = "DREAL"
    let carried = try harness.call(Path.carryOver, carry, as: Carbon_Cop_V1_CarryOverRoundResponse.self)
    #expect(carried.carriedCount == 326)
    let again = try harness.call(Path.carryOver, carry, as: Carbon_Cop_V1_CarryOverRoundResponse.self)
    #expect(again.carriedCount == 0)
    #expect(again.alreadyCarriedCount == 326)
    var compare = Carbon_Cop_V1_CompareRoundsRequest()
    compare.fromRoundYear = 2024
    compare.toRoundYear = 2025
    let comparison = try harness.call(Path.compare, compare, as: Carbon_Cop_V1_CompareRoundsResponse.self)
    #expect(comparison.fromTotal == 1279)
    #expect(comparison.toTotal == 326)
    #expect(comparison.continuedCount == 326)
    // Carried copies keep their attributes: still not mature → still "to work".
    #expect(comparison.categories.first { $0.category == .workForNextRound }?.toCount == 326)
  }
}
