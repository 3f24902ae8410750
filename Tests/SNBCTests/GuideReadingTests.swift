import CarbonPluginKit
import CarbonPluginTesting
import SwiftProtobuf
import Testing

@testable import SNBCModule

/// Rules of the guide that an audit found misread (2026-12-05): the 10 % test on a gas's whole
/// share, the 4th budget through 2033, and objectives the arrêté does not allow.
@Suite("SNBC: the guide's gas test, the 4th budget's last years, the arrêté's objectives", .cpuBound)
struct GuideReadingTests {
  typealias Request = Carbon_Snbc_V1_AssessTrajectoryRequest

  /// A direct agriculture category of 100 000 t (2019, investment 2020) and CH4 given in two
  /// sectors, 240 t each, flat at every horizon.
  static let methaneInTwoSectors = """
    {"reference_year": 2019, "investment_year": 2020, "emissions_gwp_set": "GWP_SET_AR4",
     "categories": [{"name": "Direct", "kind": "EMISSION_CATEGORY_KIND_DIRECT", "series_id": "agriculture",
       "reference_emissions_t_co2e": 100000,
       "targets": [{"horizon": "HORIZON_SHORT_TERM", "year": 2024, "emissions_t_co2e": 80000},
                   {"horizon": "HORIZON_MEDIUM_TERM", "year": 2030, "emissions_t_co2e": 60000},
                   {"horizon": "HORIZON_LONG_TERM_2050", "year": 2050, "emissions_t_co2e": 30000}]}],
     "gases": [
       {"gas": "GAS_CH4", "sector": "SNBC_SECTOR_AGRICULTURE", "reference_mass_t_gas": 240,
        "targets": [{"horizon": "HORIZON_SHORT_TERM", "mass_t_gas": 240}, {"horizon": "HORIZON_MEDIUM_TERM", "mass_t_gas": 240},
                    {"horizon": "HORIZON_LONG_TERM_2050", "mass_t_gas": 240}]},
       {"gas": "GAS_CH4", "sector": "SNBC_SECTOR_WASTE", "reference_mass_t_gas": 240,
        "targets": [{"horizon": "HORIZON_SHORT_TERM", "mass_t_gas": 240}, {"horizon": "HORIZON_MEDIUM_TERM", "mass_t_gas": 240},
                    {"horizon": "HORIZON_LONG_TERM_2050", "mass_t_gas": 240}]}]}
    """

  /// Energy production, reference 2021, investment 2022, medium term 2032; CH4 1 000 t flat
  /// after a dip in 2026 (25 000 t CO2e in AR4 = 25 %).
  static let mediumTermIn2032 = """
    {"reference_year": 2021, "investment_year": 2022, "emissions_gwp_set": "GWP_SET_AR4",
     "categories": [{"name": "Direct", "kind": "EMISSION_CATEGORY_KIND_DIRECT", "series_id": "energy_production",
       "reference_emissions_t_co2e": 100000,
       "targets": [{"horizon": "HORIZON_SHORT_TERM", "year": 2026, "emissions_t_co2e": 70000},
                   {"horizon": "HORIZON_MEDIUM_TERM", "year": 2032, "emissions_t_co2e": 50000},
                   {"horizon": "HORIZON_LONG_TERM_2050", "year": 2050, "emissions_t_co2e": 0}]}],
     "gases": [{"gas": "GAS_CH4", "sector": "SNBC_SECTOR_ENERGY_PRODUCTION", "reference_mass_t_gas": 1000,
       "targets": [{"horizon": "HORIZON_SHORT_TERM", "mass_t_gas": 850}, {"horizon": "HORIZON_MEDIUM_TERM", "mass_t_gas": 1000},
                   {"horizon": "HORIZON_LONG_TERM_2050", "mass_t_gas": 1000}]}]}
    """

  func request(_ json: String) throws -> Request { try Request(jsonString: json) }

  func invalidField(_ request: Request) -> String? {
    let error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    return error?.status == .invalidArgument ? error?.field : "not INVALID_ARGUMENT: \(String(describing: error))"
  }

