import CarbonPluginKit
import CarbonPluginTesting
import Foundation
import Testing
@testable import COPVivierModule

/// The persistence checks, run against one backend. Each check uses ids unique to the run so
/// that the shared PostgreSQL tables can hold several runs.
struct PersistenceChecks: Sendable {
  /// Opens a module instance (a "host start") on the same storage.
  let open: @Sendable () throws -> ModuleHarness<COPVivierModule>
  /// Writes projects straight into the store, as an earlier module version left them.
  let plant: @Sendable ([Carbon_Cop_V1_Project]) throws -> Void
  let run = UUID().uuidString.prefix(8).lowercased()

  /// Data survives closing and reopening the store (host restart).
  func survivesRestart() throws {
    let id = "restart-\(run)"
    do {
      let first = try open()
      try create(first, carriedProject(id: id))
    }
    let second = try open()
    var request = Carbon_Cop_V1_GetProjectRequest()
    request.projectID = id
    let project = try second.call(Path.get, request, as: Carbon_Cop_V1_ProjectResponse.self).project
    #expect(project.title == "Piste cyclable \(id)")
    #expect(project.qualification.category == .carryInRound)
    #expect(project.version == 1)
  }

  /// Projects stored by module 1.0.0 (rules "cop-rules-1": 'significant impact or replicable'
  /// was a condition; the ninth transport lever "Transports en commun") are re-qualified when
  /// the module starts: a new version with a 'requalify' history entry, the old version kept.
  func requalifiedOnUpgrade() throws {
    // Not replicable, no significant impact: cop-rules-1 put it in NOT_CARRIED. The seed's
    // « à remonter » definition (contributes + continues + mature) carries it.
    var old = carriedProject(id: "upg-\(run)")
    old.replicable = false
    old.primaryLever = "Transports en commun"
    old.otherLevers = ["Vélo", "Covoiturage"]
    old.thematic = "Transport et mobilités"
    old.qualification.ruleCategory = .notCarried
    old.qualification.category = .notCarried
    var overridden = carriedProject(id: "upg-ovr-\(run)")
    overridden.replicable = false
    overridden.qualification.ruleCategory = .notCarried
    overridden.qualification.category = .workForNextRound
    overridden.qualification.overridden = true
    overridden.qualification.overrideJustification = "Attendre le plan de financement"
    try plant([old, overridden])

    let harness = try open()
    var get = Carbon_Cop_V1_GetProjectRequest()
    get.projectID = old.id
    let response = try harness.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self)
    let upgraded = response.project
    #expect(upgraded.version == 2)
    #expect(upgraded.qualification.category == .carryInRound)
    #expect(upgraded.qualification.ruleCategory == .carryInRound)
    #expect(upgraded.qualification.rulesVersion == "cop-rules-3")
    #expect(!upgraded.qualification.meetsRoadmapCriteria)
    #expect(upgraded.primaryLever == "Vélo")
    #expect(upgraded.otherLevers == ["Covoiturage"])  // "Vélo" is now the primary lever
    #expect(response.trace.rules.contains { $0.rule == "cop.upgrade.requalified" })

    var historyRequest = Carbon_Cop_V1_GetProjectHistoryRequest()
    historyRequest.projectID = old.id
    let history = try harness.call(Path.history, historyRequest, as: Carbon_Cop_V1_GetProjectHistoryResponse.self).entries
    #expect(history.count == 2)
    // Nothing lost: the version as 1.0.0 wrote it is still there.
    #expect(history.first?.project.primaryLever == "Transports en commun")
    #expect(history.first?.project.qualification.ruleCategory == .notCarried)
    #expect(history.last?.action == "requalify")
    #expect(history.last?.actor == "cop-vivier upgrade")
    #expect(history.last?.justification.contains("CATEGORY_NOT_CARRIED → CATEGORY_CARRY_IN_ROUND") == true)
    #expect(history.last?.justification.contains("'Transports en commun' → 'Vélo'") == true)

