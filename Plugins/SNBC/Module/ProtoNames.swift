import CarbonDomain

// Short names for the generated messages of carbon/snbc/v1/snbc.proto.

/// A value of a reference series as printed in the guide.
typealias SeriesPoint = Carbon_Snbc_V1_SeriesPoint
/// What a printed value represents (historical, budget average, AMS...).
typealias SeriesBasis = Carbon_Snbc_V1_SeriesBasis
/// A reference series of the guide.
typealias ReferenceSeries = Carbon_Snbc_V1_ReferenceSeries
/// One of the three objectives of the arrêté.
typealias Horizon = Carbon_Snbc_V1_Horizon
/// A verdict of a comparison.
typealias Verdict = Carbon_Snbc_V1_Verdict
/// A category of the company's emissions.
typealias EmissionCategory = Carbon_Snbc_V1_EmissionCategory
/// The kind of an emission category.
typealias EmissionCategoryKind = Carbon_Snbc_V1_EmissionCategoryKind
/// A company vs reference comparison at one horizon.
typealias HorizonAssessment = Carbon_Snbc_V1_HorizonAssessment
/// A yearly actual value.
typealias YearValue = Carbon_Snbc_V1_YearValue
/// One planned year.
typealias PlannedYear = Carbon_Snbc_V1_PlannedYear
/// Monitoring of actuals against a plan.
typealias MonitoringResult = Carbon_Snbc_V1_MonitoringResult

extension Horizon {
  /// The three horizons every trajectory must state, in report order.
  static let required: [Horizon] = [.shortTerm, .mediumTerm, .longTerm2050]

  /// The proto name, for messages.
  var protoName: String {
    switch self {
    case .shortTerm: return "HORIZON_SHORT_TERM"
    case .mediumTerm: return "HORIZON_MEDIUM_TERM"
    case .longTerm2050: return "HORIZON_LONG_TERM_2050"
    default: return "HORIZON_UNSPECIFIED"
    }
  }
}

extension EmissionCategoryKind {
  /// True for the five indirect categories (softer judgement allowed by the guide).
  var isIndirect: Bool {
    switch self {
    case .indirectEnergy, .indirectTransport, .indirectPurchasedProducts, .indirectSoldProducts,
      .indirectOther:
      return true
    default: return false
    }
  }

  /// True for values this build knows.
  var isKnown: Bool { self == .direct || isIndirect }
}

extension Verdict {
  /// Severity used to consolidate verdicts: the worst one wins; "not assessable" does not
  /// make a company look better or worse (it is reported as a warning instead).
  var severity: Int {
    switch self {
    case .aligned: return 1
    case .toBeJustified: return 2
    case .notAligned: return 3
    default: return 0
    }
  }

  /// The proto name, for traces.
  var protoName: String {
    switch self {
    case .aligned: return "VERDICT_ALIGNED"
    case .toBeJustified: return "VERDICT_TO_BE_JUSTIFIED"
    case .notAligned: return "VERDICT_NOT_ALIGNED"
    case .notAssessable: return "VERDICT_NOT_ASSESSABLE"
    default: return "VERDICT_UNSPECIFIED"
    }
  }
}
