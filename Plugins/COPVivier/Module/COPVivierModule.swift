import CarbonDomain
import CarbonPluginKit
import Foundation

/// The COP project pool ("vivier") of Hauts-de-France: reference data, a persistent register
/// of projects with their history, the seed's qualification into four categories, CSV/JSON
/// import and export, and the round reports (METHODS.md §5; seed cop-hauts-de-france-2024.txt).
public struct COPVivierModule: CarbonModule {
  public static let name = "cop-vivier"
  public static let version = "1.2.0"
  public static let summary = "COP regional project pool: register, qualification, reports (Hauts-de-France 2024)"
  public static let descriptorSet = PackageResources.descriptor_set_binpb
  /// gRPC service prefix.
  static let service = "/carbon.cop.v1.CopVivier/"
  public static let methods: [ModuleMethod<COPVivierModule>] = [
    .unary(service + "GetReferenceData", COPVivierModule.getReferenceData),
    .unary(service + "QualifyProject", COPVivierModule.qualifyProject),
    .unary(service + "CreateProject", COPVivierModule.createProject),
    .unary(service + "UpdateProject", COPVivierModule.updateProject),
    .unary(service + "OverrideQualification", COPVivierModule.overrideQualification),
    .unary(service + "GetProject", COPVivierModule.getProject),
    .unary(service + "GetProjectHistory", COPVivierModule.getProjectHistory),
    .unary(service + "ListProjects", COPVivierModule.listProjects),
    .serverStreaming(service + "StreamProjects", COPVivierModule.streamProjects),
    .unary(service + "ImportCsv", COPVivierModule.importCsv),
    .unary(service + "ExportProjects", COPVivierModule.exportProjects),
    .unary(service + "GenerateSeedPool", COPVivierModule.generateSeedPool),
    .unary(service + "BuildReport", COPVivierModule.buildReport),
    .unary(service + "CompareRounds", COPVivierModule.compareRounds),
    .unary(service + "CarryOverRound", COPVivierModule.carryOverRound),
  ]

  /// Configuration (`[modules.cop-vivier.config]`):
  /// `{"storage": "sqlite"}` (default, file `sqlite_file` in the data directory) or
  /// `{"storage": "postgres", "postgres_url": "postgres://user:pass@host:port/db"}`.
  struct Config: Decodable {
    var storage = "sqlite"
    var postgresURL = ""
    var sqliteFile = "cop-vivier.sqlite"

    enum CodingKeys: String, CodingKey {
      case storage
      case postgresURL = "postgres_url"
      case sqliteFile = "sqlite_file"
    }

    init() {}
    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      storage = try container.decodeIfPresent(String.self, forKey: .storage) ?? storage
      postgresURL = try container.decodeIfPresent(String.self, forKey: .postgresURL) ?? postgresURL
      sqliteFile = try container.decodeIfPresent(String.self, forKey: .sqliteFile) ?? sqliteFile
    }
  }

  /// The register (immutable reference; the stores are thread-safe).
  let store: any ProjectStore
  /// "sqlite" or "postgres", reported in traces.
  let storageKind: String
  /// What the start-up re-qualification of the stored projects did (reported in traces).
  let upgrade: Requalification.Outcome

  public init(context: ModuleContext) throws(ModuleError) {
    let config = try context.decodeConfig(Config.self)
    switch config.storage {
    case "sqlite":
      guard !config.sqliteFile.isEmpty, !config.sqliteFile.contains("/") else {
        throw .invalidArgument("config.sqlite_file", "must be a plain file name inside the module's data directory")
      }
      store = try SQLiteProjectStore(path: context.dataDirectory + "/" + config.sqliteFile)
    case "postgres":
      guard !config.postgresURL.isEmpty else { throw .invalidArgument("config.postgres_url", "is required when storage is postgres") }
      store = try PostgresProjectStore(url: config.postgresURL)
    default:
      throw .invalidArgument("config.storage", "must be \"sqlite\" or \"postgres\", got \(config.storage.quoted)")
    }
    storageKind = config.storage
    upgrade = try Requalification.run(store, at: ProjectValidation.now())
  }

  /// A trace started for a method, with the data set and the storage.
  func startTrace(_ method: String) -> TraceBuilder {
    var trace = TraceBuilder(method: "COP vivier (Hauts-de-France) — \(method)", version: Self.version)
    trace.dataSet(ReferenceData.dataSet)
    trace.dataSet(FrenchTerritories.dataSet)
    trace.decision("cop.storage", storageKind.uppercased(), reason: "module configuration 'storage'")
    if upgrade.requalified > 0 {
      trace.rule(
        "cop.upgrade.requalified",
        "at start-up \(upgrade.requalified) stored project(s) re-qualified by rules \(QualificationRules.version) (\(upgrade.ruleCategoryChanged) changed rule category, \(upgrade.leversMoved) retired lever(s) replaced); each has a 'requalify' history entry")
    }
    return trace
  }
}
