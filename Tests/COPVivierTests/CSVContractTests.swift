import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing
@testable import COPVivierModule

/// Issue 19 point 5: the CSV contract (French and English headers, unknown columns, row
/// numbering), the export dialects, the xlsx export opened by LibreOffice, and formula-injection
/// neutralisation.
@Suite("CSV contract, export dialects, xlsx, formula injection", .cpuBound)
struct CSVContractTests {
  let harness: ModuleHarness<COPVivierModule>
  init() throws { harness = try ModuleHarness<COPVivierModule>() }

  private func importCSV(_ csv: String, ignoreUnknown: Bool = false, on target: ModuleHarness<COPVivierModule>? = nil)
    throws(ModuleError) -> Carbon_Cop_V1_ImportCsvResponse
  {
    var request = Carbon_Cop_V1_ImportCsvRequest()
    request.csv = csv
    request.actor = "DDT 60"
    request.ignoreUnknownColumns = ignoreUnknown
    return try (target ?? harness).call(Path.importCsv, request, as: Carbon_Cop_V1_ImportCsvResponse.self)
  }

  private func export(_ format: Carbon_Cop_V1_ExportFormat) throws -> Carbon_Cop_V1_ExportProjectsResponse {
    var request = Carbon_Cop_V1_ExportProjectsRequest()
    request.format = format
    return try harness.call(Path.export, request, as: Carbon_Cop_V1_ExportProjectsResponse.self)
  }

  /// Two projects: one with a title that a spreadsheet would run as a formula, an impact with
  /// decimals and an override; one to work.
  private func seedTwoProjects() throws {
    var risky = carriedProject(id: "inj-1")
    risky.title = "=HYPERLINK(\"http://evil.example\",\"Cliquez\")"
    risky.comments = "-2 % de consommation; +10 bornes"
    risky.expectedImpactKtCo2EPerYr = 1.25
    try create(harness, risky)
    var work = carriedProject(id: "inj-2", lever: "Sobriété dans l'eau")
    work.maturity = .inDesign
    work.owner = "Syndicat des eaux, du Vexin"
    try create(harness, work)
  }

  @Test("every column of the contract has a French header; French and English headers import alike")
  func frenchAndEnglishHeaders() throws {
    let data = try harness.call(Path.reference, Carbon_Cop_V1_GetReferenceDataRequest(), as: Carbon_Cop_V1_GetReferenceDataResponse.self)
    #expect(data.csvColumns.count == ProjectCSV.columns.count)
    #expect(data.csvColumns.allSatisfy { !$0.frenchHeader.isEmpty && !$0.description_p.isEmpty })
    #expect(data.csvColumns.first { $0.name == "maturity" }?.frenchHeader == "Maturité")
    // No header names two columns.
    var owner: [String: String] = [:]
    for column in data.csvColumns {
      for header in [column.name, column.frenchHeader] + column.aliases {
        let key = ReferenceData.fold(header)
        #expect(owner[key] == nil || owner[key] == column.name, "\(header) names \(owner[key] ?? "") and \(column.name)")
        owner[key] = column.name
      }
    }
    let english = "id,title,owner,department,primary_lever,maturity,owner_defined,next_steps_defined,needs_defined,engineering_needs,continues_action_under_way,round_year\n"
      + "en-1,Pistes,CC Somme Sud-Ouest,80,Vélo,ready within a year,yes,yes,yes,AMO,yes,2024\n"
    let french = "Identifiant;Titre;Porteur;Département;Levier principal;Maturité;Maître d'ouvrage défini;Prochaines étapes définies;Besoins définis;Besoins en ingénierie;Poursuite d'une action engagée;Année\n"
      + "fr-1;Pistes;CC Somme Sud-Ouest;Somme;Vélo;prêt à engager dans l'année;oui;oui;oui;AMO;oui;2024\n"
    #expect(try importCSV(english).categoryCounts == [1, 0, 0, 0])
    #expect(try importCSV(french).categoryCounts == [1, 0, 0, 0])
  }

