import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// Rule 6 of issue 17 (§4.3.4): "Si les données ne sont pas cohérentes selon les différentes
/// sources, on considérera : Pour les variables observées liées à la production de
/// l'exploitation (SAU, SFP, UGB, assolement et effectifs animaux) : la valeur la plus
/// défavorable, i.e. la plus basse […] Pour les variables observées liées aux intrants […] :
/// la valeur la plus défavorable, i.e. la plus haute".
@Suite(.cpuBound) struct SourceReconciliationTests {
  @Test func productionTakesTheLowestInputsTheHighestAndEachIsListed() throws {
    // Declaration: steadyFarm A (50 ha SAU, 50 ha maize, 450 t sold, 4000 kg N), with 3000 kg N
    // declared in 2016.
    var farm = steadyFarm(id: "A")
    farm.years[1].inputs[0].purchases = 3000
    var request = Carbon_Sobac_V1_EvaluateLedgerCsvRequest()
    request.ledgerCsv = """
      farm_id,year,input,quantity,unit,crop
      A,2016,ammonium_nitrate_33_5,4000,kg_n,
      A,2017,sau_ha,52,ha,
      A,2017,crop_sold_t,420,t,maïs
      A,2018,ugb,5,ugb,
      A,2019,crop_area_ha,50,ha,maïs
      """
    request.project.farms = [farm]
    let response = try makeHarness().call(Path.evaluateCsv, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
    let items = response.reconciliations
    // The 2019 area agrees (50 = 50): nothing to reconcile, not listed.
    #expect(items.map(\.variable) == ["inputs[ammonium_nitrate_33_5]", "sau_ha", "crops[maïs].sold_t", "ugb"])
    #expect(items.map(\.keptValue) == [4000, 50, 420, 5])
    #expect(items.map(\.rule) == ["input: highest", "production: lowest", "production: lowest", "production: only in the ledger"])
    #expect(items.map(\.csvLine) == [2, 3, 4, 5])
    let result = response.farms[0]
    // Inputs: 4000 kg N kept in 2016.
    #expect(result.referenceYears[1].nMineralKg == 4000)
    // Production: 2017 maize 420 t / 50 ha = 8.4 t/ha (not 452/52...); reference mean
    // (4 × 9 + 8.4)/5 = 8.88 t/ha.
    let maize = try #require(result.cropYields.first)
    #expect(maize.yearlyYields.contains("2017: 8.4"))
    #expect(abs(maize.referenceMeanYield - 8.88) < 1e-12)
    #expect(response.trace.rules.contains { $0.rule == "sobac.sources.production_lowest" })
    #expect(response.trace.decisions.contains { $0.rule == "ledger_vs_report" && $0.choice == "PRODUCTION_LOWEST_INPUTS_HIGHEST" })
  }

  @Test func aLedgerCropTheDeclarationLacksIsRefusedWithItsLine() throws {
    var request = Carbon_Sobac_V1_EvaluateLedgerCsvRequest()
    request.ledgerCsv = "farm_id,year,input,quantity,unit,crop\nA,2017,crop_sold_t,40,t,soja\n"
    request.project.farms = [steadyFarm(id: "A")]
    #expect(error { _ = try makeHarness().call(Path.evaluateCsv, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self) }?.field
      == "ledger_csv[2].crop")
    request.ledgerCsv = "farm_id,year,input,quantity,unit,crop\nA,2017,sau_ha,40,t,\n"
    let wrongUnit = error { _ = try makeHarness().call(Path.evaluateCsv, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self) }
    #expect(wrongUnit?.field == "ledger_csv[2].unit")
    #expect(wrongUnit?.message.contains("line 2, column 5") == true)
  }

  /// ImportLedgerCsv reports the ledger's production variables in the farm-year fields.
  @Test func importReadsTheProductionVariables() throws {
    var request = Carbon_Sobac_V1_ImportLedgerCsvRequest()
    request.ledgerCsv = """
      farm_id;year;input;quantity;unit;crop
      A;2017;ugb;95,5;ugb;
      A;2017;milk_sold_hl;6685;hl;
      A;2017;crop_area_ha;60;ha;prairie
      A;2017;crop_produced_t;480;t;prairie
      A;2017;urea_46;1000;kg;
      """
    let response = try makeHarness().call(Path.importCsv, request, as: Carbon_Sobac_V1_ImportLedgerCsvResponse.self)
    let year = try #require(response.farms.first?.years.first)
    #expect(year.ugb == 95.5 && year.milkSoldHl == 6685)
    #expect(year.crops.count == 1 && year.crops[0].crop == "prairie")
    #expect(year.crops[0].areaHa == 60 && year.crops[0].producedT == 480)
    #expect(year.inputs.map(\.inputCode) == ["urea_46"])
    #expect(response.lines == 5)
  }
}
