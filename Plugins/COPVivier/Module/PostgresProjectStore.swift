import CarbonPluginKit
import Foundation
import Logging
import PostgresNIO

/// The shared register for deployments running several hosts on one pool: PostgreSQL through
/// postgres-nio. Each write is one transaction; an update is `UPDATE … WHERE version = expected`,
/// so of two concurrent updaters of one project the second waits for the first's row lock and
/// then finds a newer version (FAILED_PRECONDITION `cop.version_conflict`).
final class PostgresProjectStore: ProjectStore {
  private let client: PostgresClient
  private let runTask: Task<Void, Never>
  private let logger = Logger(label: "cop-vivier.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

  /// Connects to `url` (`postgres://user:pass@host:port/db[?sslmode=require]`) and creates the
  /// tables when absent.
  init(url: String) throws(ModuleError) {
    guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
      let host = components.host, !host.isEmpty, let user = components.user
    else {
      throw .invalidArgument("config.postgres_url", "must look like postgres://user:pass@host:port/db")
    }
    let database = String(components.path.drop(while: { $0 == "/" }))
    let sslMode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
    var configuration = PostgresClient.Configuration(
      host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
      password: components.password?.removingPercentEncoding ?? components.password,
      database: database.isEmpty ? nil : database,
      tls: sslMode == "disable" ? .disable : (sslMode == "require" ? .require(.makeClientConfiguration()) : .prefer(.makeClientConfiguration())))
    configuration.options.maximumConnections = 8
    let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    self.client = client
    // The pool's own loop runs on the module's database thread too (see `AsyncBridge`).
    runTask = Task(executorPreference: DatabaseExecutor.shared) { await client.run() }
    let logger = self.logger
    do {
      try AsyncBridge.run {
        try await client.withTransaction(logger: logger) { connection in
          // Several hosts may start at once: serialize the schema creation.
          try await connection.query("SELECT pg_advisory_xact_lock(7361001)", logger: logger)
          try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS cop_projects (
              id TEXT PRIMARY KEY, round_year BIGINT NOT NULL, department TEXT NOT NULL,
              category BIGINT NOT NULL, levers TEXT NOT NULL, thematic TEXT NOT NULL,
              owner TEXT NOT NULL, maturity BIGINT NOT NULL, version BIGINT NOT NULL,
              updated_at TEXT NOT NULL, data TEXT NOT NULL)
            """, logger: logger)
          try await connection.query(
            "CREATE INDEX IF NOT EXISTS cop_projects_round ON cop_projects(round_year, department, category)",
            logger: logger)
          try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS cop_history (
              seq BIGSERIAL PRIMARY KEY, project_id TEXT NOT NULL, version BIGINT NOT NULL,
              at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, justification TEXT NOT NULL,
              data TEXT NOT NULL)
            """, logger: logger)
          try await connection.query(
            "CREATE INDEX IF NOT EXISTS cop_history_project ON cop_history(project_id, seq)", logger: logger)
        }
      }
    } catch {
      runTask.cancel()
      throw ModuleError(.unavailable, "could not open the PostgreSQL register: \(Self.describe(error))")
    }
  }

  deinit { runTask.cancel() }

  private static func query(_ sql: String, _ values: [SQLValue]) -> PostgresQuery {
    var binds = PostgresBindings(capacity: values.count)
    for value in values {
      switch value {
      case .text(let text): binds.append(text)
      case .int(let number): binds.append(number)
      }
    }
    return PostgresQuery(unsafeSQL: sql, binds: binds)
  }

  /// The module error inside a transaction error, or an UNAVAILABLE naming the cause.
  private static func mapped(_ error: any Error, _ what: String) -> ModuleError {
    if let error = error as? ModuleError { return error }
    if let error = error as? PostgresTransactionError, let inner = error.closureError {
      return mapped(inner, what)
    }
    if let error = error as? PSQLError, error.serverInfo?[.sqlState] == "23505" {
      return ModuleError(.alreadyExists, "project.id: a project with this id already exists (nothing written)", field: "project.id")
    }
    return ModuleError(.unavailable, "the PostgreSQL register refused \(what): \(describe(error))")
  }