  @Test("an unknown column is an error naming it; with ignore_unknown_columns it is listed and the rows imported")
  func unknownColumn() throws {
    // "Maturite du projet" is not a header of the contract: dropping it silently would make the
    // project immature (work instead of carry).
    let csv = "title,owner,department,primary_lever,Maturite du projet,owner_defined,next_steps_defined,needs_defined,financing_needs,continues_action_under_way,round_year\n"
      + "Pistes,CC Somme Sud-Ouest,80,Vélo,prêt à engager dans l'année,oui,oui,oui,DSIL,oui,2024\n"
    let error = capture { _ = try importCSV(csv) }
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "csv.header")
    // Client text is echoed as a JSON string literal (issue 20 point 7).
    #expect(error?.message.contains(#""Maturite du projet""#) == true)
    let response = try importCSV(csv, ignoreUnknown: true)
    #expect(response.ignoredColumns == ["Maturite du projet"])
    #expect(response.trace.warnings.contains { $0.contains("Maturite du projet") })
    #expect(response.categoryCounts == [0, 1, 0, 0])  // the consequence the caller accepted
    // Two header cells for one column are refused too.
    let twice = capture { _ = try importCSV("Titre,title,department\nA,B,80\n") }
    #expect(twice?.field == "csv.header")
    #expect(twice?.message.contains(#""title""#) == true)
  }

  @Test("RowError.row counts data rows from 1; line is the file line (a quoted cell may span lines)")
  func rowNumbering() throws {
    var request = Carbon_Cop_V1_ImportCsvRequest()
    // Header = line 1; row 1 = lines 2–3 (quoted line break); row 2 = line 4 (bad department).
    request.csv = "title,department,round_year\n\"Deux\nlignes\",80,2024\nMauvais,75,2024\n"
    request.dryRun = true
    let response = try harness.call(Path.importCsv, request, as: Carbon_Cop_V1_ImportCsvResponse.self)
    let error = try #require(response.errors.first)
    #expect(error.row == 2)
    #expect(error.line == 4)
    #expect(error.field == "rows[1].department")
  }

  /// Issue 20 point 1: "Every numeric input has a documented physical range". A CSV row is
  /// held to the ranges cop.proto declares, as a project sent directly is: an impact of 1e300
  /// kt CO2e/yr (no real project exceeds a few Mt) is a row error, never stored.
  @Test("a CSV row is held to the ranges cop.proto declares")
  func rowsAreHeldToTheDeclaredRanges() throws {
    var request = Carbon_Cop_V1_ImportCsvRequest()
    request.csv = "title,department,round_year,expected_impact_kt_co2e_per_yr\nJuste,80,2024,12.5\nÉnorme,80,2024,1e300\n"
    request.dryRun = true
    let response = try harness.call(Path.importCsv, request, as: Carbon_Cop_V1_ImportCsvResponse.self)
    #expect(response.errors.count == 1)
    let error = try #require(response.errors.first)
    #expect(error.row == 2)
    #expect(error.field == "rows[1].expected_impact_kt_co2e_per_yr")
    #expect(error.message == "expected_impact_kt_co2e_per_yr: must be between 0 and 100000 kt CO2e/yr, got 1e+300")
  }

  // OWASP CSV injection: cells starting with =, +, -, @, tab or CR are neutralised on export.
  @Test("standard CSV: formula-like text gets an apostrophe; the import removes it (round trip)")
  func standardDialectNeutralises() throws {
    try seedTwoProjects()
    let csv = try export(.csv)
    #expect(csv.dialect == "standard")
    #expect(csv.fileName == "vivier-cop.csv")
    #expect(csv.content.hasPrefix("id,title,owner,"))
    #expect(csv.content.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Cliquez\"\")\""))
    #expect(csv.content.contains("'-2 % de consommation; +10 bornes"))
    #expect(!csv.content.contains(",=HYPERLINK"))
    #expect(csv.neutralisedCellCount == 2)
    #expect(csv.content.contains(",1.25,"))
    #expect(csv.content.contains("CATEGORY_CARRY_IN_ROUND"))
    // Round trip: the titles come back as entered.
    let other = try ModuleHarness<COPVivierModule>()
    #expect(try importCSV(csv.content, on: other).importedCount == 2)
    var get = Carbon_Cop_V1_GetProjectRequest()
    get.projectID = "inj-1"
    let back = try other.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self).project
    #expect(back.title == "=HYPERLINK(\"http://evil.example\",\"Cliquez\")")
    #expect(back.expectedImpactKtCo2EPerYr == 1.25)
  }

  @Test("French spreadsheet CSV: ';', decimal comma, BOM, CRLF, French headers and the seed's labels; re-importable")
  func frenchDialect() throws {
    try seedTwoProjects()
    let csv = try export(.csvFrenchSpreadsheet)
    #expect(csv.dialect == "french-spreadsheet")
    #expect(csv.fileName == "vivier-cop-fr.csv")
    #expect(Array(csv.fileBytes.prefix(3)) == [0xEF, 0xBB, 0xBF])  // UTF-8 BOM
    #expect(csv.content.hasPrefix("\u{FEFF}Identifiant;Titre;Porteur;"))
    #expect(csv.content.contains("\r\n"))
    #expect(!csv.content.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    #expect(csv.content.contains(";1,25;"))  // 1.25 kt CO2e/yr with a decimal comma
    #expect(csv.content.contains("À remonter COP 2024"))
    #expect(csv.content.contains("À travailler COP 2025"))
    #expect(csv.content.contains("\"'-2 % de consommation; +10 bornes\""))  // quoted: holds ';'
    let other = try ModuleHarness<COPVivierModule>()
    let again = try importCSV(csv.content, on: other)
    #expect(again.importedCount == 2)
    #expect(again.categoryCounts == [1, 1, 0, 0])
    var get = Carbon_Cop_V1_GetProjectRequest()
    get.projectID = "inj-2"
    #expect(try other.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self).project.owner == "Syndicat des eaux, du Vexin")
  }

  @Test("xlsx: LibreOffice opens it; formula-like titles are text; numbers are numbers")
  func xlsxOpensInLibreOffice() async throws {
    try seedTwoProjects()
    let workbook = try export(.xlsx)
    #expect(workbook.dialect == "xlsx")
    #expect(workbook.fileName == "vivier-cop.xlsx")
    #expect(workbook.mediaType == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    #expect(Array(workbook.fileBytes.prefix(2)) == [0x50, 0x4B])  // a zip
    let sheets = try await ExternalTools.libreOfficeSheetsAsCSV(xlsx: Array(workbook.fileBytes))
    #expect(sheets.count == 1)
    let sheet = try #require(sheets.first)
    let lines = sheet.split(whereSeparator: \.isNewline).map(String.init)
    #expect(lines.first?.hasPrefix("Identifiant,Titre,Porteur,") == true)
    #expect(lines.count == 3)  // header + 2 projects
    // The title is text: LibreOffice gives back the characters, not a hyperlink's value.
    #expect(sheet.contains("=HYPERLINK(\"\"http://evil.example\"\",\"\"Cliquez\"\")"))
    #expect(sheet.contains("À remonter COP 2024"))
    #expect(sheet.contains(",1.25,"))
    #expect(workbook.neutralisedCellCount == 2)
  }

  @Test("an export format must be given")
  func formatRequired() throws {
    let error = capture { _ = try export(.unspecified) }
    #expect(error?.field == "format")
  }
}

