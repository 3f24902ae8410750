import CarbonDomain
import CarbonPluginKit

/// What one validated input line amounts to: nutrient and product quantities, and its
/// upstream and field emissions.
struct ResolvedInput: Sendable {
  var consumption = 0.0
  var nMineralKg = 0.0
  var nOrganicKg = 0.0
  var p2o5Kg = 0.0
  var k2oKg = 0.0
  var activeSubstanceKg = 0.0
  var vnKg = 0.0
  var productKg = 0.0
  /// Upstream of the line's N term (category N fertiliser), kg CO2e.
  var upstreamNKgCO2e = 0.0
  /// Upstream of the rest of the line (category `category`), kg CO2e.
  var upstreamOtherKgCO2e = 0.0
  /// Category of `upstreamOtherKgCO2e`.
  var category: EmissionCategory = .other
  /// Mass counted as limestone / dolomite in Eq. 12, kg.
  var limestoneKg = 0.0
  var dolomiteKg = 0.0
  /// Urea mass applied, kg (urea fertiliser and the urea share of N solutions).
  var ureaKg = 0.0
  /// How the quantities were derived.
  var formula = ""

  /// Names of `rankedQuantities`, in its order.
  static let rankedNames = [
    "mineral N", "organic N", "P2O5", "K2O", "active substance", "VN", "limestone", "dolomite", "urea",
    "upstream emissions",
  ]

  /// The quantities the emission factors apply to: what ranks two sources of an input (§4.3.4)
  /// and what a year's lines of one input, summed, must not make negative.
  var rankedQuantities: [Double] {
    [
      nMineralKg, nOrganicKg, p2o5Kg, k2oKg, activeSubstanceKg, vnKg, limestoneKg, dolomiteKg, ureaKg,
      upstreamNKgCO2e + upstreamOtherKgCO2e,
    ]
  }
}

/// Options of the calculation set by the module configuration.
struct CalculationOptions: Sendable {
  /// Share of the N of an N solution that is urea (METHODS §2.1 decision: half).
  var nSolutionUreaShare = 0.5
  /// Whether the −30 % N-fertiliser check blocks the reductions: not by default, it is not a
  /// Tableau 1 indicator (§4.3.3; METHODS §2.3 corrected); an operator may make it blocking.
  var nFertiliserCheckBlocking = false
}

/// One input variable of a year (§4.3.4, §6: consumption = « achats auxquels on ajoute la
/// variation de stock »): an input code in one unit, whatever the lines' labels; for
/// `other_lca` the code names no product, so each manufacturer LCA factor is its own variable
/// (Annex 3 preamble: every other input carries its own LCA).
struct InputVariable: Hashable, Sendable {
  let code: String
  let unit: InputUnit
  /// The line's manufacturer LCA factor for `other_lca`, else 0.
  let lcaFactor: Double
}

/// Validates an input line against the Annex 3 catalogue and derives its quantities.
struct InputResolver: Sendable {
  let data: SobacReferenceData
  let options: CalculationOptions

  /// The variable `line` books.
  func variable(of line: Carbon_Sobac_V1_InputLine) -> InputVariable {
    InputVariable(
      code: line.inputCode, unit: line.unit,
      lcaFactor: data.inputs[line.inputCode]?.family == .otherLca ? line.lcaKgCo2EPerUnit : 0)
  }

  /// Refuses a variable whose lines, summed, consume less than 0, or give less than 0 of a
  /// quantity an emission factor applies to (N, P2O5, K2O, upstream emissions, limestone…): a
  /// stock change may have its own line, the year's consumption cannot be negative (§6: « les
  /// consommations (achats auxquels on ajoute la variation de stock) »), and a stock line at
  /// another grade than the purchases could otherwise remove more N than was bought. The
  /// error names the closing stock of the first line that is negative on its own (`path` of
  /// each line).
  static func checkConsumption(
    _ lines: [(resolved: ResolvedInput, path: String)], of variable: InputVariable, year: Int32
  ) throws(ModuleError) {
    let consumption = lines.map { ($0.resolved.consumption, $0.path) }
    try refuseNegative(consumption, "consumption (purchases + opening stock − closing stock)", of: variable, year: year)
    for (index, name) in ResolvedInput.rankedNames.enumerated() {
      try refuseNegative(lines.map { ($0.resolved.rankedQuantities[index], $0.path) }, name, of: variable, year: year)
    }
  }

