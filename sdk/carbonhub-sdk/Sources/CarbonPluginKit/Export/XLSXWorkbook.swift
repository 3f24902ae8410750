import CarbonDomain
import Foundation

/// An Office Open XML spreadsheet (`.xlsx`) built from ``ExportTable``s, one sheet each.
///
/// What planners open in Excel or LibreOffice: text cells are inline strings (so a title that
/// starts with `=` stays text: a workbook never carries a formula), numbers are numeric cells,
/// the header row is bold and frozen. Characters XML 1.0 cannot carry (controls other than tab,
/// LF, CR) are dropped from text.
///
/// ```swift
/// var summary = ExportTable(name: "Synthèse", header: ["Poste", "Flux (t CO2e/an)"])
/// summary.append([.text("Cultures"), .number(13_337, decimals: 0)])
/// let bytes = try XLSXWorkbook(sheets: [summary]).data()
/// ```
public struct XLSXWorkbook: Sendable {
  /// The sheets, in order.
  public var sheets: [ExportTable]

  /// A workbook of `sheets` (at least one).
  public init(sheets: [ExportTable]) { self.sheets = sheets }

  /// The `.xlsx` file's bytes.
  /// - Throws: ``ExportError`` when a sheet has a non-finite number or a row longer than its
  ///   header, or when there is no sheet.
  public func data() throws(ExportError) -> [UInt8] {
    guard !sheets.isEmpty else { throw ExportError(description: "a workbook needs at least one sheet") }
    for sheet in sheets {
      if let defect = sheet.firstDefect() { throw ExportError(description: defect) }
    }
    let names = Self.sheetNames(sheets.map(\.name))
    var zip = ZipArchive()
    zip.add(path: "[Content_Types].xml", contents: Array(contentTypes().utf8))
    zip.add(path: "_rels/.rels", contents: Array(Self.packageRelationships.utf8))
    zip.add(path: "xl/workbook.xml", contents: Array(workbook(names).utf8))
    zip.add(path: "xl/_rels/workbook.xml.rels", contents: Array(workbookRelationships().utf8))
    zip.add(path: "xl/styles.xml", contents: Array(Self.styles.utf8))
    for (index, sheet) in sheets.enumerated() {
      zip.add(path: "xl/worksheets/sheet\(index + 1).xml", contents: Array(worksheet(sheet).utf8))
    }
    return zip.finished()
  }

  /// Sheet names Excel accepts: at most 31 characters, none of `[]:*?/\`, unique, not empty.
  static func sheetNames(_ wanted: [String]) -> [String] {
    var used = Set<String>()
    return wanted.enumerated().map { index, name in
      var cleaned = String(name.map { "[]:*?/\\".contains($0) ? "_" : $0 }.filter { !$0.isControlCharacter })
      if cleaned.trimmingCharacters(in: CharacterSet(charactersIn: " '")).isEmpty { cleaned = "Sheet\(index + 1)" }
      cleaned = String(cleaned.prefix(31))
      var candidate = cleaned
      var suffix = 2
      while used.contains(candidate.lowercased()) {
        let tail = " (\(suffix))"
        candidate = String(cleaned.prefix(31 - tail.count)) + tail
        suffix += 1
      }
      used.insert(candidate.lowercased())
      return candidate
    }
  }

  private static let header = #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"# + "\n"
  private static let mainNamespace = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
  private static let relationshipNamespace = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

  private func contentTypes() -> String {
    var xml = Self.header
    xml += #"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">"#
    xml += #"<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>"#
    xml += #"<Default Extension="xml" ContentType="application/xml"/>"#
    xml += #"<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>"#
    xml += #"<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>"#
    for index in sheets.indices {
      xml += #"<Override PartName="/xl/worksheets/sheet\#(index + 1).xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#
    }
    return xml + "</Types>"
  }

  private static let packageRelationships = header
    + #"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#
    + #"<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>"#
    + "</Relationships>"

  private func workbook(_ names: [String]) -> String {
    var xml = Self.header + #"<workbook xmlns="\#(Self.mainNamespace)" xmlns:r="\#(Self.relationshipNamespace)"><sheets>"#
    for (index, name) in names.enumerated() {
      xml += #"<sheet name="\#(name.xmlEscaped)" sheetId="\#(index + 1)" r:id="rId\#(index + 1)"/>"#
    }
    return xml + "</sheets></workbook>"
  }

  private func workbookRelationships() -> String {
    var xml = Self.header + #"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#
    for index in sheets.indices {
      xml += #"<Relationship Id="rId\#(index + 1)" Type="\#(Self.relationshipNamespace)/worksheet" Target="worksheets/sheet\#(index + 1).xml"/>"#
    }
    xml += #"<Relationship Id="rId\#(sheets.count + 1)" Type="\#(Self.relationshipNamespace)/styles" Target="styles.xml"/>"#
    return xml + "</Relationships>"
  }

  /// Two cell formats: 0 = default, 1 = bold (the header row).
  private static let styles = header + #"<styleSheet xmlns="\#(mainNamespace)">"#
    + #"<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>"#
    + #"<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>"#
    + #"<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>"#
    + #"<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>"#
    + #"<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>"#
    + "</styleSheet>"

  private func worksheet(_ sheet: ExportTable) -> String {
    var xml = Self.header + #"<worksheet xmlns="\#(Self.mainNamespace)">"#
    xml += #"<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>"#
    xml += "<sheetData>"
    xml += row(1, sheet.header.map { ExportCell.text($0) }, style: 1)
    for (index, cells) in sheet.rows.enumerated() { xml += row(index + 2, cells, style: 0) }
    return xml + "</sheetData></worksheet>"
  }

  private func row(_ number: Int, _ cells: [ExportCell], style: Int) -> String {
    var xml = #"<row r="\#(number)">"#
    for (column, cell) in cells.enumerated() {
      let reference = Self.columnName(column) + String(number)
      let styleAttribute = style == 0 ? "" : #" s="\#(style)""#
      switch cell {
      case .empty: continue
      case .number(let value, _):
        // The full value: a spreadsheet computes with it; display decimals are a view choice.
        xml += #"<c r="\#(reference)"\#(styleAttribute)><v>\#(CSVWriter.format(value, decimals: nil))</v></c>"#
      case .text(let text):
        let clean = String(String.UnicodeScalarView(text.unicodeScalars.filter(Self.isXMLCharacter)))
        xml += #"<c r="\#(reference)"\#(styleAttribute) t="inlineStr"><is><t xml:space="preserve">\#(clean.xmlEscaped)</t></is></c>"#
      }
    }
    return xml + "</row>"
  }

  /// A, B, …, Z, AA, AB, …
  static func columnName(_ index: Int) -> String {
    var index = index
    var name = ""
    repeat {
      name = String(UnicodeScalar(UInt8(65 + index % 26))) + name
      index = index / 26 - 1
    } while index >= 0
    return name
  }

  /// Characters XML 1.0 allows: tab, LF, CR and everything from U+0020 except the surrogates
  /// (which Swift strings never hold) and U+FFFE/U+FFFF.
  private static func isXMLCharacter(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x9, 0xA, 0xD: return true
    case 0x20...0xFFFD, 0x10000...0x10FFFF: return true
    default: return false
    }
  }
}

extension Character {
  fileprivate var isControlCharacter: Bool { unicodeScalars.allSatisfy { $0.value < 0x20 || $0.value == 0x7f } }
}
