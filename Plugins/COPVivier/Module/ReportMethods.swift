import CarbonDomain
import CarbonPluginKit

extension COPVivierModule {
  /// GenerateSeedPool: the seed's 06/12/2024 pool, optionally stored in one transaction.
  func generateSeedPool(_ request: Carbon_Cop_V1_GenerateSeedPoolRequest) throws(ModuleError)
    -> Carbon_Cop_V1_GenerateSeedPoolResponse
  {
    let round = try request.roundYear == 0 ? 2024 : Validate.inRange(request.roundYear, ProjectValidation.roundYears, "round_year")
    let prefix = request.idPrefix.isEmpty ? "seed\(round)-" : request.idPrefix
    try ProjectValidation.checkID(prefix + "00-0000", "id_prefix")
    let actor = try request.store ? ProjectValidation.actor(request.actor, callerIdentity: request.callerIdentity) : ""
    var report = RoundReport()
    var generated: [Project] = []
    try SeedPool.generate(roundYear: round, idPrefix: prefix) { project throws(ModuleError) in
      report.add(project)
      if request.store { generated.append(project) }
    }
    var trace = startTrace("seed pool")
    trace.decision(
      "cop.seed_pool.other_levers", "EVEN_SPLIT_OVER_16_RECONSTRUCTED_LEVERS",
      reason: "the seed's 'Autres leviers' (323) include the 10 least-invested levers (28); the other 295 are split 7 × 19 + 9 × 18 over the reconstructed levers (generated, not seed data)")
    if request.store {
      try store.insert(generated, change: ChangeInfo(actor: actor, action: "import", at: ProjectValidation.now()))
      trace.rule("cop.seed_pool.stored", "\(generated.count) projects written in one transaction")
    }
    var reportTrace = startTrace("report")
    SeedPool.warnArtefacts(into: &reportTrace)
    var response = Carbon_Cop_V1_GenerateSeedPoolResponse()
    response.projectCount = Int32(report.total)
    response.report = report.build(topCount: 10, leastCount: 10, epciTotal: 0, trace: &reportTrace)
    response.report.trace = reportTrace.build()
    trace.term("project_count", Double(report.total), .count, formula: "generated projects")
    response.trace = trace.build()
    return response
  }

  /// BuildReport: from the stored round, inline projects or the generated seed pool.
  func buildReport(_ request: Carbon_Cop_V1_BuildReportRequest) throws(ModuleError) -> Carbon_Cop_V1_BuildReportResponse {
    let sources = (request.roundYear != 0 ? 1 : 0) + (request.projects.isEmpty ? 0 : 1) + (request.useSeedPool ? 1 : 0)
    guard sources == 1 else {
      throw .invalidArgument("round_year", "give exactly one source: round_year, projects or use_seed_pool (\(sources) given)")
    }
    let top = try request.topLeverCount == 0 ? 10 : Int(Validate.inRange(request.topLeverCount, 1...100, "top_lever_count"))
    let least = try request.leastLeverCount == 0 ? 10 : Int(Validate.inRange(request.leastLeverCount, 1...100, "least_lever_count"))
    let epciTotal = Int(try Validate.inRange(request.epciTotalCount, 0...100_000, "epci_total_count"))
    var report = RoundReport()
    var trace = startTrace("report")
    let sourceName: String
    if request.roundYear != 0 {
      var filter = StoreFilter()
      filter.roundYear = try Validate.inRange(request.roundYear, ProjectValidation.roundYears, "round_year")
      try store.forEach(filter) { report.add($0) }
      trace.decision("cop.report.source", "STORED_ROUND", reason: "round \(request.roundYear) of the register")
      sourceName = "vivier COP \(request.roundYear) enregistré (\(storageKind))"
    } else if request.useSeedPool {
      try SeedPool.generate(roundYear: 2024, idPrefix: "seed2024-") { report.add($0) }
      trace.decision("cop.report.source", "SEED_POOL", reason: "generated pool with the seed's 06/12/2024 counts")
      SeedPool.warnArtefacts(into: &trace)
      sourceName = "vivier généré aux effectifs du bilan du 06/12/2024 (COP Hauts-de-France 2024, Partie 4)"
    } else {
      QualificationRules.decisions(into: &trace)
      var warnings: [String] = []
      for (index, input) in request.projects.enumerated() {
        var project = try ProjectValidation.normalize(input, prefix: "projects[\(index)].", generateID: true, warnings: &warnings)
        project.qualification = QualificationRules.qualify(project)
        report.add(project)
      }
      ProjectValidation.warn(warnings, into: &trace)
      trace.decision("cop.report.source", "INLINE_PROJECTS", reason: "projects given in the request, qualified by the rules")
      sourceName = "\(request.projects.count) projet(s) de la requête"
    }
    var response = report.build(topCount: top, leastCount: least, epciTotal: epciTotal, trace: &trace)
    if request.includeCharts {
      let source = [
        "Source : \(sourceName)",
        "Règles \(QualificationRules.version), données \(ReferenceData.version) (\(ReferenceData.seedFile)) ; carbonhub cop-vivier \(Self.version)",
      ]
      response.departmentChartSvg = SVGCharts.departments(response.departments, source: source)
      response.departmentShareChartSvg = SVGCharts.departmentShares(response.departments, source: source)
      response.departmentThematicChartSvg = SVGCharts.departmentThematics(
        response.departmentThematics, departments: response.departments, source: source)
      response.leverChartSvg = SVGCharts.levers(response.topLevers, source: source)
      trace.decision(
        "cop.charts", "TITLED_WITH_SOURCE_AND_VERSION",
        reason: "every chart is drawn in the plugin kit's ChartFrame: a French title, source lines naming the data, the rules version and the data version; legends wrap (ChartLegend)")
    }
    response.trace = trace.build()
    return response
  }

