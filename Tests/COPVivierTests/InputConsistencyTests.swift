import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Testing
@testable import COPVivierModule

/// Inputs that contradict the seed, or themselves, are refused with the field named instead of
/// giving a category or a share (audit of cop-vivier 1.1.0, findings 1–7).
@Suite("Input consistency against the seed (maturity flags, thematic, rounds, labels, roadmap flag)", .cpuBound)
struct InputConsistencyTests {
  let harness: ModuleHarness<COPVivierModule>
  init() throws { harness = try ModuleHarness<COPVivierModule>() }

  private func qualify(_ project: Carbon_Cop_V1_Project) throws -> Carbon_Cop_V1_Qualification {
    try COPVivierTests.qualify(harness, project)
  }

  /// The field named by the INVALID_ARGUMENT a call throws (nil when it succeeds).
  private func refusedField(_ body: () throws -> Void) -> String? {
    guard let error = capture(body) else { return nil }
    #expect(error.status == .invalidArgument, "\(error)")
    return error.field
  }

  private func importCSV(_ csv: String, round: Int32 = 0) throws -> Carbon_Cop_V1_ImportCsvResponse {
    var request = Carbon_Cop_V1_ImportCsvRequest()
    request.csv = csv
    request.roundYear = round
    request.dryRun = true
    request.partial = true
    return try harness.call(Path.importCsv, request, as: Carbon_Cop_V1_ImportCsvResponse.self)
  }

  // Seed, the call (Partie 4): « leur avancement peut être défini de façon précise, permettant de
  // se mettre dans l'action dès la sortie de COP : maître d'ouvrage, autres acteurs clés
  // mobilisés, prochaines étapes dont besoins et possibles sources de financement et ingénierie à
  // court-terme (1 an) » — and « à remonter »: « un niveau de maturité propice à un engagement en
  // 2025 ». An owner "defined" but not named, or needs "defined" but not stated, is no maturity.
  @Test("owner_defined with an empty owner, needs_defined without needs → INVALID_ARGUMENT naming the flag")
  func maturityFlagsMustMatchTheFields() throws {
    // The audit's request q1: owner "", owner_defined and needs_defined true, no needs; the
    // module carried it ("owner, next steps and needs defined").
    var audit = carriedProject()
    audit.owner = ""
    audit.financingNeeds = ""
    #expect(refusedField { _ = try qualify(audit) } == "project.owner_defined")
    audit.owner = "CA du Beauvaisis"
    #expect(refusedField { _ = try qualify(audit) } == "project.needs_defined")
    // Blank text is no owner either; the message says how to fix it.
    var blank = carriedProject()
    blank.owner = "   "
    let error = capture { _ = try qualify(blank) }
    #expect(error?.field == "project.owner_defined")
    #expect(error?.message.contains("owner is empty") == true)
    // Stored projects too (CreateProject), and inline report projects.
    #expect(refusedField { try create(harness, audit) } == "project.needs_defined")
    var report = Carbon_Cop_V1_BuildReportRequest()
    report.projects = [carriedProject(), audit]
    #expect(refusedField { _ = try harness.call(Path.report, report, as: Carbon_Cop_V1_BuildReportResponse.self) } == "projects[1].needs_defined")

    // Needs stated as engineering alone are needs: carried.
    var engineering = carriedProject()
    engineering.financingNeeds = ""
    engineering.engineeringNeeds = "AMO pour le schéma cyclable"
    #expect(try qualify(engineering).category == .carryInRound)
    // The same project saying what it has — no owner, no needs — is to be worked (COP N+1).
    var honest = carriedProject()
    honest.owner = ""
    honest.ownerDefined = false
    honest.financingNeeds = ""
    honest.needsDefined = false
    let q = try qualify(honest)
    #expect(q.category == .workForNextRound)
    #expect(q.criteria.first { $0.criterion == "cop.mature_for_next_year" }?.reason == "owner not defined; needs not defined")

    // A CSV row: a row error on the flag's column.
    let csv = "id,title,department,primary_lever,maturity,owner_defined,next_steps_defined,needs_defined,continues_action_under_way,round_year\n"
      + "m-1,Piste,60,Vélo,prêt à engager dans l'année,oui,oui,oui,oui,2024\n"
    let row = try #require(try importCSV(csv).errors.first)
    #expect(row.field == "rows[0].owner_defined")
  }