  /// Guide, « Liste des gaz à effet de serre »: « dans le cas où les émissions d'un gaz autre
  /// que le CO2 représenterait plus de 10% en CO2eq des émissions de l'entreprises, la
  /// cohérence avec le budget carbone pour ce gaz (pour le secteur concerné si l'information est
  /// disponible en annexe, ou au niveau global sinon) devra être vérifiée spécifiquement. »
  @Test("a gas above 10 % of the company's CO2e is checked even when each sector's part is below 10 %")
  func gasShareIsTheGasWhole() throws {
    let response = try SNBCTest.assess(try request(Self.methaneInTwoSectors))
    #expect(response.gasChecks.count == 2)
    let (agriculture, waste) = (response.gasChecks[0], response.gasChecks[1])
    // 240 t × 25 (AR4) = 6 000 t CO2e in each sector: 6 % each, 12 % for CH4 → checked.
    for check in response.gasChecks {
      #expect(check.referenceTCo2E == 6000)
      #expect(abs(check.shareFraction - 0.06) < 1e-12)
      #expect(abs(check.gasShareFraction - 0.12) < 1e-12)
      #expect(check.checkRequired)
    }
    // Each part against its sector's CH4 trajectory. Agriculture CH4, AMS 39.8 (2015), 34.8
    // (2025): S(2019) = 37.8, S(2024) = 35.3 → 2.5/37.8 = 6.6138 %; the company's CH4 is flat
    // (0 %) → NOT ALIGNED.
    #expect(agriculture.seriesID == "agriculture.ch4")
    #expect(abs(agriculture.horizons[0].sectorReductionFraction - 2.5 / 37.8) < 1e-12)
    #expect(agriculture.horizons[0].verdict == .notAligned)
    // Waste CH4, Annex I budget 15 (2015), 12 (2019-2023 → 2021), 10 (2024-2028 → 2026):
    // B(2019) = 15 − 4 × 3/6 = 13, B(2024) = 12 − 3 × 2/5 = 10.8 → 2.2/13 = 16.923 %.
    #expect(waste.seriesID == "budget.waste.ch4")
    #expect(abs(waste.horizons[0].sectorReductionFraction - 2.2 / 13) < 1e-12)
    #expect(waste.horizons[0].verdict == .notAligned)
    // The company is not aligned: its methane does not follow the sectors' methane paths.
    #expect(response.companyVerdict == .notAligned)
    #expect(response.trace.rules.contains { $0.rule == "snbc.gas.share_above_10_percent" && $0.effect.contains("in this sector") })
  }

  @Test("one sector's part at 10 % or less, and the gas as a whole too, is not checked")
  func gasWholeAtTenPercentIsNotChecked() throws {
    var request = try request(Self.methaneInTwoSectors)
    // 200 t × 25 × 2 = 10 000 t CO2e = 10 %: « plus de 10% » is not met.
    request.gases[0].referenceMassTGas = 200
    request.gases[1].referenceMassTGas = 200
    let response = try SNBCTest.assess(request)
    #expect(response.gasChecks.allSatisfy { !$0.checkRequired && abs($0.gasShareFraction - 0.10) < 1e-12 })
  }

  /// Guide, Annexe I: « les budgets carbone […] aux horizons 2019-2023, 2024-28 et 2029-33 »,
  /// tabulated as « Emissions annuelles moyennes pour la période » — the 4th budget covers 2032
  /// and 2033.
  @Test("a gas checked on a national budget is assessed in 2032, inside the 4th budget (2029-2033)")
  func fourthBudgetCoversItsLastYears() throws {
    let response = try SNBCTest.assess(try request(Self.mediumTermIn2032))
    let methane = try #require(response.gasChecks.first)
    #expect(methane.seriesID == "budget.gas.ch4_excl_lulucf" && methane.checkRequired)
    // CH4 excl. LULUCF: 52 (2021), 47 (2026), 44 (2031); on through 2033 along the line from
    // 2026 to 2031 (−0.6 a year): B(2032) = 43.4. Reduction (52 − 43.4)/52 = 16.538 %; the
    // company's methane is back at 1 000 t (0 %) → NOT ALIGNED, and so is the company.
    let medium = try #require(methane.horizons.first { $0.horizon == .mediumTerm })
    #expect(abs(medium.sectorReductionFraction - 8.6 / 52) < 1e-12)
    #expect(medium.verdict == .notAligned)
    #expect(response.companyVerdict == .notAligned)
    #expect(response.trace.decisions.contains { $0.rule == "budget_period_end" && $0.choice == "NEIGHBOUR_SEGMENT_TO_PERIOD_BOUND" })
    // The category's budget rate (information): energy production 48 (2021), 35 (2026), 30
    // (2031) → B(2032) = 29; (48 − 29)/48 = 39.583 %.
    let category = try #require(response.categories.first?.horizons.first { $0.horizon == .mediumTerm })
    #expect(abs(category.sectorBudgetReductionFraction - 19.0 / 48) < 1e-12)
  }

