import CarbonDomain
import CarbonPluginKit
import Foundation

extension COPVivierModule {
  /// Largest CSV accepted by one import (data rows).
  static let maxImportRows = 200_000

  /// ImportCsv: reads every row, reports the errors by row and column, and writes the valid
  /// rows in ONE transaction — only when no row failed, unless `partial` is asked.
  func importCsv(_ request: Carbon_Cop_V1_ImportCsvRequest) throws(ModuleError) -> Carbon_Cop_V1_ImportCsvResponse {
    let actor = try request.dryRun ? "" : ProjectValidation.actor(request.actor, callerIdentity: request.callerIdentity)
    if request.roundYear != 0 { try Validate.inRange(request.roundYear, ProjectValidation.roundYears, "round_year") }
    let parsed: CSVReader.Document
    do {
      parsed = try CSVReader(delimiter: .detect).read(request.csv)
    } catch {
      throw .invalidArgument("csv", "a quoted field opened on line \(error.line) is never closed")
    }
    let bounds = FieldBounds.of(COPVivierModule.self)
    guard let headerRecord = parsed.records.first else { throw .invalidArgument("csv", "is empty (a header line is required)") }
    let header = ProjectCSV.header(headerRecord.fields)
    // An unknown column is never dropped silently: a misspelt "Maturité" would otherwise leave
    // every project immature and change its category.
    if !header.unknown.isEmpty && !request.ignoreUnknownColumns {
      throw .invalidArgument(
        "csv.header",
        "unknown column\(header.unknown.count > 1 ? "s" : "") \(header.unknown.map { "\($0.quoted)" }.joined(separator: ", ")): not in the CSV contract (GetReferenceData csv_columns, README); rename it, remove it, or ask ignore_unknown_columns to import without it")
    }
    if let (column, cells) = header.duplicated.sorted(by: { $0.key < $1.key }).first {
      throw .invalidArgument(
        "csv.header", "column \(column.quoted) is given by several header cells (\(cells.map { "\($0.quoted)" }.joined(separator: ", "))): keep one")
    }
    for column in ProjectCSV.requiredColumns where !header.columns.contains(column) {
      throw .invalidArgument("csv.header", "column \(column.quoted) is missing")
    }
    let records = parsed.records.dropFirst()
    guard records.count <= Self.maxImportRows else {
      throw .invalidArgument("csv", "\(records.count) rows exceed the maximum of \(Self.maxImportRows) per import")
    }

    var trace = startTrace("CSV import")
    QualificationRules.decisions(into: &trace)
    trace.decision(
      "cop.import.atomicity", request.partial ? "PARTIAL" : "ALL_OR_NOTHING",
      reason: "an import is one transaction; with errors nothing is written unless 'partial' is asked")
    trace.decision(
      "cop.import.lever_separator", "PIPE_SEMICOLON_COMMA",
      reason: "the form's export puts several levers in one cell; no lever name contains '|', ';' or ','")
    trace.decision(
      "cop.import.unknown_columns", request.ignoreUnknownColumns ? "IGNORED_AND_LISTED" : "ERROR",
      reason: "issue 19: an unknown or unmapped column is an error naming it, or with ignore_unknown_columns a listed warning, never a silent drop")
    trace.decision(
      "cop.import.category_label_year", "ROUND_OR_NEXT_ROUND",
      reason: "the seed's labels carry the year ('A remonter COP 2024', 'A travailler COP 2025' for the 2024 round): a label naming another year than the row's round (carried) or round + 1 (to work) is a row error on category")
    trace.decision(
      "cop.import.row_numbering", "DATA_ROWS_FROM_1",
      reason: "RowError.row = 1 for the first record after the header (a multi-line quoted cell is one row); RowError.line = the file line where the row starts")
    if !header.unknown.isEmpty {
      trace.warning("columns ignored (ignore_unknown_columns): \(header.unknown.map { "\($0.quoted)" }.joined(separator: ", "))")
    }
    trace.decision(
      "cop.import.absent_columns", "WARNED",
      reason: "a column the qualification reads (maturity, the *_defined flags, continues_action_under_way, innovation, contributes_to_objectives, answers_other_local_issue, significant_impact, replicable, the levers) may be absent from a minimal export; every row then reads it as \"non\" or unspecified, which the warnings say column by column")
    for warning in ProjectCSV.absentQualificationColumns(header) { trace.warning(warning) }

    var response = Carbon_Cop_V1_ImportCsvResponse()
    response.ignoredColumns = header.unknown
    var valid: [Project] = []
    var rowsOfValid: [Int] = []
    var seenIDs: Set<String> = []
    var warnings: [String] = []
    func reject(_ index: Int, _ line: Int, _ column: String, _ message: String) {
      var error = Carbon_Cop_V1_RowError()
      error.row = Int32(index + 1)
      error.line = Int32(line)
      error.column = column
      error.field = column.isEmpty ? "rows[\(index)]" : "rows[\(index)].\(column)"
      error.message = message
      response.errors.append(error)
    }
    for (index, record) in records.enumerated() {
      guard record.fields.count == header.columns.count else {
        reject(index, record.line, "", "expected \(header.columns.count) fields, found \(record.fields.count)")
        continue
      }
      var cells: [String: String] = [:]
      for (column, value) in zip(header.columns, record.fields) { if let column { cells[column] = value } }
      do {
        let (raw, category, justification) = try ProjectCSV.project(cells, defaultRound: request.roundYear)
        // A row is held to the ranges cop.proto declares, as a project sent directly would be.
        try bounds.check(raw)
        var rowWarnings: [String] = []
        var project = try ProjectValidation.normalize(raw, prefix: "", generateID: true, warnings: &rowWarnings)
        guard seenIDs.insert(project.id).inserted else {
          reject(index, record.line, "id", "id \(project.id.quoted) appears twice in the file")
          continue
        }
        project.qualification = QualificationRules.qualify(project)
        if let category, category != project.qualification.ruleCategory {
          guard !justification.isEmpty else {
            reject(index, record.line, "override_justification",
              "category \(ProjectCSV.name(category)) differs from the rules' \(ProjectCSV.name(project.qualification.ruleCategory)): a justification is required")
            continue
          }
          project.qualification.overridden = true
          project.qualification.category = category
          project.qualification.overrideJustification = justification
          project.qualification.overrideBy = actor
          project.qualification.overrideAt = ProjectValidation.now()
          project.qualification = QualificationRules.qualify(project)
        }
        valid.append(project)
        rowsOfValid.append(index)
        warnings += rowWarnings.map { "rows[\(index)].\($0)" }
      } catch let error as ProjectCSV.RowError {
        reject(index, record.line, error.column, error.message)
      } catch let error as ModuleError {
        reject(index, record.line, error.field ?? "", error.message)
      } catch {
        reject(index, record.line, "", "\(error)")
      }
    }

    // Ids already in the register are row errors too (checked before the write; a race with
    // another writer still fails the whole transaction with ALREADY_EXISTS).
    let existing = try store.existingIDs(valid.map(\.id))
    if !existing.isEmpty {
      var kept: [Project] = []
      for (project, index) in zip(valid, rowsOfValid) {
        if existing.contains(project.id) {
          reject(index, (records.dropFirst(index).first?.line) ?? 0, "id", "project \(project.id) already exists in the register")
        } else {
          kept.append(project)
        }
      }
      valid = kept
    }
    response.errors.sort { $0.row < $1.row }
    response.rejectedCount = Int32(Set(response.errors.map(\.row)).count)

    if !response.errors.isEmpty && !request.partial && !request.dryRun {
      let listed = response.errors.prefix(50).map { "row \($0.row) (line \($0.line)) \($0.field): \($0.message)" }.joined(separator: "; ")
      let first = response.errors[0]
      throw ModuleError(
        .invalidArgument,
        "\(response.errors.count) error(s), nothing imported (ask 'partial' to import the valid rows): \(listed)",
        field: first.field)
    }
    if !request.dryRun && !valid.isEmpty {
      try store.insert(valid, change: ChangeInfo(actor: actor, action: "import", at: ProjectValidation.now()))
      response.importedCount = Int32(valid.count)
      trace.rule("cop.import.written", "\(valid.count) rows written in one transaction")
    }
    if request.dryRun { trace.rule("cop.import.dry_run", "validated only, nothing written") }
    ProjectValidation.warn(warnings, into: &trace)
    response.projectIds = valid.prefix(1000).map(\.id)
    var counts = [Int32](repeating: 0, count: 4)
    for project in valid where (1...4).contains(project.qualification.category.rawValue) {
      counts[project.qualification.category.rawValue - 1] += 1
    }
    response.categoryCounts = counts
    trace.term("valid_row_count", Double(valid.count), .count, formula: "rows read without error")
    trace.term("rejected_row_count", Double(response.rejectedCount), .count, formula: "rows with at least one error")
    response.trace = trace.build()
    return response
  }

