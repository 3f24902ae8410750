import CarbonPluginKit
import Foundation
import GRDB

/// The default register: an embedded SQLite file in the module's data directory, in WAL mode
/// (GRDB `DatabasePool`), `synchronous = FULL` so that a committed write survives a crash.
/// Writes are serialized by GRDB's writer; each is one transaction.
final class SQLiteProjectStore: ProjectStore {
  private let pool: DatabasePool

  /// Opens (creating if needed) the database file at `path`.
  init(path: String) throws(ModuleError) {
    var configuration = Configuration()
    configuration.busyMode = .timeout(30)
    configuration.prepareDatabase { db in
      try db.execute(sql: "PRAGMA synchronous = FULL")
    }
    do {
      pool = try DatabasePool(path: path, configuration: configuration)
      var migrator = DatabaseMigrator()
      migrator.registerMigration("v1") { db in
        try db.execute(
          sql: """
            CREATE TABLE projects (
              id TEXT PRIMARY KEY NOT NULL, round_year INTEGER NOT NULL, department TEXT NOT NULL,
              category INTEGER NOT NULL, levers TEXT NOT NULL, thematic TEXT NOT NULL,
              owner TEXT NOT NULL, maturity INTEGER NOT NULL, version INTEGER NOT NULL,
              updated_at TEXT NOT NULL, data TEXT NOT NULL);
            CREATE INDEX projects_round ON projects(round_year, department, category);
            CREATE TABLE history (
              seq INTEGER PRIMARY KEY AUTOINCREMENT, project_id TEXT NOT NULL, version INTEGER NOT NULL,
              at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, justification TEXT NOT NULL,
              data TEXT NOT NULL);
            CREATE INDEX history_project ON history(project_id, seq);
            """)
      }
      try migrator.migrate(pool)
    } catch {
      throw ModuleError(.unavailable, "could not open the SQLite register at \(path): \(error)")
    }
  }

