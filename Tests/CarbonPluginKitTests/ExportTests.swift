import CarbonTestSupport
import Foundation
import Testing

@testable import CarbonPluginKit

/// The kit's CSV and xlsx writers, checked byte for byte and with LibreOffice.
@Suite("Exports: CSV dialects and xlsx workbooks")
struct ExportTests {
  var table: ExportTable {
    var table = ExportTable(name: "Projets", header: ["Titre", "Impact (kt CO2e/an)", "Note"])
    table.append([.text("Vélo; Somme"), .number(-1.25), .text("dit \"ok\"")])
    table.append([.text("=HYPERLINK(\"http://x\")"), .number(2_500), .empty])
    table.append([.text("ligne\nsuivante"), .number(0.1, decimals: 2)])
    return table
  }

  @Test func crc32OfTheStandardCheckString() {
    // The CRC-32 check value of "123456789" (IEEE 802.3).
    #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
  }

  @Test func standardDialectQuotesAndNeutralisesFormulas() throws {
    let csv = try CSVWriter.text(of: table, dialect: .standard)
    let expected = [
      "Titre,Impact (kt CO2e/an),Note",
      #"Vélo; Somme,-1.25,"dit ""ok""""#,
      #""'=HYPERLINK(""http://x"")",2500,"#,
      "\"ligne\nsuivante\",0.10,",
    ]
    #expect(csv == expected.joined(separator: "\n") + "\n")
  }

  @Test func frenchSpreadsheetDialect() throws {
    let csv = try CSVWriter.text(of: table, dialect: .frenchSpreadsheet)
    // BOM, `;` separator (so the title holding `;` is quoted), decimal comma, CRLF.
    #expect(csv.hasPrefix("\u{FEFF}Titre;Impact (kt CO2e/an);Note\r\n"))
    #expect(csv.contains("\r\n\"Vélo; Somme\";-1,25;\"dit \"\"ok\"\"\"\r\n"))
    #expect(csv.contains("\r\n\"ligne\nsuivante\";0,10;\r\n"))
    #expect(Array(csv.utf8.prefix(3)) == [0xEF, 0xBB, 0xBF])
  }

  @Test(arguments: ["=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx"])
  func formulaLikeTextIsNeutralised(_ text: String) {
    // OWASP CSV injection: cells starting with = + - @ tab CR are prefixed with an apostrophe.
    #expect(CSVWriter.neutralised(text) == "'" + text)
  }

  @Test func numbersAreFormattedExactly() {
    #expect(CSVWriter.format(13_337, decimals: nil) == "13337")
    #expect(CSVWriter.format(-2_060_617.4, decimals: 0) == "-2060617")
    #expect(CSVWriter.format(0.05, decimals: 3) == "0.050")
    #expect(CSVWriter.format(1.005e-3, decimals: nil) == "0.001005")
    #expect(CSVWriter.format(-0.5, decimals: 2, decimalSeparator: ",") == "-0,50")
  }

  @Test func nonFiniteNumbersAndOverlongRowsAreRefused() {
    var bad = ExportTable(name: "Flux", header: ["Poste", "t CO2e"])
    bad.append([.text("Forêts"), .number(.infinity)])
    #expect(throws: ExportError(description: "table \"Flux\": row 1, column \"t CO2e\" is inf")) {
      try CSVWriter.text(of: bad)
    }
    #expect(throws: ExportError.self) { try XLSXWorkbook(sheets: [bad]).data() }
    var long = ExportTable(name: "Flux", header: ["Poste"])
    long.append([.text("a"), .text("b")])
    #expect(throws: ExportError(description: "table \"Flux\": row 1 has 2 cells for 1 columns")) {
      try CSVWriter.text(of: long)
    }
  }

  @Test func sheetNamesAreMadeValidAndUnique() {
    let names = XLSXWorkbook.sheetNames(["Synthèse", "a/b:c", "Synthèse", "", String(repeating: "x", count: 40)])
    #expect(names == ["Synthèse", "a_b_c", "Synthèse (2)", "Sheet4", String(repeating: "x", count: 31)])
    #expect(XLSXWorkbook.columnName(0) == "A")
    #expect(XLSXWorkbook.columnName(25) == "Z")
    #expect(XLSXWorkbook.columnName(26) == "AA")
    #expect(XLSXWorkbook.columnName(27 * 26) == "AAA")
  }

  @Test func libreOfficeOpensTheWorkbookWithEverySheetAndValue() async throws {
    var trace = ExportTable(name: "Trace", header: ["Terme", "Valeur"])
    trace.append([.text("contrôle \u{1}\u{1B}"), .number(3.664)])
    let bytes = try XLSXWorkbook(sheets: [table, trace]).data()
    let sheets = try await ExternalTools.libreOfficeSheetsAsCSV(xlsx: bytes)
    #expect(sheets.count == 2)
    // The formula-like title is a text cell in xlsx (never a formula), so it reads back as written.
    let expected = [
      "Titre,Impact (kt CO2e/an),Note",
      #"Vélo; Somme,-1.25,"dit ""ok""""#,
      #""=HYPERLINK(""http://x"")",2500,"#,
      "\"ligne\nsuivante\",0.1,",
    ]
    #expect(sheets[0] == expected.joined(separator: "\n") + "\n")
    // Control characters XML cannot carry are dropped, not written as ill-formed XML.
    #expect(sheets[1] == "Terme,Valeur\ncontrôle ,3.664\n")
  }
}

/// The chart check every module's chart tests use: librsvg renders a well-formed SVG and refuses
/// an ill-formed one.
@Suite("External tools: SVG to PNG")
struct SVGRenderingTests {
  @Test func aWellFormedSVGRendersAtItsSize() async throws {
    let svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200"><text x="10" y="20">Flux</text></svg>"#
    let size = try await ExternalTools.renderPNG(svg: svg)
    #expect(size.width == 320 && size.height == 200)
  }

  @Test func anIllFormedSVGFails() async {
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><text>\u{1}</text></svg>"
    await #expect(throws: ExternalTools.Failure.self) { try await ExternalTools.renderPNG(svg: svg) }
  }
}
