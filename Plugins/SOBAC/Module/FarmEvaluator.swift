import CarbonDomain
import CarbonPluginKit

/// Evaluates one farm from its 10 years to the final reduction: the "Récapitulatif" of the
/// monitoring report (Annex 5) with every intermediate term.
struct FarmEvaluator: Sendable {
  let calculator: YearEmissionsCalculator
  let scoring: CoBenefitScoring
  let options: CalculationOptions
  let methodVersion: String

  var data: SobacReferenceData { calculator.resolver.data }

  /// Years of a period before and after the Notification (§4.2, §11.1).
  static let periodYears = 5
  /// Land-use adjustments, % (§5.4.3, Tableau 4).
  static let landUseRabais = 30.0, landUseBonus = 10.0
  /// MAEC and organic-conversion rabais, % (§5.3.2).
  static let maecRabais = 20.0, organicRabais = 20.0

  /// The farm's 10 years split into the two periods, after the structural checks (N, the
  /// years, the options, the activity data, production system and eligibility).
  func checkedPeriods(_ farm: Carbon_Sobac_V1_Farm, path: String) throws(ModuleError)
    -> (notification: Int32, reference: [(year: Carbon_Sobac_V1_FarmYear, path: String)],
        project: [(year: Carbon_Sobac_V1_FarmYear, path: String)], system: Carbon_Sobac_V1_ProductionSystem)
  {
    let notification = try Validate.inRange(farm.notificationYear, 1990...2100, "\(path).notification_year")
    try Validate.specified(farm.iftReference, "\(path).ift_reference") { $0 == .specific || $0 == .generic }
    if case .UNRECOGNIZED = farm.farmType { throw .invalidArgument("\(path).farm_type", "has an unknown value") }
    let (reference, project) = try periods(farm, notification: notification, path: path)
    try YieldAnalysis.checkGenericReference(
      farm.genericReferenceYields, referenceYears: (notification - Int32(Self.periodYears))...(notification - 1), path: path)
    try validateActivity(reference + project)
    let system = try ProductionSystemRules().check(farm, path: path, years: reference + project)
    try Eligibility().check(farm, path: path, project: project)
    return (notification, reference, project, system)
  }

  /// The farm's IFT figures alone, for the collective IFT decided before the farms are
  /// evaluated (§4.3.2); `weighed` when the group has other farms, so that its SAU is required.
  func iftFigures(_ farm: Carbon_Sobac_V1_Farm, path: String, weighed: Bool) throws(ModuleError) -> FarmIftFigures {
    let (_, reference, project, _) = try checkedPeriods(farm, path: path)
    if weighed { try requireSau(reference + project) }
    return try scoring.iftFigures(farm: farm, path: path, reference: reference, project: project)
  }

