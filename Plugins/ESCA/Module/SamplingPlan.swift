import CarbonDomain
import CarbonPluginKit

/// Checks a soil sampling plan against the protocol of the guidelines ("Analyse de sol", 1.b
/// and 1.c, and the real-CSA scope): at least one composite sample of 15 sub-samples per 5 ha
/// or per field, whichever is smaller; fields ≤ 5 ha with identical conditions may be grouped
/// up to 20 ha cumulated; with its samplings, the timing, depth, laboratory and standards of
/// each (``SoilSamplingRules``). A plan that breaks a rule is reported, not refused.
enum SamplingPlan {
  static func check(_ request: Carbon_Esca_V1_SamplingPlanRequest) throws(ModuleError)
    -> Carbon_Esca_V1_SamplingPlanResponse
  {
    var trace = Tracer()
    try Check.nonEmpty(request.fields, "fields")
    var scopeFirstYear = Int.min
    var scopeLastYear = Int.max
    if request.realCsa {
      try Check.specified(request.farmerCase, "farmer_case") { $0.rawValue >= 1 && $0.rawValue <= 3 }
      let engagement = try Check.inRange(Int(request.engagementYear), SimpleDate.validYears, "engagement_year")
      let csr = try Check.inRange(Int(request.csrYear), SimpleDate.validYears, "csr_year")
      // Claims between the engagement year and 1 January of the 5th year after the CSR.
      scopeFirstYear = engagement
      scopeLastYear = csr + EscaRules.realCsaYearsAfterCsr - 1
      if request.farmerCase == .farmerCase1 {
        scopeFirstYear = max(scopeFirstYear, EscaRules.case1FirstScopedHarvestYear)
        trace.rule("esca.sampling.case1_from_2023", "case 1: only harvests from 2023 on are in the real-CSA scope")
      }
      trace.term("scope_first_claim_year", Double(scopeFirstYear), .year)
      trace.term("scope_last_claim_year", Double(scopeLastYear), .year,
                 formula: "CSR year + 5 − 1 (claims before 1 January of the 5th year after the CSR)")
    }

    var response = Carbon_Esca_V1_SamplingPlanResponse()
    var issues: [Carbon_Esca_V1_SamplingIssue] = []
    var results: [Carbon_Esca_V1_SamplingFieldResult] = []
    var groups: [String: [Int]] = [:]
    var groupOrder: [String] = []

    for (index, field) in request.fields.enumerated() {
      let path = "fields[\(index)]"
      let area = try Check.positive(field.areaHa, "\(path).area_ha")
      try Check.inRange(area, 0...1_000_000, "\(path).area_ha")
      try Check.inRange(Int(field.compositeSamples), 0...1_000_000, "\(path).composite_samples")
      try Check.inRange(Int(field.subsamplesPerComposite), 0...1_000_000, "\(path).subsamples_per_composite")
      for (yearIndex, year) in field.claimYears.enumerated() {
        try Check.inRange(Int(year), SimpleDate.validYears, "\(path).claim_years[\(yearIndex)]")
      }
      let subject = field.id.isEmpty ? path : field.id
      var result = Carbon_Esca_V1_SamplingFieldResult()
      result.id = field.id
      result.inScope =
        !request.realCsa || field.claimYears.contains { Int($0) >= scopeFirstYear && Int($0) <= scopeLastYear }
      let required = max(1, Int((area / EscaRules.hectaresPerCompositeSample).rounded(.up)))
      result.requiredSamples = Int32(required)
      result.compliant = true
      if result.inScope && !field.groupID.isEmpty {
        if groups[field.groupID] == nil { groupOrder.append(field.groupID) }
        groups[field.groupID, default: []].append(index)
        if area > EscaRules.maxGroupedFieldHa {
          result.compliant = false
          issues.append(issue(subject, "esca.sampling.grouped_field_max_5ha",
            "a grouped field must not exceed 5 ha (this one: \(area) ha)"))
        }
      } else if result.inScope {
        if Int(field.compositeSamples) < required {
          result.compliant = false
          issues.append(issue(subject, "esca.sampling.samples_per_5ha",
            "\(area) ha needs at least \(required) composite sample(s) (one per 5 ha or per field, whichever is smaller); \(field.compositeSamples) taken"))
        }
        if field.compositeSamples > 0 && Int(field.subsamplesPerComposite) < EscaRules.subsamplesPerComposite {
          result.compliant = false
          issues.append(issue(subject, "esca.sampling.15_subsamples",
            "each composite sample needs 15 well-spread sub-samples; \(field.subsamplesPerComposite) taken"))
        }
      }
      results.append(result)
    }

    for group in groupOrder {
      let members = groups[group] ?? []
      let fields = members.compactMap { request.fields.indices.contains($0) ? request.fields[$0] : nil }
      let total = fields.reduce(0) { $0 + $1.areaHa }
      let samples = fields.map { Int($0.compositeSamples) }.max() ?? 0
      let subsamples = fields.map { Int($0.subsamplesPerComposite) }.max() ?? 0
      var ok = true
      if total > EscaRules.maxGroupAreaHa {
        ok = false
        issues.append(issue(group, "esca.sampling.group_max_20ha", "grouped fields cover \(total) ha, more than 20 ha"))
      }
      if Set(fields.map(\.conditionsKey)).count > 1 {
        ok = false
        issues.append(issue(group, "esca.sampling.group_same_conditions",
          "grouped fields must share climate, soil, reference and ESCA practices (conditions_key differs)"))
      }
      if samples < 1 {
        ok = false
        issues.append(issue(group, "esca.sampling.samples_per_5ha", "a group needs at least one composite sample"))
      } else if subsamples < EscaRules.subsamplesPerComposite {
        ok = false
        issues.append(issue(group, "esca.sampling.15_subsamples",
          "each composite sample needs 15 sub-samples; \(subsamples) taken"))
      }
      trace.term("group_area_\(group)", total, .ha, formula: "sum of the grouped fields' areas")
      if !ok {
        for member in members where results.indices.contains(member) { results[member].compliant = false }
      }
    }
    var soilTypes = Set<Carbon_Esca_V1_SoilType>()
    for (index, field) in request.fields.enumerated() where field.soilType != .unspecified {
      try Check.specified(field.soilType, "fields[\(index)].soil_type") { $0.dataKey != nil }
      soilTypes.insert(field.soilType)
    }
    issues += try SoilSamplingRules.check(request.samplings, soilTypes: soilTypes, trace: &trace)
    let inScope = results.filter(\.inScope).count
    trace.term("fields_in_scope", Double(inScope), .count)
    response.fields = results
    response.issues = issues
    response.compliant = issues.isEmpty
    for problem in issues { trace.rule(problem.rule, "\(problem.subject): \(problem.message)") }
    response.trace = trace.build()
    return response
  }

  private static func issue(_ subject: String, _ rule: String, _ message: String) -> Carbon_Esca_V1_SamplingIssue {
    var issue = Carbon_Esca_V1_SamplingIssue()
    issue.subject = subject
    issue.rule = rule
    issue.message = message
    return issue
  }
}
