import CarbonPluginKit
import Foundation

/// The CSV layout of a project: the online form's export (one row per project, levers in one
/// cell separated by '|', ';' or ',') read by ImportCsv and written by ExportProjects.
enum ProjectCSV {
  /// Columns written by the export, in order; the import accepts them in any order.
  static let columns = [
    "id", "title", "owner", "owner_type", "department", "epci", "crte", "thematic", "primary_lever",
    "other_levers", "maturity", "owner_defined", "next_steps_defined", "needs_defined", "financing_needs",
    "engineering_needs", "potential_funders", "expected_impact_kt_co2e_per_yr", "replicable",
    "continues_action_under_way", "innovation", "significant_impact", "contributes_to_objectives",
    "answers_other_local_issue", "round_year", "comments", "previous_project_id", "category",
    "override_justification", "rule_category", "version",
  ]

  /// French headers of the form's export accepted as synonyms (folded).
  static let headerAliases: [String: String] = [
    "identifiant": "id", "titre": "title", "intitule": "title", "porteur": "owner", "maitre d'ouvrage": "owner",
    "type de porteur": "owner_type", "departement": "department", "levier principal": "primary_lever",
    "autres leviers": "other_levers", "leviers": "other_levers", "thematique": "thematic", "maturite": "maturity",
    "financeurs potentiels": "potential_funders", "commentaires": "comments", "annee": "round_year",
    "categorie": "category", "justification": "override_justification",
  ]

  /// Columns without which no row can be read.
  static let requiredColumns = ["title", "department"]

  /// Maps the header to column names; unknown headers are returned apart (ignored).
  static func header(_ fields: [String]) -> (columns: [String?], unknown: [String]) {
    var unknown: [String] = []
    let mapped = fields.map { raw -> String? in
      let folded = ReferenceData.fold(raw.trimmingCharacters(in: .whitespaces))
      if let name = columns.first(where: { $0 == folded }) { return name }
      if let name = headerAliases[folded] { return name }
      unknown.append(raw)
      return nil
    }
    return (mapped, unknown)
  }

  /// A row read into a project, or the first error naming the column.
  struct RowError: Error {
    let column: String
    let message: String
  }

  /// Builds a project from one row (before `ProjectValidation.normalize`).
  static func project(_ cells: [String: String], defaultRound: Int32) throws(RowError) -> (Project, Category?, String) {
    func text(_ column: String) -> String { (cells[column] ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }
    func flag(_ column: String) throws(RowError) -> Bool {
      switch ReferenceData.fold(text(column)) {
      case "", "non", "no", "false", "0", "n": return false
      case "oui", "yes", "true", "1", "x", "o", "y": return true
      case let other: throw RowError(column: column, message: "'\(other)' is not a yes/no value (oui/non)")
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
    let impact = text("expected_impact_kt_co2e_per_yr").replacingOccurrences(of: ",", with: ".")
    if !impact.isEmpty {
      guard let value = Double(impact), value.isFinite, value >= 0 else {
        throw RowError(column: "expected_impact_kt_co2e_per_yr", message: "'\(impact)' is not a number ≥ 0")
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
      throw RowError(column: "contributes_to_objectives", message: "'\(other)' is not oui/non/empty")
    }
    project.answersOtherLocalIssue = try flag("answers_other_local_issue")
    let round = text("round_year")
    if round.isEmpty {
      project.roundYear = defaultRound
    } else {
      guard let year = Int32(round) else { throw RowError(column: "round_year", message: "'\(round)' is not a year") }
      project.roundYear = year
    }
    project.comments = text("comments")
    project.previousProjectID = text("previous_project_id")
    let categoryText = text("category")
    var category: Category? = nil
    if !categoryText.isEmpty {
      guard let parsed = Self.category(categoryText) else {
        throw RowError(column: "category", message: "'\(categoryText)' is not one of the four categories")
      }
      category = parsed
    }
    return (project, category, text("override_justification"))
  }

  /// Lever or funder lists: one cell, items separated by '|', ';' or ','.
  static func list(_ cell: String) -> [String] {
    cell.split(whereSeparator: { $0 == "|" || $0 == ";" || $0 == "," || $0 == "\n" })
      .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
  }

  static func maturity(_ text: String) throws(RowError) -> Maturity {
    let folded = ReferenceData.fold(text)
    if folded.isEmpty { return .unspecified }
    if folded.hasPrefix("idee") || folded == "idea" || folded == "maturity_idea" { return .idea }
    if folded.contains("conception") || folded == "in design" || folded == "maturity_in_design" { return .inDesign }
    if folded.hasPrefix("pret") || folded.hasPrefix("ready") || folded == "maturity_ready_within_year" { return .readyWithinYear }
    throw RowError(column: "maturity", message: "'\(text)' is not idée / en conception / prêt à engager dans l'année")
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

  /// One export row.
  static func row(_ project: Project) -> [String] {
    func yes(_ flag: Bool) -> String { flag ? "oui" : "non" }
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
    return [
      project.id, project.title, project.owner, project.ownerType, project.department, project.epci, project.crte,
      project.thematic, project.primaryLever, project.otherLevers.joined(separator: "|"), maturity,
      yes(project.ownerDefined), yes(project.nextStepsDefined), yes(project.needsDefined), project.financingNeeds,
      project.engineeringNeeds, project.potentialFunders.joined(separator: "|"),
      project.expectedImpactKtCo2EPerYr == 0 ? "" : "\(project.expectedImpactKtCo2EPerYr)",
      yes(project.replicable), yes(project.continuesActionUnderWay), yes(project.innovation),
      yes(project.significantImpact), contributes, yes(project.answersOtherLocalIssue), "\(project.roundYear)",
      project.comments, project.previousProjectID, name(q.category), q.overridden ? q.overrideJustification : "",
      name(q.ruleCategory), "\(project.version)",
    ]
  }
}
