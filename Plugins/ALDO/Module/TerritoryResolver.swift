import CarbonDomain
import CarbonPluginKit

/// The communes of a territory named by codes (issue 18): communes, EPCIs, departments,
/// regions, or a list of them, resolved from ALDO's commune list (communes_17122018.csv).
struct ResolvedTerritory: Sendable {
  /// Every commune of the territory (union of the codes), sorted INSEE codes.
  var communes: [String]
  /// Communes reached only through COMMUNE codes: their share of their EPCI's forest is
  /// unknown, so the EPCI forest substitute leaves them out (reference pack README §5.6 c).
  var communesNamedAlone: Set<String>
  /// Label for display, e.g. "Région 32 Hauts-de-France".
  var label: String
}

/// Checks each code of a `TerritorySelection` and collects its communes.
struct TerritoryResolver {
  let reference: CommuneReference
  let data: AldoReferenceData

  func resolve(_ selection: Carbon_Aldo_V1_TerritorySelection, field: String) throws(ModuleError) -> ResolvedTerritory {
    try Validate.nonEmpty(selection.codes, "\(field).codes")
    var all: Set<String> = []
    var throughAreas: Set<String> = []
    var labels: [String] = []
    for (index, code) in selection.codes.enumerated() {
      let path = "\(field).codes[\(index)]"
      let (communes, label) = try communes(of: code, path: path)
      all.formUnion(communes)
      if code.level != .commune { throughAreas.formUnion(communes) }
      labels.append(label)
    }
    return ResolvedTerritory(
      communes: all.sorted(), communesNamedAlone: all.subtracting(throughAreas),
      label: labels.count <= 3 ? labels.joined(separator: " + ") : "\(labels[0]) + \(labels.count - 1) other codes")
  }

  /// The communes of one code and its label; INVALID_ARGUMENT naming the field otherwise.
  private func communes(of code: Carbon_Aldo_V1_TerritoryCode, path: String) throws(ModuleError) -> ([String], String) {
    let value = code.code
    guard !value.isEmpty else { throw .invalidArgument("\(path).code", "is required") }
    switch code.level {
    case .commune:
      guard value.count == 5 else {
        throw .invalidArgument("\(path).code", "a commune is a 5-character INSEE code, got \(value.quoted)\(hint(value))")
      }
      guard let commune = reference.communes[value] else {
        if let parent = data.communeOfArrondissement[value] {
          throw .invalidArgument(
            "\(path).code", "\(value) is a municipal arrondissement: ALDO computes its commune \(parent) as a whole")
        }
        throw .invalidArgument("\(path).code", "unknown commune \(value.quoted) (not in ALDO's communes_17122018.csv)\(hint(value))")
      }
      return ([value], "Commune \(value) \(commune.name)")
    case .epci:
      guard value.count == 9, value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
        throw .invalidArgument("\(path).code", "an EPCI is a 9-digit SIREN code, got \(value.quoted)\(hint(value))")
      }
      guard let communes = reference.communesOfEpci[value], !communes.isEmpty else {
        if let successor = data.epciPredecessors.first(where: { $0.value.contains(value) })?.key {
          throw .invalidArgument(
            "\(path).code", "EPCI \(value) has no commune in the 2018 list: it merged into \(successor) in 2018")
        }
        throw .invalidArgument("\(path).code", "no commune of communes_17122018.csv belongs to EPCI \(value.quoted) (unknown or no longer existing in 2018)")
      }
      return (communes, "EPCI \(value) \(data.epcis[value]?.name ?? "")".trimmingSpaces())
    case .department:
      guard let communes = reference.communesOfDepartment[value], !communes.isEmpty else {
        throw .invalidArgument("\(path).code", "unknown department \(value.quoted) (metropolitan INSEE codes: 01–95, 2A, 2B)\(hint(value))")
      }
      return (communes, "Département \(value) \(FrenchTerritories.department(code: value)?.name ?? "")".trimmingSpaces())
    case .region:
      guard let communes = reference.communesOfRegion[value], !communes.isEmpty else {
        throw .invalidArgument("\(path).code", "unknown region \(value.quoted) (metropolitan INSEE region codes, e.g. 32 Hauts-de-France)\(hint(value))")
      }
      return (communes, "Région \(value) \(FrenchTerritories.region(code: value)?.name ?? "")".trimmingSpaces())
    default:
      throw .invalidArgument("\(path).level", "must be COMMUNE, EPCI, DEPARTMENT or REGION")
    }
  }

  /// What a code of the wrong kind looks like, to say so in the error.
  private func hint(_ value: String) -> String {
    var kinds: [String] = []
    if reference.communes[value] != nil { kinds.append("a commune") }
    if reference.communesOfEpci[value] != nil { kinds.append("an EPCI") }
    if reference.communesOfDepartment[value] != nil { kinds.append("a department") }
    if reference.communesOfRegion[value] != nil { kinds.append("a region") }
    return kinds.isEmpty ? "" : "; \(value.quoted) is the code of \(kinds.joined(separator: " and ")): set level accordingly"
  }
}
