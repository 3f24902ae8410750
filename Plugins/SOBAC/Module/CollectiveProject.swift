import CarbonDomain
import CarbonPluginKit

/// Running totals of a collective project (Eq. 5; Annex 5 Partie B), fed one farm at a time so
/// that the streaming method keeps a flat memory.
struct CollectiveAccumulator: Sendable {
  let projectName: String
  let methodVersion: String
  private(set) var farms = 0
  private var referenceKg = 0.0
  private var projectKg = 0.0
  private var reductionBefore = 0.0
  private var finalReduction = 0.0
  private var blocked = 0
  private var ift = CollectiveIft()
  private var farmsByType: [Carbon_Sobac_V1_FarmType: Int] = [:]
  /// True for EvaluateCollectiveStream: the farms' final reductions hold only if the group's
  /// IFT triggers, decided in `summary`, are met.
  let iftPending: Bool

  init(projectName: String, methodVersion: String, iftPending: Bool = false) {
    self.projectName = projectName
    self.methodVersion = methodVersion
    self.iftPending = iftPending
  }

  /// Adds one farm's result.
  mutating func add(_ farm: Carbon_Sobac_V1_FarmProjectResult) {
    farms += 1
    referenceKg += farm.referenceEmissionsKgCo2E
    projectKg += farm.projectEmissionsKgCo2E
    reductionBefore += farm.reductionBeforeAdjustmentsTCo2E
    finalReduction += farm.finalReductionTCo2E
    if !farm.coBenefits.allTriggersMet { blocked += 1 }
    ift.add(FarmIftFigures(result: farm))
    farmsByType[farm.farmType, default: 0] += 1
  }

  /// The totals, the collective IFT and the audit sample.
  func summary(data: SobacReferenceData, scoring: CoBenefitScoring) throws(ModuleError) -> Carbon_Sobac_V1_CollectiveSummary {
    var trace = TraceBuilder(method: SobacModule.methodName, version: methodVersion)
    for set in data.dataSets where set.name == "sobac-audit-sample" { trace.dataSet(set) }
    var out = Carbon_Sobac_V1_CollectiveSummary()
    out.projectName = projectName
    out.farms = Int32(clamping: farms)
    out.referenceEmissionsKgCo2E = trace.term("e_ref_collective", referenceKg, .kgCo2E, formula: "Σ farms E_ref (Eq. 5)")
    out.projectEmissionsKgCo2E = trace.term("e_project_collective", projectKg, .kgCo2E, formula: "Σ farms E_project")
    out.reductionBeforeAdjustmentsTCo2E = trace.term("reduction_before_adjustments_collective", reductionBefore, .tCo2E, formula: "Σ farms")
    let decision = try ift.decide(scoring: scoring, path: "farms[*]")
    out.collectiveIftHerbicide = decision.herbicide
    out.collectiveIftNonHerbicide = decision.nonHerbicide
    out.collectiveIftTriggersMet = decision.met
    (out.collectiveIftHerbicideReference, out.collectiveIftHerbicideProject) = ift.herbicide
    (out.collectiveIftNonHerbicideReference, out.collectiveIftNonHerbicideProject) = ift.nonHerbicide
    for indicator in [decision.herbicide, decision.nonHerbicide] {
      trace.term(
        "\(indicator.name)_reduction", indicator.reductionPercent, .percent,
        formula: "(group reference \(indicator.referenceValue) − group project \(indicator.projectValue)) / reference; threshold \(indicator.thresholdPercent) % (\(decision.thresholds))")
      if indicator.status == .notMet {
        trace.rule(
          "sobac.trigger.\(indicator.name)",
          "the group's IFT reduction \(indicator.reductionPercent) % is below the \(indicator.thresholdPercent) % threshold: no farm's reductions are counted (§4.3.2)")
      }
    }
    trace.decision(
      "collective_ift", "MEAN_SAU_WEIGHTED_FARM_REFERENCES",
      reason: "§4.3.2 \"on considérera un IFT moyen (en calculant une somme des IFT individuels pondérée par la surface de chaque exploitation)\": each farm weighs its mean SAU over the 10 years; its reference is its own olympic mean, or its regional olympic mean for the generic option; the group's figures decide the IFT triggers of every farm")
    trace.decision(
      "collective_ift_thresholds", decision.thresholds == "specific" ? "SPECIFIC" : "GENERIC",
      reason: "every farm on one option: that option's thresholds; any farm on the generic reference: the generic thresholds (−20 % / −50 %), the stricter, so mixing options never lowers the bar (the seed is silent)")
    var final = finalReduction
    var blockedFarms = blocked
    if iftPending, !decision.met {
      final = 0
      blockedFarms = farms
      trace.rule("sobac.ift.collective_pending", "the group's IFT triggers are not met: every farm's final reduction is 0, whatever its streamed message said")
    }
    out.finalReductionTCo2E = trace.term(
      "final_reduction_collective", final, .tCo2E,
      formula: iftPending
        ? "Σ farms' final reductions if the group's IFT triggers are met, else 0"
        : "Σ farms' final reductions, each with its own rabais, bonus and triggers (the IFT ones the group's)")
    out.farmsBlocked = Int32(clamping: blockedFarms)
    out.auditSample = AuditSampler(rows: data.auditRows).sample(farmsByType: farmsByType, trace: &trace)
    out.trace = trace.build()
    return out
  }
}

