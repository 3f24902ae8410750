import CarbonDomain
import Foundation
import CarbonPluginKit

/// One production variable read from a ledger CSV (Tableau 2: the "Grand livre comptable" also
/// gives SAU, SFP, UGB, crop areas, tonnes sold, milk and meat).
struct LedgerProduction: Sendable, Equatable {
  /// The variables a ledger line may carry, with their unit in the unit column.
  static let units: [String: String] = [
    "sau_ha": "ha", "sfp_ha": "ha", "ugb": "ugb", "milk_sold_hl": "hl", "meat_sold_live_t": "t",
    "crop_area_ha": "ha", "crop_sold_t": "t", "crop_produced_t": "t",
  ]
  /// Variable name (a key of `units`).
  let variable: String
  /// Crop name for the crop_* variables, else empty.
  let crop: String
  /// Value, in the variable's unit.
  let value: Double

  /// The name a reconciliation reports: "sau_ha", "crops[blé].area_ha"...
  var reportedName: String {
    crop.isEmpty ? variable : "crops[\(crop)].\(variable.dropFirst("crop_".count))"
  }

  /// The request field a variable fills, for its declared range: a FarmYear field, or a
  /// CropYear one for the crop_* variables.
  static func declaredField(of variable: String) -> (field: String, type: String) {
    guard variable.hasPrefix("crop_") else { return (variable, Carbon_Sobac_V1_FarmYear.protoMessageName) }
    return (String(variable.dropFirst("crop_".count)), Carbon_Sobac_V1_CropYear.protoMessageName)
  }

  /// The CropYear field a crop_* variable fills.
  private var cropField: WritableKeyPath<Carbon_Sobac_V1_CropYear, Double> {
    switch variable {
    case "crop_area_ha": \.areaHa
    case "crop_sold_t": \.soldT
    default: \.producedT
    }
  }

  /// The variable's value in a farm-year (nil for a crop the year does not declare); a crop
  /// given in several lines has their sum (footnote 33: « SAU totale de la culture i »).
  func value(in year: Carbon_Sobac_V1_FarmYear) -> Double? {
    switch variable {
    case "sau_ha": return year.sauHa
    case "sfp_ha": return year.sfpHa
    case "ugb": return year.ugb
    case "milk_sold_hl": return year.milkSoldHl
    case "meat_sold_live_t": return year.meatSoldLiveT
    default:
      let lines = year.crops.filter { $0.crop == crop }
      guard !lines.isEmpty else { return nil }
      return lines.reduce(0) { $0 + $1[keyPath: cropField] }
    }
  }

  /// Sets the variable in a farm-year; adds the crop when it is absent. A crop given in several
  /// lines keeps its split: every line is scaled by the same ratio (when its lines hold 0, the
  /// first one takes the value), so no line is left with a zero area.
  func set(_ newValue: Double, in year: inout Carbon_Sobac_V1_FarmYear) {
    switch variable {
    case "sau_ha": year.sauHa = newValue
    case "sfp_ha": year.sfpHa = newValue
    case "ugb": year.ugb = newValue
    case "milk_sold_hl": year.milkSoldHl = newValue
    case "meat_sold_live_t": year.meatSoldLiveT = newValue
    default:
      if !year.crops.contains(where: { $0.crop == crop }) {
        var added = Carbon_Sobac_V1_CropYear()
        added.crop = crop
        year.crops.append(added)
      }
      let current = value(in: year) ?? 0
      let field = cropField
      var first = true
      for index in year.crops.indices where year.crops[index].crop == crop {
        let old = year.crops[index][keyPath: field]
        year.crops[index][keyPath: field] = current > 0 ? old * newValue / current : (first ? newValue : 0)
        first = false
      }
    }
  }
}

/// One line read from a ledger CSV, with where it came from: an input, or a production variable.
struct LedgerEntry: Sendable {
  let farmID: String
  let year: Int32
  /// The input line (unset for a production variable).
  let input: Carbon_Sobac_V1_InputLine
  /// The production variable, or nil for an input line.
  var production: LedgerProduction? = nil
  /// 1-based line number in the CSV text.
  let line: Int
}

