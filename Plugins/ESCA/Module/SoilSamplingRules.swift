import CarbonDomain
import CarbonPluginKit

/// The rules of one soil sampling and its laboratory analysis ("Analyse de sol"): depth, timing
/// (spring before the crop and fertilisation, or at least 2 months after the harvest and any
/// fresh carbon), the laboratory's accreditation, the carbon and bulk-density standards, and one
/// bulk-density analysis per soil type of the farm. Violations are reported with their rule,
/// like the sampling plan's; impossible input is refused with its field path.
enum SoilSamplingRules {
  typealias Issue = Carbon_Esca_V1_SamplingIssue

  /// Checks every sampling of `request`; `soilTypes` are the farm's soil types (from its fields).
  static func check(
    _ samplings: [Carbon_Esca_V1_SoilSampling], soilTypes: Set<Carbon_Esca_V1_SoilType>, trace: inout Tracer
  ) throws(ModuleError) -> [Issue] {
    guard !samplings.isEmpty else { return [] }
    var issues: [Issue] = []
    var bulkDensityTypes = Set<Carbon_Esca_V1_SoilType>()
    var farmTypes = soilTypes
    trace.decision("spring_window", "March–May",
                   reason: "the guidelines allow sampling 'au printemps avant la culture et la fertilisation' without dates: meteorological spring is used; outside it, the 2-month rule after harvest and fresh carbon must be met")
    for (index, sampling) in samplings.enumerated() {
      let path = "samplings[\(index)]"
      let subject = sampling.id.isEmpty ? path : sampling.id
      func violation(_ rule: String, _ message: String) {
        var issue = Issue()
        issue.subject = subject
        issue.rule = rule
        issue.message = message
        issues.append(issue)
      }
      guard sampling.measuresCarbon || sampling.measuresBulkDensity else {
        throw .invalidArgument("\(path).measures_carbon", "a sampling measures the carbon content, the bulk density or both")
      }
      let date = try SimpleDate(sampling.hasSamplingDate ? sampling.samplingDate : nil, field: "\(path).sampling_date")
      let depth = try Check.positive(sampling.depthCm, "\(path).depth_cm")
      try Check.inRange(depth, 0...200, "\(path).depth_cm")
      try Check.specified(sampling.lab, "\(path).lab") { $0.rawValue >= 1 && $0.rawValue <= 4 }
      if sampling.measuresBulkDensity || sampling.soilType != .unspecified {
        try Check.specified(sampling.soilType, "\(path).soil_type") { $0.dataKey != nil }
      }

      // e) "les mesures directes des changements de stock de carbone dans le sol sont
      // effectuées sur les 30 premiers centimètres du sol".
      if depth != EscaRules.claimDepthCm {
        violation("esca.sampling.depth_30cm", "sampled over \(depth) cm; CSR/CSA measurements cover the first 30 cm")
      }

      // d) "au printemps avant la culture et la fertilisation des sols ou à l'automne, au
      // minimum 2 mois après la récolte" — and 2 months after any fresh carbon.
      var events: [(String, SimpleDate)] = []
      if sampling.hasLastHarvestDate {
        events.append(("harvest", try SimpleDate(sampling.lastHarvestDate, field: "\(path).last_harvest_date")))
      }
      if sampling.hasLastFreshCarbonDate {
        events.append(("fresh-carbon input", try SimpleDate(sampling.lastFreshCarbonDate, field: "\(path).last_fresh_carbon_date")))
      }
      for (name, event) in events where event > date {
        throw .invalidArgument("\(path).\(name == "harvest" ? "last_harvest_date" : "last_fresh_carbon_date")",
                               "dates out of order: the last \(name) (\(event)) is after the sampling (\(date))")
      }
      let spring = sampling.beforeSowingAndFertilisation && EscaRules.springMonths.contains(date.month)
      if !spring {
        let tooRecent = events.filter { date < $0.1.addingMonths(EscaRules.monthsAfterFreshCarbon) }
        if !tooRecent.isEmpty {
          violation("esca.sampling.timing",
                    "sampled \(date), less than 2 months after the last \(tooRecent.map { "\($0.0) (\($0.1))" }.joined(separator: " and ")); sample in spring before the crop and fertilisation, or at least 2 months after")
        } else if events.isEmpty || !sampling.hasLastHarvestDate {
          violation("esca.sampling.timing",
                    "sampled \(date) outside a spring sampling before the crop and fertilisation, and the last harvest date is not given: the 2-month rule cannot be shown")
        }
      }

      // g) "doivent de préférence être effectuées par des laboratoires accrédités (ISO 17025 ou
      // équivalent). Si de tels laboratoires ne sont pas disponibles … un laboratoire
      // indépendant certifié dont l'impartialité est prouvée".
      switch sampling.lab {
      case .none:
        violation("esca.lab.accreditation", "the laboratory is neither ISO 17025 accredited nor a certified independent laboratory")
      case .certifiedIndependent:
        trace.warning("\(subject): a certified (not accredited) laboratory is accepted only when no ISO 17025 laboratory is available; prefer one in accreditation")
      default: break
      }

      // 2. "NF ISO 14235 … NF ISO 10694", or the default standards of 2BS-PRO-03 §2.7.7.6.
      if sampling.measuresCarbon {
        try Check.specified(sampling.carbonMethod, "\(path).carbon_method") { $0.rawValue >= 1 && $0.rawValue <= 4 }
        if sampling.carbonMethod == .other {
          violation("esca.lab.carbon_method", "the carbon content must be measured by NF ISO 14235 (sulfochromic oxidation), NF ISO 10694 (dry combustion) or a default standard of 2BS-PRO-03 §2.7.7.6")
        }
        if sampling.soilType != .unspecified { farmTypes.insert(sampling.soilType) }
      }
      // 3. Cylinder (NF ISO 11272), or another reliable method where the cylinder is not
      // feasible (Annex 6: France), i.e. abacus or pedotransfer function.
      if sampling.measuresBulkDensity {
        try Check.specified(sampling.bulkDensityMethod, "\(path).bulk_density_method") { $0.rawValue >= 1 && $0.rawValue <= 3 }
        if sampling.bulkDensityMethod != .cylinder {
          trace.warning("\(subject): bulk density by an alternative method, accepted where the cylinder is not feasible (Annex 6 for France; elsewhere an analogous study is needed)")
        }
        bulkDensityTypes.insert(sampling.soilType)
      }
    }

    // "2BS préconise de réaliser au minimum une analyse par type de sol (selon les catégories
    // IPCC) représentatif de l'exploitation."
    for soilType in farmTypes.sorted(by: { $0.rawValue < $1.rawValue }) where !bulkDensityTypes.contains(soilType) {
      var issue = Issue()
      issue.subject = soilType.dataKey ?? "\(soilType)"
      issue.rule = "esca.lab.bulk_density_per_soil_type"
      issue.message = "no bulk-density analysis for the soil type \(soilType.dataKey ?? "\(soilType)") of the farm (at least one per IPCC soil type)"
      issues.append(issue)
    }
    return issues
  }
}
