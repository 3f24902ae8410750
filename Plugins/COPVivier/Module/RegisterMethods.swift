import CarbonDomain
import CarbonPluginKit

extension COPVivierModule {
  /// GetReferenceData: the module's reference tables.
  func getReferenceData(_ request: Carbon_Cop_V1_GetReferenceDataRequest) throws(ModuleError)
    -> Carbon_Cop_V1_GetReferenceDataResponse
  {
    var response = Carbon_Cop_V1_GetReferenceDataResponse()
    response.panoramaLevers = ReferenceData.panoramaLevers
    response.formLevers = ReferenceData.formLevers.map {
      var lever = Carbon_Cop_V1_FormLever()
      lever.name = $0.name
      lever.thematic = $0.thematic
      lever.panoramaLever = $0.panoramaLever
      lever.aliases = $0.aliases
      return lever
    }
    response.sgpeLeverValues = ReferenceData.sgpeLeverValues
    response.effortShares = ReferenceData.effortShares
    response.departments = ReferenceData.departments.map {
      var department = Carbon_Cop_V1_RegionDepartment()
      department.code = $0.code
      department.name = $0.name
      return department
    }
    response.csvColumns = ProjectCSV.contract.map {
      var column = Carbon_Cop_V1_CsvColumn()
      column.name = $0.name
      column.frenchHeader = $0.frenchHeader
      column.aliases = $0.aliases
      column.direction = $0.direction
      column.description_p = $0.description
      column.values = $0.values
      return column
    }
    response.epcis = ReferenceData.epcis.map {
      var epci = Carbon_Cop_V1_RegionEpci()
      epci.siren = $0.siren
      epci.name = $0.name
      epci.nature = $0.nature
      epci.countedInRegion = $0.countedInRegion
      return epci
    }
    var trace = startTrace("reference data")
    trace.decision(
      "cop.panorama", "SRADDET",
      reason: "seed Partie 2: the region retained the SRADDET panorama (2019–2030); the SGPE lever values are kept tagged 'not retained'")
    trace.decision(
      "cop.panorama_sectors", "CHECKED_BY_HAND",
      reason: "the printed panorama's sector labels are shifted by one row in places; sectors re-assigned by hand, tags kept as printed")
    trace.decision(
      "cop.form_levers", "25_PRINTED_PLUS_16_RECONSTRUCTED",
      reason: "the seed prints 25 form-lever names; 16 more are reconstructed from the panorama so every panorama lever is reachable")
    trace.decision(
      "cop.transport_levers", "EIGHT",
      reason: "seed Partie 4: 'Le levier « vélo » ne représente qu'un des huit leviers attachés à cette thématique'; one form lever per panorama transport lever, 'Vélo' for 'Report modal'; 'Transports en commun' (data 2024.1) retired")
    response.trace = trace.build()
    return response
  }

  /// QualifyProject: the rules on an inline project, nothing stored.
  func qualifyProject(_ request: Carbon_Cop_V1_QualifyProjectRequest) throws(ModuleError)
    -> Carbon_Cop_V1_QualifyProjectResponse
  {
    guard request.hasProject else { throw .invalidArgument("project", "is required") }
    var warnings: [String] = []
    let project = try ProjectValidation.normalize(request.project, prefix: "project.", generateID: true, warnings: &warnings)
    var trace = startTrace("qualification")
    QualificationRules.decisions(into: &trace)
    ProjectValidation.warn(warnings, into: &trace)
    var response = Carbon_Cop_V1_QualifyProjectResponse()
    response.qualification = QualificationRules.qualify(project)
    QualificationRules.trace(response.qualification, into: &trace)
    response.trace = trace.build()
    return response
  }

