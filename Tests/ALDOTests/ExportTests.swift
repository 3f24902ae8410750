import CarbonDomain
import CarbonPluginKit
import CarbonTestSupport
import Foundation
import Testing

@testable import ALDOModule

/// Issue 18 point 4: the diagnostic as CSV (ALDO's open-data layout) and as an xlsx workbook
/// that LibreOffice opens.
@Suite(.cpuBound) struct ExportTests {
  static let export = "/carbon.aldo.v1.Aldo/ExportFlux"

  static func request(_ format: Carbon_Aldo_V1_ExportFormat, _ flux: Carbon_Aldo_V1_ComputeFluxRequest) -> Carbon_Aldo_V1_ExportFluxRequest {
    var request = Carbon_Aldo_V1_ExportFluxRequest()
    request.format = format
    request.flux = flux
    return request
  }

  /// The CSV has ALDO's 35 columns (export-flux-commune-34201.csv) and one row per commune,
  /// gas, pool and pair; its flux column adds up to the balance.
  @Test func csvHasAldosOpenDataColumnsAndAddsUpToTheBalance() throws {
    let flux = TerritoryAcceptanceTests.territory(.epci, ["245901061"])
    let response = try Aldo.harness().call(Self.export, Self.request(.csv, flux), as: Carbon_Aldo_V1_ExportFluxResponse.self)
    let text = String(decoding: response.content, as: UTF8.self)
    let lines = text.split(whereSeparator: \.isNewline).map(String.init)
    let aldoHeader = try String(contentsOfFile: "/work/shared/aldo/export-flux-commune-34201.csv", encoding: .utf8)
      .split(separator: "\n").first.map(String.init)
    #expect(lines.first == aldoHeader)
    #expect(response.fileName == "aldo-flux-epci-245901061-cc-de-la-haute-deule.csv")
    #expect(Int(response.rows) == lines.count - 1)
    // Σ flux_tCO2e_an-1 (last column) = the balance's net flux.
    let total = lines.dropFirst().compactMap { Double($0.split(separator: ",", omittingEmptySubsequences: false).last ?? "") }.reduce(0, +)
    #expect(abs(total - response.balance.netTCo2EPerYr) < 1e-6, "\(total) vs \(response.balance.netTCo2EPerYr)")
    // A commune row names the commune; a growth row carries the EPCI forest part (approximation).
    #expect(lines.contains { $0.hasPrefix("59005,Allennes-les-Marais,245901061,59,32,2_1,NORD-OUEST,") })
    #expect(lines.contains { $0.contains("APPROXIMATION") && $0.contains(",C,biomasse vivante,") })
  }