  /// CompareRounds: category counts of two stored rounds and the projects continued. The later
  /// round must come after the earlier one. A project continues an earlier-round project when
  /// its `previous_project_id` chain reaches it, directly or through the rounds in between
  /// (CarryOverRound goes one round at a time: a4 → a4-r2025 → a4-r2025-r2026).
  func compareRounds(_ request: Carbon_Cop_V1_CompareRoundsRequest) throws(ModuleError) -> Carbon_Cop_V1_CompareRoundsResponse {
    let from = try Validate.inRange(request.fromRoundYear, ProjectValidation.roundYears, "from_round_year")
    let to = try Validate.inRange(request.toRoundYear, ProjectValidation.roundYears, "to_round_year")
    guard to > from else {
      throw .invalidArgument(
        "to_round_year", "must be a later round than from_round_year (\(from)), got \(to): the comparison goes from the earlier round to the later one")
    }
    var fromCounts = [Int](repeating: 0, count: 5), toCounts = [Int](repeating: 0, count: 5)
    var fromIDs: Set<String> = []
    var filter = StoreFilter()
    filter.roundYear = from
    try store.forEach(filter) { project in
      fromCounts[min(4, max(0, project.qualification.category.rawValue))] += 1
      fromIDs.insert(project.id)
    }
    // The links of the rounds in between: id → previous_project_id.
    var previousOf: [String: String] = [:]
    for year in (from + 1)..<to {
      filter.roundYear = year
      try store.forEach(filter) { project in previousOf[project.id] = project.previousProjectID }
    }
    /// Whether the chain of `previous` ids reaches the earlier round (at most one link per round).
    func continues(_ previous: String) -> Bool {
      var id = previous
      for _ in 0..<(to - from) {
        if fromIDs.contains(id) { return true }
        guard let next = previousOf[id], !next.isEmpty else { return false }
        id = next
      }
      return false
    }
    var continued = 0, continuedCarried = 0
    filter.roundYear = to
    try store.forEach(filter) { project in
      toCounts[min(4, max(0, project.qualification.category.rawValue))] += 1
      if !project.previousProjectID.isEmpty && continues(project.previousProjectID) {
        continued += 1
        if project.qualification.category == .carryInRound { continuedCarried += 1 }
      }
    }
    var response = Carbon_Cop_V1_CompareRoundsResponse()
    for category in [Category.carryInRound, .workForNextRound, .outsideCopExamineInCrte, .notCarried] {
      var comparison = Carbon_Cop_V1_CategoryComparison()
      comparison.category = category
      comparison.fromCount = Int32(fromCounts[category.rawValue])
      comparison.toCount = Int32(toCounts[category.rawValue])
      comparison.change = comparison.toCount - comparison.fromCount
      response.categories.append(comparison)
    }
    response.fromTotal = Int32(fromCounts.reduce(0, +))
    response.toTotal = Int32(toCounts.reduce(0, +))
    response.continuedCount = Int32(continued)
    response.continuedNowCarriedCount = Int32(continuedCarried)
    var trace = startTrace("round comparison")
    trace.term("from_total", Double(response.fromTotal), .count, formula: "projects of the earlier round")
    trace.term("to_total", Double(response.toTotal), .count, formula: "projects of the later round")
    trace.decision(
      "cop.compare_rounds.lineage", "PREVIOUS_PROJECT_CHAIN",
      reason: "a carried project reaches a later round one round at a time (CarryOverRound to from + 1 only): a later-round project continues an earlier-round one when its previous_project_id chain reaches it through the rounds in between")
    trace.term(
      "continued_count", Double(continued), .count,
      formula: "later-round projects whose previous_project_id chain (through the rounds in between) reaches a project of the earlier round")
    response.trace = trace.build()
    return response
  }

