import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Testing

@testable import SOBACModule

/// Field emissions (Eq. 7-12, Tableau 5) and the Annex 3 upstream factors of each input family.
@Suite(.cpuBound) struct FieldEmissionTests {
  func yearEmissions(_ inputs: [InputLine]) throws -> Carbon_Sobac_V1_YearEmissions {
    var request = Carbon_Sobac_V1_FarmYearEmissionsRequest()
    request.year.year = 2020
    request.year.inputs = inputs
    return try makeHarness().call(Path.year, request, as: Carbon_Sobac_V1_FarmYearEmissionsResponse.self).emissions
  }

  @Test func hundredKilogramsOfMineralNitrogenEmit822KilogramsCO2e() throws {
    // METHODS §2.1 check: direct 100 × 0.016 = 1.6; volatilisation 100 × 0.11 × 0.01 = 0.11;
    // leaching 100 × 0.24 × 0.011 = 0.264; total 1.974 kg N2O-N × 44/28 × 265 = 822.03 kg CO2e.
    let result = try yearEmissions([line("ammonium_nitrate_33_5", .kgN, 100)])
    #expect(abs(result.n2ODirectKgN - 1.6) < 1e-12)
    #expect(abs(result.n2OVolatilisationKgN - 0.11) < 1e-12)
    #expect(abs(result.n2OLeachingKgN - 0.264) < 1e-12)
    #expect(abs(result.n2ODirectKgN + result.n2OVolatilisationKgN + result.n2OLeachingKgN - 1.974) < 1e-12)
    #expect(abs(result.fieldN2OKgCo2E - 822.03) < 0.005)
    // Upstream: 100 kg N × 3.97.
    #expect(abs(result.upstreamKgCo2E - 397) < 1e-9)
  }

  @Test func organicNitrogenUsesTheOrganicFactors() throws {
    // compost_biowaste, 10 t, supplier N 12 kg/t → 120 kg N_org;
    // (0.006 + 0.21 × 0.01 + 0.24 × 0.011) = 0.01074 kg N2O-N/kg N → 120 × 0.01074 × 44/28 × 265.
    let result = try yearEmissions([line("compost_biowaste", .tProduct, 10) { $0.organicNKgPerT = 12 }])
    #expect(abs(result.nOrganicKg - 120) < 1e-12)
    #expect(abs(result.fieldN2OKgCo2E - 120 * fieldN2OPerKgOrganicN) < 1e-9)
    #expect(abs(result.upstreamKgCo2E - 6250) < 1e-9)  // 10 t × 625
  }

  @Test func annexFourDefaultNitrogenWhenTheSupplierGivesNone() throws {
    // manure_generic: Annex 4 N total 21.6 g/kg → 5 t × 21.6 = 108 kg N.
    let result = try yearEmissions([line("manure_generic", .tProduct, 5)])
    #expect(abs(result.nOrganicKg - 108) < 1e-12)
    #expect(abs(result.upstreamKgCo2E - 5 * 14.6) < 1e-12)
  }

  @Test func limestoneDolomiteQuicklimeAndScum() throws {
    // calcium carbonate 2 t: VN 0.55 → 1100 kg VN × 1.257 = 1382.7; field 2000 × 0.12 × 44/12 = 880.
    // dolomite 1000 kg VN: product 1000/0.55 kg → field × 0.13 × 44/12.
    // quicklime: upstream 0.311/kg VN, no field CO2. Scum 1 t: 1000 × 0.35/0.55 × 0.12 × 44/12.
    let result = try yearEmissions([
      line("calcium_carbonate", .tProduct, 2), line("dolomite", .kgVn, 1000),
      line("quicklime", .kgProduct, 1000), line("sugar_factory_scum", .tProduct, 1),
    ])
    #expect(abs(result.inputs[0].upstreamKgCo2E - 1382.7) < 1e-9)
    #expect(abs(result.inputs[0].fieldCo2LimeKg - 880) < 1e-9)
    #expect(abs(result.inputs[1].fieldCo2LimeKg - 1000 / 0.55 * 0.13 * 44 / 12) < 1e-9)
    #expect(abs(result.inputs[1].upstreamKgCo2E - 1257) < 1e-9)
    #expect(result.inputs[2].fieldCo2LimeKg == 0)
    #expect(abs(result.inputs[2].upstreamKgCo2E - 940 * 0.311) < 1e-9)
    #expect(abs(result.inputs[3].fieldCo2LimeKg - 1000 * 0.35 / 0.55 * 0.12 * 44 / 12) < 1e-9)
    #expect(abs(result.inputs[3].upstreamKgCo2E - 350 * 0.1) < 1e-9)
  }