  /// Evaluates `farm`; `path` prefixes every field path ("farm" or "farms[3]"); `iftScope`
  /// says who decides the IFT triggers (the farm alone, or its group, §4.3.2).
  func evaluate(_ farm: Carbon_Sobac_V1_Farm, path: String, iftScope: IftScope = .farm) throws(ModuleError)
    -> Carbon_Sobac_V1_FarmProjectResult
  {
    var trace = TraceBuilder(method: SobacModule.methodName, version: methodVersion)
    for set in data.dataSets { trace.dataSet(set) }
    trace.dataSet(GlobalWarmingPotential.dataSet)
    var rules: [String] = []

    // ---- Structure: N, the 10 years, the options, production system, eligibility (§4.1).
    let (notification, reference, project, system) = try checkedPeriods(farm, path: path)
    trace.decision(
      "production_system", ProductionSystemRules.name(of: system),
      reason: farm.productionSystem == .unspecified
        ? "not given and the farm sells no milk or meat: crops only (ARABLE)"
        : "as given: \(system == .arable ? "crop yields only" : "crop yields and the milk (hL/UGB) and meat (t/UGB) yields (§4.3.1, Annex 5)")")

    // ---- Emissions of every year (§6, §7).
    var unitsByCode: [String: (InputUnit, String)] = [:]
    var referenceEmissions: [Carbon_Sobac_V1_YearEmissions] = []
    var projectEmissions: [Carbon_Sobac_V1_YearEmissions] = []
    for (year, yearPath) in reference {
      referenceEmissions.append(try calculator.emissions(of: year, period: .reference, path: yearPath, unitsByCode: &unitsByCode))
    }
    for (year, yearPath) in project {
      projectEmissions.append(try calculator.emissions(of: year, period: .project, path: yearPath, unitsByCode: &unitsByCode))
    }
    for (year, yearPath) in reference + project {
      for warning in calculator.carbonateWarnings(of: year, path: yearPath) { trace.warning(warning) }
    }
    for warning in stockChainWarnings(reference + project) { trace.warning(warning) }

    // ---- Olympic rule on the reference (Eq. 4).
    let referenceTable = YieldAnalysis.table(reference)
    let cropYields = referenceTable.keys.sorted().map { crop in
      OlympicRuleEvaluator.CropYields(
        crop: crop,
        yields: reference.compactMap { entry in
          referenceTable[crop]?[entry.year.year].flatMap { $0.areaHa > 0 ? (entry.year.year, $0.yield) : nil }
        })
    }
    let olympic = OlympicRuleEvaluator().evaluate(cropYields)
    var olympicMessage = Carbon_Sobac_V1_OlympicRule()
    olympicMessage.applied = olympic.applied
    olympicMessage.crop = olympic.crop
    olympicMessage.deviationPercent = olympic.deviationPercent
    olympicMessage.droppedYears = olympic.droppedYears
    olympicMessage.candidates = olympic.candidates
    for index in referenceEmissions.indices {
      referenceEmissions[index].keptInReference = !olympic.droppedYears.contains(referenceEmissions[index].year)
    }
    olympicMessage.keptYears = referenceEmissions.filter(\.keptInReference).map(\.year)
    let kept = referenceEmissions.filter(\.keptInReference)
    let scale = Double(Self.periodYears) / Double(kept.count)
    if olympic.applied {
      rules.append(
        "sobac.reference.olympic_rule: yield of \(olympic.crop.quoted) deviates \(olympic.deviationPercent) % beyond the other reference years; years \(olympic.droppedYears) dropped, E_ref = 5/3 × Σ \(olympicMessage.keptYears)")
      if olympic.candidates.count > 1 {
        trace.decision(
          "olympic_rule_crop", olympic.crop,
          reason: "several crops trigger the olympic rule (\(olympic.candidates.joined(separator: "; "))): the crop with the largest deviation is used (METHODS §2.2)")
      }
      if !olympic.ties.isEmpty {
        trace.decision(
          "olympic_rule_ties", "EARLIEST_YEAR_DROPPED",
          reason: "the seed (« on exclut l'année la plus haute et la plus basse ») does not say which of equal yields is dropped: the earliest year is (\(olympic.ties.joined(separator: "; ")))")
      }
    }

    // ---- E_ref, E_project, reductions (Eq. 3-5).
    let referenceKg = trace.term(
      "e_ref", scale * kept.reduce(0) { $0 + $1.totalKgCo2E }, .kgCo2E,
      formula: olympic.applied ? "5/3 × Σ 3 kept reference years (Eq. 4)" : "Σ 5 reference years Σ inputs c × FE (Eq. 3)")
    let projectKg = trace.term(
      "e_project", projectEmissions.reduce(0) { $0 + $1.totalKgCo2E }, .kgCo2E, formula: "Σ 5 project years Σ inputs c × FE")
    let reductionBefore = trace.term(
      "reduction_before_adjustments", (referenceKg - projectKg) / 1000, .tCo2E, formula: "(E_ref − E_project) / 1000")
    var categoryReductions: [Carbon_Sobac_V1_CategoryReduction] = []
    for category in EmissionCategory.reported {
      var entry = Carbon_Sobac_V1_CategoryReduction()
      entry.category = category
      entry.referenceKgCo2E = scale * kept.reduce(0) { $0 + $1.kgCO2e(of: category) }
      entry.projectKgCo2E = projectEmissions.reduce(0) { $0 + $1.kgCO2e(of: category) }
      entry.reductionTCo2E = (entry.referenceKgCo2E - entry.projectKgCo2E) / 1000
      categoryReductions.append(entry)
    }

    // ---- Yields: rabais and bonus (§5.4.2, §11.3).
    let yields = try YieldAnalysis().analyse(
      reference: referenceTable.merging(YieldAnalysis.animalTable(reference), uniquingKeysWith: { crop, _ in crop }),
      project: YieldAnalysis.table(project).merging(YieldAnalysis.animalTable(project), uniquingKeysWith: { crop, _ in crop }),
      referenceYears: reference.map(\.year.year), projectYears: project.map(\.year.year),
      genericReference: farm.genericReferenceYields)
    rules += yields.rules
    for warning in yields.warnings { trace.warning("\(path).\(warning)") }

    // ---- Co-benefits (Tableau 1) and the N check.
    let referenceN = referenceEmissions.reduce(0) { $0 + $1.nMineralKg + $1.nOrganicKg }
    let projectN = projectEmissions.reduce(0) { $0 + $1.nMineralKg + $1.nOrganicKg }
    let coBenefits = try scoring.score(
      farm: farm, path: path, reference: reference, project: project,
      referenceNitrogenKg: referenceN, projectNitrogenKg: projectN, iftScope: iftScope)
    trace.term(
      "ift_herbicide_specific_reference", Statistics.olympicMean(reference.map(\.year.iftHerbicide)) ?? 0,
      .ratio, formula: "olympic mean of the farm's IFT herbicide, reference years (IFT/ha)")
    trace.term(
      "ift_non_herbicide_specific_reference", Statistics.olympicMean(reference.map(\.year.iftNonHerbicide)) ?? 0,
      .ratio, formula: "olympic mean of the farm's IFT non-herbicide, reference years (IFT/ha)")
    var indicators = [coBenefits.irrigation, coBenefits.iftHerbicide, coBenefits.iftNonHerbicide, coBenefits.nFertiliser]
    switch iftScope {
    case .farm:
      trace.decision("ift_trigger_scope", "FARM", reason: "an individual project: the farm's own IFT decides the IFT triggers (§4.3.3)")
    case .collective(let decision):
      indicators += [decision.herbicide, decision.nonHerbicide]
      trace.decision(
        "ift_trigger_scope", "COLLECTIVE",
        reason: "§4.3.2 \"Pour un projet collectif, on considérera un IFT moyen\": the group's SAU-weighted IFT against the group's reference decides the IFT triggers (\(decision.thresholds) thresholds); the farm's own IFT indicators are reported, give its points, and do not block")
    case .collectivePending:
      trace.decision(
        "ift_trigger_scope", "COLLECTIVE_PENDING",
        reason: "§4.3.2: the group's IFT decides the IFT triggers and is known after the stream's last farm: the final reduction holds if the summary's collective_ift_triggers_met is true, else it is 0")
      rules.append("sobac.ift.collective_pending: the final reduction holds only if the collective IFT triggers of the summary are met (§4.3.2)")
    }
    for indicator in indicators {
      trace.term("\(indicator.name)_reduction", indicator.reductionPercent, .percent,
                 formula: "(reference \(indicator.referenceValue) − project \(indicator.projectValue)) / reference")
      switch indicator.status {
      case .notMet where indicator.blocking:
        rules.append("sobac.trigger.\(indicator.name): reduction \(indicator.reductionPercent) % below the \(indicator.thresholdPercent) % threshold: reductions are not counted")
      case .notMet where indicator.name == "n_fertiliser":
        rules.append("sobac.trigger.n_fertiliser: reduction \(indicator.reductionPercent) % below the \(indicator.thresholdPercent) % of the monitoring report: reported, not blocking (not a Tableau 1 indicator, §4.3.3; n_fertiliser_check_blocking = false)")
      case .notMet:
        rules.append("sobac.trigger.\(indicator.name): reduction \(indicator.reductionPercent) % below the \(indicator.thresholdPercent) % threshold (not blocking: the group's IFT decides, §4.3.2)")
      case .notApplicable:
        rules.append("sobac.trigger.\(indicator.name): reference and project are both 0: not applicable, not blocking, 0 points")
      default: break
      }
    }

    // ---- Land use (§5.4.3, Tableaux 3-4): last reference year vs last project year.
    var landUse = Carbon_Sobac_V1_LandUseChange()
    if let first = reference.last?.year, let last = project.last?.year {
      landUse.deltaPermanentGrasslandHa = last.permanentGrasslandHa - first.permanentGrasslandHa
      landUse.deltaPerennialCropsHa = last.perennialCropsHa - first.perennialCropsHa
      landUse.deltaHedgesHa = last.hedgesHa - first.hedgesHa
    }
    for warning in landUseWarnings(reference + project, compared: [reference.last, project.last].compactMap { $0 }) {
      trace.warning(warning)
    }
    let deltas = [landUse.deltaPermanentGrasslandHa, landUse.deltaPerennialCropsHa, landUse.deltaHedgesHa]
    if deltas.contains(where: { $0 < 0 }) {
      landUse.adjustmentPercent = -Self.landUseRabais
      rules.append("sobac.land_use.rabais: a permanent grassland, perennial crop or hedge area decreased: −30 %")
      if deltas.contains(where: { $0 > 0 }) {
        trace.decision("land_use_mixed_signs", "RABAIS_30", reason: "one area decreased and another increased: the rabais (−30 %) applies (METHODS §2.3)")
      }
    } else if deltas.contains(where: { $0 > 0 }) {
      landUse.adjustmentPercent = Self.landUseBonus
      rules.append("sobac.land_use.bonus: a permanent grassland, perennial crop or hedge area increased: +10 %")
    }

    // ---- Rabais and bonus (§5.3.2, §5.4; METHODS §2.3 combining decision).
    var adjustments = Carbon_Sobac_V1_Adjustments()
    adjustments.productionRabaisPercent = yields.rabaisPercent
    adjustments.productionBonusPercent = yields.bonusPercent
    adjustments.landUseRabaisPercent = landUse.adjustmentPercent < 0 ? -landUse.adjustmentPercent : 0
    adjustments.landUseBonusPercent = landUse.adjustmentPercent > 0 ? landUse.adjustmentPercent : 0
    adjustments.maecRabaisPercent = farm.maecContractedDuringProject ? Self.maecRabais : 0
    adjustments.organicConversionRabaisPercent = farm.organicConversionStartedDuringProject ? Self.organicRabais : 0
    var scoped = 0.0
    for entry in categoryReductions {
      var rate = 0.0
      if [.nFertiliser, .plantProtection].contains(entry.category) { rate += adjustments.maecRabaisPercent }
      if [.nFertiliser, .pkFertiliser, .organicAmendment, .plantProtection].contains(entry.category) {
        rate += adjustments.organicConversionRabaisPercent
      }
      scoped += rate / 100 * max(0, entry.reductionTCo2E)
    }
    adjustments.scopedRabaisTCo2E = trace.term(
      "scoped_rabais", scoped, .tCo2E,
      formula: "Σ categories max(0, reduction) × (MAEC 20 % on N fertiliser + plant protection; organic 20 % on all fertilisers + plant protection)")
    if farm.maecContractedDuringProject { rules.append("sobac.rabais.maec: MAEC contracted during the project: −20 % on N-fertiliser and plant-protection reductions") }
    if farm.organicConversionStartedDuringProject { rules.append("sobac.rabais.organic_conversion: organic conversion started during the project: −20 % on fertiliser and plant-protection reductions") }
    adjustments.globalAdjustmentPercent = trace.term(
      "global_adjustment", yields.bonusPercent - yields.rabaisPercent + landUse.adjustmentPercent, .percent,
      formula: "P_bonus − P_rabais + land use")
    adjustments.globalFactor = trace.term(
      "global_factor", max(0, 1 + adjustments.globalAdjustmentPercent / 100), .ratio, formula: "max(0, 1 + global / 100)")
    if 1 + adjustments.globalAdjustmentPercent / 100 < 0 {
      rules.append("sobac.adjustments.floor: the global rabais exceed 100 %: factor floored at 0")
    }
    var afterAdjustments = (reductionBefore - scoped) * adjustments.globalFactor
    if afterAdjustments < 0 {
      rules.append("sobac.reduction.none: the project emits more than the reference: no reduction (0 t CO2e)")
      afterAdjustments = 0
    }
    trace.term("reduction_after_adjustments", afterAdjustments, .tCo2E, formula: "(reduction − scoped rabais) × global factor, ≥ 0")
    let final = trace.term(
      "final_reduction", coBenefits.allTriggersMet ? afterAdjustments : 0, .tCo2E,
      formula: "reduction after adjustments when every blocking co-benefit trigger is met, else 0")
    if farm.vulnerableZone {
      rules.append("sobac.vulnerable_zone: nitrate-vulnerable zone recorded: no rabais (§5.3.3)")
    }
    recordDecisions(&trace)

    var result = Carbon_Sobac_V1_FarmProjectResult()
    result.farmID = farm.farmID
    result.name = farm.name
    result.notificationYear = notification
    result.referenceYears = referenceEmissions
    result.projectYears = projectEmissions
    result.olympicRule = olympicMessage
    result.referenceEmissionsKgCo2E = referenceKg
    result.projectEmissionsKgCo2E = projectKg
    result.reductionBeforeAdjustmentsTCo2E = reductionBefore
    result.categoryReductions = categoryReductions
    result.cropYields = yields.summaries
    result.coBenefits = coBenefits
    result.landUse = landUse
    result.adjustments = adjustments
    result.reductionAfterAdjustmentsTCo2E = afterAdjustments
    result.finalReductionTCo2E = final
    result.rulesApplied = rules
    result.farmType = farm.farmType
    result.meanSauHa = (reference + project).reduce(0) { $0 + $1.year.sauHa } / Double(reference.count + project.count)
    for rule in rules {
      let parts = rule.split(separator: ":", maxSplits: 1)
      trace.rule(String(parts.first ?? ""), parts.count > 1 ? String(parts[1]).trimmingSpaces() : "")
    }
    result.trace = trace.build()
    return result
  }

