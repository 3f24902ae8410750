import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

@testable import SNBCModule

/// Hand-computed assessments. Sector values are the Annex II AMS 2018 values interpolated
/// linearly: S(y) = S(a) + (S(b) − S(a)) × (y − a)/(b − a).
@Suite("AssessTrajectory", .cpuBound)
struct AssessTrajectoryTests {
  typealias Request = Carbon_Snbc_V1_AssessTrajectoryRequest

  func chemicals() throws -> Request { try SNBCTest.example("AssessTrajectory.json", as: Request.self) }

  @Test("chemical industry (sub-sector chimie): rates, gaps, verdicts by hand")
  func chemicalIndustry() throws {
    let response = try SNBCTest.assess(try chemicals())
    let direct = try #require(response.categories.first)
    #expect(direct.seriesID == "industry.chemicals")
    // chimie AMS 23.1 (2015), 17.4 (2025), 14.2 (2030), 4.2 (2050):
    // S(2019) = 23.1 − 5.7 × 0.4 = 20.82; S(2024) = 23.1 − 5.7 × 0.9 = 17.97.
    // short: company (100000 − 85000)/100000 = 15 %; sector 2.85/20.82 = 13.6888 % → +1.3112 pp.
    // medium: company 30 %; sector 6.62/20.82 = 31.7963 % → −1.7963 pp, direct → NOT ALIGNED.
    // long: company 85 %; sector 16.62/20.82 = 79.8271 % → +5.1729 pp.
    let expected: [(Double, Double, Verdict)] = [
      (0.15, 2.85 / 20.82, .aligned), (0.30, 6.62 / 20.82, .notAligned), (0.85, 16.62 / 20.82, .aligned),
    ]
    try #require(direct.horizons.count == 3)
    for (item, (company, sector, verdict)) in zip(direct.horizons, expected) {
      #expect(abs(item.companyReductionFraction - company) < 1e-12)
      #expect(abs(item.sectorReductionFraction - sector) < 1e-12)
      #expect(abs(item.gapPp - (company - sector) * 100) < 1e-9)
      #expect(item.verdict == verdict)
      #expect(item.sectorValuesInterpolated)  // S(2019) is always interpolated
    }
    #expect(direct.horizons[1].verdictRule == "snbc.verdict.rate_below_reference")
    // Annex I industry budget path: 81 (2015), 72 (2021), 62 (2026), 51 (2031):
    // B(2019) = 81 − 9 × 4/6 = 75; B(2024) = 72 − 10 × 3/5 = 66 → 9/75 = 12 %; none for 2050.
    #expect(abs(direct.horizons[0].sectorBudgetReductionFraction - 0.12) < 1e-12)
    #expect(!direct.horizons[2].hasSectorBudgetReductionFraction)
    // Electricity, indirect, tolerance 2 pp: S(2019) = 26.4 − 7.6 × 0.4 = 23.36;
    // S(2024) = 26.4 − 7.6 × 0.9 = 19.56 → 3.8/23.36 = 16.2671 %; company 15 % → −1.2671 pp.
    let energy = try #require(response.categories.last)
    #expect(energy.indirect)
    #expect(abs(energy.horizons[0].gapPp - (15 - 380 / 23.36)) < 1e-9)
    #expect(energy.horizons[0].verdict == .toBeJustified)
    #expect(energy.horizons[0].verdictRule == "snbc.verdict.indirect_tolerance")
    #expect(response.companyVerdict == .notAligned)
    // Consolidated short term: (100000 × 2.85/20.82 + 20000 × 3.8/23.36)/120000.
    let weighted = (100000 * 2.85 / 20.82 + 20000 * 3.8 / 23.36) / 120000
    #expect(abs(response.consolidated[0].weightedSectorReductionFraction - weighted) < 1e-12)
    #expect(response.consolidated[0].verdict == .toBeJustified)
    #expect(response.consolidated[1].verdict == .notAligned)
    #expect(response.chartSvg.contains("<svg") && response.chartSvg.hasSuffix("</svg>\n"))
    #expect(response.trace.decisions.contains { $0.rule == "sector_rate" })
  }