  /// Eq. 12, seed l.665: « M_calcaire = quantité apportée de calcaire inorganique, soit sous
  /// forme de chaux seule, soit inclus dans des mélanges d'engrais (en kg) ». The seed prints no
  /// carbonate share for calcium ammonium nitrate: the line's carbonate_percent gives it.
  @Test func limestoneInAFertiliserMixCountsInEquationTwelve() throws {
    // 1000 kg of CAN 27 % N with 20 % CaCO3: 200 kg limestone × 0.12 × 44/12 = 88 kg CO2.
    // The same in kg N: 270 kg N / 27 % = 1000 kg product, the same 88 kg CO2.
    // NPK 15-15-15 with 10 % carbonate, 2 t: 200 kg × 0.12 × 44/12 = 88 kg CO2.
    let inProduct = try yearEmissions([
      line("calcium_ammonium_nitrate_27", .kgProduct, 1000) { $0.carbonatePercent = 20 },
      line("npk", .tProduct, 2) { $0.nPercent = 15; $0.p2O5Percent = 15; $0.k2OPercent = 15; $0.carbonatePercent = 10 },
    ])
    #expect(abs(inProduct.inputs[0].fieldCo2LimeKg - 88) < 1e-9)
    #expect(abs(inProduct.inputs[1].fieldCo2LimeKg - 88) < 1e-9)
    #expect(abs(inProduct.fieldCo2LimeKg - 176) < 1e-9)
    var request = Carbon_Sobac_V1_FarmYearEmissionsRequest()
    request.year.year = 2020
    request.year.inputs = [
      line("calcium_ammonium_nitrate_27", .kgN, 270) { $0.carbonatePercent = 20 },
      line("calcium_ammonium_nitrate_27", .kgN, 270),
    ]
    let response = try makeHarness().call(Path.year, request, as: Carbon_Sobac_V1_FarmYearEmissionsResponse.self)
    let inNitrogen = response.emissions
    #expect(abs(inNitrogen.inputs[0].fieldCo2LimeKg - 88) < 1e-9)
    // Without carbonate_percent: 0, and a warning naming the line's field.
    #expect(inNitrogen.inputs[1].fieldCo2LimeKg == 0)
    #expect(abs(inNitrogen.fieldCo2LimeKg - 88) < 1e-9)
    #expect(response.trace.warnings.count == 1)
    #expect(response.trace.warnings.first?.hasPrefix("year.inputs[1].carbonate_percent:") == true)

    // Not on a lime (its code counts its carbonate) nor without a product mass or grade.
    let onLime = error { _ = try yearEmissions([line("calcium_carbonate", .tProduct, 1) { $0.carbonatePercent = 50 }]) }
    #expect(onLime?.field == "year.inputs[0].carbonate_percent")
    let noGrade = error { _ = try yearEmissions([line("average_n", .kgN, 100) { $0.carbonatePercent = 10 }]) }
    #expect(noGrade?.field == "year.inputs[0].n_percent")
    let tooMuch = error { _ = try yearEmissions([line("calcium_ammonium_nitrate_27", .kgN, 100) { $0.carbonatePercent = 120 }]) }
    #expect(tooMuch?.status == .invalidArgument)
    #expect(tooMuch?.field == "year.inputs[0].carbonate_percent")
  }

  /// Seed note 17: "VN = Valeur Neutralisante = % CaO + 1.4% MgO". A magnesian quicklime of
  /// 58 % CaO and 40 % MgO has VN = 0.58 + 1.4 × 0.40 = 1.14: accepted (it was refused above 1),
  /// and 1000 kg of it carry 1140 kg VN × 0.311 kg CO2e/kg VN upstream (Annex 3, "Chaux vive").
  @Test func aMagnesianLimeHasANeutralisingValueAboveOne() throws {
    let result = try yearEmissions([line("quicklime", .kgProduct, 1000) { $0.vn = 1.14 }])
    #expect(abs(result.inputs[0].upstreamKgCo2E - 1140 * 0.311) < 1e-9)
    let refused = error { _ = try yearEmissions([line("quicklime", .kgProduct, 1000) { $0.vn = 1.5 }]) }
    #expect(refused?.status == .invalidArgument)
    #expect(refused?.field?.hasSuffix(".vn") == true)
  }