  @Test("the budget path through 2033 keeps the 4th budget's printed average; nothing beyond 2033")
  func budgetPathToThePeriodEnd() throws {
    let harness = try ModuleHarness<SNBCModule>()
    func value(_ series: String, _ year: Int32) throws(ModuleError) -> Carbon_Snbc_V1_SeriesValue {
      var request = Carbon_Snbc_V1_GetReferenceSeriesRequest()
      request.seriesID = series
      request.year = year
      return try harness.call(
        "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self
      ).value
    }
    // Transport: 112 (3rd budget, at 2026), 94 (4th, at 2031): −3.6 a year, so 2029 … 2033 are
    // 101.2, 97.6, 94, 90.4, 86.8, whose mean is the printed 94.
    let years: [Int32] = [2029, 2030, 2031, 2032, 2033]
    let values = try years.map { year throws(ModuleError) in try value("budget.transport", year) }
    let expected = [101.2, 97.6, 94, 90.4, 86.8]
    for (got, want) in zip(values, expected) { #expect(abs(got.valueMtCo2E - want) < 1e-9) }
    #expect(abs(values.map(\.valueMtCo2E).reduce(0, +) / 5 - 94) < 1e-9)
    #expect(values[2].interpolated == false && values[2].extended == false)
    #expect(values[1].interpolated && !values[1].extended && values[1].lowerYear == 2026 && values[1].upperYear == 2031)
    // 2032-2033 lie on the line through 2026 and 2031, carried on: flagged as such.
    #expect(values[4].interpolated && values[4].extended && values[4].lowerYear == 2026 && values[4].upperYear == 2031)
    let beyond = SNBCTest.failure { () throws(ModuleError) in _ = try value("budget.transport", 2034) }
    #expect(beyond?.field == "year")
    // A series with annual parts keeps them: the national total's 2033 is its printed part.
    let total = try value("budget.all_excl_lulucf", 2033)
    #expect(total.interpolated == false)
  }

  @Test("on the period-average basis the first period runs back to 2019 the same way")
  func periodAverageBasisCoversTheFirstPeriod() throws {
    let harness = try ModuleHarness<SNBCModule>()
    var request = Carbon_Snbc_V1_GetReferenceSeriesRequest()
    request.seriesID = "budget.transport"
    request.basis = .budgetPeriodAverage
    // 128 (2019-2023 → 2021), 112 (→ 2026): −3.2 a year, so 2019 … 2023 are 134.4, 131.2, 128,
    // 124.8, 121.6, whose mean is the printed 128.
    var sum = 0.0
    for (year, want) in zip(Int32(2019)...2023, [134.4, 131.2, 128, 124.8, 121.6]) {
      request.year = year
      let got = try harness.call(
        "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self
      ).value
      #expect(abs(got.valueMtCo2E - want) < 1e-9, "\(year)")
      #expect(got.extended == (year < 2021), "\(year)")
      sum += got.valueMtCo2E
    }
    #expect(abs(sum / 5 - 128) < 1e-9)
  }

  /// « (GWP100 AR4 actuellement, puis GWP100 AR5 à partir de 2023) »: the totals and the gas
  /// split may be in two sets; they are compared in the totals' set.
  @Test("gases are weighed in the totals' GWP set before being compared with them")
  func gasesWithinTheTotalsInTheTotalsMetric() throws {
    var request = try request(Self.methaneInTwoSectors)
    request.referenceYear = 2023  // data of 2023: the gas split defaults to AR5 (CH4 28)
    request.investmentYear = 2023
    request.categories[0].targets[0].year = 2027
    request.emissionsGwpSet = .ar4  // the totals are in AR4 (CH4 25)
    request.gases.removeLast()
    // 3 800 t CH4: 106 400 t CO2e in AR5, but 95 000 t in AR4, the totals' metric: it fits in
    // 100 000 t; accepted, the two metrics flagged.
    request.gases[0].referenceMassTGas = 3800
    let response = try SNBCTest.assess(request)
    #expect(response.gwpMetricMismatch && response.gasChecks[0].referenceTCo2E == 106_400)
    // The share is in one metric, AR5: the totals restated 100 000 − 95 000 + 106 400 =
    // 111 400 t, so CH4 is 106 400 / 111 400 = 95.51 % of them (not 106.4 %).
    #expect(abs(response.gasChecks[0].shareFraction - 106_400.0 / 111_400) < 1e-12)
    // 4 100 t: 102 500 t in AR4 > 100 000 × 1.01.
    request.gases[0].referenceMassTGas = 4100
    #expect(invalidField(request) == "gases")
    // 359 t: 8 975 t in AR4, 10 052 t in AR5; restated total 100 000 − 8 975 + 10 052 = 101 077:
    // 9.945 %, not above 10 % (10 052 / 100 000 would have mixed the two sets: 10.05 %).
    request.gases[0].referenceMassTGas = 359
    let small = try SNBCTest.assess(request)
    #expect(abs(small.gasChecks[0].gasShareFraction - 10_052.0 / 101_077) < 1e-12)
    #expect(!small.gasChecks[0].checkRequired)
  }

  /// « le suivi annuel doit permettre d'expliquer tout écart de cohérence annuel significatif
  /// […] entre la trajectoire réelle et la trajectoire prévisionnelle »: actuals are gross
  /// emissions, like the reference, so the plan they are compared with is gross too.
  @Test("a category's actuals are compared with the gross plan, not the plan net of sinks")
  func monitoringAgainstTheGrossPlan() throws {
    var request = try request(Self.methaneInTwoSectors)
    request.gases = []
    request.categories[0].seriesID = "industry.non_metallic_minerals"
    request.categories[0].referenceTechnologicalSinkTCo2E = 20_000
    for (index, emissions) in [90_000.0, 70_000, 30_000].enumerated() {
      request.categories[0].targets[index].emissionsTCo2E = emissions
      request.categories[0].targets[index].technologicalSinkTCo2E = 20_000
    }
    request.categories[0].actuals = [(Int32(2020), 98_000.0), (2021, 96_000)].map { year, emissions in
      var actual = Carbon_Snbc_V1_YearValue()
      actual.year = year
      actual.emissionsTCo2E = emissions
      return actual
    }
    let monitoring = try SNBCTest.assess(request).categories[0].monitoring
    // Gross plan: 100 000 (2019) → 90 000 (2024), −2 000 a year: 98 000 in 2020, 96 000 in
    // 2021 — the actuals exactly (the net plan, 78 000 and 76 000, made them +25.6 %).
    #expect(monitoring.years.map(\.plannedTCo2E) == [98_000, 96_000])
    #expect(monitoring.years.allSatisfy { $0.gapTCo2E == 0 && !$0.significant })
    #expect(!monitoring.explanationRequired)
  }

  /// Préambule: the investments are paid « au titre des crédits ouverts par la loi n° 2020-473
  /// du 25 avril 2020 »; the short term is « à l'horizon de trois à cinq ans à compter de la
  /// prise de participation ».
  @Test("without an investment year the horizons count from 2020 at the earliest")
  func horizonsFrom2020WithoutAnInvestmentYear() throws {
    var request = try request(Self.methaneInTwoSectors)
    request.gases = []
    request.referenceYear = 2015
    request.investmentYear = 0
    request.categories[0].targets[0].year = 2018  // 3 years after 2015, but 2 before 2020
    let error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.status == .failedPrecondition && error?.field == "snbc.horizon.short_term_3_to_5_years")
    request.categories[0].targets[0].year = 2023
    let response = try SNBCTest.assess(request)
    #expect(response.trace.decisions.contains { $0.rule == "horizon_anchor" && $0.choice == "FIRST_INVESTMENT_YEAR" })
  }

