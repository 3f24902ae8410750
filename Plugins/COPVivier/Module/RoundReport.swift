import CarbonDomain

/// Accumulates the counts of a round report one project at a time (memory bounded by the
/// number of departments, levers, thematics and EPCIs, not by the number of projects).
struct RoundReport {
  /// Counts by department code: [carry, work, outside CRTE, not carried, unqualified].
  private var departmentCounts: [String: [Int]] = [:]
  /// Primary-lever counts over the carried + to-work projects ("" = not specified).
  private var leverCounts: [String: Int] = [:]
  private var thematicCounts: [String: Int] = [:]
  private var epcis: Set<String> = []
  private(set) var total = 0

  /// Adds a qualified project.
  mutating func add(_ project: Project) {
    total += 1
    let slot: Int
    switch project.qualification.category {
    case .carryInRound: slot = 0
    case .workForNextRound: slot = 1
    case .outsideCopExamineInCrte: slot = 2
    case .notCarried: slot = 3
    default: slot = 4
    }
    var counts = departmentCounts[project.department] ?? [0, 0, 0, 0, 0]
    counts[slot] += 1
    departmentCounts[project.department] = counts
    if slot <= 1 { leverCounts[project.primaryLever, default: 0] += 1 }
    thematicCounts[project.thematic, default: 0] += 1
    let epci = ReferenceData.fold(project.epci)
    if !epci.isEmpty { epcis.insert(epci) }
  }

  /// Label of the lever table's buckets (as the seed prints them).
  static let otherLevers = "Autres leviers"
  static let notSpecified = "Non renseigné"

  /// The report message.
  func build(topCount: Int, leastCount: Int, epciTotal: Int, trace: inout TraceBuilder) -> Carbon_Cop_V1_BuildReportResponse {
    var response = Carbon_Cop_V1_BuildReportResponse()
    var totals = [0, 0, 0, 0, 0]
    for department in ReferenceData.departments {
      let counts = departmentCounts[department.code] ?? [0, 0, 0, 0, 0]
      for slot in 0..<5 { totals[slot] += counts[slot] }
      response.departments.append(Self.row(department.code, department.name, counts))
    }
    response.departments.append(Self.row("TOTAL", "TOTAL", totals))
    trace.term("project_count", Double(total), .unspecified, formula: "number of projects (dossiers)")
    for (name, slot) in [("carry_count", 0), ("work_next_round_count", 1), ("outside_cop_crte_count", 2), ("not_carried_count", 3)] {
      trace.term(name, Double(totals[slot]), .unspecified, formula: "projects in the category, all departments")
    }

    // Lever activation over carried + to-work projects, each counted once under its primary lever.
    let base = totals[0] + totals[1]
    response.leverBaseCount = Int32(base)
    trace.term("lever_base_count", Double(base), .unspecified, formula: "carry_count + work_next_round_count")
    func share(_ count: Int, of whole: Int) -> Double { whole > 0 ? Double(count) / Double(whole) * 100 : 0 }
    func item(_ name: String, _ count: Int) -> Carbon_Cop_V1_LeverCount {
      var lever = Carbon_Cop_V1_LeverCount()
      lever.lever = name
      lever.projectCount = Int32(count)
      lever.shareLeverBasePercent = share(count, of: base)
      return lever
    }
    let order = Dictionary(uniqueKeysWithValues: ReferenceData.formLevers.map { ($0.name, $0.order) })
    let ranked = leverCounts.filter { !$0.key.isEmpty && $0.value > 0 }.sorted {
      $0.value != $1.value ? $0.value > $1.value : (order[$0.key] ?? .max, $0.key) < (order[$1.key] ?? .max, $1.key)
    }
    response.allLevers = ranked.map { item($0.key, $0.value) }
    let top = ranked.prefix(max(0, topCount))
    response.topLevers = top.map { item($0.key, $0.value) }
    let notSpecified = leverCounts[""] ?? 0
    let others = base - top.reduce(0) { $0 + $1.value } - notSpecified
    response.topLevers.append(item(Self.otherLevers, others))
    response.topLevers.append(item(Self.notSpecified, notSpecified))
    trace.term("not_specified_lever_count", Double(notSpecified), .unspecified, formula: "carried + to-work projects without a primary lever")
    trace.term("other_levers_count", Double(others), .unspecified, formula: "lever_base_count − top levers − not specified")
    trace.term("other_levers_share", share(others, of: base), .percent, formula: "other_levers_count / lever_base_count × 100")
    response.leastLevers = ranked.reversed().sorted {
      $0.value != $1.value ? $0.value < $1.value : (order[$0.key] ?? .max, $0.key) < (order[$1.key] ?? .max, $1.key)
    }.prefix(max(0, leastCount)).map { item($0.key, $0.value) }
    response.neverInvestedLevers = ReferenceData.formLevers.map(\.name).filter { (leverCounts[$0] ?? 0) == 0 }

    // Thematic shares over all projects.
    response.thematics = thematicCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map {
      var thematic = Carbon_Cop_V1_ThematicShare()
      thematic.thematic = $0.key
      thematic.projectCount = Int32($0.value)
      thematic.sharePercent = share($0.value, of: total)
      return thematic
    }

    response.epciCoveredCount = Int32(epcis.count)
    trace.term("epci_covered_count", Double(epcis.count), .unspecified, formula: "distinct EPCIs with at least one project")
    if epciTotal > 0 {
      response.epciCoveragePercent = trace.term(
        "epci_coverage", share(epcis.count, of: epciTotal), .percent, formula: "epci_covered_count / epci_total_count × 100")
    } else {
      trace.warning("epci_total_count not given: the EPCI coverage share is not computed (the seed reports 77 % of the EPCIs)")
    }
    trace.decision(
      "cop.lever_table_base", "PRIMARY_LEVER_CARRY_PLUS_WORK",
      reason: "seed Partie 4 lever table: 'comprend COP 2024 + 2025', sums to 1114 = 788 + 326; each project counted once under its primary lever, 'Non renseigné' bucket")
    trace.decision(
      "cop.shares_unrounded", "UNROUNDED",
      reason: "shares are given unrounded; the seed prints them to 0.1 % (its 'Autres leviers 323 = 29,2 %' is a misprint: 323/1114 = 29.0 %)")
    trace.decision(
      "cop.lever_ties", "CATALOGUE_ORDER",
      reason: "levers with equal counts are listed in the catalogue (seed) order")
    return response
  }

  private static func row(_ code: String, _ name: String, _ counts: [Int]) -> Carbon_Cop_V1_DepartmentRow {
    var row = Carbon_Cop_V1_DepartmentRow()
    row.department = code
    row.name = name
    row.projectCount = Int32(counts.reduce(0, +))
    row.carryCount = Int32(counts[0])
    row.workNextRoundCount = Int32(counts[1])
    row.outsideCopCrteCount = Int32(counts[2])
    row.notCarriedCount = Int32(counts[3])
    row.unqualifiedCount = Int32(counts[4])
    return row
  }
}