/// Reads a farm ledger export: one line per farm, year, input, quantity, unit (Annex 5 "SUIVI
/// DES INTRANTS ACHETES"). Errors name the line and the column: field `ledger_csv[<line>].<column>`.
struct LedgerCsvReader: Sendable {
  /// The ranges sobac.proto declares: a value read from the CSV is held to the same range as
  /// the field it fills.
  let bounds = FieldBounds.of(SobacModule.self)
  /// Required columns.
  static let required = ["farm_id", "year", "input", "quantity", "unit"]
  /// Optional numeric columns, mapped to InputLine fields.
  static let optionalNumbers = [
    "opening_stock", "closing_stock", "n_percent", "p2o5_percent", "k2o_percent", "vn",
    "organic_n_kg_per_t", "active_substance_kg_per_unit", "lca_kg_co2e_per_unit", "carbonate_percent",
  ]
  /// Unit spellings accepted in the unit column (lower case), and the enum names.
  static let units: [String: InputUnit] = [
    "kg": .kgProduct, "t": .tProduct, "l": .lProduct, "kg_n": .kgN, "kg_p2o5": .kgP2O5,
    "kg_k2o": .kgK2O, "kg_as": .kgActiveSubstance, "kg_active_substance": .kgActiveSubstance,
    "kg_vn": .kgVn, "input_unit_kg_product": .kgProduct, "input_unit_t_product": .tProduct,
    "input_unit_l_product": .lProduct, "input_unit_kg_n": .kgN, "input_unit_kg_p2o5": .kgP2O5,
    "input_unit_kg_k2o": .kgK2O, "input_unit_kg_active_substance": .kgActiveSubstance,
    "input_unit_kg_vn": .kgVn,
  ]

