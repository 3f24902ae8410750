import CarbonDomain
import CarbonPluginKit

/// Merges a ledger CSV into the declaration (the project's JSON) and reconciles what they both
/// give (§4.3.4): "Pour les variables observées liées à la production de l'exploitation (SAU,
/// SFP, UGB, assolement et effectifs animaux) : la valeur la plus défavorable, i.e. la plus
/// basse parmi les sources à disposition […] Pour les variables observées liées aux intrants de
/// l'exploitation […] : la valeur la plus défavorable, i.e. la plus haute".
///
/// What is compared is each source's value of the variable, not its lines one by one: a ledger
/// books an input in as many lines as it has invoices, and the variable is the year's
/// consumption of the input (§6: « achats auxquels on ajoute la variation de stock »). So each
/// source's lines are summed per farm, year and input variable (code and unit, labels do not
/// split a variable; `other_lca` also per LCA factor, see `InputVariable`), and per farm, year,
/// variable and crop for production, before the rule keeps the highest input or the lowest
/// production.
struct SourceReconciler: Sendable {
  /// Derives the quantities an input's factors apply to (kg N, kg P2O5, kg VN...), to rank the
  /// two sources when their lines carry different grades.
  let resolver: InputResolver

  /// One input variable in one farm-year.
  private struct InputKey: Hashable {
    let farm: Int
    let year: Int
    let variable: InputVariable
  }

  /// One production variable in one farm-year ("sau_ha", or a crop_* variable of one crop).
  private struct ProductionKey: Hashable {
    let farm: Int
    let year: Int
    let variable: String
    let crop: String
  }

  /// A source's lines of one input variable, and the CSV lines they came from.
  private struct LedgerInputs {
    var lines: [Carbon_Sobac_V1_InputLine] = []
    var csvLines: [Int] = []
  }

  /// Adds the ledger's lines to the matching farm and year of `project`, keeps the lowest
  /// production and the highest input where both sources give one, and lists every value where
  /// they disagreed. A farm, year or crop the declaration lacks is refused with its CSV line.
  func merge(_ entries: [LedgerEntry], into project: inout Carbon_Sobac_V1_CollectiveProjectRequest)
    throws(ModuleError) -> [Carbon_Sobac_V1_SourceReconciliation]
  {
    var farmIndex: [String: Int] = [:]
    for (index, farm) in project.farms.enumerated() where farmIndex[farm.farmID] == nil { farmIndex[farm.farmID] = index }
    // The ledger's own total of each variable, in the order of its first line.
    var inputOrder: [InputKey] = []
    var inputs: [InputKey: LedgerInputs] = [:]
    var productionOrder: [ProductionKey] = []
    var production: [ProductionKey: (value: Double, template: LedgerProduction, csvLine: Int)] = [:]
    for entry in entries {
      guard let f = farmIndex[entry.farmID] else {
        throw .invalidArgument(
          "ledger_csv[\(entry.line)].farm_id", "line \(entry.line): farm \(entry.farmID.quoted) is not in project.farms")
      }
      guard let y = project.farms[f].years.firstIndex(where: { $0.year == entry.year }) else {
        throw .invalidArgument(
          "ledger_csv[\(entry.line)].year",
          "line \(entry.line): year \(entry.year) is not among the years of farm \(entry.farmID.quoted) in project.farms")
      }
      if let variable = entry.production {
        guard variable.value(in: project.farms[f].years[y]) != nil else {
          throw .invalidArgument(
            "ledger_csv[\(entry.line)].crop",
            "line \(entry.line): crop \(variable.crop.quoted) is not declared in \(entry.year) for farm \(entry.farmID.quoted) (the declaration gives the crops and their areas)")
        }
        let key = ProductionKey(farm: f, year: y, variable: variable.variable, crop: variable.crop)
        if let known = production[key] {
          production[key]?.value = known.value + variable.value
        } else {
          productionOrder.append(key)
          production[key] = (variable.value, variable, entry.line)
        }
        continue
      }
      let key = InputKey(farm: f, year: y, variable: resolver.variable(of: entry.input))
      if inputs[key] == nil { inputOrder.append(key) }
      inputs[key, default: .init()].lines.append(entry.input)
      inputs[key, default: .init()].csvLines.append(entry.line)
    }

    var out: [Carbon_Sobac_V1_SourceReconciliation] = []
    for key in productionOrder {
      guard let (ledger, variable, csvLine) = production[key] else { continue }
      var record = Self.record(project.farms[key.farm].farmID, project.farms[key.farm].years[key.year].year, csvLine)
      let declared = variable.value(in: project.farms[key.farm].years[key.year]) ?? 0
      // 0 in the declaration is a value it does not give (proto3 cannot tell them apart).
      let kept = declared > 0 ? min(declared, ledger) : ledger
      if kept != declared {
        variable.set(kept, in: &project.farms[key.farm].years[key.year])
      }
      guard ledger != declared else { continue }
      record.variable = variable.reportedName
      record.ledgerValue = ledger
      record.declaredValue = declared
      record.keptValue = kept
      record.rule = declared > 0 ? "production: lowest" : "production: only in the ledger"
      out.append(record)
    }
    for key in inputOrder {
      guard let ledger = inputs[key] else { continue }
      if let record = try reconcile(ledger, key: key, in: &project) { out.append(record) }
    }
    return out.sorted { $0.csvLine < $1.csvLine }
  }

