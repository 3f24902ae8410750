import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Testing

@testable import SNBCModule

/// The guide, « Construction d'une trajectoire »: « La trajectoire relative aux émissions des
/// véhicules légers fabriqués par une entreprise sera comparée à la trajectoire du secteur du
/// « Transport routier – véhicules légers » ». Annexe II prints VP and VUL apart: the light
/// vehicles' trajectory is their sum, which weights each rate by its emissions.
@Suite("Guide examples: light vehicles and reference years", .cpuBound)
struct ReferenceCombinationTests {
  typealias Request = Carbon_Snbc_V1_AssessTrajectoryRequest

  func carmaker() throws -> Request { try SNBCTest.example("AssessTrajectory.light-vehicles.json", as: Request.self) }

  @Test("« Transport routier – véhicules légers » = VP + VUL of Annexe II: 99.2, 79.4, 64.3, 0.1 Mt")
  func derivedSeries() throws {
    let harness = try ModuleHarness<SNBCModule>()
    var request = Carbon_Snbc_V1_GetReferenceSeriesRequest()
    request.seriesID = "Transport routier – véhicules légers"
    request.year = 2019
    let response = try harness.call(
      "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self)
    let series = response.series
    #expect(series.id == "transport.road.light_vehicles" && series.derived)
    #expect(series.componentIds == ["transport.road.passenger_cars", "transport.road.light_commercial_vehicles"])
    // VP AMS 73.1, 55.5, 43.3, 0.0 + VUL AMS 26.1, 23.9, 21.0, 0.1.
    let expected: [(Int32, Double)] = [(2015, 99.2), (2025, 79.4), (2030, 64.3), (2050, 0.1)]
    try #require(series.points.count == expected.count)
    for (point, (year, value)) in zip(series.points, expected) {
      #expect(point.yearStart == year && abs(point.valueMtCo2E - value) < 1e-9)
      #expect(point.table.contains("transport.road.passenger_cars + transport.road.light_commercial_vehicles"))
    }
    // 2019: 99.2 − 19.8 × 0.4 = 91.28, interpolated.
    #expect(abs(response.value.valueMtCo2E - 91.28) < 1e-9 && response.value.interpolated)
    // The other spellings reach it too.
    for alias in ["véhicules légers", "vehicules legers", "Transport routier - véhicules légers"] {
      request.seriesID = alias
      #expect(
        try harness.call(
          "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self
        ).series.id == "transport.road.light_vehicles", "\(alias)")
    }
  }

  @Test("a carmaker's sold light vehicles: rates by hand, the combination shown with its weights")
  func carmakerAssessment() throws {
    let response = try SNBCTest.assess(try carmaker())
    let vehicles = response.categories[0]
    #expect(vehicles.seriesID == "transport.road.light_vehicles")
    // S(2019) = 91.28; S(2024) = 99.2 − 19.8 × 0.9 = 81.38; S(2030) = 64.3; S(2050) = 0.1.
    let sector = [9.9 / 91.28, 26.98 / 91.28, 91.18 / 91.28]
    // Company 2 000 000 → 1 750 000 (12.5 %), 1 300 000 (35 %), 2 000 (99.9 %).
    let company = [0.125, 0.35, 0.999]
    for (item, (s, c)) in zip(vehicles.horizons, zip(sector, company)) {
      #expect(abs(item.sectorReductionFraction - s) < 1e-12)
      #expect(abs(item.companyReductionFraction - c) < 1e-12)
      #expect(item.verdict == .aligned)
    }
    // Weights at 2019: VP 73.1 − 17.6 × 0.4 = 66.06; VUL 26.1 − 2.2 × 0.4 = 25.22 (sum 91.28).
    let parts = vehicles.referenceComponents
    try #require(parts.count == 2)
    #expect(abs(parts[0].weightFraction - 66.06 / 91.28) < 1e-12)
    #expect(abs(parts[1].weightFraction - 25.22 / 91.28) < 1e-12)
    // VP 2024: 57.26 → 8.8/66.06; VUL 2024: 24.12 → 1.1/25.22; weighted = 9.9/91.28, the sum's rate.
    #expect(abs(parts[0].reductionFraction[0] - 8.8 / 66.06) < 1e-12)
    #expect(abs(parts[1].reductionFraction[0] - 1.1 / 25.22) < 1e-12)
    let weighted = parts[0].weightFraction * parts[0].reductionFraction[0] + parts[1].weightFraction * parts[1].reductionFraction[0]
    #expect(abs(weighted - vehicles.horizons[0].sectorReductionFraction) < 1e-12)
    #expect(response.trace.rules.contains { $0.rule == "snbc.reference.combination" && $0.effect.contains("transport.road.passenger_cars") })
    #expect(response.trace.decisions.contains { $0.rule == "reference_combination" })
    // A printed sub-sector has no components.
    #expect(response.categories[1].referenceComponents.isEmpty)
    // 2050 at 2 000 t is 99.9 % against 99.89 %: aligned by 0.0096 pp; 3 000 t (99.85 %) is not.
    var request = try carmaker()
    request.categories[0].targets[2].emissionsTCo2E = 3000
    #expect(try SNBCTest.assess(request).categories[0].horizons[2].verdict == .notAligned)
  }

