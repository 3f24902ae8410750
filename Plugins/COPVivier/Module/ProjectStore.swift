import CarbonPluginKit
import Foundation
import SwiftProtobuf

/// Filters of a store query; every non-empty filter must match.
struct StoreFilter: Sendable {
  var department = ""
  var category = 0
  /// Canonical lever name, matched against the primary and the other levers.
  var lever = ""
  /// Thematic and owner, matched ignoring case, accents and spacing (`ReferenceData.fold`), as
  /// the inputs and the report's owner counts are: "Energie" finds "Énergie", "commune de Ham"
  /// finds "Commune de Ham". SQL cannot fold accents the same way in both backends, so these
  /// two are applied to the decoded projects (`matchesText`), not in the WHERE clause.
  var thematic = ""
  var owner = ""
  var roundYear: Int32 = 0
  var maturity = 0

  /// Whether the thematic or owner filter is set (the query then reads past non-matching rows).
  var filtersText: Bool { !thematic.isEmpty || !owner.isEmpty }

  /// Whether a project passes the thematic and owner filters.
  func matchesText(_ project: Project) -> Bool {
    (thematic.isEmpty || ReferenceData.fold(project.thematic) == ReferenceData.fold(thematic))
      && (owner.isEmpty || ReferenceData.fold(project.owner) == ReferenceData.fold(owner))
  }

  /// The SQL conditions as (column, value) pairs; `levers` is matched with LIKE. Thematic and
  /// owner are not among them (see `matchesText`).
  var conditions: [(column: String, value: SQLValue)] {
    var list: [(String, SQLValue)] = []
    if !department.isEmpty { list.append(("department", .text(department))) }
    if category != 0 { list.append(("category", .int(Int64(category)))) }
    if !lever.isEmpty { list.append(("levers", .text("%|\(lever)|%"))) }
    if roundYear != 0 { list.append(("round_year", .int(Int64(roundYear)))) }
    if maturity != 0 { list.append(("maturity", .int(Int64(maturity)))) }
    return list
  }

  /// SQL WHERE clause with placeholders produced by `placeholder(n)` (1-based), plus the values.
  func whereClause(after id: String, idColumn: String = "id", placeholder: (Int) -> String) -> (sql: String, values: [SQLValue]) {
    var parts: [String] = []
    var values: [SQLValue] = []
    for (column, value) in conditions {
      values.append(value)
      parts.append(column == "levers" ? "levers LIKE \(placeholder(values.count))" : "\(column) = \(placeholder(values.count))")
    }
    if !id.isEmpty {
      values.append(.text(id))
      parts.append("\(idColumn) > \(placeholder(values.count))")
    }
    return (parts.isEmpty ? "" : "WHERE " + parts.joined(separator: " AND "), values)
  }
}

/// A value bound to a SQL statement.
enum SQLValue: Sendable {
  case text(String)
  case int(Int64)
}

/// One change to write with a project: who, what, why.
struct ChangeInfo: Sendable {
  let actor: String
  let action: String
  var justification = ""
  let at: String
}

/// The persistent register of projects. Every write is one transaction; concurrent updates of
/// one project are serialized by its version (optimistic concurrency): a writer whose
/// `expectedVersion` is stale gets FAILED_PRECONDITION `cop.version_conflict` and writes nothing.
protocol ProjectStore: Sendable {
  /// Inserts new projects (version 1) with their history, all or nothing.
  /// An existing id fails the whole batch with ALREADY_EXISTS.
  func insert(_ projects: [Project], change: ChangeInfo) throws(ModuleError)
  /// Replaces a project if its stored version is `expectedVersion`; returns it with its new version.
  func update(_ project: Project, expectedVersion: Int64, change: ChangeInfo) throws(ModuleError) -> Project
  /// Replaces each project whose stored version is still `project.version`, all in ONE
  /// transaction, each with a history row carrying its justification; a project changed
  /// meanwhile is skipped. Returns the number written.
  func replaceUnchanged(_ changes: [(project: Project, justification: String)], change: ChangeInfo) throws(ModuleError) -> Int
  /// The project with this id, or nil.
  func get(_ id: String) throws(ModuleError) -> Project?
  /// The ids among `ids` that exist.
  func existingIDs(_ ids: [String]) throws(ModuleError) -> Set<String>
  /// History of a project, oldest first.
  func history(_ id: String) throws(ModuleError) -> [Carbon_Cop_V1_HistoryEntry]
  /// Up to `limit` projects matching the filter's SQL `conditions` (thematic and owner not
  /// applied) with an id greater than `afterID`, by id. Callers use `page`.
  func sqlPage(_ filter: StoreFilter, afterID: String, limit: Int) throws(ModuleError) -> [Project]
  /// Number of projects matching the filter's SQL `conditions` (thematic and owner not
  /// applied). Callers use `count`.
  func sqlCount(_ filter: StoreFilter) throws(ModuleError) -> Int
}