  /// ExportProjects: CSV in the import's layout (standard or French-spreadsheet dialect, both
  /// re-importable), a JSON array, or an xlsx workbook. Formula-like text is neutralised in CSV
  /// and written as text cells in xlsx.
  func exportProjects(_ request: Carbon_Cop_V1_ExportProjectsRequest) throws(ModuleError) -> Carbon_Cop_V1_ExportProjectsResponse {
    let filter = try storeFilter(request.filter, "filter.")
    try Validate.specified(request.format, "format") { (1...4).contains($0.rawValue) }
    var response = Carbon_Cop_V1_ExportProjectsResponse()
    var trace = startTrace("export")
    var count = 0
    let stem = "vivier-cop" + (request.filter.roundYear != 0 ? "-\(request.filter.roundYear)" : "")
    if request.format == .json {
      var content = "["
      try store.forEach(filter) { project throws(ModuleError) in
        content += (count == 0 ? "\n" : ",\n") + (try ProjectRow.encode(project))
        count += 1
      }
      content += "\n]\n"
      response.content = content
      response.fileBytes = Data(content.utf8)
      response.fileName = stem + ".json"
      response.mediaType = "application/json"
      response.dialect = "json"
    } else {
      let french = request.format != .csv
      var table = ProjectCSV.table(french: french)
      var formulaLike = 0
      try store.forEach(filter) { project throws(ModuleError) in
        let row = ProjectCSV.row(project, french: french)
        for cell in row { if case .text(let text) = cell, CSVWriter.neutralised(text) != text { formulaLike += 1 } }
        table.append(row)
        count += 1
      }
      response.neutralisedCellCount = Int32(formulaLike)
      switch request.format {
      case .xlsx:
        do { response.fileBytes = Data(try XLSXWorkbook(sheets: [table]).data()) } catch { throw error.moduleError }
        response.fileName = stem + ".xlsx"
        response.mediaType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        response.dialect = "xlsx"
        trace.decision(
          "cop.export.formula_cells", "TEXT_CELLS",
          reason: "OWASP CSV injection: the workbook writes every text cell as an inline string, so '=…' stays text (\(formulaLike) such cell(s))")
      default:
        let dialect: CSVDialect = french ? .frenchSpreadsheet : .standard
        let content: String
        do { content = try CSVWriter.text(of: table, dialect: dialect) } catch { throw error.moduleError }
        response.content = content
        response.fileBytes = Data(content.utf8)
        response.fileName = stem + (french ? "-fr" : "") + ".csv"
        response.mediaType = "text/csv; charset=utf-8"
        response.dialect = dialect.name
        trace.decision(
          "cop.export.formula_cells", "APOSTROPHE_PREFIX",
          reason: "OWASP CSV injection: text cells starting with =, +, -, @, tab or CR get a leading apostrophe (\(formulaLike) cell(s)); the import removes it again")
      }
      trace.decision(
        "cop.export.dialect", response.dialect,
        reason: french
          ? "the form's French headers and the seed's category labels; ';', decimal comma, UTF-8 with BOM, CRLF (French spreadsheets open it directly)"
          : "RFC 4180: ',', decimal point, LF, the module's English headers and enum names")
    }
    response.projectCount = Int32(count)
    trace.term("project_count", Double(count), .count, formula: "projects exported")
    response.trace = trace.build()
    return response
  }
}