  // Seed, Partie 4: « Le levier « vélo » ne représente qu'un des huit leviers attachés à cette
  // thématique » — a lever belongs to one thematic — and « Transport et bâtiments sont les
  // thématiques qui rassemblent le plus de projets remontés (près de 50%) »: shares by thematic.
  @Test("the thematic follows the levers: a contradiction is refused, spellings folded, no primary lever → the other levers'")
  func thematicFollowsTheLevers() throws {
    func inline(_ title: String, primary: String = "Vélo", others: [String] = [], thematic: String = "") -> Carbon_Cop_V1_Project {
      var project = carriedProject(lever: primary)
      project.title = title
      project.otherLevers = others
      project.thematic = thematic
      return project
    }
    // The audit's request br1: B (Vélo, "Eau") is refused naming its thematic.
    var request = Carbon_Cop_V1_BuildReportRequest()
    request.projects = [
      inline("A"), inline("B", thematic: "Eau"), inline("C", thematic: "transport et mobilites"),
      inline("D", primary: "", others: ["Covoiturage"]),
    ]
    let error = capture { _ = try harness.call(Path.report, request, as: Carbon_Cop_V1_BuildReportResponse.self) }
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "projects[1].thematic")
    #expect(error?.message.contains("Transport et mobilités") == true)
    // Without B: A (filled in), C (folded: case and accents), D (no primary lever, its only other
    // lever Covoiturage is a transport lever) and E (upper case) are one thematic:
    // 4 / 4 × 100 = 100 % "Transport et mobilités" (the module gave 4 × 25 % under 3 spellings).
    request.projects = [
      inline("A"), inline("C", thematic: "transport et mobilites"), inline("D", primary: "", others: ["Covoiturage"]),
      inline("E", thematic: "  TRANSPORT ET MOBILITÉS "),
    ]
    let report = try harness.call(Path.report, request, as: Carbon_Cop_V1_BuildReportResponse.self)
    #expect(report.thematics.map(\.thematic) == ["Transport et mobilités"])
    #expect(report.thematics.first?.projectCount == 4)
    #expect(report.thematics.first?.sharePercent == 100)

