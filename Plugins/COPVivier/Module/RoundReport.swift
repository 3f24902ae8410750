import CarbonDomain

/// Accumulates the counts of a round report one project at a time (memory bounded by the
/// number of departments, levers, thematics, EPCIs and owners, not by the number of projects).
struct RoundReport {
  /// Counts by department code: [carry, work, outside CRTE, not carried, unqualified].
  private var departmentCounts: [String: [Int]] = [:]
  /// Primary-lever counts over the carried + to-work projects ("" = not specified).
  private var leverCounts: [String: Int] = [:]
  private var thematicCounts: [String: Int] = [:]
  /// Projects by department then thematic.
  private var departmentThematicCounts: [String: [String: Int]] = [:]
  /// Expected impact of the carried + to-work projects by primary lever and by thematic.
  private var impactByLever: [String: ImpactAccumulator] = [:]
  private var impactByThematic: [String: ImpactAccumulator] = [:]
  /// Projects by SIREN of the region's EPCI list.
  private var epciProjects: [String: Int] = [:]
  /// `epci` values (as written) that name no EPCI of the list.
  private var unrecognisedEpcis: [String: String] = [:]
  /// Distinct owners by folded owner type (with the first spelling seen).
  private var owners: [String: (label: String, owners: Set<String>, projects: Int)] = [:]
  private(set) var total = 0

  /// Sum of expected impacts of a group.
  struct ImpactAccumulator {
    var projects = 0
    var withImpact = 0
    var sumKtCO2ePerYr = 0.0
  }

  /// Folded owner type of the communes (the seed counts "189 communes").
  static let communeOwnerType = "commune"

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
    if slot <= 1 {
      leverCounts[project.primaryLever, default: 0] += 1
      impactByLever[project.primaryLever, default: ImpactAccumulator()].add(project.expectedImpactKtCo2EPerYr)
      impactByThematic[project.thematic, default: ImpactAccumulator()].add(project.expectedImpactKtCo2EPerYr)
    }
    thematicCounts[project.thematic, default: 0] += 1
    departmentThematicCounts[project.department, default: [:]][project.thematic, default: 0] += 1

    // EPCI coverage: the EPCI the project names, else its owner when the owner is an EPCI.
    let named = project.epci.trimmingWhitespace()
    if let epci = ReferenceData.epci(named.isEmpty ? project.owner : named) {
      epciProjects[epci.siren, default: 0] += 1
    } else if !named.isEmpty {
      unrecognisedEpcis[ReferenceData.fold(named)] = named
    }