  @Test("without a tolerance an indirect shortfall is not aligned; within it, never aligned")
  func indirectTolerance() throws {
    var request = try chemicals()
    request.indirectTolerancePp = 0
    let strict = try SNBCTest.assess(request)
    #expect(strict.categories[1].horizons[0].verdict == .notAligned)
    #expect(strict.trace.decisions.contains { $0.rule == "indirect_tolerance_pp" && $0.choice == "0" })
    request.indirectTolerancePp = 1.2  // gap −1.2671 pp is outside
    #expect(try SNBCTest.assess(request).categories[1].horizons[0].verdict == .notAligned)
    // The tolerance never softens a direct category.
    request.indirectTolerancePp = 50
    let soft = try SNBCTest.assess(request)
    #expect(soft.categories[0].horizons[1].verdict == .notAligned)
    #expect(soft.categories[1].horizons[0].verdict == .toBeJustified)
  }

  @Test("road freight on the PL sub-sector, world perimeter for subcontracting, monitoring")
  func roadFreight() throws {
    let request = try SNBCTest.example("AssessTrajectory.road-freight.json", as: Request.self)
    let response = try SNBCTest.assess(request)
    // PL AMS 28.5 (2015), 27.6 (2025), 26.3 (2030), 0.8 (2050); S(2020) = 28.05.
    // 2050: sector 27.25/28.05 = 97.148 %; company 48000/50000 = 96 % → −1.148 pp.
    let trucks = response.categories[0]
    #expect(abs(trucks.horizons[2].sectorReductionFraction - 27.25 / 28.05) < 1e-12)
    #expect(trucks.horizons[2].verdict == .notAligned)
    // Plan 50000 (2020) → 48000 (2025): −400 per year; actuals 49800, 49900, 49000 all above.
    #expect(trucks.monitoring.years.map(\.plannedTCo2E) == [49600, 49200, 48800])
    #expect(trucks.monitoring.repeatedOvershoots.first?.years == [2021, 2022, 2023])
    #expect(trucks.monitoring.significantGapYears.isEmpty)
    // Global trajectory 100 (2020), 55 (2030): 77.5 in 2025 → 22.5 %; company 20 % → −2.5 pp,
    // within the 3 pp tolerance.
    let abroad = response.categories[1]
    #expect(abroad.worldPerimeter)
    #expect(abs(abroad.horizons[0].gapPp + 2.5) < 1e-9)
    #expect(abroad.horizons[0].verdict == .toBeJustified)
    #expect(response.trace.rules.contains { $0.rule == "snbc.perimeter.world" })
    #expect(response.trace.rules.contains { $0.rule == "snbc.bunkers.outside_budgets" })
    // Bunkers are echoed apart and never enter the totals.
    #expect(response.consolidated[0].companyReferenceTCo2E == 60000)
  }