  /// Splits the years into the reference (N−5..N−1) and project (N..N+4) periods, each in
  /// chronological order, refusing missing, duplicate or out-of-range years.
  func periods(_ farm: Carbon_Sobac_V1_Farm, notification: Int32, path: String) throws(ModuleError)
    -> (reference: [(year: Carbon_Sobac_V1_FarmYear, path: String)], project: [(year: Carbon_Sobac_V1_FarmYear, path: String)])
  {
    let first = notification - Int32(Self.periodYears)
    let last = notification + Int32(Self.periodYears) - 1
    var byYear: [Int32: (Carbon_Sobac_V1_FarmYear, String)] = [:]
    for (index, year) in farm.years.enumerated() {
      let yearPath = "\(path).years[\(index)]"
      guard year.year >= first, year.year <= last else {
        throw .invalidArgument(
          "\(yearPath).year",
          "year \(year.year) is outside N−5..N+4 = \(first)..\(last) for notification year \(notification)")
      }
      guard byYear[year.year] == nil else {
        throw .invalidArgument("\(yearPath).year", "year \(year.year) is given twice")
      }
      byYear[year.year] = (year, yearPath)
    }
    let referenceFound = (first..<notification).filter { byYear[$0] != nil }.count
    for year in first...last where byYear[year] == nil {
      let period = year < notification ? "reference period N−5..N−1 (\(first)..\(notification - 1))" : "project period N..N+4 (\(notification)..\(last))"
      throw .invalidArgument(
        "\(path).years",
        "missing year \(year) of the \(period); the method needs 5 reference years and 5 project years (found \(referenceFound) reference years)")
    }
    let reference = (first..<notification).compactMap { byYear[$0] }.map { (year: $0.0, path: $0.1) }
    let project = (notification...last).compactMap { byYear[$0] }.map { (year: $0.0, path: $0.1) }
    return (reference, project)
  }