    get.projectID = overridden.id
    let kept = try harness.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self).project
    #expect(kept.qualification.category == .workForNextRound)  // the officer's override stands
    #expect(kept.qualification.ruleCategory == .carryInRound)
    #expect(kept.qualification.overrideJustification == "Attendre le plan de financement")

    // A second start finds nothing left to do.
    let again = try open()
    get.projectID = old.id
    #expect(try again.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self).project.version == 2)
  }

  /// A bad row at position N with partial = false leaves nothing written; then partial writes the rest.
  func failedImportWritesNothing() throws {
    let harness = try open()
    var csv = csvHeader
    for index in 0..<40 { csv += csvRow("imp-\(run)-\(index)") }
    // Row 25 (0-based) names a department outside the region.
    csv = csv.replacingOccurrences(of: "imp-\(run)-25,Projet imp-\(run)-25,CC Somme Sud-Ouest,80,", with: "imp-\(run)-25,Projet imp-\(run)-25,CC Somme Sud-Ouest,75,")
    var request = Carbon_Cop_V1_ImportCsvRequest()
    request.csv = csv
    request.actor = "DDTM 80"
    let error = capture { _ = try harness.call(Path.importCsv, request, as: Carbon_Cop_V1_ImportCsvResponse.self) }
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "rows[25].department")
    var list = Carbon_Cop_V1_ListProjectsRequest()
    list.filter.department = "80"
    list.pageSize = 1000
    let after = try harness.call(Path.list, list, as: Carbon_Cop_V1_ListProjectsResponse.self)
    #expect(!after.projects.contains { $0.id.hasPrefix("imp-\(run)-") })

    request.partial = true
    let partial = try harness.call(Path.importCsv, request, as: Carbon_Cop_V1_ImportCsvResponse.self)
    #expect(partial.importedCount == 39)
    #expect(partial.rejectedCount == 1)
    #expect(partial.errors.first?.column == "department")
    // RowError.row counts data rows from 1 (rows[25] is row 26); the header is line 1 of the file.
    #expect(partial.errors.first?.row == 26)
    #expect(partial.errors.first?.line == 27)
    #expect(partial.errors.first?.field == "rows[25].department")
  }

  /// Two concurrent updaters of one project never lose a write: each either lands or gets
  /// FAILED_PRECONDITION cop.version_conflict; the final version counts the landed writes.
  func concurrentUpdatesLoseNothing() throws {
    let harness = try open()
    let id = "conc-\(run)"
    try create(harness, carriedProject(id: id))
    let landed = Counter()
    let conflicts = Counter()
    DispatchQueue.concurrentPerform(iterations: 2) { worker in
      for step in 0..<10 {
        // Read, change, write back with the version read; retry on conflict.
        var attempts = 0
        while attempts < 50 {
          attempts += 1
          let error = capture {
            var get = Carbon_Cop_V1_GetProjectRequest()
            get.projectID = id
            let current = try harness.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self).project
            var update = Carbon_Cop_V1_UpdateProjectRequest()
            update.project = current
            update.project.comments = current.comments + "[w\(worker)s\(step)]"
            update.expectedVersion = current.version
            update.actor = "worker \(worker)"
            _ = try harness.call(Path.update, update, as: Carbon_Cop_V1_ProjectResponse.self)
          }
          guard let error else {
            landed.increment()
            break
          }
          #expect(error.status == .failedPrecondition)
          #expect(error.field == "cop.version_conflict")
          conflicts.increment()
          if error.status != .failedPrecondition { break }
        }
      }
    }
    var get = Carbon_Cop_V1_GetProjectRequest()
    get.projectID = id
    let final = try harness.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self).project
    // 20 updates landed on version 1 → version 21, and every marker is in the comments.
    #expect(landed.value == 20)
    #expect(final.version == 21)
    for worker in 0..<2 {
      for step in 0..<10 { #expect(final.comments.contains("[w\(worker)s\(step)]")) }
    }
    var history = Carbon_Cop_V1_GetProjectHistoryRequest()
    history.projectID = id
    #expect(try harness.call(Path.history, history, as: Carbon_Cop_V1_GetProjectHistoryResponse.self).entries.count == 21)
  }

  /// A stale version is refused and writes nothing.
  func staleVersionRefused() throws {
    let harness = try open()
    let id = "stale-\(run)"
    try create(harness, carriedProject(id: id))
    var update = Carbon_Cop_V1_UpdateProjectRequest()
    update.project = carriedProject(id: id)
    update.project.title = "v2"
    update.expectedVersion = 1
    update.actor = "a"
    _ = try harness.call(Path.update, update, as: Carbon_Cop_V1_ProjectResponse.self)
    update.project.title = "lost?"
    let error = capture { _ = try harness.call(Path.update, update, as: Carbon_Cop_V1_ProjectResponse.self) }
    #expect(error != nil, "a stale update was accepted")
    #expect(error?.status == .failedPrecondition)
    #expect(error?.field == "cop.version_conflict")
    var get = Carbon_Cop_V1_GetProjectRequest()
    get.projectID = id
    #expect(try harness.call(Path.get, get, as: Carbon_Cop_V1_ProjectResponse.self).project.title == "v2")
  }

  /// A duplicate id is ALREADY_EXISTS; the listing pages and streams cover the pool.
  func duplicateAndPaging() throws {
    let harness = try open()
    for index in 0..<7 { try create(harness, carriedProject(id: "page-\(run)-\(index)", round: 2031)) }
    let error = capture { _ = try create(harness, carriedProject(id: "page-\(run)-3", round: 2031)) }
    #expect(error != nil, "a duplicate id was accepted")
    #expect(error?.status == .alreadyExists)
    var list = Carbon_Cop_V1_ListProjectsRequest()
    list.filter.roundYear = 2031
    list.filter.lever = "velo"
    list.pageSize = 3
    var ids: [String] = []
    var pages = 0
    repeat {
      let page = try harness.call(Path.list, list, as: Carbon_Cop_V1_ListProjectsResponse.self)
      ids += page.projects.map(\.id).filter { $0.hasPrefix("page-\(run)-") }
      list.pageToken = page.nextPageToken
      pages += 1
    } while !list.pageToken.isEmpty && pages < 100
    #expect(ids == (0..<7).map { "page-\(run)-\($0)" })
    var stream = Carbon_Cop_V1_StreamProjectsRequest()
    stream.filter.roundYear = 2031
    let streamed = try harness.stream(Path.stream, stream, as: Carbon_Cop_V1_ProjectResponse.self)
    #expect(streamed.map(\.project.id).filter { $0.hasPrefix("page-\(run)-") }.count == 7)
  }

  /// The thematic and owner filters ignore case, accents and spacing, as the inputs and the
  /// report's owner counts do (second audit, finding 4: "Energie" and "commune de Ham" found
  /// nothing): ListProjects' pages and total, StreamProjects and ExportProjects.
  func foldedFilters() throws {
    let harness = try open()
    var school = carriedProject(id: "fold-\(run)-1", lever: "Rénovation (tertiaire)")  // Bâtiments
    school.owner = "Commune de Ham \(run)"
    var heat = carriedProject(id: "fold-\(run)-2", lever: "Réseaux de chaleur")  // Énergie
    heat.owner = "commune de  HAM \(run)"
    var other = carriedProject(id: "fold-\(run)-3", lever: "Réseaux de chaleur")
    other.owner = "CA Amiens Métropole \(run)"
    for project in [school, heat, other] { try create(harness, project) }

    // Owner "COMMUNE DE HAM <run>": the school and the heat network, 2, one per page.
    var list = Carbon_Cop_V1_ListProjectsRequest()
    list.filter.owner = "COMMUNE DE HAM \(run)"
    list.pageSize = 1
    let first = try harness.call(Path.list, list, as: Carbon_Cop_V1_ListProjectsResponse.self)
    #expect(first.projects.map(\.id) == ["fold-\(run)-1"])
    #expect(first.totalCount == 2)
    list.pageToken = first.nextPageToken
    let second = try harness.call(Path.list, list, as: Carbon_Cop_V1_ListProjectsResponse.self)
    #expect(second.projects.map(\.id) == ["fold-\(run)-2"])
    // With thematic "energie" too: the heat network alone, 1.
    list.filter.thematic = "energie"
    list.pageToken = ""
    list.pageSize = 100
    let both = try harness.call(Path.list, list, as: Carbon_Cop_V1_ListProjectsResponse.self)
    #expect(both.projects.map(\.id) == ["fold-\(run)-2"])
    #expect(both.totalCount == 1)

    // Thematic alone (the register may hold other runs' projects): "Energie" finds what the
    // catalogue's "Énergie" finds, this run's two heat networks among them.
    var stream = Carbon_Cop_V1_StreamProjectsRequest()
    stream.filter.thematic = "Energie"
    let streamed = try harness.stream(Path.stream, stream, as: Carbon_Cop_V1_ProjectResponse.self).map(\.project.id)
    #expect(streamed.filter { $0.hasPrefix("fold-\(run)-") } == ["fold-\(run)-2", "fold-\(run)-3"])
    var canonical = Carbon_Cop_V1_ListProjectsRequest()
    canonical.filter.thematic = "Énergie"
    #expect(try harness.call(Path.list, canonical, as: Carbon_Cop_V1_ListProjectsResponse.self).totalCount == Int64(streamed.count))

    var export = Carbon_Cop_V1_ExportProjectsRequest()
    export.filter.owner = "commune de ham \(run)"
    export.format = .csv
    #expect(try harness.call(Path.export, export, as: Carbon_Cop_V1_ExportProjectsResponse.self).projectCount == 2)
  }
}