  /// Reconciles one input variable: the ledger's lines replace the declaration's when their
  /// total is the higher, are added when the declaration does not give the input, and are
  /// dropped otherwise. Returns the disagreement, if any.
  private func reconcile(
    _ ledger: LedgerInputs, key: InputKey, in project: inout Carbon_Sobac_V1_CollectiveProjectRequest
  ) throws(ModuleError) -> Carbon_Sobac_V1_SourceReconciliation? {
    let yearPath = "project.farms[\(key.farm)].years[\(key.year)]"
    var year = project.farms[key.farm].years[key.year]
    let code = key.variable.code
    let declaredIndices = year.inputs.indices.filter { resolver.variable(of: year.inputs[$0]) == key.variable }
    // The ledger's own total must be a consumption, its CSV line named (a stock line may be
    // negative on its own).
    let booked = try amounts(zip(ledger.lines, ledger.csvLines).map { ($0, "ledger_csv[\($1)]") }, of: key.variable, year: year.year)
    guard let firstDeclared = declaredIndices.first else {
      // The ledger is the only source of this input: its lines are the consumption.
      year.inputs += ledger.lines
      project.farms[key.farm].years[key.year] = year
      return nil
    }
    let declared = try amounts(declaredIndices.map { (year.inputs[$0], "\(yearPath).inputs[\($0)]") }, of: key.variable, year: year.year)
    let ledgerIsHigher: Bool
    let higherIn: [String]
    switch Self.compare(booked.basis, declared.basis) {
    case .same: return nil
    case .higher(let names): (ledgerIsHigher, higherIn) = (true, names)
    case .lower(let names): (ledgerIsHigher, higherIn) = (false, names)
    case .conflicting(let ledgerHigherIn, let declarationHigherIn):
      throw .invalidArgument(
        "ledger_csv[\(ledger.csvLines[0])].input",
        "line \(ledger.csvLines[0]): the ledger and the declaration (\(yearPath).inputs[\(firstDeclared)]) give \(code.quoted) in \(year.year) with grades that rank them differently: the ledger is higher in \(ledgerHigherIn.joined(separator: ", ")), the declaration in \(declarationHigherIn.joined(separator: ", ")), so the highest source (§4.3.4) cannot be told; give both sources the product's actual grades")
    }
    if ledgerIsHigher {
      // The ledger's lines take the place of the declaration's, where its first line was.
      var kept = year.inputs
      for index in declaredIndices.reversed() { kept.remove(at: index) }
      kept.insert(contentsOf: ledger.lines, at: firstDeclared)
      year.inputs = kept
      project.farms[key.farm].years[key.year] = year
    }
    var record = Self.record(project.farms[key.farm].farmID, year.year, ledger.csvLines[0])
    record.variable = key.variable.lcaFactor > 0 ? "inputs[\(code) @ \(key.variable.lcaFactor) kg CO2e/unit]" : "inputs[\(code)]"
    record.ledgerValue = booked.consumption
    record.declaredValue = declared.consumption
    record.keptValue = ledgerIsHigher ? booked.consumption : declared.consumption
    // The values are consumption in the lines' unit; the sources are ranked on what the
    // factors apply to, which differs from it when the grades differ: the rule says which.
    record.rule = "input: highest in \(higherIn.joined(separator: ", ")) (values: consumption in \(key.variable.unit))"
    return record
  }

  /// A source's total of one input variable: consumption in the lines' unit (what the record
  /// shows), and the quantities its emission factors apply to (what ranks the sources).
  private func amounts(
    _ lines: [(line: Carbon_Sobac_V1_InputLine, path: String)], of variable: InputVariable, year: Int32
  ) throws(ModuleError) -> (consumption: Double, basis: [Double]) {
    var consumption = 0.0
    var basis = [Double](repeating: 0, count: ResolvedInput.rankedNames.count)
    var perLine: [(resolved: ResolvedInput, path: String)] = []
    for (line, path) in lines {
      let (_, resolved) = try resolver.resolve(line, path: path)
      consumption += resolved.consumption
      perLine.append((resolved, path))
      let values = resolved.rankedQuantities
      for index in basis.indices { basis[index] += values[index] }
    }
    try InputResolver.checkConsumption(perLine, of: variable, year: year)
    return (consumption, basis)
  }

  /// How the ledger's total compares with the declaration's.
  private enum Ranking {
    case same
    /// The ledger is higher (or the same) in every quantity, strictly in those named.
    case higher([String])
    /// The declaration is higher (or the same) in every quantity, strictly in those named.
    case lower([String])
    case conflicting(ledgerHigherIn: [String], declarationHigherIn: [String])
  }

  /// Ranks two sources' quantities: one is the higher when it is at least the other in every
  /// quantity (one unit and one input code give the same quantities unless the grades differ).
  private static func compare(_ ledger: [Double], _ declared: [Double]) -> Ranking {
    var ledgerHigherIn: [String] = []
    var declarationHigherIn: [String] = []
    for index in ledger.indices {
      let a = ledger[index]
      let b = declared[index]
      // Sums of the same amounts in another order may differ in the last bits.
      guard abs(a - b) > 1e-9 * max(1, abs(a), abs(b)) else { continue }
      let name = ResolvedInput.rankedNames[index]
      if a > b { ledgerHigherIn.append(name) } else { declarationHigherIn.append(name) }
    }
    switch (ledgerHigherIn.isEmpty, declarationHigherIn.isEmpty) {
    case (true, true): return .same
    case (false, true): return .higher(ledgerHigherIn)
    case (true, false): return .lower(declarationHigherIn)
    case (false, false): return .conflicting(ledgerHigherIn: ledgerHigherIn, declarationHigherIn: declarationHigherIn)
    }
  }

  /// A reconciliation record with its farm, year and first CSV line.
  private static func record(_ farmID: String, _ year: Int32, _ csvLine: Int) -> Carbon_Sobac_V1_SourceReconciliation {
    var record = Carbon_Sobac_V1_SourceReconciliation()
    record.farmID = farmID
    record.year = year
    record.csvLine = Int32(clamping: csvLine)
    return record
  }
}