  /// Parses the CSV text.
  func read(_ text: String) throws(ModuleError) -> [LedgerEntry] {
    let document: CSVReader.Document
    do {
      document = try CSVReader(delimiter: .detect, comments: true).read(text)
    } catch {
      throw .invalidArgument("ledger_csv[\(error.line)]", "line \(error.line): unterminated quote")
    }
    let separator = document.delimiter
    // A spreadsheet's empty rows come out as ";;;": not lines of the ledger.
    let records = document.records.filter { !$0.fields.allSatisfy { $0.trimmingSpaces().isEmpty } }
    guard let headerRecord = records.first else {
      throw .invalidArgument("ledger_csv", "is empty: a header row and at least one line are required")
    }
    let columns = headerRecord.fields.map { $0.lowercased().trimmingSpaces() }
    for name in Self.required where !columns.contains(name) {
      throw .invalidArgument(
        "ledger_csv[\(headerRecord.line)].\(name)",
        "line \(headerRecord.line) (header): missing column \(name.quoted); required columns: \(Self.required.joined(separator: ", "))")
    }
    var entries: [LedgerEntry] = []
    for record in records.dropFirst() {
      let lineNumber = record.line
      let cells = record.fields
      guard cells.count == columns.count else {
        throw .invalidArgument(
          "ledger_csv[\(lineNumber)]",
          "line \(lineNumber): expected \(columns.count) fields as in the header, found \(cells.count)")
      }
      func cell(_ name: String) -> (value: String, column: Int)? {
        guard let index = columns.firstIndex(of: name) else { return nil }
        return (cells[index].trimmingSpaces(), index + 1)
      }
      func fail(_ name: String, _ message: String) -> ModuleError {
        let column = columns.firstIndex(of: name).map { $0 + 1 } ?? 0
        return .invalidArgument(
          "ledger_csv[\(lineNumber)].\(name)", "line \(lineNumber), column \(column) (\(name)): \(message)")
      }
      /// The number in column `name`, within the range sobac.proto declares for the field it
      /// fills (`field` of `type`), as a request sending it directly would be.
      func number(
        _ name: String, required: Bool, field: String? = nil, of type: String = Carbon_Sobac_V1_InputLine.protoMessageName
      ) throws(ModuleError) -> Double {
        guard let (text, _) = cell(name), !text.isEmpty else {
          if required { throw fail(name, "is required") }
          return 0
        }
        let normalised = separator == ";" ? text.replacingOccurrences(of: ",", with: ".") : text
        guard let value = Double(normalised), value.isFinite else { throw fail(name, "\(text.quoted) is not a number") }
        guard value >= 0 else { throw fail(name, "must not be negative, got \(text)") }
        if let problem = bounds.violation(value, field: field ?? name, in: type) { throw fail(name, problem) }
        return value
      }
      guard let farm = cell("farm_id")?.value, !farm.isEmpty else { throw fail("farm_id", "is required") }
      guard let yearText = cell("year")?.value, !yearText.isEmpty else { throw fail("year", "is required") }
      guard let year = Int32(yearText), (1900...2200).contains(year) else {
        throw fail("year", "\(yearText.quoted) is not a year")
      }
      guard let code = cell("input")?.value, !code.isEmpty else { throw fail("input", "is required") }
      let unitText = cell("unit")?.value ?? ""
      if let expectedUnit = LedgerProduction.units[code] {
        guard unitText.lowercased() == expectedUnit else {
          throw fail("unit", "\(unitText.quoted) is not the unit of \(code): use \(expectedUnit)")
        }
        let cropName = cell("crop")?.value ?? ""
        if code.hasPrefix("crop_"), cropName.isEmpty { throw fail("crop", "names the crop of \(code) (column crop)") }
        let (field, type) = LedgerProduction.declaredField(of: code)
        let production = LedgerProduction(
          variable: code, crop: code.hasPrefix("crop_") ? cropName : "",
          value: try number("quantity", required: true, field: field, of: type))
        entries.append(
          LedgerEntry(farmID: farm, year: year, input: .init(), production: production, line: lineNumber))
        continue
      }
      guard let unit = Self.units[unitText.lowercased()] else {
        throw fail("unit", "\(unitText.quoted) is not a unit; use kg, t, l, kg_n, kg_p2o5, kg_k2o, kg_as or kg_vn (or a production variable in input: \(LedgerProduction.units.keys.sorted().joined(separator: ", ")))")
      }
      var input = Carbon_Sobac_V1_InputLine()
      input.inputCode = code
      input.unit = unit
      input.purchases = try number("quantity", required: true, field: "purchases")
      input.openingStock = try number("opening_stock", required: false)
      input.closingStock = try number("closing_stock", required: false)
      input.nPercent = try number("n_percent", required: false)
      input.p2O5Percent = try number("p2o5_percent", required: false)
      input.k2OPercent = try number("k2o_percent", required: false)
      input.vn = try number("vn", required: false)
      input.organicNKgPerT = try number("organic_n_kg_per_t", required: false)
      input.activeSubstanceKgPerUnit = try number("active_substance_kg_per_unit", required: false)
      input.lcaKgCo2EPerUnit = try number("lca_kg_co2e_per_unit", required: false)
      input.carbonatePercent = try number("carbonate_percent", required: false)
      input.label = cell("label")?.value ?? ""
      entries.append(LedgerEntry(farmID: farm, year: year, input: input, line: lineNumber))
    }
    guard !entries.isEmpty else { throw .invalidArgument("ledger_csv", "has a header but no data line") }
    return entries
  }

  /// Groups entries by farm (order of first appearance) and year (ascending); production
  /// variables fill the farm-year's fields, the lines of one variable adding up (a ledger books
  /// a crop's area or its sales in as many lines as it has parcels or invoices).
  func farms(_ entries: [LedgerEntry]) -> [Carbon_Sobac_V1_Farm] {
    var order: [String] = []
    var byFarm: [String: [Int32: Carbon_Sobac_V1_FarmYear]] = [:]
    for entry in entries {
      if byFarm[entry.farmID] == nil { order.append(entry.farmID) }
      var farmYear = byFarm[entry.farmID, default: [:]][entry.year] ?? Carbon_Sobac_V1_FarmYear()
      farmYear.year = entry.year
      if let production = entry.production {
        production.set((production.value(in: farmYear) ?? 0) + production.value, in: &farmYear)
      } else {
        farmYear.inputs.append(entry.input)
      }
      byFarm[entry.farmID, default: [:]][entry.year] = farmYear
    }
    return order.map { id in
      var farm = Carbon_Sobac_V1_Farm()
      farm.farmID = id
      farm.years = (byFarm[id] ?? [:]).sorted(by: { $0.key < $1.key }).map(\.value)
      return farm
    }
  }
}