  /// ALDO's `flux_unitaire_tCO2e_ha-1_an-1` is the reference unit × 44/12, without the years
  /// factor: its export for 34201 (export-flux-commune-34201.csv) gives soil « cultures → prairies
  /// zones arborées » 0.88 = flux-zpc 2_2 cult_prai 0.24 × 44/12, and litter 33 = 9 × 44/12. On the
  /// worked example (a) (ComputeFlux.json, zone 2_1), module sign:
  /// - soil cultures → prairies zones herbacées: −0.37 × 44/12 = −1.35667 (flux −0.37 × 20 × 6 ×
  ///   44/12 = −162.8, 20× the unit: the years factor stays out of the unit column);
  /// - biomass cultures → sols artificiels arbustifs: −0.35 × 44/12 = −1.28333;
  /// - soil cultures → sealed (years 1): −(−20) × 44/12 = +73.3333; its N2O row has no unit (empty).
  /// A practice's area is ha, not ha/yr: catchCrops 500 ha goes to `surface_ha`, the converted-area
  /// column stays empty; unit −0.24 × 44/12 = −0.88, flux −500 × 0.24 × 44/12 = −440.
  @Test func unitFluxColumnIsAldosUnitWithoutTheYearsAndPracticeAreasAreHectares() throws {
    let json = try String(contentsOfFile: Aldo.examplesDirectory + "/ComputeFlux.json", encoding: .utf8)
    var flux = try Carbon_Aldo_V1_ComputeFluxRequest(jsonString: json)
    var practice = Carbon_Aldo_V1_PracticeArea()
    practice.practice = .catchCrops
    practice.areaHa = 500
    flux.practices = [practice]
    let response = try Aldo.harness().call(Self.export, Self.request(.csv, flux), as: Carbon_Aldo_V1_ExportFluxResponse.self)
    let lines = String(decoding: response.content, as: UTF8.self).split(whereSeparator: \.isNewline).map {
      $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }
    let header = try #require(lines.first)
    func column(_ name: String) throws -> Int { try #require(header.firstIndex(of: name), "\(name)") }
    let (gas, pool, from, to) = (try column("gaz"), try column("reservoir"), try column("occupation_du_sol_initiale_2"), try column("occupation_du_sol_finale_2"))
    let (unit, converted, area, total) = (
      try column("flux_unitaire_tCO2e_ha-1_an-1"), try column("surface_moyenne_convertie_ha_an-1"), try column("surface_ha"), try column("flux_tCO2e_an-1")
    )
    func row(_ g: String, _ p: String, _ f: String, _ t: String) throws -> [String] {
      try #require(lines.first { $0[gas] == g && $0[pool] == p && $0[from] == f && $0[to] == t }, "\(g) \(p) \(f) → \(t)")
    }
    func number(_ text: String) -> Double { Double(text) ?? .nan }
    let grassland = try row("C", "sol", "cultures", "prairies zones herbacées")
    #expect(abs(number(grassland[unit]) - -0.37 * 44 / 12) < 1e-9, "\(grassland[unit])")
    #expect(abs(number(grassland[total]) - -162.8) < 1e-9)
    let shrub = try row("C", "biomasse vivante", "cultures", "sols artificiels arbustifs")
    #expect(abs(number(shrub[unit]) - -0.35 * 44 / 12) < 1e-9, "\(shrub[unit])")
    #expect(abs(number(try row("C", "sol", "cultures", "sols artificiels imperméabilisés")[unit]) - 20.0 * 44 / 12) < 1e-9)
    #expect(try row("N2O", "sol", "cultures", "sols artificiels imperméabilisés")[unit].isEmpty)
    let catchCrops = try row("C", "sol", "", "pratique catchCrops")
    #expect(catchCrops[converted].isEmpty && number(catchCrops[area]) == 500)
    #expect(abs(number(catchCrops[unit]) - -0.88) < 1e-9 && abs(number(catchCrops[total]) - -440) < 1e-9)
  }

  /// French-spreadsheet dialect: semicolons, decimal commas, BOM.
  @Test func csvFrenchDialect() throws {
    var request = Self.request(.csv, TerritoryAcceptanceTests.territory(.commune, ["59477"]))
    request.csvDialect = .frenchSpreadsheet
    let response = try Aldo.harness().call(Self.export, request, as: Carbon_Aldo_V1_ExportFluxResponse.self)
    #expect(Array(response.content.prefix(3)) == [0xEF, 0xBB, 0xBF])
    let text = String(decoding: response.content.dropFirst(3), as: UTF8.self)
    #expect(text.hasPrefix("insee;nom;epci;"))
  }

  /// The workbook opens in LibreOffice (headless): the summary is the seed's table for the
  /// region, the per-commune sheet has every commune with a flux, the trace sheet says the approximation.
  @Test func xlsxOpensInLibreOfficeWithTheSeedsTable() async throws {
    let response = try Aldo.harness().call(
      Self.export, Self.request(.xlsx, TerritoryAcceptanceTests.territory(.region, ["32"])),
      as: Carbon_Aldo_V1_ExportFluxResponse.self)
    #expect(response.fileName == "aldo-flux-region-32-hauts-de-france.xlsx")
    let sheets = try await ExternalTools.libreOfficeSheetsAsCSV(xlsx: Array(response.content))
    #expect(sheets.count == 4)
    let summary = sheets.first ?? ""
    // « les cultures : 13 337 t éq. CO2 émises »; forests through the substitute −1 893 617.
    #expect(summary.contains("Cultures,13337.4"), "\(summary.prefix(400))")
    #expect(summary.contains("Forêts,-1893616.7"), "\(summary.prefix(400))")
    #expect(summary.contains("négatif = séquestration nette"))
    #expect(summary.contains("APPROXIMATION"))
    let communes = sheets.count > 1 ? sheets[1].split(separator: "\n").filter { $0.hasPrefix("59350,") } : []
    #expect(communes.count == 1, "Lille has one row")
    // One row per commune with a non-zero flux (545 of the 3 798) and one per EPCI forest part (94).
    #expect((sheets.count > 1 ? sheets[1] : "").split(separator: "\n").count > 500)
    #expect(sheets.last?.contains("forest_data") == true)
  }

  @Test func badExportRequestsNameTheirField() throws {
    try Aldo.expectError(
      Self.export, Self.request(.unspecified, TerritoryAcceptanceTests.territory(.commune, ["59477"])),
      status: .invalidArgument, field: "format")
    try Aldo.expectError(
      Self.export, Self.request(.csv, TerritoryAcceptanceTests.territory(.commune, ["5947"])),
      status: .invalidArgument, field: "flux.territory.codes[0].code")
    try Aldo.expectError(Self.export, Carbon_Aldo_V1_ExportFluxRequest.with { $0.format = .csv }, status: .invalidArgument, field: "flux")
  }
}