    func thematic(of project: Carbon_Cop_V1_Project) throws -> String {
      try create(harness, project).thematic
    }
    // No primary lever, other levers of two thematics (Covoiturage: transport; Biogaz: énergie):
    // one of theirs is accepted (folded), none given stays "" (the seed does not say which),
    // another one is refused.
    let mixed = ["Covoiturage", "Biogaz"]
    #expect(try thematic(of: inline("F", primary: "", others: mixed, thematic: "energie")) == "Énergie")
    #expect(try thematic(of: inline("G", primary: "", others: mixed)) == "")
    #expect(refusedField { try create(harness, inline("H", primary: "", others: mixed, thematic: "Eau")) } == "project.thematic")
    // No lever at all (a CRTE project answers « un autre enjeu »): free text, a catalogue
    // thematic written as the catalogue writes it.
    #expect(try thematic(of: inline("I", primary: "", thematic: "Autre enjeu local")) == "Autre enjeu local")
    #expect(try thematic(of: inline("J", primary: "", thematic: "EAU")) == "Eau")
  }

  // Seed, Partie 3: « Pour la première itération de la démarche, en 2024 » and « Ce premier
  // tour de COP »: no round before 2024.
  @Test("a round before 2024 is refused in every method naming its field; 2024 is accepted")
  func noRoundBefore2024() throws {
    #expect(refusedField { _ = try qualify(carriedProject(round: 2021)) } == "project.round_year")
    #expect(refusedField { _ = try qualify(carriedProject(round: 2023)) } == "project.round_year")
    #expect(try qualify(carriedProject(round: 2024)).category == .carryInRound)
    #expect(refusedField { try create(harness, carriedProject(id: "r-2023", round: 2023)) } == "project.round_year")

    // ImportCsv: the request's default round, and a row's round.
    let header = "id,title,department,round_year\n"
    #expect(refusedField { _ = try importCSV(header + "r-1,Piste,60,\n", round: 2023) } == "round_year")
    let row = try #require(try importCSV(header + "r-1,Piste,60,2023\n").errors.first)
    #expect(row.field == "rows[0].round_year")

    var carry = Carbon_Cop_V1_CarryOverRoundRequest()
    carry.fromRoundYear = 2023
    carry.toRoundYear = 2024
    carry.actor = "DREAL"
    #expect(refusedField { _ = try harness.call(Path.carryOver, carry, as: Carbon_Cop_V1_CarryOverRoundResponse.self) } == "from_round_year")
    var compare = Carbon_Cop_V1_CompareRoundsRequest()
    compare.fromRoundYear = 2020
    compare.toRoundYear = 2024
    #expect(refusedField { _ = try harness.call(Path.compare, compare, as: Carbon_Cop_V1_CompareRoundsResponse.self) } == "from_round_year")
    var report = Carbon_Cop_V1_BuildReportRequest()
    report.roundYear = 2022
    #expect(refusedField { _ = try harness.call(Path.report, report, as: Carbon_Cop_V1_BuildReportResponse.self) } == "round_year")
    var pool = Carbon_Cop_V1_GenerateSeedPoolRequest()
    pool.roundYear = 2023
    #expect(refusedField { _ = try harness.call(Path.seedPool, pool, as: Carbon_Cop_V1_GenerateSeedPoolResponse.self) } == "round_year")
  }

  // Seed, Partie 4: « Les projets à travailler dans la COP 2025 » … « Ils doivent être
  // travaillés et accompagnés pour une inscription dans la COP 2025 » (for the 2024 round), and
  // Partie 1: « Faire évoluer, après évaluation les engagements pris en année N, en année N+1 ».
  @Test("CarryOverRound carries into the next round only: 2024 → 2027 refused naming to_round_year")
  func carryOverIntoTheNextRoundOnly() throws {
    var work = carriedProject(id: "next-1")
    work.maturity = .idea
    try create(harness, work)
    var carry = Carbon_Cop_V1_CarryOverRoundRequest()
    carry.fromRoundYear = 2024
    carry.toRoundYear = 2027
    carry.actor = "DREAL"
    let error = capture { _ = try harness.call(Path.carryOver, carry, as: Carbon_Cop_V1_CarryOverRoundResponse.self) }
    #expect(error?.status == .invalidArgument)
    #expect(error?.field == "to_round_year")
    #expect(error?.message.contains("2025") == true)
    // Nothing was written into 2027.
    var compare = Carbon_Cop_V1_CompareRoundsRequest()
    compare.fromRoundYear = 2024
    compare.toRoundYear = 2027
    #expect(try harness.call(Path.compare, compare, as: Carbon_Cop_V1_CompareRoundsResponse.self).toTotal == 0)
    // 2024 → 2025 carries the one to-work project.
    carry.toRoundYear = 2025
    #expect(try harness.call(Path.carryOver, carry, as: Carbon_Cop_V1_CarryOverRoundResponse.self).carriedCount == 1)
  }

  // Seed, Partie 4, the 06/12/2024 table: « A remonter COP 2024 », « A travailler COP 2025 » —
  // for the 2024 round. A label naming another round is not the row's category.
  @Test("a CSV category label whose year is not the row's round is a row error on category")
  func categoryLabelYearMatchesTheRound() throws {
    let header = "id,title,owner,department,primary_lever,maturity,owner_defined,next_steps_defined,needs_defined,financing_needs,continues_action_under_way,round_year,category\n"
    let work = "Piste,CA du Beauvaisis,60,Vélo,idée,oui,non,non,,oui"
    let carry = "Reno,CA du Beauvaisis,60,Rénovation (tertiaire),prêt à engager dans l'année,oui,oui,oui,DSIL,oui"
    // The audit's request imp1: both rows were accepted with no override.
    let response = try importCSV(
      header
        + "y-1,\(work),2024,À travailler COP 2024\n"  // round 2024's to-work label is « À travailler COP 2025 »
        + "y-2,\(carry),2025,À remonter COP 2024\n"  // round 2025's carried label is « À remonter COP 2025 »
        + "y-3,\(work),2024,À travailler COP 2025\n"  // as the seed labels it
        + "y-4,\(carry),2024,A remonter COP 2024\n"  // as the seed prints it (no accent)
        + "y-5,\(carry),2024,CATEGORY_CARRY_IN_ROUND\n")  // enum names carry no year
    #expect(response.errors.map(\.field) == ["rows[0].category", "rows[1].category"])
    #expect(response.trace.decisions.contains { $0.rule == "cop.import.category_label_year" })
    #expect(response.errors.first?.message.contains("À travailler COP 2025") == true)
    #expect(response.errors.last?.message.contains("À remonter COP 2025") == true)
    // The three others are valid and need no override: y-4 and y-5 carried (2), y-3 to work (1).
    #expect(response.rejectedCount == 2)
    #expect(response.categoryCounts == [2, 1, 0, 0])
  }

  // Seed, the call (Partie 4): « Elles alimenteront la feuille de route régionale dans la mesure
  // où : – elles sont cohérentes avec les leviers de la COP ; – elles présentent un potentiel
  // d'impact significatif au regard des enjeux de la COP, et/ou peuvent être répliquées de façon
  // significative ailleurs sur le territoire ; – leur avancement peut être défini de façon
  // précise … » and « pourront être ensuite inscrits à la feuille de route régionale de la COP
  // 2024, dans la mesure où ils répondent aux critères détaillés ci-dessus »: all three.
  @Test("meets_roadmap_criteria needs all three of the call's criteria; never moves the category")
  func roadmapFlagNeedsTheThreeCriteria() throws {
    // The audit's request q10: not contributing, no lever, an idea, nothing defined, replicable:
    // CRTE, and the flag was set on "replicable" alone.
    var hall = Carbon_Cop_V1_Project()
    hall.title = "Salle polyvalente"
    hall.owner = "Commune X"
    hall.ownerType = "commune"
    hall.department = "80"
    hall.roundYear = 2024
    hall.contributesToObjectives = .no
    hall.answersOtherLocalIssue = true
    hall.maturity = .idea
    hall.replicable = true
    let crte = try qualify(hall)
    #expect(crte.category == .outsideCopExamineInCrte)
    #expect(!crte.meetsRoadmapCriteria)
    #expect(crte.roadmapCriterion.criterion == "cop.roadmap_call_criteria")
    #expect(crte.roadmapCriterion.reason.hasPrefix("not coherent with the COP levers"))
    #expect(crte.roadmapCriterion.reason.contains("progress not defined"))

    // Contributes + replicable + mature: all three → set.
    let carried = try qualify(carriedProject())
    #expect(carried.meetsRoadmapCriteria)
    #expect(carried.roadmapCriterion.reason == "coherent with the COP levers, replicable significantly elsewhere, progress defined")
    // Contributes + replicable, not mature (to work): the third criterion fails → not set.
    var work = carriedProject()
    work.maturity = .inDesign
    let toWork = try qualify(work)
    #expect(toWork.category == .workForNextRound)
    #expect(!toWork.meetsRoadmapCriteria)
    #expect(toWork.roadmapCriterion.reason == "progress not defined (maturity is not 'ready within a year')")
    // Contributes + mature, neither impact nor replicable: the second fails → not set, still carried.
    var plain = carriedProject()
    plain.replicable = false
    let still = try qualify(plain)
    #expect(still.category == .carryInRound)
    #expect(!still.meetsRoadmapCriteria)
    #expect(still.rulesVersion == "cop-rules-3")
  }

  @Test("a report on the generated seed pool warns that its cross tables are the generator's")
  func seedPoolCrossTablesAreArtefacts() throws {
    var request = Carbon_Cop_V1_BuildReportRequest()
    request.useSeedPool = true
    let report = try harness.call(Path.report, request, as: Carbon_Cop_V1_BuildReportResponse.self)
    #expect(report.trace.warnings.contains { $0.contains("artefacts of the generator") && $0.contains("77 % des EPCI") })
    // The seed's own table is unchanged: 1279 projects, 788 carried.
    #expect(report.departments.last?.projectCount == 1279)
    #expect(report.departments.last?.carryCount == 788)
  }
}
