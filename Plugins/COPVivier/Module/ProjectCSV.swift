import CarbonDomain
import CarbonPluginKit
import Foundation

/// The CSV contract of a project (`Data/csv-columns.csv`): the online form's export read by
/// ImportCsv and written by ExportProjects (one row per project, levers in one cell separated by
/// '|', ';' or ','), with the module's English headers or the form's French ones.
enum ProjectCSV {
  /// One column of the contract.
  struct Column: Sendable {
    /// The module's header (standard dialect).
    let name: String
    /// The form's French header (French dialect, xlsx).
    let frenchHeader: String
    /// Other accepted headers.
    let aliases: [String]
    /// "both" or "output" (written; accepted and ignored on import).
    let direction: String
    /// What it holds.
    let description: String
    /// Accepted values.
    let values: String
  }

  /// The contract's columns, in export order.
  static let contract: [Column] = ((try? ReferenceTable(bytes: PackageResources.csv_columns_csv))?.records ?? []).map {
    Column(
      name: $0["column"] ?? "", frenchHeader: $0["french_header"] ?? "",
      aliases: ($0["aliases"] ?? "").split(separator: "|").map(String.init), direction: $0["direction"] ?? "",
      description: $0["description"] ?? "", values: $0["values"] ?? "")
  }

  /// Column names written by the export, in order; the import accepts them in any order.
  static let columns = contract.map(\.name)

  /// Every accepted header (folded) → column name.
  static let headerIndex: [String: String] = {
    var index: [String: String] = [:]
    for column in contract {
      for header in [column.name, column.frenchHeader] + column.aliases where !header.isEmpty {
        index[ReferenceData.fold(header)] = column.name
      }
    }
    return index
  }()

  /// Columns without which no row can be read.
  static let requiredColumns = ["title", "department"]

  /// Columns the qualification reads (its category or its roadmap flag), and what every row
  /// reads when the file lacks them (`columns`: absent when all of them are). A form export
  /// without them is legitimate (minimal CSVs), so their absence is a warning, not an error;
  /// but it is said, since it changes categories as much as a misspelt header would.
  static let qualificationColumns: [(columns: [String], absentReading: String)] = [
    (["maturity"], "unspecified: no project is « prêt à engager dans l'année », so none is carried in the round"),
    (["owner_defined"], "\"non\": no project's progress is defined, so none is carried in the round"),
    (["next_steps_defined"], "\"non\": no project's progress is defined, so none is carried in the round"),
    (["needs_defined"], "\"non\": no project's progress is defined, so none is carried in the round"),
    (["continues_action_under_way"], "\"non\": only an innovation can make a project carried or to work"),
    (["innovation"], "\"non\": only continuing an action under way can make a project carried or to work"),
    (["contributes_to_objectives"], "unspecified: a project contributes when it names a lever"),
    (["answers_other_local_issue"], "\"non\": a project that does not contribute is « non remonté », never CRTE"),
    (["significant_impact"], "\"non\": the roadmap flag then needs replicable"),
    (["replicable"], "\"non\": the roadmap flag then needs significant_impact"),
    (["primary_lever", "other_levers"], "no lever: a project contributes only when contributes_to_objectives says oui"),
  ]