  @Test("a component without a rate hides the combination instead of showing a made-up rate")
  func componentWithoutRate() throws {
    // Two made-up components: "a" is 0 until 2025 (no rate from 2019), "b" is 10 → 5.
    let series = """
      series_id,label_en,label_fr,sector,parent_id,gas,outside_budgets,aliases
      transport,Transport,Transports,TRANSPORT,,,false,
      buildings,Buildings,Bâtiment,BUILDINGS,,,false,
      agriculture,Agriculture,Agriculture,AGRICULTURE,,,false,
      industry,Industry,Industrie,INDUSTRY,,,false,
      energy_production,Energy,Énergie,ENERGY_PRODUCTION,,,false,
      waste,Waste,Déchets,WASTE,,,false,
      a,A,A,TRANSPORT,transport,,false,
      b,B,B,TRANSPORT,transport,,false,
      """
    var values = "series_id,table,label_fr,basis,year_start,year_end,value_mt_co2e\n"
    for id in ["transport", "buildings", "agriculture", "industry", "energy_production", "waste", "b"] {
      values += "\(id),t,l,PROJECTED_AMS_2018,2015,2015,10\n\(id),t,l,PROJECTED_AMS_2018,2050,2050,5\n"
    }
    values += "a,t,l,PROJECTED_AMS_2018,2015,2015,0\na,t,l,PROJECTED_AMS_2018,2025,2025,0\na,t,l,PROJECTED_AMS_2018,2050,2050,1\n"
    let combinations = """
      combination_id,label_en,label_fr,sector,components,aliases,guide_wording
      all_sectors,All,Tous,,transport;buildings;agriculture;industry;energy_production;waste,,
      ab,A+B,A+B,TRANSPORT,a;b,,
      """
    let catalog = try ReferenceCatalog(
      seriesCSV: Array(series.utf8), valuesCSV: Array(values.utf8), combinationsCSV: Array(combinations.utf8))
    let combined = try #require(catalog.lookup("ab"))
    // Common years 2015 and 2050: 10 and 6.
    #expect(combined.points.map(\.valueMtCo2E) == [10, 6])
    #expect(ReferenceCombination.components(of: combined, catalog: catalog, referenceYear: 2019, targetYears: [2024, 2050]).isEmpty)
    // The printed-data path: both components positive, weights sum to 1.
    let total = try #require(catalog.lookup("all_sectors"))
    let parts = ReferenceCombination.components(of: total, catalog: catalog, referenceYear: 2019, targetYears: [2050])
    #expect(parts.count == 6 && abs(parts.map(\.weightFraction).reduce(0, +) - 1) < 1e-12)
  }

  @Test("a reference year before 2015 is refused by the rule, never extrapolated (« entre 2015 et l'année cible »)")
  func referenceYearBefore2015() throws {
    var request = try SNBCTest.example("AssessTrajectory.error-reference-before-2015.json", as: Request.self)
    var error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.status == .failedPrecondition)
    #expect(error?.field == "snbc.reference_year.ams_starts_2015")
    #expect(error?.message.contains("reference_year 2010") == true)
    #expect(error?.message.contains("entre 2015 et l'année cible") == true)
    // 2014, the last year before the projection, is refused too; 1989 is not a year of the guide at all.
    request.referenceYear = 2014
    error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.field == "snbc.reference_year.ams_starts_2015")
    request.referenceYear = 1989
    error = SNBCTest.failure { () throws(ModuleError) in _ = try SNBCTest.assess(request) }
    #expect(error?.status == .invalidArgument && error?.field == "reference_year")
    // The chart refuses it by the same rule.
    var chart = try SNBCTest.example("RenderTrajectoryChart.json", as: Carbon_Snbc_V1_RenderTrajectoryChartRequest.self)
    chart.referenceYear = 2012
    chart.companyPoints[0].year = 2012
    error = SNBCTest.failure { () throws(ModuleError) in
      _ = try ModuleHarness<SNBCModule>().call(SNBCTest.chart, chart, as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    }
    #expect(error?.field == "snbc.reference_year.ams_starts_2015")
  }
}
