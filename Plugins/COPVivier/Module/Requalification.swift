import CarbonPluginKit

/// Brings the stored projects to the current rules and lever list when the module starts:
/// a project qualified by another rules version, or naming a retired lever, gets a new version
/// re-qualified by `QualificationRules` (an officer's override is kept), with a history entry
/// (action "requalify", the old and new rule category and every lever moved). The previous
/// versions stay in the history: nothing stored is lost.
///
/// Safe with several hosts on one PostgreSQL pool and after a crash: each page is one
/// transaction, a project changed meanwhile by someone else is skipped (that writer already
/// qualified it with the current rules), and a re-run finds nothing left to do.
enum Requalification {
  /// Actor of the history entries.
  static let actor = "cop-vivier upgrade"

  /// What an upgrade did.
  struct Outcome: Sendable {
    /// Projects given a new version.
    var requalified = 0
    /// Of those, projects whose rule category changed.
    var ruleCategoryChanged = 0
    /// Retired lever names replaced.
    var leversMoved = 0
  }

  /// The project brought to the current rules and its history justification, or nil when it
  /// is already current.
  static func upgraded(_ stored: Project) -> (project: Project, justification: String)? {
    var project = stored
    var notes: [String] = []
    func current(_ name: String) -> String {
      guard ReferenceData.lever(named: name) == nil, let retired = ReferenceData.retiredLever(named: name) else { return name }
      notes.append("lever '\(name)' → '\(retired.replacement)' (\(retired.reason))")
      return retired.replacement
    }
    if !project.primaryLever.isEmpty { project.primaryLever = current(project.primaryLever) }
    var others: [String] = []
    for name in project.otherLevers.map(current) where name != project.primaryLever && !others.contains(name) {
      others.append(name)
    }
    project.otherLevers = others
    guard !notes.isEmpty || stored.qualification.rulesVersion != QualificationRules.version else { return nil }
    project.qualification = QualificationRules.qualify(project)
    let before = stored.qualification.ruleCategory, after = project.qualification.ruleCategory
    let fromVersion = stored.qualification.rulesVersion.isEmpty ? "cop-rules-1" : stored.qualification.rulesVersion
    notes.insert(
      "rules \(fromVersion) → \(QualificationRules.version): rule category \(ProjectCSV.name(before)) → \(ProjectCSV.name(after))"
        + (project.qualification.overridden ? " (the officer's override \(ProjectCSV.name(project.qualification.category)) is kept)" : ""),
      at: 0)
    return (project, notes.joined(separator: "; "))
  }

  /// Re-qualifies every stored project that needs it, a page per transaction.
  static func run(_ store: any ProjectStore, at: String) throws(ModuleError) -> Outcome {
    var outcome = Outcome()
    var after = ""
    let pageSize = 500
    while true {
      let page = try store.page(StoreFilter(), afterID: after, limit: pageSize)
      var changes: [(project: Project, justification: String)] = []
      for stored in page {
        guard let change = upgraded(stored) else { continue }
        changes.append(change)
        if change.project.qualification.ruleCategory != stored.qualification.ruleCategory { outcome.ruleCategoryChanged += 1 }
        outcome.leversMoved += change.justification.components(separatedBy: "lever '").count - 1
      }
      if !changes.isEmpty {
        outcome.requalified += try store.replaceUnchanged(changes, change: ChangeInfo(actor: actor, action: "requalify", at: at))
      }
      guard page.count == pageSize, let last = page.last else { return outcome }
      after = last.id
    }
  }
}
