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
    #expect(items.map(\.rule) == ["input: highest in mineral N, upstream emissions (values: consumption in kgN)", "production: lowest", "production: lowest", "production: only in the ledger"])
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

  /// EvaluateLedgerCsv of `farm` with `csv`.
  func evaluateLedger(_ farm: Farm, _ csv: String) throws -> Carbon_Sobac_V1_CollectiveProjectResponse {
    var request = Carbon_Sobac_V1_EvaluateLedgerCsvRequest()
    request.ledgerCsv = csv
    request.project.farms = [farm]
    return try makeHarness().call(Path.evaluateCsv, request, as: Carbon_Sobac_V1_CollectiveProjectResponse.self)
  }

  /// §4.3.4 « Pour les variables observées liées aux intrants de l'exploitation (achats annuels
  /// d'engrais, chaux et produits phytopharmaceutiques […]) : la valeur la plus défavorable,
  /// i.e. la plus haute parmi les sources à disposition », the variable being the year's
  /// consumption (§6: « achats auxquels on ajoute la variation de stock »): a source's lines of
  /// one input are summed before the sources are compared, whatever their labels (audit
  /// sobac.md, finding 1, cases a, a′ and b).
  @Test func eachSourceIsSummedPerInputBeforeTheHighestIsKept() throws {
    // 1 kg N of ammonium nitrate: 3.97 + 0.01974 × 44/28 × 265 = 12.190300 kg CO2e.
    #expect(abs(3.97 + fieldN2OPerKgMineralN - 12.1903) < 1e-6)
    let base = try evaluate(auditFarm())
    #expect(abs(base.finalReductionTCo2E - 61.9376) < 1e-4)
    let twoInvoices = """
      farm_id,year,input,quantity,unit,label
      F1,2020,ammonium_nitrate_33_5,1500,kg_n,facture 12
      F1,2020,ammonium_nitrate_33_5,1000,kg_n,facture 31
      """

    // (a) The declaration does not give ammonium nitrate in 2020: the ledger's two invoices are
    // the consumption, 2500 kg N. 61.9376 − 500 × 12.1903 / 1000 = 55.8424 t (not 68.0328).
    var withoutNitrogen = auditFarm()
    withoutNitrogen.years[5].inputs.removeFirst()
    let a = try evaluateLedger(withoutNitrogen, twoInvoices)
    #expect(a.farms[0].projectYears[0].nMineralKg == 2500)
    #expect(abs(a.farms[0].finalReductionTCo2E - 55.8424) < 1e-4)
    #expect(a.reconciliations.isEmpty)

    // (a′) The declaration says 2000 kg N: ledger 1500 + 1000 = 2500 > 2000, 2500 kept: 55.8424 t
    // (not 61.9376), one disagreement listed at the variable's first line.
    let aPrime = try evaluateLedger(auditFarm(), twoInvoices)
    #expect(aPrime.farms[0].projectYears[0].nMineralKg == 2500)
    #expect(aPrime.farms[0].projectYears[0].inputs.map(\.label) == ["facture 12", "facture 31", "Produit phytopharmaceutique générique"])
    #expect(abs(aPrime.farms[0].finalReductionTCo2E - 55.8424) < 1e-4)
    #expect(aPrime.reconciliations.count == 1)
    let record = try #require(aPrime.reconciliations.first)
    #expect(record.variable == "inputs[ammonium_nitrate_33_5]" && record.rule == "input: highest in mineral N, upstream emissions (values: consumption in kgN)" && record.csvLine == 2)
    #expect(record.ledgerValue == 2500 && record.declaredValue == 2000 && record.keptValue == 2500)

    // The ledger's total lower (1000 + 500 = 1500 < 2000): the declaration's 2000 stays, 61.9376 t.
    let lower = try evaluateLedger(
      auditFarm(), "farm_id,year,input,quantity,unit\nF1,2020,ammonium_nitrate_33_5,1000,kg_n\nF1,2020,ammonium_nitrate_33_5,500,kg_n\n")
    #expect(lower.farms[0].projectYears[0].nMineralKg == 2000)
    #expect(abs(lower.farms[0].finalReductionTCo2E - 61.9376) < 1e-4)
    #expect(lower.reconciliations.map(\.keptValue) == [2000])

    // (b) Same 2000 kg N, the declaration's line labelled and the ledger's not: one variable,
    // max(2000, 2000) = 2000 kept, 61.9376 t (not 4000 kg N and 37.557 t), nothing to reconcile.
    var labelled = auditFarm()
    labelled.years[5].inputs[0].label = "Ammonitrate 33.5 facture 12"
    let b = try evaluateLedger(labelled, "farm_id,year,input,quantity,unit\nF1,2020,ammonium_nitrate_33_5,2000,kg_n\n")
    #expect(b.farms[0].projectYears[0].nMineralKg == 2000)
    #expect(abs(b.farms[0].finalReductionTCo2E - 61.9376) < 1e-4)
    #expect(b.reconciliations.isEmpty)
  }

  /// Two sources giving one compound fertiliser with different grades may each be the higher in
  /// a different nutrient: « la plus haute parmi les sources » then names neither, and the
  /// request is refused at the ledger's line rather than a source picked silently.
  @Test func gradesThatRankTheSourcesDifferentlyAreRefused() throws {
    var farm = auditFarm()
    // Declaration: 1000 kg NPK 15-15-15 (150 kg N, 150 kg P2O5); ledger: 900 kg NPK 20-10-10
    // (180 kg N, 90 kg P2O5, 90 kg K2O): higher in N, lower in P2O5, K2O and upstream emissions
    // (180 × 3.97 + 90 × 1.83 + 90 × 0.71 = 943.2 < 150 × (3.97 + 1.83 + 0.71) = 976.5 kg CO2e).
    farm.years[5].inputs.append(line("npk", .kgProduct, 1000) { $0.nPercent = 15; $0.p2O5Percent = 15; $0.k2OPercent = 15 })
    let csv = "farm_id,year,input,quantity,unit,n_percent,p2o5_percent,k2o_percent\nF1,2020,npk,900,kg,20,10,10\n"
    let failure = error { _ = try evaluateLedger(farm, csv) }
    #expect(failure?.status == .invalidArgument)
    #expect(failure?.field == "ledger_csv[2].input")
    #expect(failure?.message.contains("the ledger is higher in mineral N, the declaration in P2O5, K2O, upstream emissions") == true)
    // Same grades, 1200 kg in the ledger: 1200 > 1000 in every nutrient, the ledger's line kept:
    // 2020 N = 2000 + 1200 × 15 % = 2180 kg.
    let kept = try evaluateLedger(farm, "farm_id,year,input,quantity,unit,n_percent,p2o5_percent,k2o_percent\nF1,2020,npk,1200,kg,15,15,15\n")
    #expect(kept.farms[0].projectYears[0].nMineralKg == 2180)
    #expect(kept.reconciliations.map(\.keptValue) == [1200])
  }

  /// §4.3.4 « Pour les variables observées liées à la production de l'exploitation (SAU, SFP,
  /// UGB, assolement et effectifs animaux) : la valeur la plus défavorable, i.e. la plus basse
  /// parmi les sources à disposition ». The crop's area is its total (footnote 33: « SAU totale
  /// de la culture i »): the ledger's lines of one crop are summed, then the lowest source kept.
  @Test func cropAreasAreSummedPerSourceThenTheLowestKept() throws {
    // steadyFarm: maize 50 ha selling 450 t (9 t/ha) every year.
    // 2017: ledger 30 + 25 = 55 ha > 50 declared: 50 kept, 9 t/ha (the line-by-line reading kept
    // 25 ha and 18 t/ha). 2018: ledger 30 + 15 = 45 < 50: 45 kept, 450 / 45 = 10 t/ha.
    var farm = steadyFarm(id: "A")
    // 2018 declared in two lines (30 + 20 ha, 270 + 180 t): scaled by 45/50 to 27 + 18 ha.
    farm.years[3].crops = [crop("maïs", area: 30, sold: 270, ift: "mais_grain"), crop("maïs", area: 20, sold: 180, ift: "mais_grain")]
    let response = try evaluateLedger(farm, """
      farm_id,year,input,quantity,unit,crop
      A,2017,crop_area_ha,30,ha,maïs
      A,2017,crop_area_ha,25,ha,maïs
      A,2018,crop_area_ha,30,ha,maïs
      A,2018,crop_area_ha,15,ha,maïs
      """)
    #expect(response.reconciliations.map(\.variable) == ["crops[maïs].area_ha", "crops[maïs].area_ha"])
    #expect(response.reconciliations.map(\.ledgerValue) == [55, 45])
    #expect(response.reconciliations.map(\.keptValue) == [50, 45])
    #expect(response.reconciliations.map(\.csvLine) == [2, 4])
    let maize = try #require(response.farms[0].cropYields.first)
    #expect(maize.yearlyYields.contains("2017: 9.0"))
    #expect(maize.yearlyYields.contains("2018: 10.0"))
    // Reference mean (4 × 9 + 10) / 5 = 9.2 t/ha.
    #expect(abs(maize.referenceMeanYield - 9.2) < 1e-12)
  }

  /// ImportLedgerCsv reports the ledger's production variables in the farm-year fields.
  @Test func importReadsTheProductionVariables() throws {
    var request = Carbon_Sobac_V1_ImportLedgerCsvRequest()
    request.ledgerCsv = """
      farm_id;year;input;quantity;unit;crop
      A;2017;ugb;95,5;ugb;
      A;2017;milk_sold_hl;6685;hl;
      A;2017;crop_area_ha;45;ha;prairie
      A;2017;crop_area_ha;15;ha;prairie
      A;2017;crop_produced_t;480;t;prairie
      A;2017;urea_46;1000;kg;
      """
    let response = try makeHarness().call(Path.importCsv, request, as: Carbon_Sobac_V1_ImportLedgerCsvResponse.self)
    let year = try #require(response.farms.first?.years.first)
    #expect(year.ugb == 95.5 && year.milkSoldHl == 6685)
    #expect(year.crops.count == 1 && year.crops[0].crop == "prairie")
    // Two parcels of one crop: 45 + 15 = 60 ha, its total (the later line used to replace the first).
    #expect(year.crops[0].areaHa == 60 && year.crops[0].producedT == 480)
    #expect(year.inputs.map(\.inputCode) == ["urea_46"])
    #expect(response.lines == 6)
  }
}

