import CarbonDomain
import Testing

@Suite("Units and quantities")
struct UnitsTests {
  @Test("converts within a dimension", arguments: [
    (Quantity(1, .t), MeasurementUnit.kg, 1000.0),
    (Quantity(2.5, .ha), .m2, 25_000),
    (Quantity(1, .mwh), .gj, 3.6),
    (Quantity(250, .gCo2E), .kgCo2E, 0.25),
    (Quantity(12, .percent), .ratio, 0.12),
    (Quantity(3, .km2), .ha, 300),
    // A yield of 2 921 kg dry/ha/yr is 2.921 t/ha/yr.
    (Quantity(2921, .kgPerHaPerYr), .tPerHaPerYr, 2.921),
  ])
  func converts(input: Quantity, target: MeasurementUnit, expected: Double) throws {
    let output = try input.converted(to: target)
    #expect(abs(output.value - expected) < 1e-9)
    #expect(output.unit == target)
  }

  /// Issue 20 point 9: "trace unit tags that match their terms (yield per ha per year, MJ per ha
  /// per year, kg per MJ)": a yield per year is not a stock per hectare, a count not a ratio.
  @Test func ratesPerYearAndCountsAreTheirOwnDimensions() {
    #expect(MeasurementUnit.kgPerHaPerYr.dimension == .massPerAreaRate)
    #expect(MeasurementUnit.kgPerHaPerYr.dimension != MeasurementUnit.kgPerHa.dimension)
    #expect(MeasurementUnit.mjPerHaPerYr.symbol == "MJ/ha/yr")
    #expect(MeasurementUnit.kgPerMj.symbol == "kg/MJ")
    #expect(MeasurementUnit.count.dimension == .count)
    #expect(throws: UnitConversionError.self) { try Quantity(1, .kgPerHaPerYr).converted(to: .kgPerHa) }
  }

  @Test func refusesAcrossDimensions() {
    #expect(throws: UnitConversionError.incompatible(from: .ha, to: .kg)) {
      try Quantity(1, .ha).converted(to: .kg)
    }
    #expect(throws: UnitConversionError.unknownUnit(.unspecified)) {
      try Quantity(1, .unspecified).converted(to: .kg)
    }
    #expect(throws: UnitConversionError.notFinite) {
      try Quantity(.nan, .t).converted(to: .kg)
    }
  }

  @Test func carbonToCo2eUses44Over12() throws {
    // 12 t C × 44/12 = 44 t CO2e; 500 kg C = 0.5 t C → 1.8333 t CO2e.
    #expect(abs(try Quantity(12, .tC).carbonToCo2e().value - 44) < 1e-12)
    #expect(abs(try Quantity(500, .kgC).carbonToCo2e().value - 0.5 * 44 / 12) < 1e-12)
    let flow = try Quantity(-3, .tCPerYr).carbonToCo2e()
    #expect(flow.unit == .tCo2EPerYr && abs(flow.value + 11) < 1e-12)
    #expect(throws: UnitConversionError.self) { try Quantity(1, .ha).carbonToCo2e() }
  }

  @Test func n2oNitrogenConversion() {
    // 1.974 kg N2O-N → 3.102 kg N2O (SOBAC seed: 100 kg N → 822 kg CO2e at GWP 265).
    #expect(abs(1.974 * CarbonConstants.n2oPerN2oNitrogen - 3.102) < 1e-3)
    #expect(abs(1.974 * CarbonConstants.n2oPerN2oNitrogen * 265 - 822.0) < 0.1)
  }

  @Test func everyUnitHasADimensionAndSymbol() {
    for unit in MeasurementUnit.allCases where unit != .unspecified {
      #expect(unit.dimension != nil, "\(unit)")
      #expect(unit.symbol != "?", "\(unit)")
    }
  }
}

@Suite("Global warming potentials")
struct GlobalWarmingPotentialTests {
  @Test func ar5AndAr4Values() {
    #expect(GlobalWarmingPotential.factor(for: .co2, in: .ar5) == 1)
    #expect(GlobalWarmingPotential.factor(for: .ch4, in: .ar5) == 28)
    #expect(GlobalWarmingPotential.factor(for: .n2O, in: .ar5) == 265)
    #expect(GlobalWarmingPotential.factor(for: .ch4, in: .ar4) == 25)
    #expect(GlobalWarmingPotential.factor(for: .n2O, in: .ar4) == 298)
    #expect(GlobalWarmingPotential.factor(for: .n2O, in: .unspecified) == 265, "unspecified means AR5")
    #expect(GlobalWarmingPotential.factor(for: .unspecified, in: .ar5) == nil)
  }

  @Test func co2eOfAMass() {
    var mass = GasMass()
    mass.gas = .ch4
    mass.massKg = 10
    #expect(GlobalWarmingPotential.co2eKg(of: mass, in: .ar4) == 250)
  }
}

@Suite("French territories")
struct TerritoryTests {
  @Test func counts() {
    #expect(FrenchTerritories.regions.count == 18)
    #expect(FrenchTerritories.formerRegions.count == 27)
    #expect(FrenchTerritories.departments.count == 101)
  }

  @Test func hautsDeFranceHasFiveDepartmentsFromTwoFormerRegions() {
    let departments = FrenchTerritories.departments(inRegion: "32").map(\.code).sorted()
    #expect(departments == ["02", "59", "60", "62", "80"])
    let former = Set(FrenchTerritories.departments(inRegion: "32").map(\.formerRegionCode))
    #expect(former == ["22", "31"])
    #expect(FrenchTerritories.formerRegion(code: "22")?.name == "Picardie")
    #expect(FrenchTerritories.formerRegion(code: "22")?.successorCode == "32")
  }