  private static func arguments(_ values: [SQLValue]) -> StatementArguments {
    StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
      switch value {
      case .text(let text): return text
      case .int(let number): return number
      }
    })
  }

  private static let insertProjectSQL =
    "INSERT INTO projects (\(ProjectRow.columns.joined(separator: ", ")), data) VALUES (\(Array(repeating: "?", count: ProjectRow.columns.count + 1).joined(separator: ", ")))"
  private static let insertHistorySQL =
    "INSERT INTO history (project_id, version, at, actor, action, justification, data) VALUES (?, ?, ?, ?, ?, ?, ?)"

  private static func writeHistory(_ db: Database, _ project: Project, _ json: String, _ change: ChangeInfo) throws {
    try db.execute(
      sql: insertHistorySQL,
      arguments: [project.id, project.version, change.at, change.actor, change.action, change.justification, json])
  }

  func insert(_ projects: [Project], change: ChangeInfo) throws(ModuleError) {
    var rows: [(Project, String)] = []
    for project in projects {
      let written = ProjectRow.stamped(project, version: 1, change: change)
      rows.append((written, try ProjectRow.encode(written)))
    }
    do {
      try pool.write { db in
        for (project, json) in rows {
          if try Int.fetchOne(db, sql: "SELECT 1 FROM projects WHERE id = ?", arguments: [project.id]) != nil {
            throw ModuleError(.alreadyExists, "project.id: project \(project.id) already exists", field: "project.id")
          }
          try db.execute(sql: Self.insertProjectSQL, arguments: Self.arguments(ProjectRow.values(project) + [.text(json)]))
          try Self.writeHistory(db, project, json, change)
        }
      }
    } catch let error as ModuleError {
      throw error
    } catch {
      throw ModuleError(.unavailable, "the SQLite register refused the write (nothing written): \(error)")
    }
  }

  func update(_ project: Project, expectedVersion: Int64, change: ChangeInfo) throws(ModuleError) -> Project {
    let written = ProjectRow.stamped(project, version: expectedVersion + 1, change: change)
    let json = try ProjectRow.encode(written)
    do {
      try pool.write { db in
        let stored = try Int64.fetchOne(db, sql: "SELECT version FROM projects WHERE id = ?", arguments: [project.id])
        guard stored == expectedVersion else {
          throw ProjectRow.conflict(project.id, expected: expectedVersion, actual: stored)
        }
        let assignments = ProjectRow.columns.dropFirst().map { "\($0) = ?" }.joined(separator: ", ")
        try db.execute(
          sql: "UPDATE projects SET \(assignments), data = ? WHERE id = ? AND version = ?",
          arguments: Self.arguments(
            Array(ProjectRow.values(written).dropFirst()) + [.text(json), .text(project.id), .int(expectedVersion)]))
        guard db.changesCount == 1 else {
          throw ProjectRow.conflict(project.id, expected: expectedVersion, actual: stored)
        }
        try Self.writeHistory(db, written, json, change)
      }
    } catch let error as ModuleError {
      throw error
    } catch {
      throw ModuleError(.unavailable, "the SQLite register refused the update (nothing written): \(error)")
    }
    return written
  }

  func replaceUnchanged(_ changes: [(project: Project, justification: String)], change: ChangeInfo) throws(ModuleError) -> Int {
    var rows: [(Project, Int64, String, String)] = []
    for (project, justification) in changes {
      let written = ProjectRow.stamped(project, version: project.version + 1, change: change)
      rows.append((written, project.version, try ProjectRow.encode(written), justification))
    }
    let assignments = ProjectRow.columns.dropFirst().map { "\($0) = ?" }.joined(separator: ", ")
    do {
      return try pool.write { db in
        var written = 0
        for (project, expected, json, justification) in rows {
          try db.execute(
            sql: "UPDATE projects SET \(assignments), data = ? WHERE id = ? AND version = ?",
            arguments: Self.arguments(Array(ProjectRow.values(project).dropFirst()) + [.text(json), .text(project.id), .int(expected)]))
          guard db.changesCount == 1 else { continue }
          var entry = change
          entry.justification = justification
          try Self.writeHistory(db, project, json, entry)
          written += 1
        }
        return written
      }
    } catch {
      throw ModuleError(.unavailable, "the SQLite register refused the re-qualification (nothing written): \(error)")
    }
  }

  private func read<T>(_ body: (Database) throws -> T) throws(ModuleError) -> T {
    do { return try pool.read(body) } catch let error as ModuleError { throw error } catch {
      throw ModuleError(.unavailable, "the SQLite register could not be read: \(error)")
    }
  }

  func get(_ id: String) throws(ModuleError) -> Project? {
    let json = try read { db in try String.fetchOne(db, sql: "SELECT data FROM projects WHERE id = ?", arguments: [id]) }
    guard let json else { return nil }
    return try ProjectRow.decode(json)
  }

  func existingIDs(_ ids: [String]) throws(ModuleError) -> Set<String> {
    try read { db in
      var found: Set<String> = []
      for chunk in stride(from: 0, to: ids.count, by: 500) {
        let slice = Array(ids[chunk..<min(chunk + 500, ids.count)])
        let marks = Array(repeating: "?", count: slice.count).joined(separator: ", ")
        for id in try String.fetchAll(db, sql: "SELECT id FROM projects WHERE id IN (\(marks))", arguments: StatementArguments(slice)) {
          found.insert(id)
        }
      }
      return found
    }
  }

  func history(_ id: String) throws(ModuleError) -> [Carbon_Cop_V1_HistoryEntry] {
    let rows = try read { db in
      try Row.fetchAll(
        db, sql: "SELECT version, at, actor, action, justification, data FROM history WHERE project_id = ? ORDER BY seq",
        arguments: [id])
    }
    var entries: [Carbon_Cop_V1_HistoryEntry] = []
    for row in rows {
      entries.append(
        try ProjectRow.historyEntry(
          row["data"] ?? "", version: row["version"] ?? 0, at: row["at"] ?? "", actor: row["actor"] ?? "",
          action: row["action"] ?? "", justification: row["justification"] ?? ""))
    }
    return entries
  }

  func sqlPage(_ filter: StoreFilter, afterID: String, limit: Int) throws(ModuleError) -> [Project] {
    let clause = filter.whereClause(after: afterID) { _ in "?" }
    let jsons = try read { db in
      try String.fetchAll(
        db, sql: "SELECT data FROM projects \(clause.sql) ORDER BY id LIMIT \(max(1, limit))",
        arguments: Self.arguments(clause.values))
    }
    var projects: [Project] = []
    for json in jsons { projects.append(try ProjectRow.decode(json)) }
    return projects
  }

  func sqlCount(_ filter: StoreFilter) throws(ModuleError) -> Int {
    let clause = filter.whereClause(after: "") { _ in "?" }
    return try read { db in
      try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM projects \(clause.sql)", arguments: Self.arguments(clause.values)) ?? 0
    }
  }
}