    let ownerType = ReferenceData.fold(project.ownerType.trimmingWhitespace())
    var entry = owners[ownerType] ?? (project.ownerType.trimmingWhitespace(), [], 0)
    let owner = ReferenceData.fold(project.owner)
    if !owner.isEmpty { entry.owners.insert(owner) }
    entry.projects += 1
    owners[ownerType] = entry
  }

  /// Label of the lever table's buckets (as the seed prints them).
  static let otherLevers = "Autres leviers"
  static let notSpecified = "Non renseigné"

  /// A share in percent (0 when the whole is 0).
  static func share(_ count: Int, of whole: Int) -> Double { whole > 0 ? Double(count) / Double(whole) * 100 : 0 }

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
    trace.term("project_count", Double(total), .count, formula: "number of projects (dossiers)")
    for (name, slot) in [("carry_count", 0), ("work_next_round_count", 1), ("outside_cop_crte_count", 2), ("not_carried_count", 3)] {
      trace.term(name, Double(totals[slot]), .count, formula: "projects in the category, all departments")
    }
    trace.decision(
      "cop.department_shares", "WITHIN_DEPARTMENT",
      reason: "seed Partie 4 'Poids en % par catégorie de projet dans chaque département et en région': each category's count / the department's projects × 100 (TOTAL row: the region)")

    // Lever activation over carried + to-work projects, each counted once under its primary lever.
    let base = totals[0] + totals[1]
    response.leverBaseCount = Int32(base)
    trace.term("lever_base_count", Double(base), .count, formula: "carry_count + work_next_round_count")
    func item(_ name: String, _ count: Int) -> Carbon_Cop_V1_LeverCount {
      var lever = Carbon_Cop_V1_LeverCount()
      lever.lever = name
      lever.projectCount = Int32(count)
      lever.shareLeverBasePercent = Self.share(count, of: base)
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
    trace.term("not_specified_lever_count", Double(notSpecified), .count, formula: "carried + to-work projects without a primary lever")
    trace.term("other_levers_count", Double(others), .count, formula: "lever_base_count − top levers − not specified")
    trace.term("other_levers_share", Self.share(others, of: base), .percent, formula: "other_levers_count / lever_base_count × 100")
    response.leastLevers = ranked.reversed().sorted {
      $0.value != $1.value ? $0.value < $1.value : (order[$0.key] ?? .max, $0.key) < (order[$1.key] ?? .max, $1.key)
    }.prefix(max(0, leastCount)).map { item($0.key, $0.value) }
    response.neverInvestedLevers = ReferenceData.formLevers.map(\.name).filter { (leverCounts[$0] ?? 0) == 0 }

    // Thematic shares over all projects, and within each department.
    response.thematics = thematicCounts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map {
      var thematic = Carbon_Cop_V1_ThematicShare()
      thematic.thematic = $0.key
      thematic.projectCount = Int32($0.value)
      thematic.sharePercent = Self.share($0.value, of: total)
      return thematic
    }
    for department in ReferenceData.departments {
      let cells = departmentThematicCounts[department.code] ?? [:]
      let departmentTotal = cells.values.reduce(0, +)
      for (thematic, count) in cells.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
        var cell = Carbon_Cop_V1_DepartmentThematicCell()
        cell.department = department.code
        cell.thematic = thematic
        cell.projectCount = Int32(count)
        cell.shareOfDepartmentPercent = Self.share(count, of: departmentTotal)
        response.departmentThematics.append(cell)
      }
    }
    trace.decision(
      "cop.department_thematics", "SHARE_OF_DEPARTMENT",
      reason: "seed Partie 4 'De nombreux projets sur l'eau dans la Somme et l'Oise (env. 20 %)': a thematic's projects / the department's projects × 100, all categories")

    // Expected impact, carried + to-work projects (the roadmap's potential).
    response.impactByLever = Self.impactSums(impactByLever)
    response.impactByThematic = Self.impactSums(impactByThematic)
    // In thematic order: a dictionary's order, and so the sum's last bits, change per process.
    let impactTotal = impactByThematic.sorted { $0.key < $1.key }.reduce(0) { $0 + $1.value.sumKtCO2ePerYr }
    let withImpact = impactByThematic.values.reduce(0) { $0 + $1.withImpact }
    trace.term(
      "expected_impact_carry_work", impactTotal * 1000, .tCo2EPerYr,
      formula: "Σ expected_impact_kt_co2e_per_yr of the carried + to-work projects giving one × 1000 t/kt")
    trace.term("expected_impact_given_count", Double(withImpact), .count, formula: "carried + to-work projects giving an expected impact")
    trace.decision(
      "cop.impact_sums", "CARRY_PLUS_WORK_GIVEN_ONLY",
      reason: "expected impact is optional (0 = not given): sums cover the carried + to-work projects that give one, the count of those is reported beside each sum; never extrapolated to the others")

    // EPCI coverage against the region's embedded list.
    let counted = Set(ReferenceData.epcis.filter(\.countedInRegion).map(\.siren))
    let denominator = epciTotal > 0 ? epciTotal : counted.count
    response.epciRegionCount = Int32(counted.count)
    response.epcisCovered = ReferenceData.epcis.filter { epciProjects[$0.siren] != nil }.map {
      var covered = Carbon_Cop_V1_EpciCoverage()
      covered.siren = $0.siren
      covered.name = $0.name
      covered.projectCount = Int32(epciProjects[$0.siren] ?? 0)
      return covered
    }
    let coveredInRegion = epciProjects.keys.filter { counted.contains($0) }.count
    response.epciCoveredCount = Int32(coveredInRegion)
    response.epciCoveragePercent = trace.term(
      "epci_coverage", Self.share(coveredInRegion, of: denominator), .percent,
      formula: "covered EPCIs of the region's list / \(epciTotal > 0 ? "epci_total_count" : "the list's EPCIs counted in the region") (\(denominator)) × 100")
    trace.term("epci_covered_count", Double(coveredInRegion), .count, formula: "EPCIs of the region's list named by a project (epci, or owner when epci is empty)")
    response.epciUnrecognised = unrecognisedEpcis.values.sorted()
    if !response.epciUnrecognised.isEmpty {
      trace.warning(
        "\(response.epciUnrecognised.count) epci value(s) match no EPCI of the region's list and are not counted: \(response.epciUnrecognised.prefix(10).joined(separator: ", "))")
    }
    trace.decision(
      "cop.epci_coverage", "EMBEDDED_LIST_BY_SIREN_OR_NAME",
      reason: "seed Partie 4 'La remontée des projets couvre 77 % des EPCI': an EPCI is covered when a project names it (SIREN or name; 'CA du Beauvaisis' = 200067999) in 'epci', or owns it when 'epci' is empty; list Data/epci-hauts-de-france.csv")
    trace.decision(
      "cop.epci_denominator", epciTotal > 0 ? "REQUEST" : "LIST_COUNTED_IN_REGION",
      reason: epciTotal > 0
        ? "epci_total_count given in the request"
        : "the \(counted.count) EPCIs of the list with most of their communes in the region (the 3 interregional ones with most communes outside are recognised but not counted)")

    // Owners as the seed counts them: "189 communes, 1 conseil départemental", PNR, PETR...
    response.ownerTypes = owners.sorted { $0.value.owners.count != $1.value.owners.count ? $0.value.owners.count > $1.value.owners.count : $0.key < $1.key }.map {
      var count = Carbon_Cop_V1_OwnerTypeCount()
      count.ownerType = $0.value.label
      count.distinctOwnerCount = Int32($0.value.owners.count)
      count.projectCount = Int32($0.value.projects)
      return count
    }
    response.communeOwnerCount = Int32(owners[Self.communeOwnerType]?.owners.count ?? 0)
    trace.term("commune_owner_count", Double(response.communeOwnerCount), .count, formula: "distinct owners of owner type 'commune'")
    trace.decision(
      "cop.owner_counts", "DISTINCT_OWNERS_BY_TYPE",
      reason: "seed Partie 4 'couvre 77 % des EPCI, 189 communes, 1 conseil départemental … PNR, PETR, Syndicats mixtes': distinct owners (case and accents ignored) per owner type")

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

  private static func impactSums(_ groups: [String: ImpactAccumulator]) -> [Carbon_Cop_V1_ImpactSum] {
    groups.sorted {
      $0.value.sumKtCO2ePerYr != $1.value.sumKtCO2ePerYr ? $0.value.sumKtCO2ePerYr > $1.value.sumKtCO2ePerYr : $0.key < $1.key
    }.map {
      var sum = Carbon_Cop_V1_ImpactSum()
      sum.key = $0.key
      sum.projectCount = Int32($0.value.projects)
      sum.withImpactCount = Int32($0.value.withImpact)
      sum.expectedImpactKtCo2EPerYr = $0.value.sumKtCO2ePerYr
      return sum
    }
  }

  private static func row(_ code: String, _ name: String, _ counts: [Int]) -> Carbon_Cop_V1_DepartmentRow {
    var row = Carbon_Cop_V1_DepartmentRow()
    row.department = code
    row.name = name
    let total = counts.reduce(0, +)
    row.projectCount = Int32(total)
    row.carryCount = Int32(counts[0])
    row.workNextRoundCount = Int32(counts[1])
    row.outsideCopCrteCount = Int32(counts[2])
    row.notCarriedCount = Int32(counts[3])
    row.unqualifiedCount = Int32(counts[4])
    row.carrySharePercent = share(counts[0], of: total)
    row.workNextRoundSharePercent = share(counts[1], of: total)
    row.outsideCopCrteSharePercent = share(counts[2], of: total)
    row.notCarriedSharePercent = share(counts[3], of: total)
    return row
  }
}

extension RoundReport.ImpactAccumulator {
  /// Adds one project's expected impact (0 = not given).
  mutating func add(_ impactKtCO2ePerYr: Double) {
    projects += 1
    if impactKtCO2ePerYr > 0 {
      withImpact += 1
      sumKtCO2ePerYr += impactKtCO2ePerYr
    }
  }
}