  /// Warnings where a year's closing stock of an input differs from the next year's opening
  /// stock: consumption is « achats auxquels on ajoute la variation de stock » (§6), so a stock
  /// that vanishes between two years leaves the consumption of both. `years` are consecutive.
  func stockChainWarnings(_ years: [(year: Carbon_Sobac_V1_FarmYear, path: String)]) -> [String] {
    /// Per variable: the stock summed over its lines, and the path of its first line that
    /// books a stock (its first line if none does).
    func stocks(_ entry: (year: Carbon_Sobac_V1_FarmYear, path: String), closing: Bool)
      -> (order: [InputVariable], values: [InputVariable: (kg: Double, path: String)])
    {
      var order: [InputVariable] = []
      var values: [InputVariable: (kg: Double, path: String)] = [:]
      for (index, line) in entry.year.inputs.enumerated() {
        let variable = calculator.resolver.variable(of: line)
        let stock = closing ? line.closingStock : line.openingStock
        let path = "\(entry.path).inputs[\(index)].\(closing ? "closing_stock" : "opening_stock")"
        if let known = values[variable] {
          values[variable] = (known.kg + stock, known.kg == 0 && stock != 0 ? path : known.path)
        } else {
          order.append(variable)
          values[variable] = (stock, path)
        }
      }
      return (order, values)
    }
    var warnings: [String] = []
    for (before, after) in zip(years, years.dropFirst()) {
      let closing = stocks(before, closing: true)
      let opening = stocks(after, closing: false)
      let variables = closing.order + opening.order.filter { closing.values[$0] == nil }
      for variable in variables {
        let closed = closing.values[variable]
        let opened = opening.values[variable]
        let a = closed?.kg ?? 0, b = opened?.kg ?? 0
        guard abs(a - b) > 1e-9 * max(1, abs(a), abs(b)) else { continue }
        warnings.append(
          "\(closed?.path ?? "\(before.path).inputs"): the closing stock of \(variable.code.quoted) at the end of \(before.year.year) (\(a)) differs from its opening stock in \(after.year.year) (\(b), \(opened?.path ?? "no line of it in \(after.path).inputs")): consumption is purchases plus the stock change (§6), and a stock that changes between two years is counted in neither")
      }
    }
    return warnings
  }