  /// CarryOverRound: copies the chosen categories of one round into the next, linked by
  /// `previous_project_id`, re-qualified by the rules, in one transaction.
  func carryOverRound(_ request: Carbon_Cop_V1_CarryOverRoundRequest) throws(ModuleError) -> Carbon_Cop_V1_CarryOverRoundResponse {
    let from = try Validate.inRange(request.fromRoundYear, ProjectValidation.roundYears, "from_round_year")
    let to = try Validate.inRange(request.toRoundYear, ProjectValidation.roundYears, "to_round_year")
    // Seed: the to-work projects « doivent être travaillés et accompagnés pour une inscription
    // dans la COP 2025 » (round 2024 → the next one): a carry-over skips no round.
    guard to == from + 1 else {
      throw .invalidArgument(
        "to_round_year", "must be the round after from_round_year (\(from + 1)), got \(to): « À travailler COP N+1 » carries into the next round only")
    }
    let actor = try ProjectValidation.actor(request.actor, callerIdentity: request.callerIdentity)
    var categories: Set<Int> = []
    for (index, category) in request.categories.enumerated() {
      try Validate.specified(category, "categories[\(index)]") { (1...4).contains($0.rawValue) }
      categories.insert(category.rawValue)
    }
    if categories.isEmpty { categories = [Category.workForNextRound.rawValue] }
    var filter = StoreFilter()
    filter.roundYear = from
    var copies: [Project] = []
    try store.forEach(filter) { project in
      guard categories.contains(project.qualification.category.rawValue) else { return }
      var copy = project
      copy.id = String(project.id.prefix(56)) + "-r\(to)"
      copy.previousProjectID = project.id
      copy.roundYear = to
      copy.clearQualification()
      copy.version = 0
      copy.qualification = QualificationRules.qualify(copy)
      copies.append(copy)
    }
    let existing = try store.existingIDs(copies.map(\.id))
    let fresh = copies.filter { !existing.contains($0.id) }
    if !fresh.isEmpty { try store.insert(fresh, change: ChangeInfo(actor: actor, action: "carry_over", at: ProjectValidation.now())) }
    var response = Carbon_Cop_V1_CarryOverRoundResponse()
    response.carriedCount = Int32(fresh.count)
    response.alreadyCarriedCount = Int32(copies.count - fresh.count)
    var trace = startTrace("carry over")
    trace.decision(
      "cop.carry_over.default_categories", "WORK_FOR_NEXT_ROUND",
      reason: "seed Partie 4: projects 'à travailler' are to be worked for the next round; other categories only when asked")
    trace.decision("cop.carry_over.requalify", "RULES", reason: "a carried project is re-qualified by the rules; a previous override is not carried")
    trace.decision(
      "cop.carry_over.next_round_only", "FROM_PLUS_ONE",
      reason: "seed Partie 4: projects 'à travailler' are 'accompagnés pour une inscription dans la COP 2025' (the next round); to_round_year must be from_round_year + 1")
    trace.term("carried_count", Double(fresh.count), .count, formula: "projects created in the new round")
    response.trace = trace.build()
    return response
  }
}
