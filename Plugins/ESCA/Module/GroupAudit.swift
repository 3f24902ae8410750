import CarbonDomain
import CarbonPluginKit

/// Group audit ("Audit de groupe"): the auditor checks √N farmers of a homogeneous group,
/// 75 % chosen by risk analysis and 25 % at random.
enum GroupAudit {
  static func sample(_ request: Carbon_Esca_V1_GroupAuditRequest) throws(ModuleError) -> Carbon_Esca_V1_GroupAuditResponse {
    var trace = Tracer()
    let count: Int
    if request.farmers.isEmpty {
      count = try Check.inRange(Int(request.farmerCount), 1...10_000_000, "farmer_count")
    } else {
      count = request.farmers.count
      if request.farmerCount != 0 && Int(request.farmerCount) != count {
        throw .invalidArgument("farmer_count", "is \(request.farmerCount) but \(count) farmers are listed")
      }
      var ids = Set<String>()
      for (index, farmer) in request.farmers.enumerated() {
        try Check.nonEmpty(farmer.id, "farmers[\(index)].id")
        guard ids.insert(farmer.id).inserted else { throw .invalidArgument("farmers[\(index)].id", "\(farmer.id.quoted) is listed twice") }
        try Check.finite(farmer.riskScore, "farmers[\(index)].risk_score")
      }
      let cases = Set(request.farmers.map(\.farmerCase).filter { $0 != .unspecified })
      guard cases.count <= 1 else {
        throw .failedPrecondition(rule: "esca.audit.group_same_case", "a group audit covers farmers of the same case; this group mixes \(cases.count) cases")
      }
    }
    // ceil(√N) with integers (no floating-point edge at perfect squares).
    var size = Int(Double(count).squareRoot())
    while size * size < count { size += 1 }
    while size > 1 && (size - 1) * (size - 1) >= count { size -= 1 }
    let risk = (3 * size + 3) / 4
    let random = size - risk
    trace.term("farmer_count", Double(count), .count)
    trace.term("sample_size", Double(size), .count, formula: "ceil(√N)")
    trace.term("risk_based", Double(risk), .count, formula: "ceil(0.75 × sample)")
    trace.term("random", Double(random), .count, formula: "sample − risk part")
    trace.decision("audit_rounding", "sample rounded up, risk part rounded up, the rest at random",
                   reason: "the guidelines give √N with 75 % by risk analysis and 25 % at random without a rounding rule; rounding up is conservative")

    var response = Carbon_Esca_V1_GroupAuditResponse()
    response.farmerCount = Int32(clamping: count)
    response.sampleSize = Int32(clamping: size)
    response.riskBasedCount = Int32(clamping: risk)
    response.randomCount = Int32(clamping: random)
    if !request.farmers.isEmpty {
      let ranked = request.farmers.sorted { ($0.riskScore, $1.id) > ($1.riskScore, $0.id) }
      response.riskBasedIds = ranked.prefix(risk).map(\.id)
      var rest = ranked.dropFirst(risk).map(\.id).sorted()
      var generator = SplitMix64(seed: request.randomSeed)
      var chosen: [String] = []
      for _ in 0..<min(random, rest.count) {
        let index = Int(generator.next() % UInt64(rest.count))
        chosen.append(rest.remove(at: index))
      }
      response.randomIds = chosen
      trace.decision("random_selection", "SplitMix64(seed = \(request.randomSeed)) over the remaining farmers sorted by id",
                     reason: "a reproducible random draw an auditor can repeat")
    }
    response.trace = trace.build()
    return response
  }
}
