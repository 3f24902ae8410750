import CarbonDomain

/// Constants of the ESCA methodology, each with its place in the seed
/// (`esca-2bs-guidelines-v7.txt`). Gathered here so that no rule value is scattered in code.
enum EscaRules {
  /// Name of the methodology in every trace.
  static let methodName = "2BS ESCA guidelines"
  /// Version of the methodology in every trace.
  static let methodVersion = "V7 (06/2026)"

  /// C → CO2 factor the regulation's formula writes (3.664, not 44/12), "Qu'est-ce que l'ESCA".
  static let co2PerCarbon = 3.664
  /// t → g, the 10^6 of the regulation's formula.
  static let gramsPerTonne = 1e6
  /// IPCC default equilibrium period, years (calculator "Period of n years" 20).
  static let defaultEquilibriumYears = 20
  /// Depth of every CSR/CSA measurement, cm ("Analyse de sol", 1.e).
  static let claimDepthCm = 30.0
  /// Default organic-matter → organic-carbon ratio (van Bemmelen). The seed asks for a
  /// conversion without a factor: a decision.
  static let defaultOmToCarbonFactor = 1.724

  /// Sampling: one composite sample per this many hectares or per field ("Analyse de sol", 1.b).
  static let hectaresPerCompositeSample = 5.0
  /// Sampling: sub-samples per composite sample.
  static let subsamplesPerComposite = 15
  /// Sampling: largest field that may be grouped, ha (1.c).
  static let maxGroupedFieldHa = 5.0
  /// Sampling: largest cumulated area of a group, ha (1.c).
  static let maxGroupAreaHa = 20.0
  /// Case 1 real-CSA sampling covers harvests from this year on ("Analyse de sol").
  static let case1FirstScopedHarvestYear = 2023

  /// Caps, g CO2e/MJ of fuel (cases 1/2/3, "e. Plafond applicable").
  static let cap45 = 45.0
  /// Cases 2 and 3 without biochar every year.
  static let cap25 = 25.0
  /// Biogas: bonus per MJ of livestock effluents ("Spécificités ... biogaz").
  static let livestockEffluentBonus = 45.0

  /// Claims before this date make case 1 (the Implementing Regulation 2022/996 entry into force).
  static let grandfatherDate = SimpleDate(year: 2022, month: 6, day: 30)
  /// Harvests up to this date inclusive follow the old rules, exempt from caps ("Période de transition").
  static let lastTransitionHarvest = SimpleDate(year: 2023, month: 12, day: 29)
  /// Historic CSR analyses from this date must follow the 2022/996 protocol (case 2).
  static let protocolRequiredFrom = SimpleDate(year: 2024, month: 1, day: 1)
  /// Case 1: the first real CSA must be made before this date for the 45 cap to hold (Annex 1,
  /// "Ce plafonnement pour un CSA se réalisant avant le 30.06.27").
  static let case1FirstRealCsaBefore = SimpleDate(year: 2027, month: 6, day: 30)
  /// Case 1: the year by 31 December of which the grandfathered farmers' first real CSA is due
  /// (Annex 6: "dont les analyses doivent impérativement être réalisées en 2027").
  static let case1RealCsaYear = 2027
  /// The highest cap: a measured-increase cap never exceeds it ("Si CSA réel > plafond de
  /// l'ESCA (45 ou 25 gCO₂eq/MJ) … le plafond prévaut").
  static let highestCap = cap45

  /// Soil sampling: at least this many months after a harvest or a fresh-carbon input
  /// ("Analyse de sol", 1.d: "au minimum 2 mois après la récolte").
  static let monthsAfterFreshCarbon = 2
  /// Soil sampling: months of the spring window (decision: meteorological spring, March–May).
  static let springMonths = 3...5
  /// Real CSA analyses are repeated every this many years after the first (N+5, N+10…).
  static let realCsaRepeatYears = 5

  /// Engagement: 5 years, renewed at least once (10 years).
  static let engagementPeriodYears = 5
  /// Minimum engagement, years.
  static let engagementMinimumYears = 10
  /// Cases 2 and 3: continuous years of practice before a claim.
  static let yearsOfPracticeBeforeClaim = 3
  /// Case 2: retroactive annual claims at most this many years before the first claim.
  static let retroactiveYears = 3
  /// Case 2: retroactive ESCA is valued over this many years after engagement.
  static let retroactiveValuationYears = 10
  /// The real CSA is due by 31 December of the CSR year + this.
  static let realCsaYearsAfterCsr = 5
  /// Withdrawal: years barred from ESCA.
  static let withdrawalBarYears = 5
  /// Real CSA above modelled: the difference is added over this many years.
  static let surplusSpreadYears = 5

  /// Decision guide: cumulated cover-crop biomass over ≤ 5 years for "high without manure", t.
  static let coverBiomassThresholdT = 1.5
  /// Category decision looks at most this many years back.
  static let categoryMaxYears = 5
  /// Exceptional ploughing for hoed crops: they must cover less than this % of the farm.
  static let hoedCropsMaxFarmPct = 30.0

  /// Group audit: share of the sample chosen by risk analysis.
  static let auditRiskShare = 0.75

  /// A trace term/decision source string for the seed.
  static let seed = "esca-2bs-guidelines-v7.txt"

  /// The methodology data set (rules of the guidelines), reported in every trace.
  static let rulesDataSet: DataSetVersion = {
    var version = DataSetVersion()
    version.name = "2bs-esca-guidelines"
    version.version = "V7 (06/2026)"
    version.source = "2BS, Lignes directrices ESCA V7 (22/06/2026), shared/seeds/esca-2bs-guidelines-v7.txt"
    return version
  }()
}