extension ProjectStore {
  /// Up to `limit` projects matching the whole filter with an id greater than `afterID`, by id.
  func page(_ filter: StoreFilter, afterID: String, limit: Int) throws(ModuleError) -> [Project] {
    guard filter.filtersText else { return try sqlPage(filter, afterID: afterID, limit: limit) }
    var found: [Project] = []
    var after = afterID
    let batchSize = max(limit, 500)
    while true {
      let batch = try sqlPage(filter, afterID: after, limit: batchSize)
      for project in batch where filter.matchesText(project) {
        found.append(project)
        if found.count == limit { return found }
      }
      guard batch.count == batchSize, let last = batch.last else { return found }
      after = last.id
    }
  }

  /// Number of projects matching the whole filter.
  func count(_ filter: StoreFilter) throws(ModuleError) -> Int {
    guard filter.filtersText else { return try sqlCount(filter) }
    var total = 0
    try forEach(filter) { _ in total += 1 }
    return total
  }

  /// Calls `body` for every project matching the filter, a page at a time (memory stays flat).
  func forEach(_ filter: StoreFilter, pageSize: Int = 500, _ body: (Project) throws(ModuleError) -> Void) throws(ModuleError) {
    var after = ""
    while true {
      let batch = try self.page(filter, afterID: after, limit: pageSize)
      for project in batch { try body(project) }
      guard batch.count == pageSize, let last = batch.last else { return }
      after = last.id
    }
  }
}

/// How projects and history entries are stored in a row (shared by both backends).
enum ProjectRow {
  /// The column values of a project row, in `columns` order (without `data`).
  static let columns = ["id", "round_year", "department", "category", "levers", "thematic", "owner", "maturity", "version", "updated_at"]

  static func values(_ project: Project) -> [SQLValue] {
    let levers = ([project.primaryLever] + project.otherLevers).filter { !$0.isEmpty }
    return [
      .text(project.id), .int(Int64(project.roundYear)), .text(project.department),
      .int(Int64(project.qualification.category.rawValue)), .text("|" + levers.joined(separator: "|") + "|"),
      .text(project.thematic), .text(project.owner), .int(Int64(project.maturity.rawValue)),
      .int(project.version), .text(project.updatedAt),
    ]
  }

  /// The stored document (proto3 JSON).
  static func encode(_ project: Project) throws(ModuleError) -> String {
    do { return try project.jsonString() } catch { throw .internal("could not encode project \(project.id): \(error)") }
  }

  static func decode(_ json: String) throws(ModuleError) -> Project {
    do {
      var options = JSONDecodingOptions()
      options.ignoreUnknownFields = true
      return try Project(jsonString: json, options: options)
    } catch {
      throw ModuleError(.dataLoss, "a stored project could not be decoded: \(error)")
    }
  }

  /// The project as written by a change: version and stamp set.
  static func stamped(_ project: Project, version: Int64, change: ChangeInfo) -> Project {
    var written = project
    written.version = version
    written.updatedAt = change.at
    written.updatedBy = change.actor
    return written
  }

  static func historyEntry(_ json: String, version: Int64, at: String, actor: String, action: String, justification: String) throws(ModuleError) -> Carbon_Cop_V1_HistoryEntry {
    var entry = Carbon_Cop_V1_HistoryEntry()
    entry.version = version
    entry.at = at
    entry.actor = actor
    entry.action = action
    entry.justification = justification
    entry.project = try decode(json)
    return entry
  }

  static func conflict(_ id: String, expected: Int64, actual: Int64?) -> ModuleError {
    .failedPrecondition(
      rule: "cop.version_conflict",
      actual.map { "project \(id) is at version \($0), the update expected version \(expected): read it again and reapply the change" }
        ?? "project \(id) does not exist")
  }
}
