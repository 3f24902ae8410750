import Foundation
import CarbonDomain
import CarbonPluginKit

/// Short names for the generated messages of `carbon.sobac.v1`.
typealias InputUnit = Carbon_Sobac_V1_InputUnit
typealias EmissionCategory = Carbon_Sobac_V1_EmissionCategory

/// One embedded reference data file: its parsed table and where it comes from.
struct ReferenceFile: Sendable {
  /// Table name as listed by ListReferenceData ("inputs").
  let name: String
  /// File name under `Module/Data`.
  let file: String
  /// The parsed CSV.
  let table: ReferenceTable

  /// The `# source:` comment.
  var source: String { comment(prefix: "source:") }
  /// The `# version:` comment.
  var version: String { comment(prefix: "version:") }
  /// The other comment lines.
  var notes: [String] {
    table.comments.filter { !$0.hasPrefix("source:") && !$0.hasPrefix("version:") }
  }

  /// The data set entry for traces.
  var dataSet: DataSetVersion {
    var set = DataSetVersion()
    set.name = "sobac-" + name.replacingOccurrences(of: "_", with: "-")
    set.version = version
    set.source = source
    return set
  }

  private func comment(prefix: String) -> String {
    guard let line = table.comments.first(where: { $0.hasPrefix(prefix) }) else { return "" }
    return line.dropFirst(prefix.count).trimmingSpaces()
  }
}

/// The family of an Annex 3 input: decides which units it accepts and how it is computed.
enum InputFamily: String, Sendable, CaseIterable {
  case nFertiliser = "n_fertiliser"
  case pFertiliser = "p_fertiliser"
  case kFertiliser = "k_fertiliser"
  case compoundFertiliser = "compound_fertiliser"
  case plantProtection = "plant_protection"
  case lime
  case organicAmendment = "organic_amendment"
  case otherLca = "other_lca"
}

/// How an input emits CO2 in the field (Eq. 12 and urea).
enum FieldCarbonDioxide: String, Sendable {
  case none
  case limestone
  case dolomite
  case urea
  /// N solution: a configurable share of its N is urea.
  case nSolution = "n_solution"
  /// Sugar-factory scum: counted as limestone in proportion VN / VN(calcium carbonate).
  case limestoneEquivalent = "limestone_equivalent"
  /// A fertiliser mixed with limestone (calcium ammonium nitrate) whose share the seed does not
  /// print: its carbonate counts in Eq. 12 from the line's carbonate_percent, else it is counted
  /// 0 with a warning.
  case carbonateInMix = "carbonate_in_mix"
}

/// One row of the Annex 3 catalogue (`Data/inputs.csv`).
struct CatalogueInput: Sendable {
  let code: String
  let label: String
  let family: InputFamily
  /// Grades, % of product mass (nil when the catalogue has none).
  let nPercent: Double?
  let p2o5Percent: Double?
  let k2oPercent: Double?
  /// Neutralising value, kg VN per kg product.
  let vn: Double?
  /// Upstream factors, kg CO2e per kg of the basis (per t of product for organic amendments).
  let upstreamPerKgN: Double?
  let upstreamPerKgP2O5: Double?
  let upstreamPerKgK2O: Double?
  let upstreamPerKgActiveSubstance: Double?
  let upstreamPerKgVN: Double?
  let upstreamPerTonneProduct: Double?
  let fieldCO2: FieldCarbonDioxide
  let source: String
}

/// Default composition of an organic amendment (Annex 4).
struct AmendmentComposition: Sendable {
  let code: String
  /// Total N, g per kg of product (= kg N per t).
  let nTotalGPerKg: Double
}

/// One cell pair of an Annex 2 IFT table: a number, or the reason there is none.
enum IftCell: Sendable, Equatable {
  case value(Double)
  /// "/", "ns" or "nd", as printed.
  case unavailable(String)

  init(_ text: String) {
    if let number = Double(text) { self = .value(number) } else { self = .unavailable(text) }
  }
}

/// A regional IFT reference of one crop (Annex 2).
struct RegionalIft: Sendable {
  let table: String
  let areaCode: String
  let areaName: String
  let crop: String
  let mode: String
  let herbicide: IftCell
  let nonHerbicide: IftCell
}