  /// Warnings where a land-use area the comparison reads (the last reference and last project
  /// years, §5.4.3) is 0 while another year of the farm has some: proto3 cannot tell an absent
  /// CAP area from 0, and an absent N−1 area would give the +10 % bonus.
  func landUseWarnings(
    _ years: [(year: Carbon_Sobac_V1_FarmYear, path: String)], compared: [(year: Carbon_Sobac_V1_FarmYear, path: String)]
  ) -> [String] {
    let areas: [(name: String, value: (Carbon_Sobac_V1_FarmYear) -> Double)] = [
      ("permanent_grassland_ha", \.permanentGrasslandHa), ("perennial_crops_ha", \.perennialCropsHa), ("hedges_ha", \.hedgesHa),
    ]
    var warnings: [String] = []
    for area in areas {
      let others = years.filter { area.value($0.year) > 0 }.map(\.year.year)
      guard !others.isEmpty else { continue }
      for (year, path) in compared where area.value(year) == 0 {
        warnings.append(
          "\(path).\(area.name): 0 in \(year.year), which the land-use comparison reads (§5.4.3, « Déclaration PAC »), while \(others) have some: if the area was not given, give it; a 0 here changes the land-use rabais or bonus")
      }
    }
    return warnings
  }

  /// A farm of a collective project of two or more farms gives its SAU every year: the group's
  /// IFT weighs each farm by it (§4.3.2: « une somme des IFT individuels pondérée par la surface
  /// de chaque exploitation »; §7.3: the holder « renseigne également la surface totale (SAU
  /// totale) »), and a farm without it would weigh nothing in the triggers that decide every
  /// farm's credit. A lone farm's group IFT is its own, whatever its SAU: it is not required.
  func requireSau(_ farm: Carbon_Sobac_V1_Farm, path: String) throws(ModuleError) {
    let years = farm.years.enumerated().map { (year: $0.element, path: "\(path).years[\($0.offset)]") }
    try requireSau(years.sorted { $0.year.year < $1.year.year })
  }

