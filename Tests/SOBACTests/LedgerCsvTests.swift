import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// The ledger CSV import: one line per farm, year, input, quantity, unit.
@Suite(.cpuBound) struct LedgerCsvTests {
  func importCsv(_ text: String) throws -> Carbon_Sobac_V1_ImportLedgerCsvResponse {
    var request = Carbon_Sobac_V1_ImportLedgerCsvRequest()
    request.ledgerCsv = text
    return try makeHarness().call(Path.importCsv, request, as: Carbon_Sobac_V1_ImportLedgerCsvResponse.self)
  }

  @Test func linesAreGroupedByFarmAndYear() throws {
    let csv = #"""
      # export grand livre
      farm_id,year,input,quantity,unit,opening_stock,closing_stock,label
      A,2016,urea_46,1000,kg,,,"Urée ""perlée"""
      A,2015,plant_protection_generic,12.5,kg_as,1,2,
      B,2015,dolomite,3,t,,,
      """#
    let response = try importCsv(csv)
    #expect(response.lines == 3)
    #expect(response.farms.map(\.farmID) == ["A", "B"])
    #expect(response.farms[0].years.map(\.year) == [2015, 2016])
    #expect(response.farms[0].years[0].inputs[0].closingStock == 2)
    #expect(response.farms[0].years[1].inputs[0].label == "Urée \"perlée\"")
    #expect(response.farms[1].years[0].inputs[0].unit == .tProduct)
  }

  /// The carbonate share of a fertiliser mix (Eq. 12) is read like the grades, within 0–100 %.
  @Test func carbonatePercentIsReadAndBounded() throws {
    let response = try importCsv("farm_id,year,input,quantity,unit,carbonate_percent\nA,2019,calcium_ammonium_nitrate_27,1000,kg,20\n")
    #expect(response.farms[0].years[0].inputs[0].carbonatePercent == 20)
    let failure = error { _ = try importCsv("farm_id,year,input,quantity,unit,carbonate_percent\nA,2019,calcium_ammonium_nitrate_27,1000,kg,150\n") }
    #expect(failure?.field == "ledger_csv[2].carbonate_percent")
  }

  @Test func semicolonsAndDecimalCommas() throws {
    let response = try importCsv("farm_id;year;input;quantity;unit\r\nA;2019;urea_46;12,5;kg_n\r\n")
    #expect(response.farms[0].years[0].inputs[0].purchases == 12.5)
    #expect(response.farms[0].years[0].inputs[0].unit == .kgN)
  }

  /// A spreadsheet's export: BOM, `;`, a label spanning two lines inside quotes, an empty row
  /// written as `;;;;;`. Line numbers in errors count the file's lines, the label's break included.
  @Test func spreadsheetExportsWithMultiLineLabelsAndEmptyRows() throws {
    let csv = "\u{FEFF}farm_id;year;input;quantity;unit;label\r\nA;2019;urea_46;12,5;kg_n;\"lot 1;\r\nlivré en mars\"\r\n;;;;;\r\nA;2019;dolomite;3;t;\r\n"
    let response = try importCsv(csv)
    #expect(response.lines == 2)
    #expect(response.farms[0].years[0].inputs.map(\.label) == ["lot 1;\nlivré en mars", ""])
    let failure = error { _ = try importCsv(csv + "A;2019;dolomite;x;t;\r\n") }
    #expect(failure?.field == "ledger_csv[6].quantity", "the sixth line of the file")
  }

  @Test(arguments: [
    ("farm_id,year,input,quantity\nA,2019,urea_46,1\n", "ledger_csv[1].unit"),
    ("farm_id,year,input,quantity,unit\nA,2019,urea_46,-1,kg\n", "ledger_csv[2].quantity"),
    ("farm_id,year,input,quantity,unit\nA,2019,urea_46,1,kg\nA,20x9,urea_46,1,kg\n", "ledger_csv[3].year"),
    ("farm_id,year,input,quantity,unit\nA,2019,urea_46,1,bags\n", "ledger_csv[2].unit"),
    ("farm_id,year,input,quantity,unit\nA,2019,urea_46,1\n", "ledger_csv[2]"),
    ("farm_id,year,input,quantity,unit\n,2019,urea_46,1,kg\n", "ledger_csv[2].farm_id"),
    ("farm_id,year,input,quantity,unit\n", "ledger_csv"),
    ("", "ledger_csv"),
  ])
  func errorsNameLineAndColumn(csv: String, field: String) throws {
    let failure = error { _ = try importCsv(csv) }
    #expect(failure?.status == .invalidArgument)
    #expect(failure?.field == field)
  }

  @Test func columnNumberIsInTheMessage() {
    let failure = error { _ = try importCsv("farm_id,year,input,quantity,unit\nA,2019,urea_46,abc,kg\n") }
    #expect(failure?.message.contains("line 2, column 4 (quantity)") == true)
  }

  /// Issue 20 point 1: "Every numeric input has a documented physical range". A value read
  /// from the ledger is held to the range sobac.proto declares for the field it fills, as the
  /// same value sent in a request is: a CSV is not a way around it.
  @Test func ledgerValuesAreHeldToTheDeclaredRanges() {
    let percent = error { _ = try importCsv("farm_id,year,input,quantity,unit,n_percent\nA,2019,urea_46,1,kg,250\n") }
    #expect(percent?.field == "ledger_csv[2].n_percent")
    #expect(percent?.message == "ledger_csv[2].n_percent: line 2, column 6 (n_percent): must be between 0 and 100 %, got 250")
    // quantity fills InputLine.purchases (0 to 1e9 per line unit) …
    let huge = error { _ = try importCsv("farm_id,year,input,quantity,unit\nA,2019,urea_46,1e300,kg\n") }
    #expect(huge?.field == "ledger_csv[2].quantity")
    #expect(huge?.message.hasSuffix("must be between 0 and 1000000000 line unit, got 1e+300") == true)
    // … and a production variable's quantity fills its FarmYear or CropYear field.
    let farmArea = error { _ = try importCsv("farm_id,year,input,quantity,unit\nA,2019,sau_ha,2e5,ha\n") }
    #expect(farmArea?.message.hasSuffix("must be between 0 and 100000 ha, got 200000") == true)
    let cropArea = error { _ = try importCsv("farm_id,year,input,quantity,unit,crop\nA,2019,crop_area_ha,2e5,ha,blé\n") }
    #expect(cropArea?.field == "ledger_csv[2].quantity")
    #expect(cropArea?.message.hasSuffix("must be between 0 and 100000 ha, got 200000") == true)
  }

  @Test func evaluateMergesTheLedgerIntoTheFarms() throws {
    var farm = steadyFarm(id: "A")
    for index in farm.years.indices { farm.years[index].inputs = [] }
    var csv = "farm_id,year,input,quantity,unit\n"
    for year in 2015...2024 {
      csv += "A,\(year),ammonium_nitrate_33_5,\(year < 2020 ? 4000 : 2000),kg_n\n"
      csv += "A,\(year),plant_protection_generic,\(year < 2020 ? 20 : 10),kg_as\n"
    }
    var request = Carbon_Sobac_V1_EvaluateLedgerCsvRequest()
    request.ledgerCsv = csv
    request.project.farms = [farm]
    let harness = try makeHarness()
    let response = try harness.call(Path.evaluateCsv, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
    let direct = try evaluate(steadyFarm(id: "A"))
    #expect(abs(response.farms[0].finalReductionTCo2E - direct.finalReductionTCo2E) < 1e-9)

    // A line for an unknown farm or year names the CSV line.
    request.ledgerCsv = csv + "Z,2019,urea_46,1,kg\n"
    #expect(error { _ = try harness.call(Path.evaluateCsv, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self) }?.field
      == "ledger_csv[22].farm_id")
    request.ledgerCsv = csv + "A,2030,urea_46,1,kg\n"
    #expect(error { _ = try harness.call(Path.evaluateCsv, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self) }?.field
      == "ledger_csv[22].year")
  }

  @Test func ledgerAndReportDisagreeTheHighestInputWins() throws {
    // The report says 3000 kg N in 2016, the ledger 4000: 4000 is kept (§4.3.4).
    var farm = steadyFarm(id: "A")
    farm.years[1].inputs[0].purchases = 3000
    var request = Carbon_Sobac_V1_EvaluateLedgerCsvRequest()
    request.ledgerCsv = "farm_id,year,input,quantity,unit\nA,2016,ammonium_nitrate_33_5,4000,kg_n\n"
    request.project.farms = [farm]
    let response = try makeHarness().call(Path.evaluateCsv, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
    #expect(response.farms[0].referenceYears[1].inputs.count == 2)
    #expect(response.farms[0].referenceYears[1].nMineralKg == 4000)
    #expect(response.trace.rules.contains { $0.rule == "sobac.sources.inputs_highest" })
  }
}
