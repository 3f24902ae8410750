import CarbonDomain

/// The seed's qualification of a project into the four categories, as the seed's definitions
/// under the 06/12/2024 table print them (Partie 4):
/// - « à remonter COP 2024 »: contribue aux objectifs + (poursuivre/massifier OU innovation) +
///   maturité propice à un engagement en 2025;
/// - « à travailler COP 2025 »: the same « mais qui présentent un niveau de maturité insuffisant »;
/// - « hors COP mais à examiner dans le cadre des CRTE »: « ne contribuent pas directement aux
///   objectifs … mais qui présentent une réponse à un autre enjeu »;
/// - « non remontés »: « aucune des caractéristiques des 3 catégories précédentes ».
/// The call for projects' roadmap criteria are NOT part of the categories (METHODS.md §5,
/// corrected): they give the separate `meets_roadmap_criteria` flag, set when all three of the
/// call's criteria hold (coherent with the COP levers, significant impact and/or replicable,
/// progress defined; decision `cop.roadmap_criteria_all_three`).
enum QualificationRules {
  /// Version of these rules, stored with every qualification; a stored project qualified by
  /// another version is re-qualified when the module starts (`Requalification`).
  /// "" / absent = version 1 (impact criterion required, any non-qualifying project to the CRTE);
  /// version 2 set the roadmap flag on "significant impact or replicable" alone; version 3 on
  /// the call's three criteria.
  static let version = "cop-rules-3"

  /// Criterion ids, also the rule names of the trace.
  static let contributes = "cop.contributes"
  static let dynamic = "cop.continues_or_innovates"
  static let mature = "cop.mature_for_next_year"
  static let otherIssue = "crte.answers_other_local_issue"
  /// The roadmap flag's id (not a criterion of the category).
  static let roadmap = "cop.roadmap_call_criteria"