  /// One warning per qualification column (or column group) the header lacks, naming it (and
  /// its French header) and what every row reads instead (decision `cop.import.absent_columns`).
  static func absentQualificationColumns(_ header: Header) -> [String] {
    qualificationColumns.compactMap { entry in
      guard entry.columns.allSatisfy({ !header.columns.contains($0) }) else { return nil }
      let named = entry.columns.map { column in
        "\(column.quoted) (\(contract.first { $0.name == column }?.frenchHeader.quoted ?? "\"\""))"
      }
      return "column\(named.count > 1 ? "s" : "") \(named.joined(separator: " and ")) absent from the file: every row reads \(named.count > 1 ? "them" : "it") as \(entry.absentReading)"
    }
  }

  /// A header mapped to columns: the column of each cell (nil = unknown), the unknown cells as
  /// written, and the columns named by more than one cell.
  struct Header {
    var columns: [String?] = []
    var unknown: [String] = []
    var duplicated: [String: [String]] = [:]
  }

  /// Maps the header cells to the contract's columns.
  static func header(_ fields: [String]) -> Header {
    var header = Header()
    var seen: [String: String] = [:]
    for raw in fields {
      let cell = raw.trimmingWhitespace()
      guard let name = headerIndex[ReferenceData.fold(cell)] else {
        header.unknown.append(cell)
        header.columns.append(nil)
        continue
      }
      if let first = seen[name] {
        header.duplicated[name, default: [first]].append(cell)
      } else {
        seen[name] = cell
      }
      header.columns.append(name)
    }
    return header
  }

  /// Removes the apostrophe an export put before a formula-like cell (OWASP CSV injection), so
  /// that export → import gives back the text as it was entered.
  static func unneutralised(_ text: String) -> String {
    guard text.hasPrefix("'"), let second = text.unicodeScalars.dropFirst().first,
      ["=", "+", "-", "@", "\t", "\r"].contains(second)
    else { return text }
    return String(text.dropFirst())
  }

  /// A row read into a project, or the first error naming the column.
  struct RowError: Error {
    let column: String
    let message: String
  }

  /// Builds a project from one row (before `ProjectValidation.normalize`).
  static func project(_ cells: [String: String], defaultRound: Int32) throws(RowError) -> (Project, Category?, String) {
    func text(_ column: String) -> String { unneutralised((cells[column] ?? "").trimmingWhitespace()) }
    func flag(_ column: String) throws(RowError) -> Bool {
      switch ReferenceData.fold(text(column)) {
      case "", "non", "no", "false", "0", "n": return false
      case "oui", "yes", "true", "1", "x", "o", "y": return true
      case let other: throw RowError(column: column, message: "\(other.quoted) is not a yes/no value (oui/non)")
      }
    }
    var project = Project()
    project.id = text("id")
    project.title = text("title")
    project.owner = text("owner")
    project.ownerType = text("owner_type")
    project.department = text("department")
    project.epci = text("epci")
    project.crte = text("crte")
    project.thematic = text("thematic")
    project.primaryLever = text("primary_lever")
    project.otherLevers = list(text("other_levers"))
    project.maturity = try maturity(text("maturity"))
    project.ownerDefined = try flag("owner_defined")
    project.nextStepsDefined = try flag("next_steps_defined")
    project.needsDefined = try flag("needs_defined")
    project.financingNeeds = text("financing_needs")
    project.engineeringNeeds = text("engineering_needs")
    project.potentialFunders = list(text("potential_funders"))
    let impact = text("expected_impact_kt_co2e_per_yr").replacing(",", with: ".")
    if !impact.isEmpty {
      guard let value = Double(impact), value.isFinite, value >= 0 else {
        throw RowError(column: "expected_impact_kt_co2e_per_yr", message: "\(impact.quoted) is not a number ≥ 0")
      }
      project.expectedImpactKtCo2EPerYr = value
    }
    project.replicable = try flag("replicable")
    project.continuesActionUnderWay = try flag("continues_action_under_way")
    project.innovation = try flag("innovation")
    project.significantImpact = try flag("significant_impact")
    switch ReferenceData.fold(text("contributes_to_objectives")) {
    case "": project.contributesToObjectives = .unspecified
    case "oui", "yes", "true", "1", "x": project.contributesToObjectives = .yes
    case "non", "no", "false", "0": project.contributesToObjectives = .no
    case let other:
      throw RowError(column: "contributes_to_objectives", message: "\(other.quoted) is not oui/non/empty")
    }
    project.answersOtherLocalIssue = try flag("answers_other_local_issue")
    let round = text("round_year")
    if round.isEmpty {
      project.roundYear = defaultRound
    } else {
      guard let year = Int32(round) else { throw RowError(column: "round_year", message: "\(round.quoted) is not a year") }
      project.roundYear = year
    }
    project.comments = text("comments")
    project.previousProjectID = text("previous_project_id")
    let categoryText = text("category")
    var category: Category? = nil
    if !categoryText.isEmpty {
      guard let parsed = Self.category(categoryText) else {
        throw RowError(column: "category", message: "\(categoryText.quoted) is not one of the four categories")
      }
      category = parsed
      // The seed's labels carry the year (« À remonter COP 2024 », « À travailler COP 2025 » for
      // the 2024 round): a label naming another round is not this row's category.
      let expected = frenchLabel(parsed, round: project.roundYear)
      if let named = labelYear(categoryText), let due = labelYear(expected), named != due {
        throw RowError(
          column: "category",
          message: "\(categoryText.quoted) names COP \(named), but the row's round is \(project.roundYear): its label is \(expected.quoted)")
      }
    }
    return (project, category, text("override_justification"))
  }

  /// The year a category label names ("À travailler COP 2025" → 2025), nil when it names none.
  static func labelYear(_ label: String) -> Int32? {
    let folded = ReferenceData.fold(label)
    guard let cop = folded.range(of: "cop ", options: .backwards) else { return nil }
    let digits = folded[cop.upperBound...].prefix { $0.isNumber }
    return digits.count == 4 ? Int32(digits) : nil
  }

  /// Lever or funder lists: one cell, items separated by '|', ';' or ','.
  static func list(_ cell: String) -> [String] {
    cell.split(whereSeparator: { $0 == "|" || $0 == ";" || $0 == "," || $0 == "\n" })
      .map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
  }

  static func maturity(_ text: String) throws(RowError) -> Maturity {
    let folded = ReferenceData.fold(text)
    if folded.isEmpty { return .unspecified }
    if folded.hasPrefix("idee") || folded == "idea" || folded == "maturity_idea" { return .idea }
    if folded.firstRange(of: "conception") != nil || folded == "in design" || folded == "maturity_in_design" { return .inDesign }
    if folded.hasPrefix("pret") || folded.hasPrefix("ready") || folded == "maturity_ready_within_year" { return .readyWithinYear }
    throw RowError(column: "maturity", message: "\(text.quoted) is not idée / en conception / prêt à engager dans l'année")
  }

  /// The category a cell names (enum name or the seed's French label).
  static func category(_ text: String) -> Category? {
    let folded = ReferenceData.fold(text)
    if folded == "category_carry_in_round" || folded.hasPrefix("a remonter") { return .carryInRound }
    if folded == "category_work_for_next_round" || folded.hasPrefix("a travailler") { return .workForNextRound }
    if folded == "category_outside_cop_examine_in_crte" || folded.hasPrefix("hors cop") { return .outsideCopExamineInCrte }
    if folded == "category_not_carried" || folded.hasPrefix("non remonte") { return .notCarried }
    return nil
  }

  /// Enum name of a category as written in exports.
  static func name(_ category: Category) -> String {
    switch category {
    case .carryInRound: return "CATEGORY_CARRY_IN_ROUND"
    case .workForNextRound: return "CATEGORY_WORK_FOR_NEXT_ROUND"
    case .outsideCopExamineInCrte: return "CATEGORY_OUTSIDE_COP_EXAMINE_IN_CRTE"
    case .notCarried: return "CATEGORY_NOT_CARRIED"
    default: return ""
    }
  }

  /// The category as the seed labels it, for the round of the project (French exports).
  static func frenchLabel(_ category: Category, round: Int32) -> String {
    switch category {
    case .carryInRound: return "À remonter COP \(round)"
    case .workForNextRound: return "À travailler COP \(round + 1)"
    case .outsideCopExamineInCrte: return "Hors COP, à examiner dans le cadre des CRTE"
    case .notCarried: return "Non remonté"
    default: return ""
    }
  }

  /// The export table of `projects`: English headers and enum names (standard dialect), or the
  /// form's French headers and the seed's category labels (French dialect, xlsx).
  static func table(french: Bool) -> ExportTable {
    ExportTable(name: "Vivier COP", header: contract.map { french ? $0.frenchHeader : $0.name })
  }

  /// One export row, in `contract` order.
  static func row(_ project: Project, french: Bool) -> [ExportCell] {
    func yes(_ flag: Bool) -> ExportCell { .text(flag ? "oui" : "non") }
    func category(_ category: Category) -> ExportCell {
      .text(french ? frenchLabel(category, round: project.roundYear) : name(category))
    }
    let maturity: String
    switch project.maturity {
    case .idea: maturity = "idée"
    case .inDesign: maturity = "en conception"
    case .readyWithinYear: maturity = "prêt à engager dans l'année"
    default: maturity = ""
    }
    let contributes: String
    switch project.contributesToObjectives {
    case .yes: contributes = "oui"
    case .no: contributes = "non"
    default: contributes = ""
    }
    let q = project.qualification
    let cells: [String: ExportCell] = [
      "id": .text(project.id), "title": .text(project.title), "owner": .text(project.owner),
      "owner_type": .text(project.ownerType), "department": .text(project.department), "epci": .text(project.epci),
      "crte": .text(project.crte), "thematic": .text(project.thematic), "primary_lever": .text(project.primaryLever),
      "other_levers": .text(project.otherLevers.joined(separator: "|")), "maturity": .text(maturity),
      "owner_defined": yes(project.ownerDefined), "next_steps_defined": yes(project.nextStepsDefined),
      "needs_defined": yes(project.needsDefined), "financing_needs": .text(project.financingNeeds),
      "engineering_needs": .text(project.engineeringNeeds),
      "potential_funders": .text(project.potentialFunders.joined(separator: "|")),
      "expected_impact_kt_co2e_per_yr": project.expectedImpactKtCo2EPerYr == 0 ? .empty : .number(project.expectedImpactKtCo2EPerYr),
      "replicable": yes(project.replicable), "continues_action_under_way": yes(project.continuesActionUnderWay),
      "innovation": yes(project.innovation), "significant_impact": yes(project.significantImpact),
      "contributes_to_objectives": .text(contributes), "answers_other_local_issue": yes(project.answersOtherLocalIssue),
      "round_year": .number(Double(project.roundYear), decimals: 0), "comments": .text(project.comments),
      "previous_project_id": .text(project.previousProjectID), "category": category(q.category),
      "override_justification": .text(q.overridden ? q.overrideJustification : ""), "rule_category": category(q.ruleCategory),
      "meets_roadmap_criteria": yes(q.meetsRoadmapCriteria), "version": .number(Double(project.version), decimals: 0),
    ]
    return contract.map { cells[$0.name] ?? .empty }
  }
}
