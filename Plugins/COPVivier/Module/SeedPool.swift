import CarbonDomain
import CarbonPluginKit

/// Generates a pool with the seed's 06/12/2024 counts (Partie 4): per department and category
/// as the table, primary levers of the carried + to-work projects as the lever tables. Every
/// project's category comes from the qualification rules applied to attributes chosen to
/// land in the intended category, so the generated pool also exercises the rules.
enum SeedPool {
  /// Says which parts of a report on the generated pool are the seed's and which are not: the
  /// seed prints the department × category table and the lever tables, not the projects, so
  /// the generator deals the levers out in order across departments and names made-up owners.
  static func warnArtefacts(into trace: inout TraceBuilder) {
    trace.warning(
      "generated pool: only the department × category table and the lever tables are the seed's (06/12/2024); the thematic shares, the department × thematic table, the impact sums, the EPCI coverage and the owner counts are artefacts of the generator (levers dealt in catalogue order across departments, owners 'EPCI <dept>-<n>' matching no EPCI) and do not reproduce the seed's statements ('Transport et bâtiments … près de 50%', 'De nombreux projets sur l'eau dans la Somme et l'Oise (env. 20 %)', 'couvre 77 % des EPCI, 189 communes')")
  }

  /// Calls `body` for each generated project (1279 for the seed), in a fixed order.
  static func generate(roundYear: Int32, idPrefix: String, _ body: (Project) throws(ModuleError) -> Void) throws(ModuleError) {
    var levers = ReferenceData.seedRound.levers.flatMap { Array(repeating: $0.lever, count: max(0, $0.count)) }
      .makeIterator()
    for (code, counts) in ReferenceData.seedRound.departments {
      var serial = 0
      for (slot, count) in counts.enumerated() {
        for _ in 0..<max(0, count) {
          serial += 1
          var project = Project()
          project.id = "\(idPrefix)\(code)-\(String(repeating: "0", count: max(0, 4 - String(serial).count)))\(serial)"
          project.title = "Projet généré \(code) n°\(serial)"
          project.owner = "EPCI \(code)-\(serial % 15 + 1)"
          project.ownerType = "EPCI"
          project.department = code
          project.roundYear = roundYear
          switch slot {
          case 0, 1:
            let lever = levers.next() ?? ""
            project.primaryLever = lever
            project.thematic = ReferenceData.lever(named: lever)?.thematic ?? ""
            project.contributesToObjectives = .yes
            project.continuesActionUnderWay = true
            project.replicable = true
            project.ownerDefined = true
            project.nextStepsDefined = slot == 0
            project.needsDefined = slot == 0
            // Needs "defined" are stated, as ProjectValidation requires of every project.
            if slot == 0 { project.financingNeeds = "Besoins de financement (projet généré)" }
            project.maturity = slot == 0 ? .readyWithinYear : .idea
          case 2:
            project.contributesToObjectives = .no
            project.answersOtherLocalIssue = true
            project.thematic = "Autre enjeu local"
          default:
            project.contributesToObjectives = .no
            project.thematic = "Autre enjeu local"
          }
          project.qualification = QualificationRules.qualify(project)
          try body(project)
        }
      }
    }
  }
}