  /// Qualifies a (validated) project by the rules; keeps an existing override.
  static func qualify(_ project: Project) -> Carbon_Cop_V1_Qualification {
    var criteria: [Carbon_Cop_V1_CriterionOutcome] = []
    func outcome(_ id: String, _ met: Bool, _ reason: String) -> Carbon_Cop_V1_CriterionOutcome {
      var outcome = Carbon_Cop_V1_CriterionOutcome()
      outcome.criterion = id
      outcome.met = met
      outcome.reason = reason
      return outcome
    }
    func record(_ id: String, _ met: Bool, _ reason: String) -> Bool {
      criteria.append(outcome(id, met, reason))
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
    var missing: [String] = []
    if project.maturity != .readyWithinYear { missing.append("maturity is not 'ready within a year'") }
    if !project.ownerDefined { missing.append("owner not defined") }
    if !project.nextStepsDefined { missing.append("next steps not defined") }
    if !project.needsDefined { missing.append("needs not defined") }
    let mature = record(
      Self.mature, missing.isEmpty,
      missing.isEmpty ? "ready within a year, owner, next steps and needs defined" : missing.joined(separator: "; "))

    var qualification = project.qualification
    qualification.checkTransitionCompatibility = false
    if contributes && dynamic {
      qualification.ruleCategory = mature ? .carryInRound : .workForNextRound
    } else if !contributes {
      // The CRTE category is for projects that « ne contribuent pas directement aux objectifs »:
      // a contributing project that neither continues nor innovates is « non remonté ».
      if record(
        Self.otherIssue, project.answersOtherLocalIssue,
        project.answersOtherLocalIssue ? "answers another local issue" : "answers no other local issue")
      {
        qualification.ruleCategory = .outsideCopExamineInCrte
        qualification.checkTransitionCompatibility = true
      } else {
        qualification.ruleCategory = .notCarried
      }
    } else {
      qualification.ruleCategory = .notCarried
    }
    qualification.criteria = criteria
    // The call's three criteria (« dans la mesure où : elles sont cohérentes avec les leviers de
    // la COP ; elles présentent un potentiel d'impact significatif … et/ou peuvent être
    // répliquées … ; leur avancement peut être défini de façon précise »), all required.
    var roadmapMissing: [String] = []
    if !contributes { roadmapMissing.append("not coherent with the COP levers (does not contribute)") }
    if !project.significantImpact && !project.replicable { roadmapMissing.append("neither significant impact nor replicable") }
    if !mature { roadmapMissing.append("progress not defined (\(missing.joined(separator: "; ")))") }
    let impact = project.significantImpact ? "significant impact regarding the COP stakes" : "replicable significantly elsewhere"
    qualification.roadmapCriterion = outcome(
      Self.roadmap, roadmapMissing.isEmpty,
      roadmapMissing.isEmpty
        ? "coherent with the COP levers, \(impact), progress defined" : roadmapMissing.joined(separator: "; "))
    qualification.meetsRoadmapCriteria = qualification.roadmapCriterion.met
    qualification.rulesVersion = Self.version
    if !qualification.overridden { qualification.category = qualification.ruleCategory }
    if qualification.category == .outsideCopExamineInCrte { qualification.checkTransitionCompatibility = true }
    return qualification
  }

  /// Records the rule outcomes and the decisions of the qualification in a trace.
  static func trace(_ qualification: Carbon_Cop_V1_Qualification, into trace: inout TraceBuilder, prefix: String = "") {
    for criterion in qualification.criteria {
      trace.rule(prefix + criterion.criterion, (criterion.met ? "met: " : "not met: ") + criterion.reason)
    }
    if qualification.hasRoadmapCriterion {
      let flag = qualification.roadmapCriterion
      trace.rule(
        prefix + flag.criterion,
        (flag.met ? "roadmap flag set: " : "roadmap flag not set: ") + flag.reason + " (a flag, not a condition of the category)")
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
      "cop.categories", "SEED_DEFINITIONS",
      reason: "seed Partie 4: carry = contributes AND (continues/scales up OR innovation) AND mature; work = the same but not mature; CRTE = no direct contribution AND another local issue; else not carried")
    trace.decision(
      "cop.roadmap_criteria", "FLAG_NOT_CONDITION",
      reason: "the call's roadmap criteria are reported as meets_roadmap_criteria, never a condition of the category (METHODS.md §5, corrected)")
    trace.decision(
      "cop.roadmap_criteria_all_three", "COHERENT_AND_IMPACT_OR_REPLICABLE_AND_PROGRESS_DEFINED",
      reason: "seed Partie 4, the call: 'Elles alimenteront la feuille de route régionale dans la mesure où : elles sont cohérentes avec les leviers de la COP ; elles présentent un potentiel d'impact significatif … et/ou peuvent être répliquées … ; leur avancement peut être défini de façon précise' and 'dans la mesure où ils répondent aux critères détaillés ci-dessus': all three (cop.contributes, significant impact OR replicable, cop.mature_for_next_year); METHODS.md §5 names only the second, the seed lists three")
    trace.decision(
      "cop.maturity_flags_checked", "CONTRADICTION_REFUSED",
      reason: "seed: progress defined means 'maître d'ouvrage, … prochaines étapes dont besoins et possibles sources de financement et ingénierie': owner_defined with an empty owner, or needs_defined with none of financing_needs, engineering_needs and potential_funders (the « possibles sources de financement »), is refused (INVALID_ARGUMENT), never trusted")
    trace.decision(
      "cop.thematic_from_levers", "PRIMARY_LEVER_THEMATIC",
      reason: "seed: 'Le levier « vélo » ne représente qu'un des huit leviers attachés à cette thématique' (a lever belongs to one thematic), but it prints no thematic list and writes 'transports et mobilité', 'Transport': the primary lever's thematic; another catalogue thematic refused, any other spelling mapped to the lever's with a warning; without a primary lever, the other levers' thematic when they share one")
    trace.decision(
      "cop.contributes_default", "LEVER_GIVEN",
      reason: "when the officer has not assessed the contribution, a project with a COP lever contributes")
    trace.decision(
      "cop.crte_routing", "NO_DIRECT_CONTRIBUTION_ONLY",
      reason: "seed: CRTE projects 'ne contribuent pas directement aux objectifs … mais qui présentent une réponse à un autre enjeu'; a contributing project that neither continues nor innovates is 'non remonté'")
    trace.decision(
      "cop.rounds", "FROM_2024",
      reason: "seed: 'Pour la première itération de la démarche, en 2024', 'Ce premier tour de COP': round years are \(ProjectValidation.roundYears.lowerBound)–\(ProjectValidation.roundYears.upperBound)")
    trace.decision("cop.rules_version", Self.version, reason: "version of the qualification rules stored with each qualification")
  }
}