  private static func describe(_ error: any Error) -> String {
    if let error = error as? PostgresTransactionError {
      return [error.beginError, error.closureError, error.commitError].compactMap { $0.map(describe) }.joined(separator: "; ")
    }
    if let error = error as? PSQLError { return "\(error.code) \(error.serverInfo?[.message] ?? "")" }
    return "\(error)"
  }

  private static let insertProjectSQL =
    "INSERT INTO cop_projects (\(ProjectRow.columns.joined(separator: ", ")), data) VALUES (\((1...ProjectRow.columns.count + 1).map { "$\($0)" }.joined(separator: ", ")))"
  private static let insertHistorySQL =
    "INSERT INTO cop_history (project_id, version, at, actor, action, justification, data) VALUES ($1, $2, $3, $4, $5, $6, $7)"

  private static func historyValues(_ project: Project, _ json: String, _ change: ChangeInfo) -> [SQLValue] {
    [.text(project.id), .int(project.version), .text(change.at), .text(change.actor), .text(change.action), .text(change.justification), .text(json)]
  }

  func insert(_ projects: [Project], change: ChangeInfo) throws(ModuleError) {
    var rows: [(Project, String)] = []
    for project in projects {
      let written = ProjectRow.stamped(project, version: 1, change: change)
      rows.append((written, try ProjectRow.encode(written)))
    }
    let client = self.client, logger = self.logger, batch = rows
    do {
      try AsyncBridge.run {
        try await client.withTransaction(logger: logger) { connection in
          for (project, json) in batch {
            let existing = try await connection.query(Self.query("SELECT 1 FROM cop_projects WHERE id = $1", [.text(project.id)]), logger: logger).collect()
            if !existing.isEmpty {
              throw ModuleError(.alreadyExists, "project.id: project \(project.id) already exists", field: "project.id")
            }
            try await connection.query(Self.query(Self.insertProjectSQL, ProjectRow.values(project) + [.text(json)]), logger: logger)
            try await connection.query(Self.query(Self.insertHistorySQL, Self.historyValues(project, json, change)), logger: logger)
          }
        }
      }
    } catch {
      throw Self.mapped(error, "the write (nothing written)")
    }
  }

  func update(_ project: Project, expectedVersion: Int64, change: ChangeInfo) throws(ModuleError) -> Project {
    let written = ProjectRow.stamped(project, version: expectedVersion + 1, change: change)
    let json = try ProjectRow.encode(written)
    let client = self.client, logger = self.logger
    let assignments = ProjectRow.columns.dropFirst().enumerated().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
    let count = ProjectRow.columns.count
    let sql = "UPDATE cop_projects SET \(assignments), data = $\(count) WHERE id = $\(count + 1) AND version = $\(count + 2) RETURNING version"
    let values = Array(ProjectRow.values(written).dropFirst()) + [.text(json), .text(project.id), .int(expectedVersion)]
    do {
      try AsyncBridge.run {
        try await client.withTransaction(logger: logger) { connection in
          let updated = try await connection.query(Self.query(sql, values), logger: logger).collect()
          guard updated.count == 1 else {
            let stored = try await connection.query(
              Self.query("SELECT version FROM cop_projects WHERE id = $1", [.text(project.id)]), logger: logger
            ).collect().first?.decode(Int64.self)
            throw ProjectRow.conflict(project.id, expected: expectedVersion, actual: stored)
          }
          try await connection.query(Self.query(Self.insertHistorySQL, Self.historyValues(written, json, change)), logger: logger)
        }
      }
    } catch {
      throw Self.mapped(error, "the update (nothing written)")
    }
    return written
  }

