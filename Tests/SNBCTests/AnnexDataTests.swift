import CarbonDomain
import CarbonPluginKit
import CarbonPluginTesting
import CarbonTestSupport
import Foundation
import Testing

@testable import SNBCModule

/// Every value of Annexes I and II is retrievable through the RPCs and equals the seed.
///
/// `seedRows` is the seed's tables transcribed verbatim (tab-separated, decimal commas, "-"
/// for empty cells, HTML sub-tags removed), each line prefixed with the series id it must be
/// served under, its table and the column layout:
/// - `I`: 1990, 2005, 2015 (historical), then the 2nd, 3rd, 4th budget period averages;
/// - `I4:<first year>`: five indicative annual parts from that year;
/// - `II`: observed 2015, 2019 (SECTEN 2020), then AMS 2015, 2025, 2030, 2050.
@Suite("Annex data equals the seed", .cpuBound)
struct AnnexDataTests {
  static let seedRows = #"""
budget.transport|I.A.1|I|Transports	122	144	137	128	112	94
budget.buildings|I.A.1|I|Bâtiment	91	109	88	78	60	43
budget.agriculture|I.A.1|I|Agriculture/ sylviculture (hors UTCATF)	94	90	89	82	77	72
budget.agriculture.n2o|I.A.1|I|dont N2O	40	38	37	35	33	31
budget.agriculture.ch4|I.A.1|I|dont CH4	43	40	40	37	34	32
budget.industry|I.A.1|I|Industrie	144	115	81	72	62	51
budget.energy_production|I.A.1|I|Production d'énergie	78	74	47	48	35	30
budget.waste|I.A.1|I|Déchets	17	21	17	14	12	10
budget.waste.ch4|I.A.1|I|dont CH4	14	19	15	12	10	8
budget.all_excl_lulucf|I.A.1|I|Tous domaines d'activité confondus (hors UTCATF)	546	553	458	422	359	300
budget.all_incl_lulucf|I.A.1|I|Tous domaines d'activité confondus (avec UTCATF)	521	505	417	383	320	258
budget.gas.co2_excl_lulucf|I.A.2|I|CO 2 (hors UTCATF)	398	424	338	315	265	214
budget.gas.n2o_excl_lulucf|I.A.2|I|N 2 O (hors UTCATF)	67	48	42	40	37	35
budget.gas.ch4_excl_lulucf|I.A.2|I|CH 4 (hors UTCATF)	69	64	58	52	47	44
budget.gas.fluorinated_excl_lulucf|I.A.2|I|Gaz fluorés (hors UTCATF)	12	17	20	15	9	7
budget.gas.total_excl_lulucf|I.A.2|I|Total (hors UTCATF)	546	553	458	422	359	300
budget.gas.co2_incl_lulucf|I.A.2|I|CO 2 (avec UTCATF)	368	372	293	273	225	169
budget.gas.n2o_incl_lulucf|I.A.2|I|N 2 O (avec UTCATF)	70	51	45	43	40	38
budget.gas.ch4_incl_lulucf|I.A.2|I|CH 4 (avec UTCATF)	70	65	59	53	48	45
budget.gas.fluorinated_incl_lulucf|I.A.2|I|Gaz fluorés (avec UTCATF)	12	17	20	15	9	7
budget.gas.total_incl_lulucf|I.A.2|I|Total (avec UTCATF)	521	505	417	383	320	258
budget.ets|I.A.3|I|Secteurs relevant du système communautaire d'échange de quotas d'émissions (hors aviation civile)	-	-	100	97	80	66
budget.esr|I.A.3|I|Secteurs non couverts par le marché d'échange de quotas d'émissions (hors aviation civile)	-	-	353	321	274	229
budget.domestic_aviation|I.A.3|I|Aviation civile domestique	-	-	5	5	5	4
budget.scope.total_excl_lulucf|I.A.3|I|Tous secteurs confondus (hors UTCATF)	546	553	458	422	359	300
budget.lulucf|I.A.3|I|Secteur UTCATF (Utilisation des Terres, Changements d'Affectation des Terres et Foresterie)	-26	-48	-41	-39	-38	-42
budget.scope.total_incl_lulucf|I.A.3|I|Tous secteurs confondus (avec UTCATF)	-	-	417	383	320	258
budget.all_excl_lulucf|I.A.4|I4:2019|Total (hors UTCATF)	443	436	423	410	397
budget.all_incl_lulucf|I.A.4|I4:2019|Total (avec UTCATF)	404	397	384	372	359
budget.all_excl_lulucf|I.A.4|I4:2024|Total (hors UTCATF)	384	370	358	347	335
budget.all_incl_lulucf|I.A.4|I4:2024|Total (avec UTCATF)	346	333	320	308	296
budget.all_excl_lulucf|I.A.4|I4:2029|Total (hors UTCATF)	323	310	298	286	273
budget.all_incl_lulucf|I.A.4|I4:2029|Total (avec UTCATF)	283	270	256	243	229
transport|II.1 transports|II|Emissions du secteur des transports (MtCO 2 eq)	138	135,9	136,6	115,6	98,8	3,7
transport.domestic_aviation|II.1 transports|II|Dont aviation domestique	4,7	5,4	4,6	4,7	4,6	1,9
transport.road|II.1 transports|II|Dont transport routier	130,6	127,7	129,3	108,4	91,9	0,8
transport.road.passenger_cars|II.1 transports|II|dont VP	73,8	69,5	73,1	55,5	43,3	0,0
transport.road.heavy_goods_vehicles|II.1 transports|II|dont PL (y.c. bus et cars)	28,7	30,5	28,5	27,6	26,3	0,8
transport.road.light_commercial_vehicles|II.1 transports|II|dont VUL	26,3	25,9	26,1	23,9	21,0	0,1
transport.road.two_wheelers|II.1 transports|II|dont 2RM	1,7	1,7	1,6	1,4	1,3	0,0
transport.rail|II.1 transports|II|Dont transport ferroviaire	0,5	0,4	0,4	0,2	0,1	0,0
transport.domestic_navigation|II.1 transports|II|Dont navigation domestique	1,1	1,2	1,3	1,3	1,2	0,1
transport.other|II.1 transports|II|Dont autres	1,1	1,1	1,1	1,0	1,0	1,0
transport.fluorinated|II.1 transports gaz fluores|II|Emissions de gaz fluorés dans le secteur des transports (MtCO 2 eq)	3,5	2,9	3,6	1,3	0,8	0,2
bunkers|II.1 soutes internationales|II|Emissions des soutes internationales (MtCO 2 eq)	23,1	24,4	23,1	27,0	29,3	13,5
bunkers.aviation|II.1 soutes internationales|II|Dont aviation internationale	17,5	18,8	17,5	19,1	21,4	11
bunkers.maritime|II.1 soutes internationales|II|Dont maritime internationale	5,6	5,6	5,6	5,6	5,6	2,5
industry|II.2 industrie|II|Emissions totales du secteur industrie (MtCO 2 eq)	80,5	78,3	81,7	64,9	53	16
industry.metallurgy|II.2 industrie|II|Dont métallurgie	19,5	19,4	20,3	15,5	12,7	4,8
industry.chemicals|II.2 industrie|II|Dont chimie	22,8	21,0	23,1	17,4	14,2	4,2
industry.non_metallic_minerals|II.2 industrie|II|Dont minéraux non-métallique (ciment, chaux, verre, etc.).	19,2	19,2	17,8	15,9	13,0	5,9
industry.food_beverages_tobacco|II.2 industrie|II|Dont agro-alimentaire, boissons et tabac	10,6	10,4	9,8	7,8	6,4	0,0
industry.equipment|II.2 industrie|II|Dont équipement	3,2	3,2	4,7	3,7	3,0	0,0
industry.paper_pulp|II.2 industrie|II|Dont papier-pâtes	2,5	2,4	2,6	1,8	1,4	0,0
industry.other|II.2 industrie|II|Dont autres secteurs (textile, bois, etc.)	2,7	2,6	3,4	2,8	2,3	1,1
industry.fluorinated|II.2 industrie gaz fluores|II|Emissions de gaz fluorés dans le secteur de l'industrie (MtCO 2 eq)	5,5	4,9	5,8	2,9	2	1
energy_production|II.3 production d'energie|II|Production d'énergie	46,7	45,8	46,6	35,8	31,3	2,2
energy_production.electricity|II.3 production d'energie|II|Dont électricité	21,4	20,9	26,4	18,8	16,7	0,0
energy_production.heat|II.3 production d'energie|II|Dont chaleur	4,3	4,1	5,4	3,7	2,9	0,8
energy_production.refining|II.3 production d'energie|II|Dont raffinage	10,5	8,7	7,7	7,7	6,8	0,0
energy_production.other|II.3 production d'energie|II|Dont autres (émissions fugitives, production de combustibles solides, etc.)	10,6	12,1	7,1	5,6	4,9	1,4
buildings|II.4 batiment|II|Emissions du secteur du bâtiment (MtCO 2 eq)	89,1	80,8	93,4	64,5	45	5
buildings.residential|II.4 batiment|II|Dont résidentiel	49,9	47,2	54,7	43,5	30,9	2,9
buildings.tertiary|II.4 batiment|II|Dont tertiaire	39,2	33,7	38,7	21,0	13,6	1,7
buildings.fluorinated|II.4 batiment gaz fluores|II|Emissions de gaz fluorés dans le secteur du bâtiment (MtCO 2 eq)	10,5	8,4	11,2	5,2	3,6	1,4
waste|II.5 dechets|II|Emissions du secteur des déchets (MtCO 2 eq)	15	14,2	16,8	11,9	11	6
agriculture|II.6 agriculture|II|Emissions du secteur agricole (MtCO 2 eq)	88,2	85,5	89,1	77,6	73	48
agriculture.crops|II.6 agriculture|II|Dont cultures	35,2	34,2	35,5	31,7	30,2	21,1
agriculture.livestock|II.6 agriculture|II|Dont élevage	42,0	40,7	42,3	36,7	34,7	26,8
agriculture.energy|II.6 agriculture|II|Dont énergie	11,1	10,5	12,1	9,2	8,1	0,08
agriculture.ch4|II.6 agriculture CH4 et N2O|II|Emissions de méthane dans le secteur de l'agriculture (MtCO 2 eq)	39,4	38,2	39,8	34,8	32,8	26,1
agriculture.n2o|II.6 agriculture CH4 et N2O|II|Emissions de protoxyde d'azote dans le secteur de l'agriculture (MtCO 2 eq)	36,7	35,6	37,1	33,3	31,5	20,3
lulucf|II.7 UTCATF|II|UTCATF (MtCO 2 eq)	-26,6	-25,8	-40,8	-37,7	-40	-67
lulucf.forest|II.7 UTCATF|II|Dont Forêt	-49,9	-49,5	-60,1	-48,6	-43,2	-35,2
lulucf.land_use|II.7 UTCATF|II|Dont Utilisation des sols	12,5	12,9	9,4	4,5	-0,3	-14
lulucf.wood_products|II.7 UTCATF|II|Dont produits bois	-1,2	-0,9	-1,9	-5,0	-6,9	-20,8
lulucf.artificialisation|II.7 UTCATF|II|Dont artificialisation	11,9	11,8	11,8	11,2	10,2	3,2
"""#

  /// One seed value with where it must appear.
  struct SeedValue {
    let seriesId: String
    let table: String
    let label: String
    let basis: Carbon_Snbc_V1_SeriesBasis
    let yearStart: Int32
    let yearEnd: Int32
    let value: Double
  }

  static func seedValues() throws -> [SeedValue] {
    var values: [SeedValue] = []
    for line in seedRows.split(separator: "\n") {
      let parts = line.split(separator: "|", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
      try #require(parts.count == 4, "bad transcription line \(line)")
      let cells = parts[3].split(separator: "\t", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      let label = cells[0]
      let numbers = Array(cells.dropFirst())
      let columns: [(Carbon_Snbc_V1_SeriesBasis, Int32, Int32)]
      switch parts[2] {
      case "I":
        columns = [(.historical, 1990, 1990), (.historical, 2005, 2005), (.historical, 2015, 2015),
                   (.budgetPeriodAverage, 2019, 2023), (.budgetPeriodAverage, 2024, 2028),
                   (.budgetPeriodAverage, 2029, 2033)]
      case "II":
        columns = [(.observedSecten2020, 2015, 2015), (.observedSecten2020, 2019, 2019),
                   (.projectedAms2018, 2015, 2015), (.projectedAms2018, 2025, 2025),
                   (.projectedAms2018, 2030, 2030), (.projectedAms2018, 2050, 2050)]
      default:
        let first = try #require(Int32(parts[2].dropFirst(3)))
        columns = (0..<5).map { (.indicativeAnnualPart, first + $0, first + $0) }
      }
      try #require(numbers.count == columns.count, "\(label): \(numbers.count) cells")
      for (cell, column) in zip(numbers, columns) where cell != "-" {
        let value = try #require(Double(cell.replacingOccurrences(of: ",", with: ".")), "\(label): \(cell)")
        values.append(SeedValue(
          seriesId: parts[0], table: parts[1], label: label, basis: column.0, yearStart: column.1,
          yearEnd: column.2, value: value))
      }
    }
    return values
  }

  @Test("every seed value is served by GetReferenceSeries with its table and label")
  func everyValueRetrievable() throws {
    let harness = try ModuleHarness<SNBCModule>()
    let values = try Self.seedValues()
    #expect(values.count == 448)
    var cache: [String: Carbon_Snbc_V1_ReferenceSeries] = [:]
    for seed in values {
      let series: Carbon_Snbc_V1_ReferenceSeries
      if let cached = cache[seed.seriesId] {
        series = cached
      } else {
        var request = Carbon_Snbc_V1_GetReferenceSeriesRequest()
        request.seriesID = seed.seriesId
        series = try harness.call(
          "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self
        ).series
        cache[seed.seriesId] = series
      }
      let matches = series.points.filter {
        $0.basis == seed.basis && $0.yearStart == seed.yearStart && $0.yearEnd == seed.yearEnd
          && $0.table == seed.table
      }
      #expect(matches.count == 1, "\(seed.seriesId) \(seed.table) \(seed.yearStart): \(matches.count) points")
      #expect(matches.first?.valueMtCo2E == seed.value, "\(seed.seriesId) \(seed.yearStart) \(seed.basis)")
      #expect(matches.first?.labelFr == seed.label, "\(seed.seriesId) label")
    }
  }

  @Test("the embedded data holds nothing but the seed values (plus the flagged derived series)")
  func nothingElseEmbedded() throws {
    let harness = try ModuleHarness<SNBCModule>()
    let response = try harness.call(
      "/carbon.snbc.v1.Snbc/ListReferenceSeries", Carbon_Snbc_V1_ListReferenceSeriesRequest(),
      as: Carbon_Snbc_V1_ListReferenceSeriesResponse.self)
    let printed = response.series.filter { !$0.derived }.reduce(0) { $0 + $1.points.count }
    #expect(printed == (try Self.seedValues()).count)
    let derived = response.series.filter(\.derived)
    #expect(derived.map(\.id) == ["all_sectors", "transport.road.light_vehicles"])
    // Sum of the six Annex II sector totals (AMS): 136.6+93.4+89.1+81.7+46.6+16.8 = 464.2 in
    // 2015; 115.6+64.5+77.6+64.9+35.8+11.9 = 370.3 in 2025; 98.8+45+73+53+31.3+11 = 312.1 in
    // 2030; 3.7+5+48+16+2.2+6 = 80.9 in 2050.
    let sums = derived.first?.points.map(\.valueMtCo2E) ?? []
    #expect(sums.count == 4)
    for (value, expected) in zip(sums, [464.2, 370.3, 312.1, 80.9]) { #expect(abs(value - expected) < 1e-9) }
  }

  @Test("sub-sectors add up to their totals except the seed's known inconsistencies (kept as printed)")
  func subSectorSums() throws {
    let harness = try ModuleHarness<SNBCModule>()
    let all = try harness.call(
      "/carbon.snbc.v1.Snbc/ListReferenceSeries", Carbon_Snbc_V1_ListReferenceSeriesRequest(),
      as: Carbon_Snbc_V1_ListReferenceSeriesResponse.self
    ).series.filter { !$0.id.hasPrefix("budget.") && !$0.derived }
    var mismatches: [String] = []
    for parent in all {
      // Gas-specific children (fluorinated, CH4, N2O) are shares, not parts of a partition.
      let children = all.filter { $0.parentID == parent.id && $0.gas == .unspecified }
      guard !children.isEmpty else { continue }
      for point in parent.points {
        let sum = children.compactMap { child in
          child.points.first { $0.basis == point.basis && $0.yearStart == point.yearStart }?.valueMtCo2E
        }.reduce(0, +)
        if abs(sum - point.valueMtCo2E) > 0.45 {
          mismatches.append("\(parent.id) \(point.basis == .projectedAms2018 ? "AMS" : "OBS") \(point.yearStart)")
        }
      }
    }
    // Bunkers AMS 2025: 27.0 printed vs 19.1 + 5.6 = 24.7; 2030: 29.3 vs 21.4 + 5.6 = 27.0;
    // agriculture AMS 2015: 89.1 vs 35.5 + 42.3 + 12.1 = 89.9; buildings AMS 2030: 45 vs 44.5.
    #expect(mismatches.sorted() == ["agriculture AMS 2015", "buildings AMS 2030", "bunkers AMS 2025", "bunkers AMS 2030"])
  }

  @Test("the transcription in this test is the seed's own text")
  func transcriptionMatchesSeedFile() throws {
    // The seeds live in shared/, beside the repository (as on every developer machine and in CI).
    let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
    let seedPath = repositoryRoot.appendingPathComponent("../shared/seeds/snbc-company-trajectory-guide.txt").standardized.path
    let text = try #require(try? String(contentsOfFile: seedPath, encoding: .utf8), "seed not found at \(seedPath)")
    let cleaned = text.replacingOccurrences(of: "<[^>]+>", with: "", options: .regularExpression)
    let seedLines = Set(cleaned.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
    for line in Self.seedRows.split(separator: "\n") {
      let row = line.split(separator: "|", maxSplits: 3).last.map(String.init) ?? ""
      #expect(seedLines.contains(row.trimmingCharacters(in: .whitespaces)), "not in the seed: \(row)")
    }
  }

  @Test("interpolation between 2015 and 2025 by hand, flagged; printed years not flagged")
  func interpolationByHand() throws {
    let harness = try ModuleHarness<SNBCModule>()
    var request = Carbon_Snbc_V1_GetReferenceSeriesRequest()
    request.seriesID = "transport.road.heavy_goods_vehicles"
    request.year = 2018
    // PL AMS: 28.5 (2015), 27.6 (2025): 28.5 + (27.6 − 28.5) × 3/10 = 28.23.
    let response = try harness.call(
      "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self)
    #expect(abs(response.value.valueMtCo2E - 28.23) < 1e-12)
    #expect(response.value.interpolated)
    #expect(response.value.lowerYear == 2015 && response.value.upperYear == 2025)
    #expect(response.trace.decisions.contains { $0.rule == "interpolation" })
    request.year = 2025
    let printed = try harness.call(
      "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self)
    #expect(printed.value.valueMtCo2E == 27.6)
    #expect(!printed.value.interpolated)
    // Observed basis: 2017 between 28.7 (2015) and 30.5 (2019): 28.7 + 1.8 × 2/4 = 29.6.
    request.year = 2017
    request.basis = .observedSecten2020
    let observed = try harness.call(
      "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self)
    #expect(abs(observed.value.valueMtCo2E - 29.6) < 1e-12)
  }

  @Test("Annex I budget path: annual parts where printed, period averages at mid-period otherwise")
  func budgetPath() throws {
    let harness = try ModuleHarness<SNBCModule>()
    var request = Carbon_Snbc_V1_GetReferenceSeriesRequest()
    // Industry: 81 (2015), 72 placed at 2021: 2018 = 81 + (72 − 81) × 3/6 = 76.5.
    request.seriesID = "budget.industry"
    request.year = 2018
    let industry = try harness.call(
      "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self)
    #expect(abs(industry.value.valueMtCo2E - 76.5) < 1e-12)
    #expect(industry.value.interpolated)
    // Period averages on their own basis: 2026 is the 3rd budget average, 62.
    request.year = 2026
    request.basis = .budgetPeriodAverage
    let average = try harness.call(
      "/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self)
    #expect(average.value.valueMtCo2E == 62)
    #expect(!average.value.interpolated)
    // Beyond the budgets there is no value: no extrapolation.
    request.year = 2040
    request.basis = .unspecified
    #expect(throws: ModuleError.self) {
      try harness.call("/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self)
    }
    do {
      _ = try harness.call("/carbon.snbc.v1.Snbc/GetReferenceSeries", request, as: Carbon_Snbc_V1_GetReferenceSeriesResponse.self)
    } catch {
      #expect(error.status == .invalidArgument && error.field == "year")
    }
  }
}
