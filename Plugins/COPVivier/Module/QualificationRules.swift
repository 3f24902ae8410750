import CarbonDomain

/// The seed's qualification of a project into the four categories (Partie 4, definitions under
/// the 06/12/2024 table), with the criteria combined by AND as METHODS.md §5 decides.
enum QualificationRules {
  /// Criterion ids, also the rule names of the trace.
  static let contributes = "cop.contributes"
  static let dynamic = "cop.continues_or_innovates"
  static let impact = "cop.significant_impact_or_replicable"
  static let mature = "cop.mature_for_next_year"
  static let otherIssue = "crte.answers_other_local_issue"

  /// Qualifies a (validated) project by the rules; keeps an existing override.
  static func qualify(_ project: Project) -> Carbon_Cop_V1_Qualification {
    var criteria: [Carbon_Cop_V1_CriterionOutcome] = []
    func record(_ id: String, _ met: Bool, _ reason: String) -> Bool {
      var outcome = Carbon_Cop_V1_CriterionOutcome()
      outcome.criterion = id
      outcome.met = met
      outcome.reason = reason
      criteria.append(outcome)
      return met
    }

    let hasLever = !project.primaryLever.isEmpty || !project.otherLevers.isEmpty
    let contributes: Bool
    switch project.contributesToObjectives {
    case .yes: contributes = record(Self.contributes, true, "assessed as contributing to the planning objectives")
    case .no: contributes = record(Self.contributes, false, "assessed as not contributing to the planning objectives")
    default:
      contributes = record(
        Self.contributes, hasLever,
        hasLever ? "not assessed: a COP lever is given" : "not assessed and no COP lever given")
    }
    let dynamic = record(
      Self.dynamic, project.continuesActionUnderWay || project.innovation,
      project.continuesActionUnderWay
        ? "continues or scales up an action under way"
        : (project.innovation ? "is an innovation" : "neither continues an action under way nor innovates"))
    let impact = record(
      Self.impact, project.significantImpact || project.replicable,
      project.significantImpact
        ? "significant impact" : (project.replicable ? "replicable" : "neither significant impact nor replicable"))
    var missing: [String] = []
    if project.maturity != .readyWithinYear { missing.append("maturity is not 'ready within a year'") }
    if !project.ownerDefined { missing.append("owner not defined") }
    if !project.nextStepsDefined { missing.append("next steps not defined") }
    if !project.needsDefined { missing.append("needs not defined") }
    let mature = record(
      Self.mature, missing.isEmpty,
      missing.isEmpty ? "ready within a year, owner, next steps and needs defined" : missing.joined(separator: "; "))

    var qualification = project.qualification
    qualification.criteria = criteria
    qualification.checkTransitionCompatibility = false
    if contributes && dynamic && impact {
      qualification.ruleCategory = mature ? .carryInRound : .workForNextRound
    } else if record(
      Self.otherIssue, project.answersOtherLocalIssue,
      project.answersOtherLocalIssue ? "answers another local issue" : "answers no other local issue")
    {
      qualification.ruleCategory = .outsideCopExamineInCrte
      qualification.checkTransitionCompatibility = true
    } else {
      qualification.ruleCategory = .notCarried
    }
    if !qualification.overridden { qualification.category = qualification.ruleCategory }
    if qualification.category == .outsideCopExamineInCrte { qualification.checkTransitionCompatibility = true }
    return qualification
  }

  /// Records the rule outcomes and the decisions of the qualification in a trace.
  static func trace(_ qualification: Carbon_Cop_V1_Qualification, into trace: inout TraceBuilder, prefix: String = "") {
    for criterion in qualification.criteria {
      trace.rule(prefix + criterion.criterion, (criterion.met ? "met: " : "not met: ") + criterion.reason)
    }
    if qualification.overridden {
      trace.rule(
        prefix + "cop.officer_override",
        "category \(qualification.category) replaces rule category \(qualification.ruleCategory): \(qualification.overrideJustification)")
    }
  }

  /// The decisions every qualification applies (README "Decisions").
  static func decisions(into trace: inout TraceBuilder) {
    trace.decision(
      "cop.criteria_combination", "AND",
      reason: "METHODS.md §5: the seed's criteria (Partie 4) are combined with AND; 'continue/scale up OR innovation', 'significant impact OR replicable'")
    trace.decision(
      "cop.contributes_default", "LEVER_GIVEN",
      reason: "when the officer has not assessed the contribution, a project with a COP lever contributes")
    trace.decision(
      "cop.crte_routing", "ANY_NON_QUALIFYING",
      reason: "a project that does not qualify for the COP and answers another local issue is examined in the CRTE, flagged 'check compatibility with the ecological transition' (seed Partie 4)")
  }
}
