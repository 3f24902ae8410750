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