  /// `requireSau(_:path:)` on years already split into the periods, in year order.
  func requireSau(_ years: [(year: Carbon_Sobac_V1_FarmYear, path: String)]) throws(ModuleError) {
    for (year, path) in years where year.sauHa <= 0 {
      throw .invalidArgument(
        "\(path).sau_ha",
        "is required (> 0) in \(year.year) for a farm of a collective project: the collective IFT is weighted by each farm's SAU (§4.3.2 « pondérée par la surface de chaque exploitation »)")
    }
  }

  /// Checks the activity data of every year (areas, tonnes, water, IFT).
  func validateActivity(_ years: [(year: Carbon_Sobac_V1_FarmYear, path: String)]) throws(ModuleError) {
    for (year, path) in years {
      try Validate.nonNegative(year.sauHa, "\(path).sau_ha")
      try Validate.nonNegative(year.sfpHa, "\(path).sfp_ha")
      try Validate.nonNegative(year.ugb, "\(path).ugb")
      try Validate.nonNegative(year.irrigationM3, "\(path).irrigation_m3")
      try Validate.nonNegative(year.iftHerbicide, "\(path).ift_herbicide")
      try Validate.nonNegative(year.iftNonHerbicide, "\(path).ift_non_herbicide")
      try Validate.nonNegative(year.permanentGrasslandHa, "\(path).permanent_grassland_ha")
      try Validate.nonNegative(year.perennialCropsHa, "\(path).perennial_crops_ha")
      try Validate.nonNegative(year.hedgesHa, "\(path).hedges_ha")
      try Validate.nonNegative(year.milkSoldHl, "\(path).milk_sold_hl")
      try Validate.nonNegative(year.meatSoldLiveT, "\(path).meat_sold_live_t")
      for (index, crop) in year.crops.enumerated() {
        let cropPath = "\(path).crops[\(index)]"
        try Validate.nonEmpty(crop.crop, "\(cropPath).crop")
        try Validate.positive(crop.areaHa, "\(cropPath).area_ha")
        try Validate.nonNegative(crop.soldT, "\(cropPath).sold_t")
        try Validate.nonNegative(crop.genericYieldTPerHa, "\(cropPath).generic_yield_t_per_ha")
        try Validate.nonNegative(crop.producedT, "\(cropPath).produced_t")
        if crop.selfConsumed, crop.producedT <= 0 {
          throw .invalidArgument(
            "\(cropPath).produced_t",
            "is required (> 0) for a self-consumed crop: its yield is its own production figure, produced_t / area_ha (footnote 33 reads sold tonnes, which a crop used on the farm does not have)")
        }
        if !crop.iftMode.isEmpty, !["all", "open_field", "soilless"].contains(crop.iftMode) {
          throw .invalidArgument("\(cropPath).ift_mode", "must be all, open_field or soilless, got \(crop.iftMode.quoted)")
        }
      }
    }
  }

