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
  /// Σ of the farms' signed avoided emissions (`contribution(of:)`), before the project's floor.
  private var signedReduction = 0.0
  /// Farms whose avoided emissions are negative, with their value: named in the summary's trace.
  private var negativeFarms: [String] = []
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
    let contribution = Self.contribution(of: farm)
    signedReduction += contribution
    if contribution < 0 { negativeFarms.append("\(farm.farmID.quoted) \(contribution)") }
    if !farm.coBenefits.allTriggersMet { blocked += 1 }
    ift.add(FarmIftFigures(result: farm))
    farmsByType[farm.farmType, default: 0] += 1
  }

  /// A farm's avoided emissions as the collective total adds them (Eq. 5: « le scénario de
  /// référence du Projet est la somme des scénarios de référence de chaque participant »; Annex
  /// 5 Partie B sums each farm's « EMISSIONS EVITEES APRES RABAIS ET BONUS »): signed, not
  /// floored at 0 as the farm's own final reduction is, so that a farm that emits more than its
  /// reference lowers the group's total ([`collective_sum`] decision). A farm whose reduction
  /// after the scoped rabais is negative counts min(net, net × global factor): a bonus (factor
  /// > 1) makes its increase larger, as Partie B's « APRES RABAIS ET BONUS » reads, while a
  /// rabais (factor < 1) never shrinks it (conservative); a farm whose blocking triggers are
  /// not met brings no credit but still its increase.
  static func contribution(of farm: Carbon_Sobac_V1_FarmProjectResult) -> Double {
    let net = farm.reductionBeforeAdjustmentsTCo2E - farm.adjustments.scopedRabaisTCo2E
    let scaled = net * farm.adjustments.globalFactor
    let adjusted = net > 0 ? scaled : min(net, scaled)
    return farm.coBenefits.allTriggersMet ? adjusted : min(0, adjusted)
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
    trace.decision(
      "collective_sum", "SIGNED_FARMS_THEN_PROJECT_FLOOR",
      reason: "Eq. 5 sums the participants' reference scenarios and Annex 5 Partie B sums each farm's « EMISSIONS EVITEES APRES RABAIS ET BONUS » with no floor per farm: a farm that emits more than its reference lowers the total by its whole increase, also when its triggers are not met, times its bonus when it has one (min(net, net × global factor): a bonus on a negative value makes it more negative, as Partie B's « APRES RABAIS ET BONUS » reads, and a rabais never shrinks an increase, the conservative reading); only the project's total is floored at 0, as a single farm's is")
    if !negativeFarms.isEmpty {
      trace.rule(
        "sobac.collective.negative_farms",
        "farms emitting more than their reference lower the group's total (t CO2e): \(negativeFarms.joined(separator: "; "))")
    }
    // A streamed group whose IFT fails keeps no farm's credit, only the farms' increases.
    var signed = signedReduction
    var blockedFarms = blocked
    if iftPending, !decision.met {
      signed = min(0, signedReduction)
      blockedFarms = farms
      trace.rule("sobac.ift.collective_pending", "the group's IFT triggers are not met: no farm's reduction is counted, whatever its streamed message said")
    }
    if signed < 0 {
      trace.rule("sobac.reduction.none", "the group emits more than its reference (\(signed) t CO2e): no reduction (0 t CO2e)")
    }
    out.finalReductionTCo2E = trace.term(
      "final_reduction_collective", max(0, signed), .tCo2E,
      formula: iftPending
        ? "max(0, Σ farms' signed avoided emissions), the farms' credit only if the group's IFT triggers are met"
        : "max(0, Σ farms' signed avoided emissions), each with its own rabais, bonus and triggers (the IFT ones the group's)")
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