  @Test func ureaAndNitrogenSolutionReleaseCO2() throws {
    // urea 46 kg N → 100 kg urea × 0.20 × 44/12 = 73.33 kg CO2; solution 30 % 60 kg N, half urea
    // N → 30/0.46 kg urea × 0.20 × 44/12.
    let result = try yearEmissions([line("urea_46", .kgN, 46), line("n_solution_30", .kgProduct, 200)])
    #expect(abs(result.inputs[0].fieldCo2UreaKg - 100 * 0.2 * 44 / 12) < 1e-9)
    #expect(abs(result.inputs[1].nMineralKg - 60) < 1e-12)
    #expect(abs(result.inputs[1].fieldCo2UreaKg - 30 / 0.46 * 0.2 * 44 / 12) < 1e-9)
    #expect(abs(result.inputs[1].upstreamKgCo2E - 60 * 4.99) < 1e-9)
  }

  @Test func ureaShareOfSolutionsIsConfigurable() throws {
    var request = Carbon_Sobac_V1_FarmYearEmissionsRequest()
    request.year.inputs = [line("n_solution_30", .kgN, 100)]
    let none = try makeHarness(#"{"n_solution_urea_share": 0}"#)
      .call(Path.year, request, as: Carbon_Sobac_V1_FarmYearEmissionsResponse.self)
    #expect(none.emissions.fieldCo2UreaKg == 0)
    #expect(error { _ = try makeHarness(#"{"n_solution_urea_share": 2}"#) }?.field == "config.n_solution_urea_share")
  }

  @Test func upstreamFactorOfEveryAnnexThreeFamily() throws {
    let result = try yearEmissions([
      line("anhydrous_ammonia_82", .kgProduct, 100),  // 82 kg N × 2.926
      line("calcium_ammonium_nitrate_27", .kgN, 10),  // × 4.18
      line("average_n", .kgN, 10),  // × 4.51
      line("triple_superphosphate_46", .kgProduct, 100),  // 46 kg P2O5 × 1.45
      line("monoammonium_phosphate_11_54", .kgP2O5, 54),  // × 1.82, N = 54 × 11/54 = 11
      line("potassium_nitrate_14_40", .kgProduct, 100),  // 40 kg K2O × 2.74, N 14
      line("average_k", .kgK2O, 10),  // × 0.71
      line("pk", .kgProduct, 100) { $0.p2O5Percent = 20; $0.k2OPercent = 30 },  // 20 × 1.45 + 30 × 0.71
      line("nk", .kgProduct, 100) { $0.nPercent = 15; $0.k2OPercent = 20 },  // 15 × 2.74 + 20 × 0.71
      line("plant_protection_generic", .kgProduct, 4) { $0.activeSubstanceKgPerUnit = 0.25 },  // 1 × 9.861
      line("compost_slurry_solid", .kgProduct, 500),  // 0.5 t × 3084
      line("other_lca", .lProduct, 10) { $0.lcaKgCo2EPerUnit = 1.5 },
    ])
    let pk: Double = 20 * 1.45 + 30 * 0.71
    let nk: Double = 15 * 2.74 + 20 * 0.71
    let expected: [Double] = [
      82 * 2.926, 10 * 4.18, 10 * 4.51, 46 * 1.45, 54 * 1.82, 40 * 2.74, 10 * 0.71, pk, nk, 9.861, 0.5 * 3084, 15,
    ]
    try #require(result.inputs.count == expected.count)
    for (index, value) in expected.enumerated() {
      #expect(abs(result.inputs[index].upstreamKgCo2E - value) < 1e-9, "line \(index)")
    }
    #expect(abs(result.inputs[4].nMineralKg - 11) < 1e-12)
    #expect(abs(result.inputs[5].nMineralKg - 14) < 1e-12)
    // Whole-product factors of MAP / KNO3: nothing in the N-fertiliser upstream.
    #expect(result.inputs[4].upstreamNKgCo2E == 0)
    #expect(abs(result.inputs[8].upstreamNKgCo2E - 15 * 2.74) < 1e-12)
  }

  @Test func consumptionIsPurchasesPlusStockVariation() throws {
    let result = try yearEmissions([
      line("urea_46", .kgN, 100) { $0.openingStock = 30; $0.closingStock = 50 }
    ])
    #expect(abs(result.inputs[0].consumption - 80) < 1e-12)
    #expect(abs(result.nMineralKg - 80) < 1e-12)
  }

  @Test func gwpComesFromTheDomainTable() {
    #expect(GlobalWarmingPotential.factor(for: .n2O, in: .ar5) == 265)
  }
}
