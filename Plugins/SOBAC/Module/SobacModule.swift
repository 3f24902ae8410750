import CarbonDomain
import CarbonPluginKit

/// SOBAC'ECO-TMM (Label Bas-Carbone, 14 January 2021): emission reductions of farm projects that
/// cut purchased inputs. See `Plugins/SOBAC/README.md` and METHODS.md §2.
public struct SobacModule: CarbonModule {
  public static let name = "sobac"
  public static let version = "1.1.0"
  public static let summary =
    "SOBAC'ECO-TMM (Label Bas-Carbone): farm input-reduction projects, individual and collective"
  public static let descriptorSet = PackageResources.descriptor_set_binpb
  public static let methods: [ModuleMethod<SobacModule>] = [
    .unary("/carbon.sobac.v1.Sobac/ListReferenceData", SobacModule.listReferenceData),
    .unary("/carbon.sobac.v1.Sobac/FarmYearEmissions", SobacModule.farmYearEmissions),
    .unary("/carbon.sobac.v1.Sobac/EvaluateFarmProject", SobacModule.evaluateFarmProject),
    .unary("/carbon.sobac.v1.Sobac/EvaluateCollectiveProject", SobacModule.evaluateCollectiveProject),
    .serverStreaming("/carbon.sobac.v1.Sobac/EvaluateCollectiveBatch", SobacModule.evaluateCollectiveBatch),
    .bidiStreaming("/carbon.sobac.v1.Sobac/EvaluateCollectiveStream", SobacModule.evaluateCollectiveStream),
    .unary("/carbon.sobac.v1.Sobac/ImportLedgerCsv", SobacModule.importLedgerCsv),
    .unary("/carbon.sobac.v1.Sobac/EvaluateLedgerCsv", SobacModule.evaluateLedgerCsv),
  ]

  /// Method name written in every trace.
  static let methodName = "SOBAC'ECO-TMM (Label Bas-Carbone)"
  /// Method version written in every trace.
  static let methodVersion = "14 janvier 2021"

  /// Configuration (`[modules.sobac.config]` in the deployment file).
  struct Config: Decodable {
    /// Whether the −30 % N-fertiliser check blocks the reductions (default false: §4.3.3 triggers are the Tableau 1 indicators only).
    var nFertiliserCheckBlocking = false
    /// Share of the N of an N solution that is urea, 0..1 (default 0.5).
    var nSolutionUreaShare = 0.5
    /// Largest number of farms in one collective request.
    var maxFarms = 100_000
    /// Largest EvaluateCollectiveProject response, bytes: the gRPC clients' default receive
    /// limit (4 MiB), past which a client fails with RESOURCE_EXHAUSTED and no clue.
    var unaryResponseMaxBytes = 4 * 1024 * 1024

    enum CodingKeys: String, CodingKey {
      case nFertiliserCheckBlocking = "n_fertiliser_check_blocking"
      case nSolutionUreaShare = "n_solution_urea_share"
      case maxFarms = "max_farms"
      case unaryResponseMaxBytes = "unary_response_max_bytes"
    }