/// The Tableau 5 field factors and the urea decision factors (`Data/field-factors.csv`).
struct FieldFactors: Sendable {
  let feDirectMineral: Double
  let feDirectOrganic: Double
  let feVolatilisation: Double
  let volatilisedMineral: Double
  let volatilisedOrganic: Double
  let feLeaching: Double
  let leachedFraction: Double
  let feLimestone: Double
  let feDolomite: Double
  let ureaCarbon: Double
  let ureaNFraction: Double
}

/// One row of Tableau 7.
struct AuditSampleRow: Sendable {
  let farmsAtLeast: Int
  let oneType: Int
  let twoTypesEach: Int
  let threeTypesEach: Int
}

/// Every reference table of the method, loaded once from the embedded data files.
struct SobacReferenceData: Sendable {
  let files: [ReferenceFile]
  let inputs: [String: CatalogueInput]
  let compositions: [String: AmendmentComposition]
  let fieldFactors: FieldFactors
  let auditRows: [AuditSampleRow]
  /// Regional IFTs keyed by table, then "area|crop|mode".
  let regionalIft: [String: [String: RegionalIft]]
  /// Every crop code present in the IFT tables.
  let iftCropCodes: Set<String>

  /// Data set entries for traces, built once: every evaluation lists them, and building them
  /// from the files' comments each time took most of an evaluation (callgrind, see
  /// docs/performance.md).
  let dataSets: [DataSetVersion]

  /// The embedded tables, parsed once per process and shared by every module instance.
  static let shared: Result<SobacReferenceData, ModuleError> = {
    do throws(ModuleError) { return .success(try load()) } catch { return .failure(error) }
  }()

