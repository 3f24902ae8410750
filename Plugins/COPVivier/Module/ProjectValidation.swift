import CarbonDomain
import CarbonPluginKit
import Foundation

/// Checks a project given by a caller and brings it to its canonical form (department code,
/// canonical lever names, default thematic). Errors name the field under `prefix`.
enum ProjectValidation {
  /// Longest text accepted in one field (characters), to keep records bounded.
  static let maxTextLength = 10_000
  /// The seed's first COP round: « Pour la première itération de la démarche, en 2024 ».
  static let firstRound: Int32 = 2024
  /// Rounds accepted: none before the first.
  static let roundYears: ClosedRange<Int32> = firstRound...2100

  /// The canonical project, or INVALID_ARGUMENT naming the field. What was accepted but
  /// rewritten (a thematic spelling mapped to the lever's) is appended to `warnings`, for the
  /// caller's trace.
  static func normalize(
    _ input: Project, prefix: String, generateID: Bool, warnings: inout [String]
  ) throws(ModuleError) -> Project {
    var project = input
    // Output fields are the module's: a caller cannot set them.
    project.clearQualification()
    project.version = 0
    project.updatedAt = ""
    project.updatedBy = ""

    project.id = project.id.trimmingWhitespace()
    if project.id.isEmpty {
      guard generateID else { throw .invalidArgument("\(prefix)id", "is required") }
      project.id = UUID().uuidString.lowercased()
    }
    try checkID(project.id, "\(prefix)id")
    project.title = project.title.trimmingWhitespace()
    try Validate.nonEmpty(project.title, "\(prefix)title")
    for (value, name) in [
      (project.title, "title"), (project.owner, "owner"), (project.ownerType, "owner_type"),
      (project.epci, "epci"), (project.crte, "crte"), (project.thematic, "thematic"),
      (project.financingNeeds, "financing_needs"), (project.engineeringNeeds, "engineering_needs"),
      (project.comments, "comments"),
    ] where value.count > maxTextLength {
      throw .invalidArgument("\(prefix)\(name)", "is longer than \(maxTextLength) characters")
    }

    guard let department = ReferenceData.department(project.department) else {
      let known = ReferenceData.departments.map(\.code).joined(separator: ", ")
      throw .invalidArgument(
        "\(prefix)department",
        project.department.isEmpty ? "is required" : "\(project.department.quoted) is not a department of the region (\(known))")
    }
    project.department = department.code

    if !project.primaryLever.trimmingWhitespace().isEmpty {
      guard let lever = ReferenceData.lever(named: project.primaryLever) else {
        throw .invalidArgument("\(prefix)primary_lever", unknownLever(project.primaryLever))
      }
      project.primaryLever = lever.name
    } else {
      project.primaryLever = ""
    }
    var others: [String] = []
    for (index, name) in project.otherLevers.enumerated() {
      guard let lever = ReferenceData.lever(named: name) else {
        throw .invalidArgument("\(prefix)other_levers[\(index)]", unknownLever(name))
      }
      if lever.name != project.primaryLever && !others.contains(lever.name) { others.append(lever.name) }
    }
    project.otherLevers = others
    let thematic = try thematic(of: project, "\(prefix)thematic")
    project.thematic = thematic.name
    if let warning = thematic.warning { warnings.append(warning) }
    try checkMaturityFields(&project, prefix: prefix)

    guard (0...3).contains(project.maturity.rawValue) else {
      throw .invalidArgument("\(prefix)maturity", "has an unknown value \(project.maturity.rawValue)")
    }
    guard (0...2).contains(project.contributesToObjectives.rawValue) else {
      throw .invalidArgument(
        "\(prefix)contributes_to_objectives", "has an unknown value \(project.contributesToObjectives.rawValue)")
    }
    try Validate.nonNegative(project.expectedImpactKtCo2EPerYr, "\(prefix)expected_impact_kt_co2e_per_yr")
    guard roundYears.contains(project.roundYear) else {
      throw .invalidArgument(
        "\(prefix)round_year",
        project.roundYear == 0
          ? "is required"
          : "must be between \(roundYears.lowerBound) (the seed's first COP round) and \(roundYears.upperBound), got \(project.roundYear)")
    }
    if !project.previousProjectID.isEmpty { try checkID(project.previousProjectID, "\(prefix)previous_project_id") }
    return project
  }

