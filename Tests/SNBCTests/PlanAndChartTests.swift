import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
#if canImport(FoundationXML)
  import FoundationXML
#endif
import Testing

@testable import SNBCModule

@Suite("PlanAndMonitor and RenderTrajectoryChart", .cpuBound)
struct PlanAndChartTests {
  func plan(_ request: Carbon_Snbc_V1_PlanAndMonitorRequest) throws(ModuleError) -> Carbon_Snbc_V1_PlanAndMonitorResponse {
    try ModuleHarness<SNBCModule>().call(SNBCTest.plan, request, as: Carbon_Snbc_V1_PlanAndMonitorResponse.self)
  }

  @Test("linear plan between objectives; significant gaps and repeated overshoots by hand")
  func planAndMonitor() throws {
    let request = try SNBCTest.example("PlanAndMonitor.json", as: Carbon_Snbc_V1_PlanAndMonitorRequest.self)
    let response = try plan(request)
    // 50000 (2020) → 48000 (2025): −400/yr; → 45000 (2030): −600/yr; → 2000 (2050): −2150/yr.
    #expect(response.annualPlan.count == 31)
    #expect(response.annualPlan[3].plannedTCo2E == 48800)
    #expect(response.annualPlan[7].plannedTCo2E == 46800)
    #expect(abs(response.annualPlan[11].plannedTCo2E - 42850) < 1e-9)
    #expect(response.annualPlan.filter(\.isObjective).map(\.year) == [2020, 2025, 2030, 2050])
    // 2022: 52000 vs 49200 → +2800 = 5.69 % > 5 % → significant.
    #expect(response.monitoring.significantGapYears == [2022])
    #expect(response.monitoring.repeatedOvershoots.map(\.years) == [[2021, 2022], [2024, 2025]])
    #expect(response.monitoring.explanationRequired)
  }

  @Test("thresholds: defaults are decisions; a longer run length drops short runs")
  func thresholds() throws {
    var request = try SNBCTest.example("PlanAndMonitor.json", as: Carbon_Snbc_V1_PlanAndMonitorRequest.self)
    request.significantGapPercent = 0
    request.repeatedOvershootYears = 3
    let response = try plan(request)
    #expect(response.trace.decisions.contains { $0.rule == "monitoring.significant_gap_percent" && $0.choice == "5" })
    #expect(response.monitoring.repeatedOvershoots.isEmpty)
    // Significant gap 2022 is an overshoot: explanation still required.
    #expect(response.monitoring.explanationRequired)
    request.significantGapPercent = 6
    #expect(try plan(request).monitoring.explanationRequired == false)
  }

  @Test("invalid plans name the field")
  func invalidPlans() throws {
    var request = try SNBCTest.example("PlanAndMonitor.json", as: Carbon_Snbc_V1_PlanAndMonitorRequest.self)
    request.objectives[1].year = 2024
    var error = SNBCTest.failure { () throws(ModuleError) in _ = try plan(request) }
    #expect(error?.field == "objectives[1].year")
    request = try SNBCTest.example("PlanAndMonitor.json", as: Carbon_Snbc_V1_PlanAndMonitorRequest.self)
    request.actuals[2].year = 2021
    error = SNBCTest.failure { () throws(ModuleError) in _ = try plan(request) }
    #expect(error?.field == "actuals[2].year")
    request = try SNBCTest.example("PlanAndMonitor.json", as: Carbon_Snbc_V1_PlanAndMonitorRequest.self)
    request.actuals[0].emissionsTCo2E = -1
    error = SNBCTest.failure { () throws(ModuleError) in _ = try plan(request) }
    #expect(error?.status == .invalidArgument && error?.field == "actuals[0].emissions_t_co2e")
    request.actuals[0].emissionsTCo2E = 1  // one fault at a time: the declared range is checked first
    request.objectives = []
    error = SNBCTest.failure { () throws(ModuleError) in _ = try plan(request) }
    #expect(error?.field == "objectives")
  }

  @Test("chart: both curves rebased to 100 at the reference year, SVG well formed and escaped")
  func chart() throws {
    var request = try SNBCTest.example("RenderTrajectoryChart.json", as: Carbon_Snbc_V1_RenderTrajectoryChartRequest.self)
    request.title = "A & B <test>"
    let response = try ModuleHarness<SNBCModule>().call(
      SNBCTest.chart, request, as: Carbon_Snbc_V1_RenderTrajectoryChartResponse.self)
    // chimie AMS S(2019) = 20.82; S(2030) = 14.2 → 68.2036.
    #expect(response.sectorIndex[0].index == 100)
    #expect(abs(response.sectorIndex[2].index - 1420 / 20.82) < 1e-9)
    #expect(response.companyIndex.map(\.index) == [100, 85, 70, 15])
    #expect(response.svg.contains("A &amp; B &lt;test&gt;"))
    #expect(!response.svg.contains("<test>"))
    #expect(response.svg.components(separatedBy: "class=\"actual\"").count == 3)
    let parser = XMLParser(data: Data(response.svg.utf8))
    #expect(parser.parse(), "the SVG must be well-formed XML")
  }
}