  @Test("PlanAndMonitor: a missing reference emission is refused, not planned from 0")
  func planNeedsItsReference() throws {
    let harness = try ModuleHarness<SNBCModule>()
    var request = Carbon_Snbc_V1_PlanAndMonitorRequest()
    request.referenceYear = 2019
    request.objectives = [(Int32(2024), 80_000.0), (2030, 60_000), (2050, 0)].map { year, emissions in
      var objective = Carbon_Snbc_V1_Objective()
      objective.year = year
      objective.emissionsTCo2E = emissions
      return objective
    }
    let error = SNBCTest.failure { () throws(ModuleError) in
      _ = try harness.call(SNBCTest.plan, request, as: Carbon_Snbc_V1_PlanAndMonitorResponse.self)
    }
    #expect(error?.status == .invalidArgument && error?.field == "reference_emissions_t_co2e")
  }

  /// Arrêté (guide, Temporalité): « au moins trois objectifs de réduction des émissions : un
  /// objectif de court terme à l'horizon de trois à cinq ans à compter de la prise de
  /// participation, un objectif à l'horizon de dix ans maximum […], et un objectif de long terme
  /// pour 2050 ».
  @Test("the medium-term objective cannot be the 2050 objective")
  func mediumTermBefore2050() throws {
    var request = try request(Self.mediumTermIn2032)
    request.gases = []
    request.referenceYear = 2040
    request.investmentYear = 2040
    request.categories[0].targets[0].year = 2045
    request.categories[0].targets[1].year = 2050
    #expect(invalidField(request) == "categories[0].targets")
    request.categories[0].targets[1].year = 2049
    #expect(try SNBCTest.assess(request).categories[0].horizons.count == 3)
  }