  /// The project's thematic, checked against its levers (decision `cop.thematic_from_levers`),
  /// and a warning when a given spelling was replaced. Each lever belongs to one thematic
  /// (seed: « Le levier « vélo » ne représente qu'un des huit leviers attachés à cette
  /// thématique »), but the seed prints no list of thematic names and spells them several ways
  /// (« thématique transports et mobilité », « Transport et bâtiments sont les thématiques »):
  /// the catalogue's names are the module's reconstruction. So a given thematic is refused only
  /// when it IS another catalogue thematic (case, accents and spacing ignored), e.g. "Eau" for
  /// "Vélo"; any other spelling is a way of writing the levers' thematic:
  /// - with a primary lever, the thematic is that lever's: empty → filled in, the catalogue's
  ///   spelling folded → written as the catalogue writes it, another spelling → the lever's
  ///   thematic with a warning naming both;
  /// - without one, the other levers decide: their thematic when they all share one (another
  ///   spelling mapped with a warning); when they span several, a catalogue thematic must be one
  ///   of theirs, and another spelling cannot choose between them: it is left empty (counted
  ///   under "", as when none is given; the seed does not say which) with a warning;
  /// - without any lever (CRTE projects answer « un autre enjeu »), free text, a catalogue
  ///   thematic written as the catalogue writes it.
  static func thematic(of project: Project, _ field: String) throws(ModuleError) -> (name: String, warning: String?) {
    let given = project.thematic.trimmingWhitespace()
    let levers = ([project.primaryLever].filter { !$0.isEmpty } + project.otherLevers).compactMap {
      ReferenceData.lever(named: $0)
    }
    let catalogueName = ReferenceData.thematic(named: given)
    if let primary = levers.first, !project.primaryLever.isEmpty {
      if let catalogueName, catalogueName != primary.thematic {
        throw .invalidArgument(
          field,
          "\(given.quoted) contradicts the primary lever \(primary.name.quoted), which belongs to the thematic \(primary.thematic.quoted): give that thematic or leave it empty")
      }
      return (primary.thematic, catalogueName == nil ? mapped(given, to: primary.thematic, field, "of the primary lever \(primary.name.quoted)") : nil)
    }
    let leverThematics = levers.reduce(into: [String]()) { names, lever in
      if !names.contains(lever.thematic) { names.append(lever.thematic) }
    }
    if leverThematics.isEmpty { return (catalogueName ?? given, nil) }
    if given.isEmpty { return (leverThematics.count == 1 ? leverThematics[0] : "", nil) }
    let listed = leverThematics.map(\.quoted).joined(separator: ", ")
    if let catalogueName {
      guard leverThematics.contains(catalogueName) else {
        throw .invalidArgument(
          field, "\(given.quoted) is the thematic of none of the levers given (\(listed)): give one of those or leave it empty")
      }
      return (catalogueName, nil)
    }
    if leverThematics.count == 1 { return (leverThematics[0], mapped(given, to: leverThematics[0], field, "of the levers given")) }
    return (
      "",
      "\(field): \(given.quoted) is not a catalogue thematic and the levers given span several (\(listed)): left empty (counted under \"\"); give one of those to classify the project"
    )
  }

  /// The warning for a thematic spelling replaced by the levers' catalogue thematic.
  private static func mapped(_ given: String, to thematic: String, _ field: String, _ whose: String) -> String? {
    guard !given.isEmpty else { return nil }
    return "\(field): \(given.quoted) is not a catalogue thematic; kept \(thematic.quoted), the thematic \(whose)"
  }