/// The second audit's ledger cases (audit2/sobac.md, fix 1 defects A and B, finding 5).
extension SourceReconciliationTests {
  /// Annex 3's preamble gives every input it does not list its own manufacturer LCA
  /// (Tableau 6: « le fabricant se doit de fournir une évaluation des émissions de GES issue
  /// d'une Analyse de Cycle de Vie (ACV) de chaque produit »), and §4.3.4 keeps « la plus haute
  /// parmi les sources » per variable: two `other_lca` products with different factors are two
  /// variables, never one total in kg.
  @Test func otherLcaProductsWithDifferentFactorsAreDifferentVariables() throws {
    // Declaration 2020: "Biostimulant A" 1000 kg × 2.0; ledger: "Organo B" 1200 kg × 1.5. Each
    // is only in one source, so both count: 61.9376 − (2000 + 1800) / 1000 = 58.1376 t (the
    // merged variable dropped B: 59.9376 t).
    var farm = auditFarm()
    farm.years[5].inputs.append(line("other_lca", .kgProduct, 1000) { $0.label = "Biostimulant A"; $0.lcaKgCo2EPerUnit = 2.0 })
    let header = "farm_id,year,input,quantity,unit,label,lca_kg_co2e_per_unit\n"
    let apart = try evaluateLedger(farm, header + "F1,2020,other_lca,1200,kg,Organo B,1.5\n")
    #expect(abs(apart.farms[0].finalReductionTCo2E - 58.1376) < 1e-9)
    #expect(apart.reconciliations.isEmpty)
    // Both products in both sources: A 1000 declared / 800 booked, B 500 / 900. Per product the
    // highest: A 1000 × 2.0 + B 900 × 1.5 = 3350 kg CO2e (one kg total kept the ledger's
    // 800 × 2.0 + 900 × 1.5 = 2950): 61.9376 − 3.35 = 58.5876 t.
    farm.years[5].inputs.append(line("other_lca", .kgProduct, 500) { $0.label = "Organo B"; $0.lcaKgCo2EPerUnit = 1.5 })
    let both = try evaluateLedger(farm, header + "F1,2020,other_lca,800,kg,Biostimulant A,2.0\nF1,2020,other_lca,900,kg,Organo B,1.5\n")
    #expect(abs(both.farms[0].finalReductionTCo2E - 58.5876) < 1e-9)
    #expect(both.reconciliations.map(\.variable) == ["inputs[other_lca @ 2.0 kg CO2e/unit]", "inputs[other_lca @ 1.5 kg CO2e/unit]"])
    #expect(both.reconciliations.map(\.keptValue) == [1000, 900])
  }