  /// CreateProject: validates, qualifies and stores a new project (version 1).
  func createProject(_ request: Carbon_Cop_V1_CreateProjectRequest) throws(ModuleError) -> Carbon_Cop_V1_ProjectResponse {
    guard request.hasProject else { throw .invalidArgument("project", "is required") }
    let actor = try ProjectValidation.actor(request.actor, callerIdentity: request.callerIdentity)
    var warnings: [String] = []
    var project = try ProjectValidation.normalize(request.project, prefix: "project.", generateID: true, warnings: &warnings)
    project.qualification = QualificationRules.qualify(project)
    let change = ChangeInfo(actor: actor, action: "create", at: ProjectValidation.now())
    try store.insert([project], change: change)
    return try projectResponse(project.id, "create", warnings: warnings)
  }

  /// UpdateProject: replaces the caller's fields, re-qualifies (an override is kept).
  func updateProject(_ request: Carbon_Cop_V1_UpdateProjectRequest) throws(ModuleError) -> Carbon_Cop_V1_ProjectResponse {
    guard request.hasProject else { throw .invalidArgument("project", "is required") }
    let actor = try ProjectValidation.actor(request.actor, callerIdentity: request.callerIdentity)
    guard request.expectedVersion >= 1 else {
      throw .invalidArgument("expected_version", "is required (the version read before the change, ≥ 1)")
    }
    var warnings: [String] = []
    var project = try ProjectValidation.normalize(request.project, prefix: "project.", generateID: false, warnings: &warnings)
    guard let stored = try store.get(project.id) else { throw .notFound("project.id", "no project \(project.id)") }
    project.qualification = stored.qualification
    project.qualification = QualificationRules.qualify(project)
    let change = ChangeInfo(actor: actor, action: "update", at: ProjectValidation.now())
    let written = try store.update(project, expectedVersion: request.expectedVersion, change: change)
    return response(written, "update", warnings: warnings)
  }

  /// OverrideQualification: an officer's category with a mandatory justification.
  func overrideQualification(_ request: Carbon_Cop_V1_OverrideQualificationRequest) throws(ModuleError)
    -> Carbon_Cop_V1_ProjectResponse
  {
    try ProjectValidation.checkID(request.projectID, "project_id")
    try Validate.specified(request.category, "category") { (1...4).contains($0.rawValue) }
    let justification = request.justification.trimmingWhitespace()
    try Validate.nonEmpty(justification, "justification")
    let actor = try ProjectValidation.actor(request.actor, callerIdentity: request.callerIdentity)
    guard request.expectedVersion >= 1 else { throw .invalidArgument("expected_version", "is required (≥ 1)") }
    guard var project = try store.get(request.projectID) else { throw .notFound("project_id", "no project \(request.projectID)") }
    let at = ProjectValidation.now()
    project.qualification.overridden = true
    project.qualification.category = request.category
    project.qualification.overrideJustification = justification
    project.qualification.overrideBy = actor
    project.qualification.overrideAt = at
    project.qualification = QualificationRules.qualify(project)
    var change = ChangeInfo(actor: actor, action: "override", at: at)
    change.justification = justification
    let written = try store.update(project, expectedVersion: request.expectedVersion, change: change)
    return response(written, "override")
  }

  /// GetProject.
  func getProject(_ request: Carbon_Cop_V1_GetProjectRequest) throws(ModuleError) -> Carbon_Cop_V1_ProjectResponse {
    try ProjectValidation.checkID(request.projectID, "project_id")
    return try projectResponse(request.projectID, "get", field: "project_id")
  }

  /// GetProjectHistory.
  func getProjectHistory(_ request: Carbon_Cop_V1_GetProjectHistoryRequest) throws(ModuleError)
    -> Carbon_Cop_V1_GetProjectHistoryResponse
  {
    try ProjectValidation.checkID(request.projectID, "project_id")
    var response = Carbon_Cop_V1_GetProjectHistoryResponse()
    response.entries = try store.history(request.projectID)
    guard !response.entries.isEmpty else { throw .notFound("project_id", "no project \(request.projectID)") }
    var trace = startTrace("history")
    trace.term("history_entry_count", Double(response.entries.count), .count, formula: "changes recorded")
    response.trace = trace.build()
    return response
  }