  func replaceUnchanged(_ changes: [(project: Project, justification: String)], change: ChangeInfo) throws(ModuleError) -> Int {
    var rows: [(Project, Int64, String, String)] = []
    for (project, justification) in changes {
      let written = ProjectRow.stamped(project, version: project.version + 1, change: change)
      rows.append((written, project.version, try ProjectRow.encode(written), justification))
    }
    let client = self.client, logger = self.logger, batch = rows
    let assignments = ProjectRow.columns.dropFirst().enumerated().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
    let count = ProjectRow.columns.count
    let sql = "UPDATE cop_projects SET \(assignments), data = $\(count) WHERE id = $\(count + 1) AND version = $\(count + 2) RETURNING version"
    do {
      return try AsyncBridge.run {
        try await client.withTransaction(logger: logger) { connection in
          var written = 0
          for (project, expected, json, justification) in batch {
            let values = Array(ProjectRow.values(project).dropFirst()) + [.text(json), .text(project.id), .int(expected)]
            guard try await connection.query(Self.query(sql, values), logger: logger).collect().count == 1 else { continue }
            var entry = change
            entry.justification = justification
            try await connection.query(Self.query(Self.insertHistorySQL, Self.historyValues(project, json, entry)), logger: logger)
            written += 1
          }
          return written
        }
      }
    } catch {
      throw Self.mapped(error, "the re-qualification (nothing written)")
    }
  }

  private func rows(_ sql: String, _ values: [SQLValue]) throws(ModuleError) -> [PostgresRow] {
    let client = self.client, logger = self.logger
    do {
      return try AsyncBridge.run { try await client.query(Self.query(sql, values), logger: logger).collect() }
    } catch {
      throw Self.mapped(error, "the read")
    }
  }

  private func strings(_ sql: String, _ values: [SQLValue]) throws(ModuleError) -> [String] {
    var result: [String] = []
    for row in try rows(sql, values) {
      do { result.append(try row.decode(String.self)) } catch { throw Self.mapped(error, "the read") }
    }
    return result
  }

  func get(_ id: String) throws(ModuleError) -> Project? {
    guard let json = try strings("SELECT data FROM cop_projects WHERE id = $1", [.text(id)]).first else { return nil }
    return try ProjectRow.decode(json)
  }

  func existingIDs(_ ids: [String]) throws(ModuleError) -> Set<String> {
    var found: Set<String> = []
    for chunk in stride(from: 0, to: ids.count, by: 500) {
      let slice = Array(ids[chunk..<min(chunk + 500, ids.count)])
      let marks = (1...slice.count).map { "$\($0)" }.joined(separator: ", ")
      found.formUnion(try strings("SELECT id FROM cop_projects WHERE id IN (\(marks))", slice.map { .text($0) }))
    }
    return found
  }

  func history(_ id: String) throws(ModuleError) -> [Carbon_Cop_V1_HistoryEntry] {
    var entries: [Carbon_Cop_V1_HistoryEntry] = []
    for row in try rows(
      "SELECT version, at, actor, action, justification, data FROM cop_history WHERE project_id = $1 ORDER BY seq", [.text(id)])
    {
      let fields: (Int64, String, String, String, String, String)
      do { fields = try row.decode((Int64, String, String, String, String, String).self) } catch {
        throw Self.mapped(error, "the history read")
      }
      entries.append(
        try ProjectRow.historyEntry(
          fields.5, version: fields.0, at: fields.1, actor: fields.2, action: fields.3, justification: fields.4))
    }
    return entries
  }

  func sqlPage(_ filter: StoreFilter, afterID: String, limit: Int) throws(ModuleError) -> [Project] {
    let clause = filter.whereClause(after: afterID, idColumn: "id COLLATE \"C\"") { "$\($0)" }
    var projects: [Project] = []
    for json in try strings("SELECT data FROM cop_projects \(clause.sql) ORDER BY id COLLATE \"C\" LIMIT \(max(1, limit))", clause.values) {
      projects.append(try ProjectRow.decode(json))
    }
    return projects
  }

  func sqlCount(_ filter: StoreFilter) throws(ModuleError) -> Int {
    let clause = filter.whereClause(after: "") { "$\($0)" }
    guard let row = try rows("SELECT COUNT(*) FROM cop_projects \(clause.sql)", clause.values).first else { return 0 }
    do { return Int(try row.decode(Int64.self)) } catch { throw Self.mapped(error, "the count") }
  }
}