/// A thread-safe counter for the concurrency test.
final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  func increment() { lock.withLock { count += 1 } }
  var value: Int { lock.withLock { count } }
}

@Suite("Persistence — SQLite (GRDB, WAL)")
struct SQLitePersistenceTests {
  let checks: PersistenceChecks = {
    let directory = temporaryDirectory()
    return PersistenceChecks(
      open: { try ModuleHarness<COPVivierModule>(dataDirectory: directory) },
      plant: { projects in
        let store = try SQLiteProjectStore(path: directory + "/cop-vivier.sqlite")
        try store.insert(projects, change: ChangeInfo(actor: "cop-vivier 1.0.0", action: "create", at: "2025-01-10T09:00:00Z"))
      })
  }()

  @Test func requalifiedOnUpgrade() throws { try checks.requalifiedOnUpgrade() }

  @Test func survivesRestart() throws { try checks.survivesRestart() }
  @Test func failedImportWritesNothing() throws { try checks.failedImportWritesNothing() }
  @Test func concurrentUpdatesLoseNothing() throws { try checks.concurrentUpdatesLoseNothing() }
  @Test func staleVersionRefused() throws { try checks.staleVersionRefused() }
  @Test func duplicateAndPaging() throws { try checks.duplicateAndPaging() }
  @Test func foldedFilters() throws { try checks.foldedFilters() }

