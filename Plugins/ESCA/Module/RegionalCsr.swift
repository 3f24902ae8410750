import CarbonDomain
import CarbonPluginKit

/// Annex 3 of the guidelines: the regional CSR table (case 1, option 3). The CSR must lie in
/// [minimum, maximum] of the farm's former region; for several regions, in the intersection.
enum RegionalCsr {
  /// Rows of the given former regions and the intersection of their intervals.
  struct Interval {
    let rows: [RegionalCsrRow]
    let minimum: Double
    let maximum: Double
  }

  static func interval(
    _ codes: [String], field: String, reference: ReferenceData, trace: inout Tracer
  ) throws(ModuleError) -> Interval {
    try Check.nonEmpty(codes, field)
    var rows: [RegionalCsrRow] = []
    for (index, code) in codes.enumerated() {
      guard let row = reference.regional[code] else {
        let known = FrenchTerritories.formerRegion(code: code).map { "former region \($0.name) is not in Annex 3" }
        throw .invalidArgument(
          "\(field)[\(index)]",
          known ?? "unknown former region code \(code.quoted) (Annex 3 uses the INSEE codes of the regions before 2016, e.g. 22 for Picardie)")
      }
      if !rows.contains(where: { $0.code == row.code }) { rows.append(row) }
    }
    trace.dataSet(reference.regionalDataSet)
    trace.dataSet(FrenchTerritories.dataSet)
    let minimum = rows.map(\.minimum).max() ?? 0
    let maximum = rows.map(\.maximum).min() ?? 0
    for row in rows {
      trace.term("regional_min_\(row.code)", row.minimum, .tCPerHa, source: "Annex 3, \(row.printedName)")
      trace.term("regional_max_\(row.code)", row.maximum, .tCPerHa, source: "Annex 3, \(row.printedName)")
    }
    trace.term("regional_interval_min", minimum, .tCPerHa, formula: "max of the regional minima (intersection)")
    trace.term("regional_interval_max", maximum, .tCPerHa, formula: "min of the regional maxima (intersection)")
    if rows.count > 1 {
      trace.rule("esca.csr.regional_intersection", "a farm on several regions uses the values common to their intervals (Annex 3)")
    }
    guard minimum <= maximum else {
      throw .failedPrecondition(
        rule: "esca.csr.regional_intersection_empty",
        "the Annex 3 intervals of \(rows.map(\.printedName).joined(separator: ", ")) have no common value (\(minimum) > \(maximum) t C/ha)")
    }
    return Interval(rows: rows, minimum: minimum, maximum: maximum)
  }

  /// Wire form of a row.
  static func message(_ row: RegionalCsrRow) -> Carbon_Esca_V1_RegionalCsr {
    var message = Carbon_Esca_V1_RegionalCsr()
    message.code = row.code
    message.name = row.printedName
    message.minimumTCPerHa = row.minimum
    message.maximumTCPerHa = row.maximum
    message.medianTCPerHa = row.median
    message.meanTCPerHa = row.mean
    return message
  }

  /// GetRegionalCsrInterval.
  static func lookup(_ request: Carbon_Esca_V1_RegionalCsrRequest, reference: ReferenceData) throws(ModuleError)
    -> Carbon_Esca_V1_RegionalCsrResponse
  {
    var trace = Tracer()
    let interval = try interval(request.regions, field: "regions", reference: reference, trace: &trace)
    var response = Carbon_Esca_V1_RegionalCsrResponse()
    response.rows = interval.rows.map(message)
    response.minimumTCPerHa = interval.minimum
    response.maximumTCPerHa = interval.maximum
    if request.hasCsrTCPerHa {
      let csr = try Check.nonNegative(request.csrTCPerHa, "csr_t_c_per_ha")
      response.csrInInterval = csr >= interval.minimum && csr <= interval.maximum
      if !response.csrInInterval {
        trace.rule("esca.csr.regional_interval", "CSR \(csr) t C/ha lies outside [\(interval.minimum), \(interval.maximum)]")
      }
    }
    response.trace = trace.build()
    return response
  }
}