  /// ListProjects: one page by id order; the page token is the last id of the page.
  func listProjects(_ request: Carbon_Cop_V1_ListProjectsRequest) throws(ModuleError) -> Carbon_Cop_V1_ListProjectsResponse {
    let filter = try storeFilter(request.filter, "filter.")
    let size = try request.pageSize == 0 ? 100 : Int(Validate.inRange(request.pageSize, 1...1000, "page_size"))
    if !request.pageToken.isEmpty { try ProjectValidation.checkID(request.pageToken, "page_token") }
    var response = Carbon_Cop_V1_ListProjectsResponse()
    response.projects = try store.page(filter, afterID: request.pageToken, limit: size)
    if response.projects.count == size, let last = response.projects.last { response.nextPageToken = last.id }
    response.totalCount = Int64(try store.count(filter))
    var trace = startTrace("list")
    trace.term("total_count", Double(response.totalCount), .count, formula: "projects matching the filters")
    response.trace = trace.build()
    return response
  }

  /// StreamProjects: every matching project, one message each, read a page at a time.
  func streamProjects(_ request: Carbon_Cop_V1_StreamProjectsRequest, _ stream: ResponseStream<Carbon_Cop_V1_ProjectResponse>)
    throws(ModuleError)
  {
    let filter = try storeFilter(request.filter, "filter.")
    let trace = startTrace("stream").build()
    try store.forEach(filter) { project throws(ModuleError) in
      var message = Carbon_Cop_V1_ProjectResponse()
      message.project = project
      message.trace = trace
      try stream.send(message)
    }
  }

  /// The store filter of a request filter (lever names resolved, department checked; thematic
  /// and owner matched folded, see `StoreFilter.matchesText`).
  func storeFilter(_ filter: Carbon_Cop_V1_ProjectFilter, _ prefix: String) throws(ModuleError) -> StoreFilter {
    var result = StoreFilter()
    if !filter.department.isEmpty {
      guard let department = ReferenceData.department(filter.department) else {
        throw .invalidArgument("\(prefix)department", "\(filter.department.quoted) is not a department of the region")
      }
      result.department = department.code
    }
    guard (0...4).contains(filter.category.rawValue) else { throw .invalidArgument("\(prefix)category", "has an unknown value") }
    result.category = filter.category.rawValue
    if !filter.lever.isEmpty {
      guard let lever = ReferenceData.lever(named: filter.lever) else {
        throw .invalidArgument("\(prefix)lever", ProjectValidation.unknownLever(filter.lever))
      }
      result.lever = lever.name
    }
    result.thematic = filter.thematic.trimmingWhitespace()
    result.owner = filter.owner.trimmingWhitespace()
    if filter.roundYear != 0 { try Validate.inRange(filter.roundYear, ProjectValidation.roundYears, "\(prefix)round_year") }
    result.roundYear = filter.roundYear
    guard (0...3).contains(filter.maturity.rawValue) else { throw .invalidArgument("\(prefix)maturity", "has an unknown value") }
    result.maturity = filter.maturity.rawValue
    return result
  }

  private func projectResponse(_ id: String, _ method: String, field: String = "project.id", warnings: [String] = [])
    throws(ModuleError) -> Carbon_Cop_V1_ProjectResponse
  {
    guard let project = try store.get(id) else { throw .notFound(field, "no project \(id)") }
    return response(project, method, warnings: warnings)
  }

  /// The response of a project, its trace with the validation's `warnings`.
  private func response(_ project: Project, _ method: String, warnings: [String] = []) -> Carbon_Cop_V1_ProjectResponse {
    var trace = startTrace(method)
    ProjectValidation.warn(warnings, into: &trace)
    QualificationRules.decisions(into: &trace)
    QualificationRules.trace(project.qualification, into: &trace)
    trace.term("version", Double(project.version), .count, formula: "optimistic-concurrency version")
    var response = Carbon_Cop_V1_ProjectResponse()
    response.project = project
    response.trace = trace.build()
    return response
  }
}