  @Test("the SQLite file is in WAL mode in the data directory")
  func walMode() throws {
    let directory = temporaryDirectory()
    let harness = try ModuleHarness<COPVivierModule>(dataDirectory: directory)
    try create(harness, carriedProject(id: "wal-1"))
    #expect(FileManager.default.fileExists(atPath: directory + "/cop-vivier.sqlite"))
    #expect(FileManager.default.fileExists(atPath: directory + "/cop-vivier.sqlite-wal"))
  }

  @Test("a bad storage config is refused naming the key")
  func badConfig() throws {
    let error = capture { _ = try ModuleHarness<COPVivierModule>(configJSON: #"{"storage": "mysql"}"#) }
    #expect(error != nil, "accepted")
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "config.storage")
    let second = capture { _ = try ModuleHarness<COPVivierModule>(configJSON: #"{"storage": "postgres"}"#) }
    #expect(second?.field == "config.postgres_url")
  }
}

@Suite(
  "Persistence — PostgreSQL (postgres-nio)",
  .enabled(if: testPostgresURL != nil, "CARBONHUB_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped (run Plugins/COPVivier/scripts/start-test-postgres.sh)"))
struct PostgresPersistenceTests {
  /// The checks on the database at `url`.
  static func checks(on url: String?) -> PersistenceChecks {
    PersistenceChecks(
      open: { try ModuleHarness<COPVivierModule>(configJSON: postgresConfig(url: url)) },
      plant: { projects in
        let store = try PostgresProjectStore(url: url ?? "")
        try store.insert(projects, change: ChangeInfo(actor: "cop-vivier 1.0.0", action: "create", at: "2025-01-10T09:00:00Z"))
      })
  }

  let checks = Self.checks(on: testPostgresURL)

  /// In a database of its own: every module start re-qualifies the stored projects, and a start
  /// by a test running beside this one (they share the run's database) would do this check's
  /// re-qualification before its own start, whose trace then rightly reports none.
  @Test func requalifiedOnUpgrade() async throws {
    try await onDispatchThread {
      try Self.checks(on: try privatePostgresDatabase("upgrade")).requalifiedOnUpgrade()
    }
  }

  @Test func survivesRestart() async throws { try await onDispatchThread { [checks] in try checks.survivesRestart() } }
  @Test func failedImportWritesNothing() async throws { try await onDispatchThread { [checks] in try checks.failedImportWritesNothing() } }
  @Test func concurrentUpdatesLoseNothing() async throws { try await onDispatchThread { [checks] in try checks.concurrentUpdatesLoseNothing() } }
  @Test func staleVersionRefused() async throws { try await onDispatchThread { [checks] in try checks.staleVersionRefused() } }
  @Test func duplicateAndPaging() async throws { try await onDispatchThread { [checks] in try checks.duplicateAndPaging() } }
  @Test func foldedFilters() async throws { try await onDispatchThread { [checks] in try checks.foldedFilters() } }

  @Test("two module instances (two hosts) on one pool see each other's writes and conflicts")
  func twoHosts() async throws {
    try await onDispatchThread {
      let hostA = try ModuleHarness<COPVivierModule>(configJSON: postgresConfig())
      let hostB = try ModuleHarness<COPVivierModule>(configJSON: postgresConfig())
      let id = "hosts-\(UUID().uuidString.prefix(8).lowercased())"
      try create(hostA, carriedProject(id: id))
      var update = Carbon_Cop_V1_UpdateProjectRequest()
      update.project = carriedProject(id: id)
      update.expectedVersion = 1
      update.actor = "host B"
      _ = try hostB.call(Path.update, update, as: Carbon_Cop_V1_ProjectResponse.self)
      update.actor = "host A"
      let error = capture { _ = try hostA.call(Path.update, update, as: Carbon_Cop_V1_ProjectResponse.self) }
      #expect(error != nil, "host A overwrote host B's write")
      #expect(error?.field == "cop.version_conflict")
    }
  }
}
