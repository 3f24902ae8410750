import CarbonDomain
import CarbonPluginKit

/// Merges a ledger CSV into the declaration (the project's JSON) and reconciles what they both
/// give (§4.3.4): "Pour les variables observées liées à la production de l'exploitation (SAU,
/// SFP, UGB, assolement et effectifs animaux) : la valeur la plus défavorable, i.e. la plus
/// basse parmi les sources à disposition […] Pour les variables observées liées aux intrants de
/// l'exploitation […] : la valeur la plus défavorable, i.e. la plus haute".
struct SourceReconciler: Sendable {
  /// Adds the ledger's lines to the matching farm and year of `project`, keeps the lowest
  /// production and the highest input where both sources give one, and lists every value where
  /// they disagreed. A farm, year or crop the declaration lacks is refused with its CSV line.
  func merge(_ entries: [LedgerEntry], into project: inout Carbon_Sobac_V1_CollectiveProjectRequest)
    throws(ModuleError) -> [Carbon_Sobac_V1_SourceReconciliation]
  {
    var farmIndex: [String: Int] = [:]
    for (index, farm) in project.farms.enumerated() where farmIndex[farm.farmID] == nil { farmIndex[farm.farmID] = index }
    var out: [Carbon_Sobac_V1_SourceReconciliation] = []
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
      var record = Carbon_Sobac_V1_SourceReconciliation()
      record.farmID = entry.farmID
      record.year = entry.year
      record.csvLine = Int32(clamping: entry.line)
      if let production = entry.production {
        guard let declared = production.value(in: project.farms[f].years[y]) else {
          throw .invalidArgument(
            "ledger_csv[\(entry.line)].crop",
            "line \(entry.line): crop \(production.crop.quoted) is not declared in \(entry.year) for farm \(entry.farmID.quoted) (the declaration gives the crops and their areas)")
        }
        // 0 in the declaration is a value it does not give (proto3 cannot tell them apart).
        let kept = declared > 0 ? min(declared, production.value) : production.value
        if kept != declared {
          production.set(kept, in: &project.farms[f].years[y])
        }
        guard production.value != declared else { continue }
        record.variable = production.reportedName
        record.ledgerValue = production.value
        record.declaredValue = declared
        record.keptValue = kept
        record.rule = declared > 0 ? "production: lowest" : "production: only in the ledger"
        out.append(record)
        continue
      }
      var inputs = project.farms[f].years[y].inputs
      let line = entry.input
      let same = inputs.firstIndex {
        $0.inputCode == line.inputCode && $0.unit == line.unit && $0.label == line.label
      }
      guard let same else {
        inputs.append(line)
        project.farms[f].years[y].inputs = inputs
        continue
      }
      let declared = Self.consumption(inputs[same])
      let ledger = Self.consumption(line)
      if ledger > declared { inputs[same] = line }
      project.farms[f].years[y].inputs = inputs
      guard ledger != declared else { continue }
      record.variable = "inputs[\(line.inputCode)\(line.label.isEmpty ? "" : " \(line.label)")]"
      record.ledgerValue = ledger
      record.declaredValue = declared
      record.keptValue = max(ledger, declared)
      record.rule = "input: highest"
      out.append(record)
    }
    return out
  }

  /// Consumption of an input line: purchases + opening − closing stock (§6).
  static func consumption(_ line: Carbon_Sobac_V1_InputLine) -> Double {
    line.purchases + line.openingStock - line.closingStock
  }
}