/// The conformance fuzzer's mutated requests never get past ImportCsv's required fields, so the
/// CSV reader is fuzzed here: 400 mutations of a valid file (cells swapped for quotes,
/// separators, formula characters, line breaks; truncations) give a result or a clear
/// INVALID_ARGUMENT naming a field — never a crash, never another status.
@Suite("CSV import fuzzing", .cpuBound)
struct CSVImportFuzzTests {
  @Test("400 mutated CSV files: a result or INVALID_ARGUMENT with a field")
  func mutatedFiles() throws {
    let harness = try ModuleHarness<COPVivierModule>()
    let valid = Array(
      ("\u{FEFF}Identifiant;Titre;Porteur;Département;EPCI;Levier principal;Autres leviers;Maturité;Maître d'ouvrage défini;"
        + "Prochaines étapes définies;Besoins définis;Besoins de financement;Impact attendu (kt CO2e/an);Poursuite d'une action engagée;Année;Catégorie\r\n"
        + "f-1;\"Réseau \"\"vélo\"\"\";CA du Beauvaisis;60;200067999;Vélo;Covoiturage|Biogaz;prêt à engager dans l'année;oui;oui;oui;DSIL;0,8;oui;2024;\r\n"
        + "f-2;=HYPERLINK(\"x\");Beauvais;Oise;CA du Beauvaisis;;;idée;non;non;non;;;non;2024;Non remonté\r\n").unicodeScalars)
    let noise: [Unicode.Scalar] = ["\"", ";", ",", "\n", "\r", "=", "+", "-", "@", "\t", "|", "'", "é", "\u{0}", "9", " "]
    var random = SplitMix64(seed: 19)
    var statuses: [String: Int] = [:]
    for round in 0..<400 {
      var scalars = valid
      for _ in 0..<Int.random(in: 1...6, using: &random) {
        let at = Int.random(in: 0..<scalars.count, using: &random)
        switch Int.random(in: 0..<3, using: &random) {
        case 0: scalars[at] = noise.randomElement(using: &random)!
        case 1: scalars.insert(noise.randomElement(using: &random)!, at: at)
        default: scalars.remove(at: at)
        }
      }
      if round % 10 == 0 { scalars = Array(scalars.prefix(Int.random(in: 0..<scalars.count, using: &random))) }
      var request = Carbon_Cop_V1_ImportCsvRequest()
      var text = ""
      text.unicodeScalars.append(contentsOf: scalars)
      request.csv = text
      request.dryRun = true
      request.partial = round % 2 == 0
      request.ignoreUnknownColumns = round % 3 == 0
      if let error = capture({ _ = try harness.call(Path.importCsv, request, as: Carbon_Cop_V1_ImportCsvResponse.self) }) {
        #expect(error.status == .invalidArgument, "mutation \(round): \(error)")
        #expect(!(error.field ?? "").isEmpty, "mutation \(round): no field in \(error)")
        statuses["invalid", default: 0] += 1
      } else {
        statuses["ok", default: 0] += 1
      }
    }
    // Both outcomes occur: the mutations reach the rows, not only the header check.
    #expect((statuses["ok"] ?? 0) > 20 && (statuses["invalid"] ?? 0) > 20, "\(statuses)")
  }
}