  /// Guide, préambule: the holdings are paid « au titre des crédits ouverts par la loi
  /// n° 2020-473 du 25 avril 2020 de finances rectificative pour 2020 ».
  @Test("an investment before 2020 is refused")
  func investmentFrom2020() throws {
    var request = try request(Self.methaneInTwoSectors)
    request.investmentYear = 2019
    #expect(invalidField(request) == "investment_year")
  }

  /// « plus de 10% en CO2eq des émissions de l'entreprise »: a gas is part of the company's
  /// emissions, so the gases together cannot exceed them.
  @Test("gases adding up to more than the company's emissions are refused")
  func gasesWithinTheCompanyTotal() throws {
    var request = try request(Self.methaneInTwoSectors)
    // 2 × 2 100 t × 25 = 105 000 t CO2e > 100 000 × 1.01.
    request.gases[0].referenceMassTGas = 2100
    request.gases[1].referenceMassTGas = 2100
    #expect(invalidField(request) == "gases")
    // 2 × 2 020 t × 25 = 101 000 t CO2e: within the 1 % left for rounded masses.
    request.gases[0].referenceMassTGas = 2020
    request.gases[1].referenceMassTGas = 2020
    #expect(try SNBCTest.assess(request).gasChecks.count == 2)
  }

  /// Guide, Temporalité: « au moins trois objectifs […] et un objectif de long terme pour 2050 »
  /// and « une trajectoire selon une granularité plus fine pouvant aller jusqu'à un pas annuel
  /// […] par extrapolation linéaire entre les années définies pour les objectifs de court, moyen
  /// et long termes ».
  @Test("PlanAndMonitor: at least three objectives, the last one for 2050, none after it")
  func planObjectives() throws {
    let harness = try ModuleHarness<SNBCModule>()
    func field(_ years: [Int32]) -> String? {
      var request = Carbon_Snbc_V1_PlanAndMonitorRequest()
      request.referenceYear = 2019
      request.referenceEmissionsTCo2E = 100_000
      request.objectives = years.map { year in
        var objective = Carbon_Snbc_V1_Objective()
        objective.year = year
        objective.emissionsTCo2E = 50_000
        return objective
      }
      let error = SNBCTest.failure { () throws(ModuleError) in
        _ = try harness.call(SNBCTest.plan, request, as: Carbon_Snbc_V1_PlanAndMonitorResponse.self)
      }
      return error.map { $0.status == .invalidArgument ? $0.field : "\($0.status)" } ?? "accepted"
    }
    #expect(field([2024, 2030, 2070]) == "objectives[2].year")
    #expect(field([2024, 2030, 2045]) == "objectives")
    #expect(field([2030, 2050]) == "objectives")
    #expect(field([2024, 2030, 2050]) == "accepted")
    #expect(field([2024, 2027, 2030, 2040, 2050]) == "accepted")
  }
}