/// The audit sample of Tableau 7 (§10.3).
struct AuditSampler: Sendable {
  let rows: [AuditSampleRow]
  /// Up to this many farms, every farm is audited (§10.3).
  static let auditAllUpTo = 60
  /// Below this sample size, every farm of the group is audited (§10.3).
  static let minimumRepresentative = 20

  func sample(farmsByType: [Carbon_Sobac_V1_FarmType: Int], trace: inout TraceBuilder) -> Carbon_Sobac_V1_AuditSample {
    var out = Carbon_Sobac_V1_AuditSample()
    let total = farmsByType.values.reduce(0, +)
    let types = farmsByType.keys.sorted { $0.rawValue < $1.rawValue }
    out.totalFarms = Int32(clamping: total)
    out.farmTypes = Int32(clamping: types.count)
    let row = rows.last { $0.farmsAtLeast <= total }
    out.auditAll = total <= Self.auditAllUpTo || row == nil
    if !out.auditAll, let row { out.tableRowFarms = Int32(clamping: row.farmsAtLeast) }
    var toAudit = 0
    for type in types {
      let count = farmsByType[type] ?? 0
      var entry = Carbon_Sobac_V1_AuditSampleByType()
      entry.farmType = type
      entry.farms = Int32(clamping: count)
      var sample = count
      if !out.auditAll, let row {
        let tabulated: Int
        switch types.count {
        case 1: tabulated = row.oneType
        case 2: tabulated = row.twoTypesEach
        default: tabulated = row.threeTypesEach
        }
        sample = min(count, tabulated)
        if sample < Self.minimumRepresentative { sample = count }
      }
      entry.farmsToAudit = Int32(clamping: sample)
      toAudit += sample
      out.byType.append(entry)
    }
    out.farmsToAudit = Int32(clamping: toAudit)
    trace.term("farms_to_audit", Double(toAudit), .count, formula: out.auditAll ? "≤ 60 farms: all" : "Tableau 7 row \(out.tableRowFarms), \(types.count) type(s)")
    trace.decision(
      "audit_sample_row", "LARGEST_TABULATED_SIZE_AT_MOST_N",
      reason: "Tableau 7 lists sizes 60..2000 without ranges: the row of the largest size ≤ the number of farms is used; the garbled 60 row reads 30 / 30 each / 25 each; never more farms of a type than exist; a sample under 20 audits every farm of the type")
    if types.contains(.unspecified) {
      trace.warning("some farms have no farm_type: they are counted as one more type for the audit sample")
    }
    return out
  }
}