  @Test("N2O above 10 %: checked on the agriculture N2O trajectory; AR4 and AR5 selectable")
  func nitrousOxide() throws {
    var request = try SNBCTest.example("AssessTrajectory.n2o-above-10-percent.json", as: Request.self)
    let response = try SNBCTest.assess(request)
    let n2o = try #require(response.gasChecks.first)
    // 20 t N2O × 298 (AR4) = 5960 t CO2e = 14.9 % of 40000.
    #expect(n2o.referenceTCo2E == 5960)
    #expect(abs(n2o.shareFraction - 0.149) < 1e-12)
    #expect(n2o.checkRequired && n2o.seriesID == "agriculture.n2o")
    // agriculture N2O AMS 37.1, 33.3, 31.5, 20.3: S(2019) = 35.58, S(2023) = 34.06.
    // 2050: sector 15.28/35.58 = 42.9455 %; company (20 − 12)/20 = 40 % → NOT ALIGNED.
    #expect(abs(n2o.horizons[0].sectorReductionFraction - 1.52 / 35.58) < 1e-12)
    #expect(abs(n2o.horizons[2].sectorReductionFraction - 15.28 / 35.58) < 1e-12)
    #expect(n2o.horizons[2].verdict == .notAligned)
    #expect(response.gasChecks[1].checkRequired == false)  // CH4 100 × 25 = 2500 = 6.25 %
    #expect(response.companyVerdict == .notAligned)
    #expect(response.trace.rules.contains { $0.rule == "snbc.gas.share_above_10_percent" })
    // AR5: 20 × 265 = 5300 t CO2e = 13.25 %.
    request.gwpSet = .ar5
    let ar5 = try SNBCTest.assess(request)
    #expect(abs(ar5.gasChecks[0].shareFraction - 0.1325) < 1e-12)
    // Unspecified set: AR4 for data of 2019 (before 2023), recorded as a decision.
    request.gwpSet = .unspecified
    let byDefault = try SNBCTest.assess(request)
    #expect(byDefault.gasChecks[0].referenceTCo2E == 5960)
    #expect(byDefault.gasChecks[0].gwpSet == .ar4)
    #expect(byDefault.trace.decisions.contains { $0.rule == "gwp_set" && $0.choice == "AR4" })
  }

  @Test("a gas without a sector table uses the national budget by gas; no value beyond 2033")
  func nationalGasBudget() throws {
    var request = try SNBCTest.example("AssessTrajectory.n2o-above-10-percent.json", as: Request.self)
    request.gases[0].sector = .industry
    let response = try SNBCTest.assess(request)
    let n2o = response.gasChecks[0]
    #expect(n2o.seriesID == "budget.gas.n2o_excl_lulucf")
    // 42 (2015), 40 (2021), 37 (2026), 35 (2031): B(2019) = 42 − 2 × 4/6 = 40.6667;
    // B(2023) = 40 − 3 × 2/5 = 38.8 → (40.6667 − 38.8)/40.6667.
    let b2019 = 42.0 - 2.0 * 4 / 6
    #expect(abs(n2o.horizons[0].sectorReductionFraction - (b2019 - 38.8) / b2019) < 1e-12)
    #expect(n2o.horizons[2].verdict == .notAssessable)
    #expect(n2o.horizons[2].verdictRule == "snbc.verdict.no_reference_for_years")
    #expect(response.trace.warnings.contains { $0.contains("not assessable") })
  }

  @Test("technological sinks are deducted from direct emissions; natural sinks compared with LULUCF")
  func sinks() throws {
    var request = try SNBCTest.example("AssessTrajectory.technological-sinks.json", as: Request.self)
    let response = try SNBCTest.assess(request)
    let kilns = response.categories[0]
    // 2030: 800000 − 100000 = 700000 → 30 %; minerals AMS S(2020) = 16.85, 13.0 in 2030:
    // 3.85/16.85 = 22.85 % → aligned. Gross (20 %) would not be.
    #expect(kilns.horizons[1].companyTargetTCo2E == 700000)
    #expect(abs(kilns.horizons[1].sectorReductionFraction - 3.85 / 16.85) < 1e-12)
    #expect(kilns.horizons[1].verdict == .aligned)
    // Natural sinks: LULUCF removals 40.8 (2015), 37.7 (2025): R(2020) = 39.25; 2050: 67 →
    // growth 27.75/39.25; company (2000 − 1000)/1000 = 100 %.
    #expect(response.naturalSinks.counted)
    #expect(abs(response.naturalSinks.horizons[2].sectorReductionFraction - 27.75 / 39.25) < 1e-12)
    #expect(response.naturalSinks.horizons[2].verdict == .aligned)
    // Natural sinks never change the emission totals.
    #expect(response.consolidated[2].companyTargetTCo2E == 100000)
    // Intensity: output 2e6 × 1.01^5; intensity (900000/P) vs 0.5 t/t.
    let factor = pow(1.01, 5.0)
    #expect(abs(response.intensity[0].intensityReductionFraction - (1 - (900000 / (2e6 * factor)) / 0.5)) < 1e-12)
    #expect(abs(response.intensity[0].sectorConsistentIntensityReductionFraction - (1 - (1 - 0.95 / 16.85) / factor)) < 1e-12)
    // Without the sink the medium term is not aligned: 20 % < 22.85 %.
    request.categories[0].targets[1].technologicalSinkTCo2E = 0
    #expect(try SNBCTest.assess(request).categories[0].horizons[1].verdict == .notAligned)
    // Natural sinks outside the perimeter are not counted.
    request.naturalSinks.withinCompanyPerimeter = false
    let outside = try SNBCTest.assess(request)
    #expect(!outside.naturalSinks.counted && outside.naturalSinks.horizons.isEmpty)
    #expect(outside.trace.rules.contains { $0.rule == "snbc.sinks.natural_outside_perimeter" })
  }

