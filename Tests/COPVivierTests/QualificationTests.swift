import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Testing
@testable import COPVivierModule

@Suite("Qualification rules (seed Partie 4, criteria combined with AND)", .cpuBound)
struct QualificationTests {
  let harness: ModuleHarness<COPVivierModule>
  init() throws { harness = try ModuleHarness<COPVivierModule>() }

  private func qualify(_ project: Carbon_Cop_V1_Project) throws -> Carbon_Cop_V1_Qualification {
    try COPVivierTests.qualify(harness, project)
  }

  @Test("lever + continues + replicable + mature → carry in COP N")
  func carry() throws {
    let q = try qualify(carriedProject())
    #expect(q.category == .carryInRound)
    #expect(q.criteria.map(\.met) == [true, true, true])
    #expect(q.meetsRoadmapCriteria)
  }

  @Test("innovation with significant impact counts as well as continuation + replicable")
  func innovationSignificant() throws {
    var project = carriedProject()
    project.continuesActionUnderWay = false
    project.replicable = false
    project.innovation = true
    project.significantImpact = true
    #expect(try qualify(project).category == .carryInRound)
  }

  @Test("same but not mature (idea, needs undefined) → work for COP N+1, reasons name what is missing")
  func work() throws {
    var project = carriedProject()
    project.maturity = .idea
    project.needsDefined = false
    let q = try qualify(project)
    #expect(q.category == .workForNextRound)
    let mature = try #require(q.criteria.first { $0.criterion == "cop.mature_for_next_year" })
    #expect(!mature.met)
    #expect(mature.reason.contains("needs not defined"))
  }

  @Test("no COP contribution but another local issue → outside COP, examine in CRTE, flagged")
  func crte() throws {
    var project = carriedProject(lever: "")
    project.answersOtherLocalIssue = true
    let q = try qualify(project)
    #expect(q.category == .outsideCopExamineInCrte)
    #expect(q.checkTransitionCompatibility)
  }

  @Test("assessed as not contributing, nothing else → not carried")
  func notCarried() throws {
    var project = carriedProject()
    project.contributesToObjectives = .no
    let q = try qualify(project)
    #expect(q.category == .notCarried)
    #expect(!q.checkTransitionCompatibility)
  }

  @Test("a lever but neither continuation nor innovation → not carried")
  func notDynamic() throws {
    var project = carriedProject()
    project.continuesActionUnderWay = false
    #expect(try qualify(project).category == .notCarried)
  }

  // Seed, Partie 4: « Les projets à remonter dans la COP 2024 » sont des projets qui contribuent
  // aux objectifs de la planification écologique, qui permettent soit de poursuivre, voire de
  // massifier des actions d'ores et déjà engagées ou qui constituent une innovation, et qui
  // présentent un niveau de maturité propice à un engagement en 2025 ;
  // — no word of impact or replicability: those are the call's roadmap criteria (« elles
  // présentent un potentiel d'impact significatif … et/ou peuvent être répliquées »), a flag.
  @Test("neither significant impact nor replicable → STILL carried; the roadmap flag is off")
  func impactIsAFlagNotACondition() throws {
    var project = carriedProject()
    project.replicable = false
    project.significantImpact = false
    let q = try qualify(project)
    #expect(q.category == .carryInRound)
    #expect(!q.meetsRoadmapCriteria)
    #expect(q.roadmapCriterion.criterion == "cop.roadmap_call_criteria")
    #expect(!q.roadmapCriterion.met)
    // The flag is not among the category's criteria.
    #expect(q.criteria.map(\.criterion) == ["cop.contributes", "cop.continues_or_innovates", "cop.mature_for_next_year"])
    #expect(q.rulesVersion == "cop-rules-3")
  }

  @Test("on a contributing, mature project the roadmap flag follows 'significant impact OR replicable' without moving the category")
  func roadmapFlag() throws {
    var project = carriedProject()
    project.replicable = false
    project.significantImpact = true
    #expect(try qualify(project).meetsRoadmapCriteria)
    project.significantImpact = false
    project.replicable = true
    #expect(try qualify(project).meetsRoadmapCriteria)
    // « à travailler COP 2025 »: the same « mais qui présentent un niveau de maturité
    // insuffisant » — not replicable and no significant impact changes nothing there either.
    project.replicable = false
    project.maturity = .inDesign
    let work = try qualify(project)
    #expect(work.category == .workForNextRound)
    #expect(!work.meetsRoadmapCriteria)
  }

  // Seed: « Les projets hors COP mais à examiner dans le cadre des CRTE » sont des projets qui ne
  // contribuent pas directement aux objectifs de la planification écologique, mais qui présentent
  // une réponse à un autre enjeu. « Les projets non remontés » sont des projets qui ne présentent
  // aucune des caractéristiques des 3 catégories précédentes.
  @Test("contributes but neither continues nor innovates, answers another issue → not carried (the CRTE is for no direct contribution)")
  func contributingButStaticIsNotCRTE() throws {
    var project = carriedProject()
    project.continuesActionUnderWay = false
    project.innovation = false
    project.answersOtherLocalIssue = true
    let q = try qualify(project)
    #expect(q.category == .notCarried)
    #expect(!q.checkTransitionCompatibility)
    // The same project assessed as not contributing goes to the CRTE.
    project.contributesToObjectives = .no
    #expect(try qualify(project).category == .outsideCopExamineInCrte)
  }