  @Test func everyDepartmentPointsToKnownRegions() {
    for department in FrenchTerritories.departments {
      #expect(FrenchTerritories.region(code: department.regionCode) != nil, "\(department.code)")
      let former = FrenchTerritories.formerRegion(code: department.formerRegionCode)
      #expect(former?.successorCode == department.regionCode, "\(department.code)")
    }
  }

  @Test func territoryReferences() {
    func territory(_ kind: TerritoryKind, _ code: String) -> Territory {
      var t = Territory()
      t.kind = kind
      t.code = code
      return t
    }
    #expect(FrenchTerritories.isKnown(territory(.department, "2A")))
    #expect(!FrenchTerritories.isKnown(territory(.department, "2")))
    #expect(FrenchTerritories.isKnown(territory(.epci, "200067981")))
    #expect(!FrenchTerritories.isKnown(territory(.epci, "2000")))
    #expect(FrenchTerritories.isKnown(territory(.commune, "02691")))
    #expect(!FrenchTerritories.isKnown(territory(.region, "99")))
    #expect(!FrenchTerritories.isKnown(territory(.unspecified, "32")))
  }
}

@Suite("Reference tables and traces")
struct ReferenceTableTests {
  @Test func parsesCommentsQuotesAndHeader() throws {
    let csv = [
      "# source: test", "# version: 1", "name,value,note", "a,1,\"with, comma\"",
      "\"b \"\"quoted\"\"\",2,", "",
    ].joined(separator: "\n")
    let table = try ReferenceTable(csv: csv)
    #expect(table.comments == ["source: test", "version: 1"])
    #expect(table.columns == ["name", "value", "note"])
    #expect(table.rows == [["a", "1", "with, comma"], ["b \"quoted\"", "2", ""]])
    #expect(table.records[1]["name"] == "b \"quoted\"")
  }

  @Test func parsesWindowsLineEnds() throws {
    let table = try ReferenceTable(csv: "# source: x\r\na,b\r\n1,2\r\n3,4\r\n")
    #expect(table.rows == [["1", "2"], ["3", "4"]])
    #expect(table.comments == ["source: x"])
  }

  @Test func reportsTheLineOfAMalformedRow() {
    do {
      _ = try ReferenceTable(csv: "a,b\n1,2\n3\n")
      Issue.record("expected a parse error")
    } catch {
      #expect(error.line == 3)
    }
  }

  @Test func traceBuilderRecordsTermsDecisionsAndDataSets() {
    var trace = TraceBuilder(method: "m", version: "1")
    let value = trace.term("x", 2.5, .tC, formula: "a × b")
    trace.decision("policy", "DEFAULT", reason: "seed §1")
    trace.dataSet(GlobalWarmingPotential.dataSet)
    trace.dataSet(GlobalWarmingPotential.dataSet)
    trace.rule("cap", "capped at 45")
    let built = trace.build()
    #expect(value == 2.5)
    #expect(built.value(of: "x") == 2.5)
    #expect(built.terms.first?.unit == .tC)
    #expect(built.decisions.first?.choice == "DEFAULT")
    #expect(built.dataSets.count == 1, "a data set is recorded once")
    #expect(built.rules.first?.rule == "cap")
  }

  @Test func aDecisionTakenForEachItemIsRecordedOnce() {
    var trace = TraceBuilder(method: "m", version: "1")
    for _ in 0..<3 { trace.decision("rate", "MEASURED", reason: "seed §2") }
    trace.decision("rate", "MEASURED", reason: "seed §2, for item 2")  // another wording: kept
    trace.decisionOnce("policy", "A", reason: "first")
    trace.decisionOnce("policy", "B", reason: "second")  // same rule: nothing added
    let decisions = trace.build().decisions
    #expect(decisions.map(\.reason) == ["seed §2", "seed §2, for item 2", "first"])
  }
}

/// Issue 24, point 5: "a way for a module to name units the domain does not list (a unit symbol
/// string beside the enum in trace terms)".
@Suite("Units the domain does not list")
struct UnitSymbolTests {
  @Test func aModuleNamesItsOwnUnitAndTheDomainsKeepTheirEnum() throws {
    var trace = TraceBuilder(method: "hedge", version: "1")
    #expect(trace.term("hedge_length", 2.5, unitSymbol: " km ") == 2.5)
    trace.term("stock_per_length", 0.8, unitSymbol: "t C/km")
    trace.term("total", 7.3, unitSymbol: "t CO2e/yr")
    let terms = trace.build().terms
    #expect(terms[0].unit == .unspecified && terms[0].unitSymbol == "km")
    #expect(terms[1].unit == .unspecified && terms[1].unitSymbol == "t C/km")
    #expect(terms[2].unit == .tCo2EPerYr && terms[2].unitSymbol.isEmpty, "a listed unit keeps its enum value")
    #expect(MeasurementUnit(symbol: "t C/ha/yr") == .tCPerHaPerYr)
    #expect(MeasurementUnit(symbol: "furlong") == nil)
    // Every listed unit reads back from its own symbol (no two units share one).
    for unit in MeasurementUnit.allCases where unit != .unspecified && !unit.symbol.isEmpty && unit.symbol != "?" {
      #expect(MeasurementUnit(symbol: unit.symbol) == unit, "\(unit)")
    }
  }
}