  @Test("offsets and avoided emissions are reported apart and never change totals or verdicts")
  func offsetsExcluded() throws {
    var request = try SNBCTest.example("AssessTrajectory.offsets-excluded.json", as: Request.self)
    let with = try SNBCTest.assess(request)
    request.clearReportedApart()
    let without = try SNBCTest.assess(request)
    #expect(with.consolidated == without.consolidated)
    #expect(with.categories == without.categories)
    #expect(with.companyVerdict == without.companyVerdict)
    #expect(with.reportedApart.offsetsTCo2E == 50000)
    #expect(with.trace.rules.contains { $0.rule == "snbc.offsets.excluded" })
    #expect(with.trace.rules.contains { $0.rule == "snbc.avoided_emissions.excluded" })
    // The guide gives no period for these figures: without one they are the reference year's (2021),
    // and the response and the trace say so; a stated period is echoed in the rule's text.
    #expect(with.reportedApart.period.firstYear == 2021 && with.reportedApart.period.lastYear == 2021)
    #expect(with.trace.decisions.contains { $0.rule == "reported_apart_period" && $0.choice == "REFERENCE_YEAR" })
    var withPeriod = try SNBCTest.example("AssessTrajectory.offsets-excluded.json", as: Request.self)
    withPeriod.reportedApart.period.firstYear = 2021
    withPeriod.reportedApart.period.lastYear = 2023
    let stated = try SNBCTest.assess(withPeriod)
    #expect(stated.consolidated == without.consolidated)
    #expect(!stated.trace.decisions.contains { $0.rule == "reported_apart_period" })
    #expect(stated.trace.rules.contains { $0.rule == "snbc.offsets.excluded" && $0.effect.contains("over 2021-2023") })
    // Composite category on all sectors (sum of Annex II totals): S(2021) = 464.2 − 93.9 × 0.6
    // = 407.86; S(2024) = 379.69 → 28.17/407.86 = 6.9068 %; company 2000/30000 = 6.667 %.
    let composite = with.categories[1]
    #expect(abs(composite.horizons[0].sectorReductionFraction - 28.17 / 407.86) < 1e-12)
    #expect(composite.horizons[0].verdict == .toBeJustified)
    #expect(with.consolidated[0].companyReferenceTCo2E == 40000)
  }