  /// Loads the embedded files; a malformed file is a build defect reported as INTERNAL.
  static func load() throws(ModuleError) -> SobacReferenceData {
    func parse(_ name: String, _ file: String, _ bytes: [UInt8]) throws(ModuleError) -> ReferenceFile {
      do {
        return ReferenceFile(name: name, file: file, table: try ReferenceTable(bytes: bytes))
      } catch {
        throw .internal("reference data file \(file) is malformed: \(error)")
      }
    }
    let files = [
      try parse("inputs", "inputs.csv", PackageResources.inputs_csv),
      try parse("amendment_compositions", "amendment-compositions.csv", PackageResources.amendment_compositions_csv),
      try parse("field_factors", "field-factors.csv", PackageResources.field_factors_csv),
      try parse("ift_field_crops", "ift-field-crops.csv", PackageResources.ift_field_crops_csv),
      try parse("ift_vegetables", "ift-vegetables.csv", PackageResources.ift_vegetables_csv),
      try parse("ift_vineyards", "ift-vineyards.csv", PackageResources.ift_vineyards_csv),
      try parse("ift_fruit", "ift-fruit.csv", PackageResources.ift_fruit_csv),
      try parse("audit_sample", "audit-sample.csv", PackageResources.audit_sample_csv),
    ]
    func file(_ name: String) -> ReferenceFile? { files.first { $0.name == name } }
    guard let inputFile = file("inputs"), let compositionFile = file("amendment_compositions"),
      let factorFile = file("field_factors"), let auditFile = file("audit_sample")
    else { throw .internal("reference data files missing") }

    var inputs: [String: CatalogueInput] = [:]
    for row in inputFile.table.records {
      guard let code = row["code"], let family = InputFamily(rawValue: row["family"] ?? ""),
        let fieldCO2 = FieldCarbonDioxide(rawValue: row["field_co2"] ?? "")
      else { throw .internal("inputs.csv: bad row \(row)") }
      func number(_ key: String) -> Double? { Double(row[key] ?? "") }
      inputs[code] = CatalogueInput(
        code: code, label: row["label"] ?? code, family: family,
        nPercent: number("n_percent"), p2o5Percent: number("p2o5_percent"),
        k2oPercent: number("k2o_percent"), vn: number("vn"),
        upstreamPerKgN: number("upstream_per_kg_n"),
        upstreamPerKgP2O5: number("upstream_per_kg_p2o5"),
        upstreamPerKgK2O: number("upstream_per_kg_k2o"),
        upstreamPerKgActiveSubstance: number("upstream_per_kg_active_substance"),
        upstreamPerKgVN: number("upstream_per_kg_vn"),
        upstreamPerTonneProduct: number("upstream_per_t_product"),
        fieldCO2: fieldCO2, source: row["source"] ?? "")
    }

    var compositions: [String: AmendmentComposition] = [:]
    for row in compositionFile.table.records {
      guard let code = row["code"], let n = Double(row["n_total_g_per_kg"] ?? "") else {
        throw .internal("amendment-compositions.csv: bad row \(row)")
      }
      compositions[code] = AmendmentComposition(code: code, nTotalGPerKg: n)
    }

    var factors: [String: Double] = [:]
    for row in factorFile.table.records {
      if let code = row["code"], let value = Double(row["value"] ?? "") { factors[code] = value }
    }
    func factor(_ code: String) throws(ModuleError) -> Double {
      guard let value = factors[code] else { throw .internal("field-factors.csv: missing \(code)") }
      return value
    }
    let fieldFactors = FieldFactors(
      feDirectMineral: try factor("fe_dmin"), feDirectOrganic: try factor("fe_dorg"),
      feVolatilisation: try factor("fe_volat"), volatilisedMineral: try factor("volat_min"),
      volatilisedOrganic: try factor("volat_org"), feLeaching: try factor("fe_less"),
      leachedFraction: try factor("less"), feLimestone: try factor("fe_limestone"),
      feDolomite: try factor("fe_dolomite"), ureaCarbon: try factor("urea_c"),
      ureaNFraction: try factor("urea_n_fraction"))

    var auditRows: [AuditSampleRow] = []
    for row in auditFile.table.records {
      guard let size = Int(row["farms_at_least"] ?? ""), let one = Int(row["one_type"] ?? ""),
        let two = Int(row["two_types_each"] ?? ""), let three = Int(row["three_types_each"] ?? "")
      else { throw .internal("audit-sample.csv: bad row \(row)") }
      auditRows.append(AuditSampleRow(farmsAtLeast: size, oneType: one, twoTypesEach: two, threeTypesEach: three))
    }
    auditRows.sort { $0.farmsAtLeast < $1.farmsAtLeast }

    var regionalIft: [String: [String: RegionalIft]] = [:]
    var cropCodes: Set<String> = []
    for name in ["ift_field_crops", "ift_vegetables", "ift_vineyards", "ift_fruit"] {
      guard let iftFile = file(name) else { continue }
      var byKey: [String: RegionalIft] = [:]
      for row in iftFile.table.records {
        let entry = RegionalIft(
          table: name, areaCode: row["area_code"] ?? "", areaName: row["area_name"] ?? "",
          crop: row["crop"] ?? "", mode: row["mode"] ?? "all",
          herbicide: IftCell(row["ift_herbicide"] ?? ""),
          nonHerbicide: IftCell(row["ift_non_herbicide"] ?? ""))
        byKey[Self.iftKey(entry.areaCode, entry.crop, entry.mode)] = entry
        cropCodes.insert(entry.crop)
      }
      regionalIft[name] = byKey
    }
    return SobacReferenceData(
      files: files, inputs: inputs, compositions: compositions, fieldFactors: fieldFactors,
      auditRows: auditRows, regionalIft: regionalIft, iftCropCodes: cropCodes, dataSets: files.map(\.dataSet))
  }

  /// Key of a regional IFT entry.
  static func iftKey(_ area: String, _ crop: String, _ mode: String) -> String {
    "\(area)|\(crop)|\(mode)"
  }

  /// The regional IFT of a crop: vineyards by wine basin, other crops by former region in the
  /// field-crop, vegetable then fruit tables. Nil when no table has the crop for that area.
  func regionalIft(crop: String, mode: String, formerRegion: String, wineBasin: String) -> RegionalIft? {
    if crop == "vigne" {
      return regionalIft["ift_vineyards"]?[Self.iftKey(wineBasin, crop, "all")]
    }
    for table in ["ift_field_crops", "ift_vegetables", "ift_fruit"] {
      if let entry = regionalIft[table]?[Self.iftKey(formerRegion, crop, mode)] { return entry }
    }
    return nil
  }
}