  /// The record says on what the sources were ranked: the values are consumption in the lines'
  /// unit, the ranking is on the quantities the factors apply to (Tableau 2: « ramenés en unités
  /// fertilisantes N, P₂O₅ et K₂O »), so a lower consumption may be the highest source.
  @Test func theRecordNamesTheRankingBasis() throws {
    // Declaration NPK 15-15-15 1000 kg (150 kg of each nutrient); ledger NPK 10-10-10 1100 kg
    // (110 of each): the declaration is the higher in N, P2O5, K2O and upstream, 1000 kg kept.
    var farm = auditFarm()
    farm.years[5].inputs.append(line("npk", .kgProduct, 1000) { $0.nPercent = 15; $0.p2O5Percent = 15; $0.k2OPercent = 15 })
    let response = try evaluateLedger(farm, "farm_id,year,input,quantity,unit,n_percent,p2o5_percent,k2o_percent\nF1,2020,npk,1100,kg,10,10,10\n")
    let record = try #require(response.reconciliations.first)
    #expect(record.ledgerValue == 1100 && record.declaredValue == 1000 && record.keptValue == 1000)
    #expect(record.rule == "input: highest in mineral N, P2O5, K2O, upstream emissions (values: consumption in kgProduct)")
  }

  /// Tableau 2 lists « Variations de stock annuelles » as their own ledger items, and §6 reads
  /// consumption as « achats auxquels on ajoute la variation de stock »: a stock line alone may
  /// be negative, the input's summed consumption may not (the error names the CSV line).
  @Test func aStockLineIsSummedWithItsInputsPurchases() throws {
    let header = "farm_id,year,input,quantity,unit,opening_stock,closing_stock\n"
    let stock = "F1,2020,ammonium_nitrate_33_5,0,kg_n,200,500\n"
    // Purchases 2500 and a stock growing 200 → 500: 2500 − 300 = 2200 > 2000 declared, kept:
    // 61.9376 − 200 × 12.1903 / 1000 = 59.49954 t.
    let summed = try evaluateLedger(auditFarm(), header + "F1,2020,ammonium_nitrate_33_5,2500,kg_n,0,0\n" + stock)
    #expect(summed.farms[0].projectYears[0].nMineralKg == 2200)
    #expect(abs(summed.farms[0].finalReductionTCo2E - 59.49954) < 1e-9)
    // The stock line alone: the ledger's consumption is −300, refused at its line.
    let alone = error { _ = try evaluateLedger(auditFarm(), header + stock) }
    #expect(alone?.status == .invalidArgument)
    #expect(alone?.field == "ledger_csv[2].closing_stock")
    // The declaration too: 2000 + 200 − 500 = 1700 kg N, 61.9376 + 300 × 12.1903 / 1000 =
    // 65.59469 t; with a closing stock of 2500 its sum is −300, refused at that line.
    var declared = auditFarm()
    declared.years[5].inputs.append(line("ammonium_nitrate_33_5", .kgN, 0) { $0.openingStock = 200; $0.closingStock = 500 })
    let result = try evaluate(declared)
    #expect(result.projectYears[0].nMineralKg == 1700)
    #expect(abs(result.finalReductionTCo2E - 65.59469) < 1e-9)
    // 500 kg N in stock at the end of 2020, none at the start of 2021: both lines named.
    #expect(result.trace.warnings.contains {
      $0.hasPrefix("farm.years[5].inputs[2].closing_stock:") && $0.contains("(500.0)") && $0.contains("(0.0, farm.years[6].inputs[0].opening_stock)")
    })
    // 2020 opens with 200 kg that 2019 did not close with: named too.
    #expect(result.trace.warnings.contains {
      $0.hasPrefix("farm.years[4].inputs[0].closing_stock:") && $0.contains("(200.0, farm.years[5].inputs[2].opening_stock)")
    })
    // The chain kept from 2020 to 2021 (2021 opens with the 500 kg and buys 1500): only the
    // 2019 → 2020 warning remains.
    var chained = declared
    chained.years[6].inputs[0].openingStock = 500
    chained.years[6].inputs[0].purchases = 1500
    #expect((try evaluate(chained)).trace.warnings.filter { $0.contains("closing stock") }.count == 1)
    declared.years[5].inputs[2].closingStock = 2500
    #expect(error { _ = try evaluate(declared) }?.field == "farm.years[5].inputs[2].closing_stock")
  }

  /// §6 « les consommations (achats auxquels on ajoute la variation de stock) »: a stock line at
  /// another grade than the purchases must not take away more N, P2O5 or K2O than was bought;
  /// each quantity an emission factor applies to, summed over the input's lines, is checked.
  @Test func aStockLineAtAnotherGradeCannotMakeANutrientNegative() throws {
    // NPK 10-10-10 1000 kg bought in 2020, a stock line closing 900 kg. At 10-10-10: 100 kg,
    // 10 kg of each nutrient, 10 × 12.1903 + 10 × 1.83 + 10 × 0.71 = 147.303 kg CO2e:
    // 61.9376 − 0.147303 = 61.790297 t, mineral N 2010 kg.
    var farm = auditFarm()
    farm.years[5].inputs.append(line("npk", .kgProduct, 1000) { $0.nPercent = 10; $0.p2O5Percent = 10; $0.k2OPercent = 10 })
    farm.years[5].inputs.append(line("npk", .kgProduct, 0) { $0.closingStock = 900; $0.nPercent = 10; $0.p2O5Percent = 10; $0.k2OPercent = 10 })
    let same = try evaluate(farm)
    #expect(abs(same.projectYears[0].nMineralKg - 2010) < 1e-9)
    #expect(abs(same.finalReductionTCo2E - 61.790297) < 1e-9)
    // The stock at 20-20-20: 100 kg of product but 100 − 180 = −80 kg N (the year's N 1920,
    // 63.1160 t): refused at the stock line, naming the quantity.
    (farm.years[5].inputs[3].nPercent, farm.years[5].inputs[3].p2O5Percent, farm.years[5].inputs[3].k2OPercent) = (20, 20, 20)
    let failure = error { _ = try evaluate(farm) }
    #expect(failure?.status == .invalidArgument)
    #expect(failure?.field == "farm.years[5].inputs[3].closing_stock")
    #expect(failure?.message.contains("mineral N") == true)
  }
}