  @Test("a justification trajectory is reported beside the national verdict, never replacing it")
  func justificationTrajectory() throws {
    var request = try chemicals()
    // A sector-specific world pathway: 100 (2019), 75 (2030), 10 (2050).
    for (year, value) in [(Int32(2019), 100.0), (2030, 75), (2050, 10)] {
      var point = Carbon_Snbc_V1_GlobalTrajectoryPoint()
      point.year = year
      point.emissions = value
      request.categories[0].justificationTrajectory.append(point)
    }
    request.categories[0].justificationTrajectorySource = "illustrative world chemicals pathway"
    let response = try SNBCTest.assess(request)
    let medium = response.categories[0].horizons[1]
    // 2030: 25 % reduction; company 30 % → +5 pp, but the national verdict (−1.80 pp) stands.
    #expect(abs(medium.justificationReductionFraction - 0.25) < 1e-12)
    #expect(abs(medium.justificationGapPp - 5) < 1e-9)
    #expect(medium.verdict == .notAligned)
    #expect(response.trace.rules.contains { $0.rule == "snbc.justification.alternative_trajectory" })
    // Short term 2024: 100 − 25 × 5/11 = 88.636 → 11.364 %.
    #expect(abs(response.categories[0].horizons[0].justificationReductionFraction - 25.0 * 5 / 11 / 100) < 1e-12)
    #expect(!response.categories[1].horizons[0].hasJustificationReductionFraction)
    request.categories[0].justificationTrajectorySource = ""
    let error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.field == "categories[0].justification_trajectory_source")
  }

  @Test("a category may name only its domain SNBC sector: compared with the sector total")
  func sectorEnum() throws {
    var request = try chemicals()
    request.categories[0].seriesID = ""
    request.categories[0].sector = .industry
    let response = try SNBCTest.assess(request)
    // Industry AMS 81.7 (2015), 64.9 (2025): S(2019) = 81.7 − 16.8 × 0.4 = 74.98;
    // S(2024) = 81.7 − 16.8 × 0.9 = 66.58 → 8.4/74.98.
    #expect(response.categories[0].seriesID == "industry")
    #expect(abs(response.categories[0].horizons[0].sectorReductionFraction - 8.4 / 74.98) < 1e-12)
    request.categories[0].seriesID = "chimie"
    #expect(try SNBCTest.assess(request).categories[0].seriesID == "industry.chemicals")
    try expectInvalid("categories[0].sector") {
      $0.categories[0].seriesID = "chimie"
      $0.categories[0].sector = .transport
    }
    try expectInvalid("categories[0].series_id") { $0.categories[0].seriesID = "" }
    try expectRefused("snbc.sinks.natural_compared_apart") {
      $0.categories[0].seriesID = ""
      $0.categories[0].sector = .lulucf
    }
  }

  // MARK: - Invalid input

  func expectInvalid(_ field: String, _ mutate: (inout Request) -> Void) throws {
    var request = try chemicals()
    mutate(&request)
    let error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.status == .invalidArgument, "\(field): \(String(describing: error))")
    #expect(error?.field == field)
  }

  func expectRefused(_ rule: String, _ mutate: (inout Request) -> Void) throws {
    var request = try chemicals()
    mutate(&request)
    let error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.status == .failedPrecondition, "\(rule): \(String(describing: error))")
    #expect(error?.field == rule)
  }

  @Test("invalid input names the field")
  func invalidInput() throws {
    try expectInvalid("categories[0].targets[0].year") { $0.categories[0].targets[0].year = 2018 }
    try expectInvalid("categories[0].targets[0].year") { $0.categories[0].targets[0].year = 2019 }
    try expectInvalid("categories[1].series_id") { $0.categories[1].seriesID = "aciérie martienne" }
    try expectInvalid("categories[1].series_id") { $0.categories[1].seriesID = "budget.industry" }
    try expectInvalid("categories[0].reference_emissions_t_co2e") { $0.categories[0].referenceEmissionsTCo2E = -1 }
    try expectInvalid("categories[0].reference_emissions_t_co2e") { $0.categories[0].referenceEmissionsTCo2E = .nan }
    try expectInvalid("categories[0].targets[2].emissions_t_co2e") { $0.categories[0].targets[2].emissionsTCo2E = -.infinity }
    try expectInvalid("categories[1].targets") { $0.categories[1].targets.remove(at: 1) }
    try expectInvalid("categories[0].targets[1].horizon") { $0.categories[0].targets[1].horizon = .shortTerm }
    try expectInvalid("categories[0].targets[0].horizon") { $0.categories[0].targets[0].horizon = .unspecified }
    try expectInvalid("categories[0].kind") { $0.categories[0].kind = .unspecified }
    try expectInvalid("categories[0].kind") { $0.categories[0].kind = .UNRECOGNIZED(42) }
    try expectInvalid("categories[1].name") { $0.categories[1].name = $0.categories[0].name }
    try expectInvalid("categories[1].targets[0].year") { $0.categories[1].targets[0].year = 2023 }
    try expectInvalid("categories[0].targets[2].year") { $0.categories[0].targets[2].year = 2045 }
    try expectInvalid("categories") { $0.categories = [] }
    try expectInvalid("reference_year") { $0.referenceYear = 1989 }
    try expectInvalid("reference_year") { $0.referenceYear = 0 }
    try expectInvalid("investment_year") { $0.investmentYear = 3000 }
    try expectInvalid("indirect_tolerance_pp") { $0.indirectTolerancePp = -1 }
    try expectInvalid("categories[1].reference_technological_sink_t_co2e") {
      $0.categories[1].referenceTechnologicalSinkTCo2E = 10
    }
    try expectInvalid("categories[0].targets[0].technological_sink_t_co2e") {
      $0.categories[0].targets[0].technologicalSinkTCo2E = -10
    }
    try expectInvalid("categories[1].global_trajectory") {
      $0.categories[1].perimeter = .world
    }
    try expectInvalid("categories[0].actuals[0].year") {
      var actual = Carbon_Snbc_V1_YearValue()
      actual.year = 2019
      actual.emissionsTCo2E = 1
      $0.categories[0].actuals = [actual]
    }
    try expectInvalid("gases[0].reference_mass_t_gas") {
      var gas = Carbon_Snbc_V1_GasEmissions()
      gas.gas = .ch4
      gas.referenceMassTGas = -3
      $0.gases = [gas]
    }
    try expectInvalid("gases[0].targets") {
      var gas = Carbon_Snbc_V1_GasEmissions()
      gas.gas = .ch4
      gas.referenceMassTGas = 1000  // 25000 t CO2e of 120000: above 10 %, targets required
      $0.gases = [gas]
    }
    try expectInvalid("reported_apart.offsets_t_co2e") { $0.reportedApart.offsetsTCo2E = -5 }
    try expectInvalid("reported_apart.period") {
      $0.reportedApart.period.firstYear = 2024
      $0.reportedApart.period.lastYear = 2020
    }
    try expectInvalid("production.reference_output") { $0.production.referenceOutput = 0 }
    try expectInvalid("production.growth_percent_per_year") {
      $0.production.referenceOutput = 1
      $0.production.growthPercentPerYear = -100
    }
  }

  @Test("rule refusals name the rule")
  func ruleRefusals() throws {
    try expectRefused("snbc.horizon.short_term_3_to_5_years") { $0.categories[0].targets[0].year = 2022 }
    try expectRefused("snbc.horizon.medium_term_at_most_10_years") { $0.categories[0].targets[1].year = 2031 }
    try expectRefused("snbc.perimeter.direct_emissions_national") { $0.categories[0].perimeter = .world }
    try expectRefused("snbc.bunkers.outside_budgets") { $0.categories[1].seriesID = "bunkers.aviation" }
    try expectRefused("snbc.sinks.natural_compared_apart") { $0.categories[1].seriesID = "lulucf.forest" }
    try expectRefused("snbc.rate.reference_not_positive") {
      $0.categories[0].referenceTechnologicalSinkTCo2E = 100000
    }
  }

  @Test("without an investment year the horizons count from the reference year, 2020 at the earliest (decision)")
  func investmentYearDefault() throws {
    var request = try chemicals()
    request.investmentYear = 0
    // Reference 2019: the anchor is 2020 (no investment precedes the law of 25 April 2020);
    // 2031 is 11 years after it, outside the medium-term window.
    for index in request.categories.indices { request.categories[index].targets[1].year = 2031 }
    let error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.field == "snbc.horizon.medium_term_at_most_10_years")
    // 2024 is 4 years after 2020 (short term valid); 2030 is 10 years after.
    for index in request.categories.indices { request.categories[index].targets[1].year = 2030 }
    let response = try SNBCTest.assess(request)
    #expect(response.trace.decisions.contains { $0.rule == "horizon_anchor" && $0.choice == "FIRST_INVESTMENT_YEAR" })
    #expect(response.consolidated[1].horizon == .mediumTerm)
  }
}