  /// The decisions every farm result carries (METHODS §2; README "Decisions").
  func recordDecisions(_ trace: inout TraceBuilder) {
    trace.decision("n2o_gwp", "AR5_265", reason: "Eq. 7 uses 265 (IPCC AR5), read from the domain GWP table")
    trace.decision(
      "organic_n_content", "SUPPLIER_THEN_ANNEX4_AS_DELIVERED",
      reason: "the supplier's declared N wins; Annex 4 defaults (basis fresh/dry not stated by the seed) are read per kg of product as delivered")
    trace.decision(
      "urea_field_co2", "IPCC_0.20_KG_C_PER_KG_UREA",
      reason: "field CO2 of urea is in scope (§2, §6) without a factor in the seed: IPCC 2006 0.20 kg C/kg urea, urea = kg N / 0.46; N solutions: \(options.nSolutionUreaShare) of their N is urea")
    trace.decision(
      "sugar_factory_scum", "LIMESTONE_BY_VN_RATIO",
      reason: "Eq. 12 has no scum factor: scum counts as limestone × VN / 0.55")
    trace.decision(
      "n_fertiliser_check", options.nFertiliserCheckBlocking ? "BLOCKING_BY_CONFIGURATION" : "REPORTED_NOT_BLOCKING",
      reason: options.nFertiliserCheckBlocking
        ? "mineral + organic N −30 % is not one of the six Tableau 1 indicators (§4.3.3) but the operator made it blocking (config n_fertiliser_check_blocking = true)"
        : "mineral + organic N −30 % (monitoring report) is not one of the six Tableau 1 indicators that trigger the reductions (§4.3.3): reported, not blocking (METHODS §2.3 corrected)")
    trace.decision(
      "zero_reference_trigger", "NOT_APPLICABLE_OR_NOT_MET",
      reason: "reference 0 and project 0 → not applicable (not blocking, 0 points); reference 0 and project > 0 → not met")
    trace.decision(
      "thresholds_source", "METHOD_BODY_TABLEAU_1",
      reason: "the annexed form prints −20 % for IFT non-herbicide (specific) and +1 point per 10 % for the IFT; the body (Tableau 1) says −30 % and 5 %: the body wins")
    trace.decision(
      "points_capping", "PER_INDICATOR_THEN_CATEGORY_CAP",
      reason: "points = 1 at the threshold + 1 per further step; water ≤ 7; water quality and biodiversity each = IFT herbicide + non-herbicide points capped 26 (specific) / 16 (generic); total ≤ 59")
    trace.decision(
      "adjustments_combination", "SCOPED_THEN_GLOBAL",
      reason: "MAEC and organic rabais apply first to their scoped positive reductions and add up (−40 % where both apply); then P_bonus − P_rabais ± land use are added and applied once; the factor is floored at 0")
    trace.decision(
      "yield_reference_mean", "MEAN_OF_YEARS_GROWN",
      reason: "the reference (and project) mean yield of a crop is the mean over the years it was grown (footnote 28 writes 1/5 Σ for a crop grown every year)")
    trace.decision(
      "eligibility_crop_workshop", "CROP_IN_PROJECT_YEARS",
      reason: "§4.1 \"Avoir au moins un atelier de production végétale\" is checked on the project years N..N+4; grassland and forage count (§2)")
    trace.decision(
      "animal_yield_basis", "PER_UGB_ANNEX_5",
      reason: "§4.3.1 says yields \"en t /ha, et/ou t viande vif/ha, et/ou t lait/ha\"; the monitoring report (Annex 5) computes \"Rendement moyen annuel en viande (t/UGB)\" and \"en lait (hL/UGB)\" from the amounts sold and the UGB: the form's per-UGB yields are used (METHODS §2.3, issue 17)")
    trace.decision(
      "self_consumed", "OWN_PRODUCTION_FIGURE",
      reason: "footnote 33 reads tonnes sold; a crop used on the farm (self_consumed) yields produced_t / area_ha (METHODS §2.3)")
    trace.decision(
      "nitrogen_check_reference", "ALL_5_REFERENCE_YEARS",
      reason: "the monitoring report compares the sums of N consumed over the two periods; the olympic rule applies to E_ref only")
  }
}