  /// Refuses `values` (one per line) whose sum is below 0, beyond rounding.
  private static func refuseNegative(
    _ values: [(Double, String)], _ quantity: String, of variable: InputVariable, year: Int32
  ) throws(ModuleError) {
    let total = values.reduce(0) { $0 + $1.0 }
    let scale = values.reduce(1) { $0 + abs($1.0) }
    guard total < -1e-9 * scale, let first = values.first(where: { $0.0 < 0 }) else { return }
    throw .invalidArgument(
      "\(first.1).closing_stock",
      "the \(quantity) of \(variable.code.quoted) in \(year), summed over its \(values.count) line(s), is \(total) (< 0): a closing stock exceeds what was bought and held\(quantity.hasPrefix("consumption") ? "" : ", at the lines' own grades")")
  }

  /// Resolves one line; `path` is the line's field path ("farm.years[2].inputs[0]").
  func resolve(_ line: Carbon_Sobac_V1_InputLine, path: String) throws(ModuleError) -> (CatalogueInput, ResolvedInput) {
    try Validate.nonEmpty(line.inputCode, "\(path).input_code")
    guard let item = data.inputs[line.inputCode] else {
      throw .invalidArgument(
        "\(path).input_code",
        "unknown input type \(line.inputCode.quoted); the Annex 3 codes are listed by ListReferenceData (table inputs), or use other_lca with a manufacturer factor")
    }
    try Validate.specified(line.unit, "\(path).unit") { if case .UNRECOGNIZED = $0 { return false } else { return true } }
    let purchases = try Validate.nonNegative(line.purchases, "\(path).purchases")
    let opening = try Validate.nonNegative(line.openingStock, "\(path).opening_stock")
    let closing = try Validate.nonNegative(line.closingStock, "\(path).closing_stock")
    // A line may be negative (a stock change booked on its own line): the year's consumption
    // of the input, its lines summed, is what must not be (`checkConsumption`).
    let consumption = purchases + opening - closing
    try Validate.inRange(line.nPercent, 0...100, "\(path).n_percent")
    try Validate.inRange(line.p2O5Percent, 0...100, "\(path).p2o5_percent")
    try Validate.inRange(line.k2OPercent, 0...100, "\(path).k2o_percent")
    // Seed note 17: "VN = Valeur Neutralisante = % CaO + 1.4% MgO": a magnesian quicklime
    // (58 % CaO, 40 % MgO) has 1.14, pure MgO 1.4; 1 is not the top.
    try Validate.inRange(line.vn, 0...1.4, "\(path).vn")
    try Validate.nonNegative(line.organicNKgPerT, "\(path).organic_n_kg_per_t")
    try Validate.nonNegative(line.activeSubstanceKgPerUnit, "\(path).active_substance_kg_per_unit")
    try Validate.nonNegative(line.lcaKgCo2EPerUnit, "\(path).lca_kg_co2e_per_unit")
    try Validate.inRange(line.carbonatePercent, 0...100, "\(path).carbonate_percent")

    var result = ResolvedInput()
    result.consumption = consumption
    let productKg: Double? =
      switch line.unit {
      case .kgProduct: consumption
      case .tProduct: consumption * 1000
      default: nil
      }
    result.productKg = productKg ?? 0

    func refuseUnit(_ allowed: String) -> ModuleError {
      .invalidArgument(
        "\(path).unit",
        "unit \(line.unit) is not valid for \(item.family.rawValue) input \(item.code.quoted); use \(allowed)")
    }
    func grade(_ override: Double, _ catalogue: Double?, _ name: String) throws(ModuleError) -> Double {
      if override > 0 { return override }
      if let catalogue { return catalogue }
      throw .invalidArgument("\(path).\(name)", "is required for \(item.code.quoted) given in product units (no catalogue grade)")
    }
    func factor(_ value: Double?, _ name: String) throws(ModuleError) -> Double {
      guard let value else { throw .internal("inputs.csv: \(item.code.quoted) has no \(name) factor") }
      return value
    }

    switch item.family {
    case .nFertiliser:
      switch line.unit {
      case .kgN: result.nMineralKg = consumption
      case .kgProduct, .tProduct:
        result.nMineralKg = (productKg ?? 0) * (try grade(line.nPercent, item.nPercent, "n_percent")) / 100
      default: throw refuseUnit("INPUT_UNIT_KG_N, INPUT_UNIT_KG_PRODUCT or INPUT_UNIT_T_PRODUCT")
      }
      result.upstreamNKgCO2e = result.nMineralKg * (try factor(item.upstreamPerKgN, "N"))
      result.category = .nFertiliser
      let share: Double =
        switch item.fieldCO2 {
        case .urea: 1
        case .nSolution: options.nSolutionUreaShare
        default: 0
        }
      result.ureaKg = result.nMineralKg * share / data.fieldFactors.ureaNFraction
      result.formula = "kg N × \(item.upstreamPerKgN ?? 0) kg CO2e/kg N"

    case .pFertiliser, .kFertiliser:
      let isP = item.family == .pFertiliser
      let nutrientUnit: InputUnit = isP ? .kgP2O5 : .kgK2O
      let nutrientName = isP ? "p2o5_percent" : "k2o_percent"
      let catalogueGrade = isP ? item.p2o5Percent : item.k2oPercent
      let overrideGrade = isP ? line.p2O5Percent : line.k2OPercent
      let nutrientKg: Double
      switch line.unit {
      case nutrientUnit:
        nutrientKg = consumption
        // N of MAP, DAP or potassium nitrate from the grade ratio N / nutrient.
        let nGrade = line.nPercent > 0 ? line.nPercent : (item.nPercent ?? 0)
        let mainGrade = overrideGrade > 0 ? overrideGrade : (catalogueGrade ?? 0)
        if nGrade > 0 {
          guard mainGrade > 0 else { throw .invalidArgument("\(path).\(nutrientName)", "is required to derive the N of \(item.code.quoted)") }
          result.nMineralKg = nutrientKg * nGrade / mainGrade
        }
      case .kgProduct, .tProduct:
        nutrientKg = (productKg ?? 0) * (try grade(overrideGrade, catalogueGrade, nutrientName)) / 100
        let nGrade = line.nPercent > 0 ? line.nPercent : (item.nPercent ?? 0)
        result.nMineralKg = (productKg ?? 0) * nGrade / 100
      default:
        throw refuseUnit("\(isP ? "INPUT_UNIT_KG_P2O5" : "INPUT_UNIT_KG_K2O"), INPUT_UNIT_KG_PRODUCT or INPUT_UNIT_T_PRODUCT")
      }
      if isP { result.p2o5Kg = nutrientKg } else { result.k2oKg = nutrientKg }
      let perNutrient = try factor(isP ? item.upstreamPerKgP2O5 : item.upstreamPerKgK2O, isP ? "P2O5" : "K2O")
      result.upstreamOtherKgCO2e = nutrientKg * perNutrient
      result.category = .pkFertiliser
      result.formula = "kg \(isP ? "P2O5" : "K2O") × \(perNutrient) kg CO2e/kg (factor covers the whole product; its N counts for field N2O only)"

    case .compoundFertiliser:
      guard let productKg else { throw refuseUnit("INPUT_UNIT_KG_PRODUCT or INPUT_UNIT_T_PRODUCT with the product's grades") }
      let needsN = item.upstreamPerKgN != nil
      let needsP = item.upstreamPerKgP2O5 != nil
      let needsK = item.upstreamPerKgK2O != nil
      if needsN { try Validate.positive(line.nPercent, "\(path).n_percent") }
      if needsP { try Validate.positive(line.p2O5Percent, "\(path).p2o5_percent") }
      if needsK { try Validate.positive(line.k2OPercent, "\(path).k2o_percent") }
      result.nMineralKg = needsN ? productKg * line.nPercent / 100 : 0
      result.p2o5Kg = needsP ? productKg * line.p2O5Percent / 100 : 0
      result.k2oKg = needsK ? productKg * line.k2OPercent / 100 : 0
      result.upstreamNKgCO2e = result.nMineralKg * (item.upstreamPerKgN ?? 0)
      result.upstreamOtherKgCO2e =
        result.p2o5Kg * (item.upstreamPerKgP2O5 ?? 0) + result.k2oKg * (item.upstreamPerKgK2O ?? 0)
      result.category = .pkFertiliser
      result.formula =
        "kg N × \(item.upstreamPerKgN ?? 0) + kg P2O5 × \(item.upstreamPerKgP2O5 ?? 0) + kg K2O × \(item.upstreamPerKgK2O ?? 0) kg CO2e/kg"

    case .plantProtection:
      switch line.unit {
      case .kgActiveSubstance: result.activeSubstanceKg = consumption
      case .kgProduct, .lProduct, .tProduct:
        let perUnit = try Validate.positive(line.activeSubstanceKgPerUnit, "\(path).active_substance_kg_per_unit")
        result.activeSubstanceKg = (line.unit == .tProduct ? consumption * 1000 : consumption) * perUnit
      default:
        throw refuseUnit("INPUT_UNIT_KG_ACTIVE_SUBSTANCE, or a product unit with active_substance_kg_per_unit")
      }
      let perKg = try factor(item.upstreamPerKgActiveSubstance, "active substance")
      result.upstreamOtherKgCO2e = result.activeSubstanceKg * perKg
      result.category = .plantProtection
      result.formula = "kg active substance × \(perKg) kg CO2e/kg"

    case .lime:
      let vn = line.vn > 0 ? line.vn : (item.vn ?? 0)
      guard vn > 0 else { throw .invalidArgument("\(path).vn", "is required for \(item.code.quoted)") }
      switch line.unit {
      case .kgVn:
        result.vnKg = consumption
        result.productKg = consumption / vn
      case .kgProduct, .tProduct:
        result.vnKg = (productKg ?? 0) * vn
      default: throw refuseUnit("INPUT_UNIT_KG_VN, INPUT_UNIT_KG_PRODUCT or INPUT_UNIT_T_PRODUCT")
      }
      let perVN = try factor(item.upstreamPerKgVN, "VN")
      result.upstreamOtherKgCO2e = result.vnKg * perVN
      result.category = .lime
      switch item.fieldCO2 {
      case .limestone: result.limestoneKg = result.productKg
      case .dolomite: result.dolomiteKg = result.productKg
      case .limestoneEquivalent:
        let limestoneVN = data.inputs["calcium_carbonate"]?.vn ?? 0.55
        result.limestoneKg = result.productKg * vn / limestoneVN
      default: break
      }
      result.formula = "kg VN × \(perVN) kg CO2e/kg VN (VN \(vn))"

    case .organicAmendment:
      guard let productKg else { throw refuseUnit("INPUT_UNIT_T_PRODUCT or INPUT_UNIT_KG_PRODUCT") }
      let tonnes = productKg / 1000
      let nPerTonne: Double
      if line.organicNKgPerT > 0 {
        nPerTonne = line.organicNKgPerT
        result.formula = "supplier N \(nPerTonne) kg/t"
      } else if let composition = data.compositions[item.code] {
        nPerTonne = composition.nTotalGPerKg
        result.formula = "Annex 4 default N \(nPerTonne) g/kg (basis not stated by the seed; read per kg of product)"
      } else {
        throw .invalidArgument(
          "\(path).organic_n_kg_per_t",
          "is required for \(item.code.quoted): Annex 4 gives no default composition for it")
      }
      result.nOrganicKg = tonnes * nPerTonne
      let perTonne = try factor(item.upstreamPerTonneProduct, "per tonne")
      result.upstreamOtherKgCO2e = tonnes * perTonne
      result.category = .organicAmendment
      result.formula = "t × \(perTonne) kg CO2e/t; " + result.formula

    case .otherLca:
      let perUnit = try Validate.positive(line.lcaKgCo2EPerUnit, "\(path).lca_kg_co2e_per_unit")
      result.upstreamOtherKgCO2e = consumption * perUnit
      result.category = .other
      if line.nPercent > 0 || line.organicNKgPerT > 0 {
        guard let productKg else {
          throw refuseUnit("a product mass unit when its N content is given (n_percent or organic_n_kg_per_t)")
        }
        result.nMineralKg = productKg * line.nPercent / 100
        result.nOrganicKg = productKg / 1000 * line.organicNKgPerT
      }
      result.formula = "\(consumption) × manufacturer LCA factor \(perUnit) kg CO2e/unit"
    }
    if line.carbonatePercent > 0 {
      let mixKg = try mixProductKg(line, item: item, resolved: result, path: path)
      let carbonateKg = mixKg * line.carbonatePercent / 100
      result.limestoneKg += carbonateKg
      result.formula += "; limestone in the mix \(mixKg) kg × \(line.carbonatePercent) % = \(carbonateKg) kg (Eq. 12)"
    }
    return (item, result)
  }

  /// Product mass of a fertiliser mix whose line gives carbonate_percent, kg: the product units
  /// as such, a nutrient unit divided by the product's grade of that nutrient. Eq. 12 counts
  /// « calcaire inorganique […] inclus dans des mélanges d'engrais »: a lime's carbonate is its
  /// code already, a plant-protection product or an organic amendment is no fertiliser mix.
  private func mixProductKg(
    _ line: Carbon_Sobac_V1_InputLine, item: CatalogueInput, resolved: ResolvedInput, path: String
  ) throws(ModuleError) -> Double {
    let field = "\(path).carbonate_percent"
    switch item.family {
    case .lime, .plantProtection, .organicAmendment:
      throw .invalidArgument(
        field,
        "applies to a fertiliser mix (Eq. 12: « inclus dans des mélanges d'engrais »), not to the \(item.family.rawValue) input \(item.code.quoted)\(item.family == .lime ? ", whose carbonate its code already counts" : "")")
    default: break
    }
    if line.unit == .kgProduct || line.unit == .tProduct || item.family == .compoundFertiliser { return resolved.productKg }
    guard item.family != .otherLca else {
      throw .invalidArgument(field, "needs the product mass of \(item.code.quoted): give the line in kg or t of product")
    }
    // A nutrient unit: product = nutrient / grade.
    let (nutrientKg, grade, gradeField): (Double, Double, String) =
      switch line.unit {
      case .kgN: (resolved.nMineralKg, line.nPercent > 0 ? line.nPercent : (item.nPercent ?? 0), "n_percent")
      case .kgP2O5: (resolved.p2o5Kg, line.p2O5Percent > 0 ? line.p2O5Percent : (item.p2o5Percent ?? 0), "p2o5_percent")
      case .kgK2O: (resolved.k2oKg, line.k2OPercent > 0 ? line.k2OPercent : (item.k2oPercent ?? 0), "k2o_percent")
      default: (0, 0, "unit")
      }
    guard gradeField != "unit" else {
      throw .invalidArgument(field, "needs the product mass: give the line in kg or t of product (unit \(line.unit) has none)")
    }
    guard grade > 0 else {
      throw .invalidArgument("\(path).\(gradeField)", "is required with carbonate_percent to derive the product mass of \(item.code.quoted) from its nutrient")
    }
    return nutrientKg / grade * 100
  }
}