  @Test("the trace names the category rule, the roadmap flag and the CRTE routing")
  func traceNamesTheDecisions() throws {
    var request = Carbon_Cop_V1_QualifyProjectRequest()
    var project = carriedProject()
    project.replicable = false
    request.project = project
    let trace = try harness.call(Path.qualify, request, as: Carbon_Cop_V1_QualifyProjectResponse.self).trace
    let decisions = Dictionary(trace.decisions.map { ($0.rule, $0.choice) }, uniquingKeysWith: { a, _ in a })
    #expect(decisions["cop.roadmap_criteria"] == "FLAG_NOT_CONDITION")
    #expect(decisions["cop.crte_routing"] == "NO_DIRECT_CONTRIBUTION_ONLY")
    #expect(decisions["cop.categories"] == "SEED_DEFINITIONS")
    #expect(trace.rules.contains { $0.rule == "cop.roadmap_call_criteria" && $0.effect.contains("not a condition") })
    #expect(decisions["cop.roadmap_criteria_all_three"] == "COHERENT_AND_IMPACT_OR_REPLICABLE_AND_PROGRESS_DEFINED")
  }

  @Test("contribution assessed yes without lever → carried (the seed's 'Non renseigné' projects)")
  func assessedWithoutLever() throws {
    var project = carriedProject(lever: "")
    project.contributesToObjectives = .yes
    #expect(try qualify(project).category == .carryInRound)
  }

  @Test("bad input: unknown lever, department outside the region, negative impact, NaN")
  func badInput() {
    func field(_ change: (inout Carbon_Cop_V1_Project) -> Void) -> String? {
      var project = carriedProject()
      change(&project)
      do {
        _ = try qualify(project)
        return nil
      } catch let error as ModuleError {
        #expect(error.status == .invalidArgument)
        return error.field
      } catch { return "unexpected \(error)" }
    }
    #expect(field { $0.primaryLever = "Téléportation" } == "project.primary_lever")
    #expect(field { $0.otherLevers = ["Vélo", "Inconnu"] } == "project.other_levers[1]")
    #expect(field { $0.department = "75" } == "project.department")
    #expect(field { $0.expectedImpactKtCo2EPerYr = -1 } == "project.expected_impact_kt_co2e_per_yr")
    #expect(field { $0.expectedImpactKtCo2EPerYr = .nan } == "project.expected_impact_kt_co2e_per_yr")
    #expect(field { $0.roundYear = 0 } == "project.round_year")
    #expect(field { $0.title = "" } == "project.title")
    #expect(field { $0.id = "bad id/1" } == "project.id")
  }

  @Test("override: mandatory justification, kept in the history, survives an update")
  func overrideKeepsHistory() throws {
    let created = try create(harness, carriedProject(id: "ovr-1"))
    #expect(created.qualification.category == .carryInRound)
    #expect(created.version == 1)

    var request = Carbon_Cop_V1_OverrideQualificationRequest()
    request.projectID = "ovr-1"
    request.category = .workForNextRound
    request.actor = "DREAL HdF"
    request.expectedVersion = 1
    request.justification = "   "
    let error = capture { _ = try harness.call(Path.override, request, as: Carbon_Cop_V1_ProjectResponse.self) }
    #expect(error != nil, "an override without justification was accepted")
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "justification")
    request.justification = "Financement non confirmé par la région"
    let overridden = try harness.call(Path.override, request, as: Carbon_Cop_V1_ProjectResponse.self).project
    #expect(overridden.qualification.category == .workForNextRound)
    #expect(overridden.qualification.ruleCategory == .carryInRound)
    #expect(overridden.qualification.overrideBy == "DREAL HdF")
    #expect(overridden.version == 2)

    // An update keeps the override and recomputes the rule category.
    var update = Carbon_Cop_V1_UpdateProjectRequest()
    update.project = carriedProject(id: "ovr-1")
    update.project.title = "Piste cyclable renommée"
    update.expectedVersion = 2
    update.actor = "DDT 60"
    let updated = try harness.call(Path.update, update, as: Carbon_Cop_V1_ProjectResponse.self).project
    #expect(updated.qualification.category == .workForNextRound)
    #expect(updated.qualification.overridden)
    #expect(updated.title == "Piste cyclable renommée")

    var historyRequest = Carbon_Cop_V1_GetProjectHistoryRequest()
    historyRequest.projectID = "ovr-1"
    let history = try harness.call(Path.history, historyRequest, as: Carbon_Cop_V1_GetProjectHistoryResponse.self).entries
    #expect(history.map(\.action) == ["create", "override", "update"])
    #expect(history.map(\.version) == [1, 2, 3])
    #expect(history[1].actor == "DREAL HdF")
    #expect(history[1].justification == "Financement non confirmé par la région")
    #expect(history[0].project.title == "Piste cyclable ovr-1")
  }
}