  /// The maturity flags must agree with the fields they claim (decision
  /// `cop.maturity_flags_checked`): the seed's « avancement … défini de façon précise : maître
  /// d'ouvrage, … prochaines étapes dont besoins et possibles sources de financement et
  /// ingénierie » names them, so an owner "defined" but not named, or needs "defined" but not
  /// stated, is a contradiction, refused rather than trusted (it would carry the project).
  /// The potential funders are the sentence's « possibles sources de financement »: a row
  /// naming them has stated its needs' sources, even with the needs cells empty.
  static func checkMaturityFields(_ project: inout Project, prefix: String) throws(ModuleError) {
    project.owner = project.owner.trimmingWhitespace()
    project.financingNeeds = project.financingNeeds.trimmingWhitespace()
    project.engineeringNeeds = project.engineeringNeeds.trimmingWhitespace()
    project.potentialFunders = project.potentialFunders.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    if project.ownerDefined && project.owner.isEmpty {
      throw .invalidArgument(
        "\(prefix)owner_defined", "is true but owner is empty: name the owner (maître d'ouvrage) or set owner_defined to false")
    }
    if project.needsDefined && project.financingNeeds.isEmpty && project.engineeringNeeds.isEmpty
      && project.potentialFunders.isEmpty
    {
      throw .invalidArgument(
        "\(prefix)needs_defined",
        "is true but financing_needs, engineering_needs and potential_funders are all empty: state the needs or their possible funders (\"aucun\" when there are no needs) or set needs_defined to false")
    }
  }

  /// Records validation warnings in a trace, the first `limit` of them and then their number
  /// (an import of many rows spelling a thematic their own way stays readable).
  static func warn(_ warnings: [String], into trace: inout TraceBuilder, limit: Int = 100) {
    for warning in warnings.prefix(limit) { trace.warning(warning) }
    if warnings.count > limit { trace.warning("… and \(warnings.count - limit) more warning(s) of the same kind") }
  }

  /// The message for a name that is no form lever; a retired lever names its replacement.
  static func unknownLever(_ name: String) -> String {
    if let retired = ReferenceData.retiredLever(named: name) {
      return "\(name.quoted) is no longer a form lever (\(retired.reason)): use \(retired.replacement.quoted)"
    }
    return "unknown lever \(name.quoted) (GetReferenceData lists the form levers and their aliases)"
  }

  /// Ids are short and plain so that they are safe in URLs, files and page tokens.
  static func checkID(_ id: String, _ field: String) throws(ModuleError) {
    func allowed(_ byte: UInt8) -> Bool {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
        UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
        return true
      default: return false
      }
    }
    guard !id.isEmpty, id.utf8.count <= 64, id.utf8.allSatisfy(allowed) else {
      throw .invalidArgument(field, "must be 1–64 characters among A–Z a–z 0–9 . _ -, got \(id.prefix(80).quoted)")
    }
  }

  /// Who makes a change, as the history records it. With a client certificate the host has
  /// written the certified identity into `callerIdentity` (the client cannot set it): it is
  /// recorded, with the request's `actor` as a display name beside it
  /// ("cn:coop-a (Marie Dupont)"). Without one, `actor` is all there is, and it is required.
  static func actor(_ actor: String, callerIdentity: String, _ field: String = "actor") throws(ModuleError) -> String {
    let display = actor.trimmingWhitespace()
    guard display.count <= 200 else { throw .invalidArgument(field, "is longer than 200 characters") }
    let certified = callerIdentity.trimmingWhitespace()
    guard certified.isEmpty else { return display.isEmpty ? certified : "\(certified) (\(display))" }
    try Validate.nonEmpty(display, field)
    return display
  }

  /// Current time as RFC 3339 UTC (second precision).
  static func now() -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: Date())
  }
}