    init() {}
    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      nFertiliserCheckBlocking =
        try container.decodeIfPresent(Bool.self, forKey: .nFertiliserCheckBlocking) ?? nFertiliserCheckBlocking
      nSolutionUreaShare = try container.decodeIfPresent(Double.self, forKey: .nSolutionUreaShare) ?? nSolutionUreaShare
      maxFarms = try container.decodeIfPresent(Int.self, forKey: .maxFarms) ?? maxFarms
      unaryResponseMaxBytes =
        try container.decodeIfPresent(Int.self, forKey: .unaryResponseMaxBytes) ?? unaryResponseMaxBytes
    }
  }

  let config: Config
  let data: SobacReferenceData
  let evaluator: FarmEvaluator

  public init(context: ModuleContext) throws(ModuleError) {
    config = try context.decodeConfig(Config.self)
    try Validate.inRange(config.nSolutionUreaShare, 0...1, "config.n_solution_urea_share")
    guard config.maxFarms > 0 else { throw .invalidArgument("config.max_farms", "must be greater than 0") }
    guard config.unaryResponseMaxBytes >= 1024 else {
      throw .invalidArgument("config.unary_response_max_bytes", "must be at least 1024")
    }
    data = try SobacReferenceData.shared.get()
    guard let n2oGwp = GlobalWarmingPotential.factor(for: .n2O, in: .ar5) else {
      throw .internal("the domain GWP table has no AR5 N2O value")
    }
    let options = CalculationOptions(
      nSolutionUreaShare: config.nSolutionUreaShare, nFertiliserCheckBlocking: config.nFertiliserCheckBlocking)
    let resolver = InputResolver(data: data, options: options)
    evaluator = FarmEvaluator(
      calculator: YearEmissionsCalculator(resolver: resolver, n2oGwp: n2oGwp),
      scoring: CoBenefitScoring(data: data, options: options), options: options,
      methodVersion: Self.methodVersion)
  }

  // MARK: - Methods

  /// Lists the reference tables.
  func listReferenceData(_ request: Carbon_Sobac_V1_ListReferenceDataRequest) throws(ModuleError)
    -> Carbon_Sobac_V1_ListReferenceDataResponse
  {
    let files = request.table.isEmpty ? data.files : data.files.filter { $0.name == request.table }
    guard !files.isEmpty else {
      throw .notFound("table", "no reference table \(request.table.quoted); tables: \(data.files.map(\.name).joined(separator: ", "))")
    }
    var trace = TraceBuilder(method: Self.methodName, version: Self.methodVersion)
    var response = Carbon_Sobac_V1_ListReferenceDataResponse()
    for file in files {
      trace.dataSet(file.dataSet)
      var table = Carbon_Sobac_V1_ReferenceDataTable()
      table.name = file.name
      table.file = file.file
      table.source = file.source
      table.version = file.version
      table.notes = file.notes
      table.columns = file.table.columns
      table.rows = file.table.rows.map { cells in
        var row = Carbon_Sobac_V1_ReferenceDataRow()
        row.cells = cells
        return row
      }
      response.tables.append(table)
    }
    response.trace = trace.build()
    return response
  }

  /// Emissions of one farm-year.
  func farmYearEmissions(_ request: Carbon_Sobac_V1_FarmYearEmissionsRequest) throws(ModuleError)
    -> Carbon_Sobac_V1_FarmYearEmissionsResponse
  {
    guard request.hasYear else { throw .invalidArgument("year", "is required") }
    var units: [String: (InputUnit, String)] = [:]
    let emissions = try evaluator.calculator.emissions(
      of: request.year, period: .unspecified, path: "year", unitsByCode: &units)
    var trace = TraceBuilder(method: Self.methodName, version: Self.methodVersion)
    for set in data.dataSets where ["sobac-inputs", "sobac-amendment-compositions", "sobac-field-factors"].contains(set.name) {
      trace.dataSet(set)
    }
    trace.dataSet(GlobalWarmingPotential.dataSet)
    trace.term("n_mineral", emissions.nMineralKg, .kg, formula: "Σ mineral N of the inputs (kg N)")
    trace.term("n_organic", emissions.nOrganicKg, .kg, formula: "Σ organic N of the inputs (kg N)")
    trace.term("n2o_direct", emissions.n2ODirectKgN, .kg, formula: "N_min × 0.016 + N_org × 0.006 (kg N2O-N, Eq. 8)")
    trace.term("n2o_volatilisation", emissions.n2OVolatilisationKgN, .kg, formula: "(N_min × 0.11 + N_org × 0.21) × 0.01 (kg N2O-N, Eq. 10)")
    trace.term("n2o_leaching", emissions.n2OLeachingKgN, .kg, formula: "(N_min + N_org) × 0.24 × 0.011 (kg N2O-N, Eq. 11)")
    trace.term("field_n2o", emissions.fieldN2OKgCo2E, .kgCo2E, formula: "(direct + indirect) × 44/28 × 265 (Eq. 7)")
    trace.term("field_co2_lime", emissions.fieldCo2LimeKg, .kgCo2E, formula: "(M_limestone × 0.12 + M_dolomite × 0.13) × 44/12 (Eq. 12)")
    trace.term("field_co2_urea", emissions.fieldCo2UreaKg, .kgCo2E, formula: "urea mass × 0.20 × 44/12 (decision)")
    trace.term("upstream", emissions.upstreamKgCo2E, .kgCo2E, formula: "Σ inputs quantity × FE (Annex 3)")
    trace.term("total", emissions.totalKgCo2E, .kgCo2E, formula: "upstream + field N2O + field CO2")
    for warning in evaluator.calculator.carbonateWarnings(of: request.year, path: "year") { trace.warning(warning) }
    evaluator.recordDecisions(&trace)
    var response = Carbon_Sobac_V1_FarmYearEmissionsResponse()
    response.emissions = emissions
    response.trace = trace.build()
    return response
  }

  /// Evaluates one farm project.
  func evaluateFarmProject(_ request: Carbon_Sobac_V1_EvaluateFarmProjectRequest) throws(ModuleError)
    -> Carbon_Sobac_V1_FarmProjectResult
  {
    guard request.hasFarm else { throw .invalidArgument("farm", "is required") }
    return try evaluator.evaluate(request.farm, path: "farm")
  }

  /// Evaluates a collective project in one response.
  func evaluateCollectiveProject(_ request: Carbon_Sobac_V1_CollectiveProjectRequest) throws(ModuleError)
    -> Carbon_Sobac_V1_CollectiveProjectResponse
  {
    try evaluateCollective(request, prefix: "")
  }

  /// Evaluates a collective project as a stream: one message per farm, then the summary.
  func evaluateCollectiveBatch(
    _ request: Carbon_Sobac_V1_CollectiveProjectRequest,
    _ stream: ResponseStream<Carbon_Sobac_V1_CollectiveBatchMessage>
  ) throws(ModuleError) {
    try validateCollective(request, prefix: "")
    let ift = try collectiveIftDecision(request.farms, prefix: "")
    var totals = CollectiveAccumulator(projectName: request.projectName, methodVersion: Self.methodVersion)
    for (index, farm) in request.farms.enumerated() {
      let result = try evaluator.evaluate(farm, path: "farms[\(index)]", iftScope: .collective(ift))
      try sendFarm(result, detail: request.farmDetail, adding: &totals, to: stream)
    }
    try sendSummary(totals, to: stream)
  }

  /// EvaluateCollectiveBatch with the farms arriving in pieces (see sobac.proto). The checks
  /// of `validateCollective` apply to the whole stream; the one that needs the farm count
  /// (farm types above 60 farms) is made once the count is known, at the end.
  func evaluateCollectiveStream(
    _ requests: RequestStream<Carbon_Sobac_V1_CollectiveProjectRequest>,
    _ stream: ResponseStream<Carbon_Sobac_V1_CollectiveBatchMessage>
  ) throws(ModuleError) {
    var totals: CollectiveAccumulator? = nil
    // Each farm id with where it was sent (request << 32 | offset): the one thing kept per
    // farm, to refuse duplicates across the stream (a path string would triple its cost).
    var seen: [String: Int] = [:]
    // The first farm type that is missing or unknown: an error only above 60 farms.
    var firstTypeError: ModuleError? = nil
    // The first farm's missing SAU: an error only when the group has a second farm.
    var firstSauError: ModuleError? = nil
    var count = 0
    var detail = Carbon_Sobac_V1_FarmDetail.unspecified
    // The stream's first farm and where it was: every farm shares its notification year.
    var firstFarm: (farm: Carbon_Sobac_V1_Farm, path: String)? = nil
    while let request = try requests.next() {
      let position = RequestStream<Carbon_Sobac_V1_CollectiveProjectRequest>.path(requests.received - 1)
      if let totals {
        guard request.projectName.isEmpty || request.projectName == totals.projectName else {
          throw .invalidArgument(
            "\(position).project_name", "\(request.projectName.quoted) differs from the first request's \(totals.projectName.quoted)")
        }
      } else {
        totals = CollectiveAccumulator(projectName: request.projectName, methodVersion: Self.methodVersion, iftPending: true)
        detail = request.farmDetail
      }
      for (offset, farm) in request.farms.enumerated() {
        let path = "\(position).farms[\(offset)]"
        guard count < config.maxFarms else {
          throw .invalidArgument(path, "the stream exceeds the configured maximum of \(config.maxFarms) farms")
        }
        try Validate.nonEmpty(farm.farmID, "\(path).farm_id")
        let here = (requests.received - 1) << 32 | offset
        if let first = seen.updateValue(here, forKey: farm.farmID) {
          let firstPath = "\(RequestStream<Carbon_Sobac_V1_CollectiveProjectRequest>.path(first >> 32)).farms[\(first & 0xFFFF_FFFF)]"
          throw .invalidArgument("\(path).farm_id", "farm \(farm.farmID.quoted) is already \(firstPath)")
        }
        if let firstFarm {
          try Self.checkSameNotification(farm, path: path, first: firstFarm.farm, firstPath: firstFarm.path)
        } else {
          var notification = Carbon_Sobac_V1_Farm()
          notification.notificationYear = farm.notificationYear
          firstFarm = (notification, path)
        }
        if firstTypeError == nil {
          do { try Validate.specified(farm.farmType, "\(path).farm_type", known: Self.isKnown) } catch { firstTypeError = error }
        }
        let result = try evaluator.evaluate(farm, path: path, iftScope: .collectivePending)
        // The group's IFT weighs its farms by SAU once there are two (§4.3.2): the first farm's
        // missing SAU is an error only when a second farm arrives.
        if count == 0 {
          do { try evaluator.requireSau(farm, path: path) } catch { firstSauError = error }
        } else {
          if let firstSauError { throw firstSauError }
          try evaluator.requireSau(farm, path: path)
        }
        try sendFarm(result, detail: detail, adding: &totals!, to: stream)
        count += 1
      }
    }
    guard let totals, count > 0 else { throw .invalidArgument("requests", "must carry at least one farm") }
    if count > AuditSampler.auditAllUpTo, let firstTypeError { throw firstTypeError }
    try sendSummary(totals, to: stream)
  }

  /// A collective project has one Notification and one reference period (§2: « Le calcul des
  /// réductions d'émissions débute lors de la Notification du Projet par […] le Mandataire,
  /// pour un projet collectif »; Annex 5: one « DATE de Notification » and one « PERIODE
  /// définissant le scénario de références »): every farm gives the first farm's year.
  private static func checkSameNotification(
    _ farm: Carbon_Sobac_V1_Farm, path: String, first: Carbon_Sobac_V1_Farm, firstPath: String
  ) throws(ModuleError) {
    guard farm.notificationYear != first.notificationYear else { return }
    throw .invalidArgument(
      "\(path).notification_year",
      "\(farm.notificationYear) differs from \(firstPath).notification_year \(first.notificationYear): a collective project has one Notification and one reference period for all its farms (Annex 5: « DATE de Notification », « PERIODE définissant le scénario de références »)")
  }

  private static func isKnown(_ type: Carbon_Sobac_V1_FarmType) -> Bool {
    if case .UNRECOGNIZED = type { return false } else { return true }
  }

  /// Sends one farm's message of a streamed collective project and adds it to the totals.
  private func sendFarm(
    _ result: Carbon_Sobac_V1_FarmProjectResult, detail: Carbon_Sobac_V1_FarmDetail,
    adding totals: inout CollectiveAccumulator, to stream: ResponseStream<Carbon_Sobac_V1_CollectiveBatchMessage>
  ) throws(ModuleError) {
    totals.add(result)
    var message = Carbon_Sobac_V1_CollectiveBatchMessage()
    // The farm's full trace travels inside `farm`; the message trace only names the method,
    // so that 10 000 farms do not carry every trace twice.
    message.trace.method = Self.methodName
    message.trace.methodVersion = Self.methodVersion
    message.farm = Self.trimmed(result, to: detail)
    try stream.send(message)
  }

  /// A farm's result in the requested detail: SUMMARY drops the per-year emissions and the
  /// farm's trace (EvaluateFarmProject gives them for one farm).
  static func trimmed(_ result: Carbon_Sobac_V1_FarmProjectResult, to detail: Carbon_Sobac_V1_FarmDetail)
    -> Carbon_Sobac_V1_FarmProjectResult
  {
    guard detail == .summary else { return result }
    var out = result
    out.referenceYears = []
    out.projectYears = []
    var trace = Carbon_Domain_V1_CalculationTrace()
    trace.method = result.trace.method
    trace.methodVersion = result.trace.methodVersion
    out.trace = trace
    return out
  }

  /// The group's IFT triggers of a collective project given whole (§4.3.2), decided from every
  /// farm's IFT figures before any farm is evaluated.
  private func collectiveIftDecision(_ farms: [Carbon_Sobac_V1_Farm], prefix: String) throws(ModuleError)
    -> CollectiveIftDecision
  {
    var ift = CollectiveIft()
    for (index, farm) in farms.enumerated() {
      ift.add(try evaluator.iftFigures(farm, path: "\(prefix)farms[\(index)]", weighed: farms.count > 1))
    }
    return try ift.decide(scoring: evaluator.scoring, path: "\(prefix)farms[*]")
  }

  /// Sends the last message of a streamed collective project: the totals and the audit sample.
  private func sendSummary(
    _ totals: CollectiveAccumulator, to stream: ResponseStream<Carbon_Sobac_V1_CollectiveBatchMessage>
  ) throws(ModuleError) {
    let summary = try totals.summary(data: data, scoring: evaluator.scoring)
    var message = Carbon_Sobac_V1_CollectiveBatchMessage()
    message.trace = summary.trace
    message.summary = summary
    try stream.send(message)
  }

  /// Parses a ledger CSV.
  func importLedgerCsv(_ request: Carbon_Sobac_V1_ImportLedgerCsvRequest) throws(ModuleError)
    -> Carbon_Sobac_V1_ImportLedgerCsvResponse
  {
    let reader = LedgerCsvReader()
    let entries = try reader.read(request.ledgerCsv)
    var response = Carbon_Sobac_V1_ImportLedgerCsvResponse()
    response.farms = reader.farms(entries)
    response.lines = Int32(clamping: entries.count)
    var trace = TraceBuilder(method: Self.methodName, version: Self.methodVersion)
    trace.term("ledger_lines", Double(entries.count), .count, formula: "data lines read")
    trace.term("farms", Double(response.farms.count), .count, formula: "distinct farm_id")
    response.trace = trace.build()
    return response
  }

  /// Merges a ledger CSV into a project and evaluates it.
  func evaluateLedgerCsv(_ request: Carbon_Sobac_V1_EvaluateLedgerCsvRequest) throws(ModuleError)
    -> Carbon_Sobac_V1_CollectiveProjectResponse
  {
    guard request.hasProject else { throw .invalidArgument("project", "is required (farms with their years, crops and IFT)") }
    var project = request.project
    let entries = try LedgerCsvReader().read(request.ledgerCsv)
    let reconciliations = try SourceReconciler(resolver: evaluator.calculator.resolver).merge(entries, into: &project)
    var response = try evaluateCollective(project, prefix: "project.")
    response.reconciliations = reconciliations
    var trace = TraceBuilder(method: Self.methodName, version: Self.methodVersion)
    trace.term("ledger_lines", Double(entries.count), .count, formula: "data lines merged")
    for item in reconciliations {
      trace.rule(
        item.rule.hasPrefix("input") ? "sobac.sources.inputs_highest" : "sobac.sources.production_lowest",
        "\(item.farmID) \(item.year) \(item.variable): ledger \(item.ledgerValue) vs declaration \(item.declaredValue), \(item.keptValue) kept (line \(item.csvLine))")
    }
    trace.decision(
      "ledger_vs_report", "PRODUCTION_LOWEST_INPUTS_HIGHEST",
      reason: "§4.3.4: when the sources disagree, production variables (SAU, SFP, UGB, crop areas and tonnes, milk, meat) take the lowest value and input variables the highest; each source's lines of a variable are summed first (per farm, year, input code and unit, labels ignored, other_lca also per LCA factor; per variable and crop), the variable being the year's total (§6: consumption = purchases + stock change); a value absent from the declaration (0) is taken from the ledger")
    var merged = response.trace
    let ledger = trace.build()
    merged.terms += ledger.terms
    merged.rules += ledger.rules
    merged.decisions += ledger.decisions
    response.trace = merged
    response.summary.trace = merged
    return response
  }

  // MARK: - Helpers

  private func validateCollective(_ request: Carbon_Sobac_V1_CollectiveProjectRequest, prefix: String) throws(ModuleError) {
    try Validate.nonEmpty(request.farms, "\(prefix)farms")
    guard request.farms.count <= config.maxFarms else {
      throw .invalidArgument("\(prefix)farms", "\(request.farms.count) farms exceed the configured maximum \(config.maxFarms)")
    }
    var seen: [String: Int] = [:]
    for (index, farm) in request.farms.enumerated() {
      try Validate.nonEmpty(farm.farmID, "\(prefix)farms[\(index)].farm_id")
      if let first = seen[farm.farmID] {
        throw .invalidArgument("\(prefix)farms[\(index)].farm_id", "farm \(farm.farmID.quoted) is already farms[\(first)]")
      }
      seen[farm.farmID] = index
      try Self.checkSameNotification(farm, path: "\(prefix)farms[\(index)]", first: request.farms[0], firstPath: "\(prefix)farms[0]")
      if request.farms.count > AuditSampler.auditAllUpTo {
        try Validate.specified(farm.farmType, "\(prefix)farms[\(index)].farm_type", known: Self.isKnown)
      }
    }
  }

  private func evaluateCollective(_ request: Carbon_Sobac_V1_CollectiveProjectRequest, prefix: String) throws(ModuleError)
    -> Carbon_Sobac_V1_CollectiveProjectResponse
  {
    try validateCollective(request, prefix: prefix)
    let ift = try collectiveIftDecision(request.farms, prefix: prefix)
    var totals = CollectiveAccumulator(projectName: request.projectName, methodVersion: Self.methodVersion)
    var response = Carbon_Sobac_V1_CollectiveProjectResponse()
    // The response is one message: its size is counted farm by farm (each farm's bytes plus
    // its tag and length) so that a collective too large for the client fails early, naming
    // the methods that stream it.
    var bytes = 0
    for (index, farm) in request.farms.enumerated() {
      // A collective of thousands of farms takes seconds: stop when the caller has gone.
      try ModuleCall.checkCancellation("\(prefix)farms[\(index)]")
      let result = Self.trimmed(
        try evaluator.evaluate(farm, path: "\(prefix)farms[\(index)]", iftScope: .collective(ift)), to: request.farmDetail)
      bytes += (try? result.onePassSerializedBytes().count).map { $0 + 6 } ?? 0
      guard bytes <= config.unaryResponseMaxBytes else {
        throw .failedPrecondition(
          rule: "sobac.collective.response_too_large",
          "\(prefix)farms: the response passes \(config.unaryResponseMaxBytes) bytes (unary_response_max_bytes, the gRPC clients' default receive limit) at farm \(index + 1) of \(request.farms.count): use EvaluateCollectiveBatch (one message per farm, the farms sent in one request) or EvaluateCollectiveStream (the farms sent in pieces), or farm_detail = FARM_DETAIL_SUMMARY")
      }
      totals.add(result)
      response.farms.append(result)
    }
    response.summary = try totals.summary(data: data, scoring: evaluator.scoring)
    response.trace = response.summary.trace
    return response
  }
}
