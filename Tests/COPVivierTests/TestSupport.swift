import CarbonPluginKit
import CarbonPluginTesting
import Dispatch
import Foundation
@testable import COPVivierModule

/// gRPC paths of the module.
enum Path {
  static let service = "/carbon.cop.v1.CopVivier/"
  static let qualify = service + "QualifyProject"
  static let create = service + "CreateProject"
  static let update = service + "UpdateProject"
  static let override = service + "OverrideQualification"
  static let get = service + "GetProject"
  static let history = service + "GetProjectHistory"
  static let list = service + "ListProjects"
  static let stream = service + "StreamProjects"
  static let importCsv = service + "ImportCsv"
  static let export = service + "ExportProjects"
  static let seedPool = service + "GenerateSeedPool"
  static let report = service + "BuildReport"
  static let compare = service + "CompareRounds"
  static let carryOver = service + "CarryOverRound"
  static let reference = service + "GetReferenceData"
}

/// A project that the rules put in CARRY (every criterion met); tests change one field.
func carriedProject(id: String = "", department: String = "60", lever: String = "Vélo", round: Int32 = 2024) -> Carbon_Cop_V1_Project {
  var project = Carbon_Cop_V1_Project()
  project.id = id
  project.title = "Piste cyclable \(id)"
  project.owner = "CA du Beauvaisis"
  project.ownerType = "EPCI"
  project.epci = "CA du Beauvaisis"
  project.department = department
  project.primaryLever = lever
  project.maturity = .readyWithinYear
  project.ownerDefined = true
  project.nextStepsDefined = true
  project.needsDefined = true
  // Needs "defined" are stated (ProjectValidation refuses needs_defined without them).
  project.financingNeeds = "Subvention d'investissement"
  project.continuesActionUnderWay = true
  project.replicable = true
  project.roundYear = round
  return project
}

/// Creates a project through the harness and returns it as stored.
@discardableResult
func create(_ harness: ModuleHarness<COPVivierModule>, _ project: Carbon_Cop_V1_Project, actor: String = "DDT 60")
  throws(ModuleError) -> Carbon_Cop_V1_Project
{
  var request = Carbon_Cop_V1_CreateProjectRequest()
  request.project = project
  request.actor = actor
  return try harness.call(Path.create, request, as: Carbon_Cop_V1_ProjectResponse.self).project
}

/// Qualifies a project through the harness (QualifyProject) and returns its qualification.
func qualify(_ harness: ModuleHarness<COPVivierModule>, _ project: Carbon_Cop_V1_Project) throws
  -> Carbon_Cop_V1_Qualification
{
  var request = Carbon_Cop_V1_QualifyProjectRequest()
  request.project = project
  return try harness.call(Path.qualify, request, as: Carbon_Cop_V1_QualifyProjectResponse.self).qualification
}

/// A fresh data directory.
func temporaryDirectory() -> String {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent("copvivier-test-\(UUID().uuidString)").path
  try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

/// The CSV header used by the import tests.
let csvHeader =
  "id,title,owner,department,epci,primary_lever,other_levers,maturity,owner_defined,next_steps_defined,needs_defined,financing_needs,continues_action_under_way,replicable,round_year\n"

/// One CSV row of a carried project.
func csvRow(_ id: String, department: String = "80", lever: String = "Vélo", maturity: String = "prêt à engager dans l'année") -> String {
  "\(id),Projet \(id),CC Somme Sud-Ouest,\(department),CC Somme Sud-Ouest,\(lever),Covoiturage|Sobriété foncière,\(maturity),oui,oui,oui,Subvention DSIL,oui,oui,2024\n"
}

/// Runs blocking module calls on a Dispatch thread, as the host's plugin threads do (the
/// PostgreSQL bridge no longer needs it: its work runs on the module's own executor).
func onDispatchThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in
    DispatchQueue.global().async {
      do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
    }
  }
}

/// The PostgreSQL URL of the test server, if `CARBONHUB_TEST_POSTGRES_URL` is set.
let testPostgresURL = ProcessInfo.processInfo.environment["CARBONHUB_TEST_POSTGRES_URL"]

/// Module config on the test server's database (`url`, default the run's shared one: tests
/// sharing it use unique ids).
func postgresConfig(url: String? = testPostgresURL) -> String { #"{"storage": "postgres", "postgres_url": "\#(url ?? "")"}"# }

/// A new empty database on the test server, for a check that must not share tables with the
/// tests running beside it (the suite runs in parallel): returns its URL. Blocks while `psql`
/// runs: call it from a Dispatch thread (`onDispatchThread`).
func privatePostgresDatabase(_ label: String) throws -> String {
  guard let shared = testPostgresURL, let slash = shared.lastIndex(of: "/") else {
    throw ModuleError(.failedPrecondition, "CARBONHUB_TEST_POSTGRES_URL is not set")
  }
  let name = "\(shared[shared.index(after: slash)...])_\(label)_\(UUID().uuidString.prefix(8).lowercased())"
  let psql = Process()
  psql.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  psql.arguments = ["psql", shared, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE \(name)"]
  let errors = Pipe()
  psql.standardError = errors
  psql.standardOutput = FileHandle.nullDevice
  try psql.run()
  let message = errors.fileHandleForReading.readDataToEndOfFile()
  psql.waitUntilExit()
  guard psql.terminationStatus == 0 else {
    throw ModuleError(.failedPrecondition, "psql could not create \(name): \(String(decoding: message, as: UTF8.self))")
  }
  return shared[...slash] + name
}

/// The module error a call throws, or nil when it succeeds.
func capture(_ body: () throws -> Void) -> ModuleError? {
  do {
    try body()
    return nil
  } catch let error as ModuleError {
    return error
  } catch {
    return ModuleError(.unknown, "\(error)")
  }
}
