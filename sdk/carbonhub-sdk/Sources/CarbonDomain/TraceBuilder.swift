/// Accumulates the trace of a calculation: named terms with units, data sets, decisions,
/// rule outcomes and warnings, in the order they were produced.
///
/// ```swift
/// var trace = TraceBuilder(method: "2BS ESCA guidelines", version: "V7")
/// let soc = trace.term("soc_current", socRef * fLU, .tCPerHa, formula: "SOC_REF × F_LU")
/// trace.decision("ef_policy", "GUIDELINES", reason: "default of the guidelines")
/// response.trace = trace.build()
/// ```
public struct TraceBuilder: Sendable {
  private var trace = CalculationTrace()

  /// Starts a trace for a method and its version.
  public init(method: String, version: String) {
    trace.method = method
    trace.methodVersion = version
    // Room for a small method's terms at once, rather than growing the array at each append.
    trace.terms.reserveCapacity(8)
  }

  /// Records a term and returns its value, so a computation can be written once.
  @discardableResult
  public mutating func term(
    _ name: String, _ value: Double, _ unit: MeasurementUnit, formula: String = "", source: String = ""
  ) -> Double {
    append(name, value, formula: formula, source: source) { $0.unit = unit }
  }

  /// Records a term in a unit the domain's `Unit` does not list (a module's own, e.g. "km" or
  /// "t C/km"): `unit_symbol` carries it and `unit` is UNIT_UNSPECIFIED. A symbol the domain
  /// does list ("t CO2e") is recorded as that unit instead, so that one unit has one spelling.
  @discardableResult
  public mutating func term(
    _ name: String, _ value: Double, unitSymbol: String, formula: String = "", source: String = ""
  ) -> Double {
    let symbol = String(unitSymbol.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    if let unit = MeasurementUnit(symbol: symbol) {
      return term(name, value, unit, formula: formula, source: source)
    }
    return append(name, value, formula: formula, source: source) { $0.unitSymbol = symbol }
  }

  /// Appends a term with its unit set by `setUnit`, and returns its value.
  private mutating func append(
    _ name: String, _ value: Double, formula: String, source: String, setUnit: (inout TraceTerm) -> Void
  ) -> Double {
    var term = TraceTerm()
    term.name = name
    term.value = value
    setUnit(&term)
    term.formula = formula
    term.source = source
    trace.terms.append(term)
    return value
  }

  /// Records a reference data set (once per name).
  public mutating func dataSet(_ version: DataSetVersion) {
    guard !trace.dataSets.contains(where: { $0.name == version.name }) else { return }
    trace.dataSets.append(version)
  }

  /// Records a decision taken where the method leaves a choice. The same decision again (rule,
  /// choice and reason alike, e.g. taken for each item of a batch) adds nothing, as a data set.
  public mutating func decision(_ rule: String, _ choice: String, reason: String) {
    guard !trace.decisions.contains(where: { $0.rule == rule && $0.choice == choice && $0.reason == reason }) else { return }
    var decision = Decision()
    decision.rule = rule
    decision.choice = choice
    decision.reason = reason
    trace.decisions.append(decision)
  }

  /// Records a decision once per rule name, however many items apply it: a later decision under
  /// the same rule adds nothing even when its wording differs (e.g. names another item).
  public mutating func decisionOnce(_ rule: String, _ choice: String, reason: String) {
    guard !trace.decisions.contains(where: { $0.rule == rule }) else { return }
    decision(rule, choice, reason: reason)
  }

  /// Records a rule that rejected, capped or changed the result.
  public mutating func rule(_ rule: String, _ effect: String) {
    var outcome = RuleOutcome()
    outcome.rule = rule
    outcome.effect = effect
    trace.rules.append(outcome)
  }

  /// Records a warning for the reader.
  public mutating func warning(_ text: String) { trace.warnings.append(text) }

  /// The finished trace, moved out of the builder (which cannot be used afterwards).
  public consuming func build() -> CalculationTrace { trace }

  /// The value of a recorded term, for tests and for later terms that reuse it.
  public func value(of name: String) -> Double? {
    trace.terms.last(where: { $0.name == name })?.value
  }
}

extension CalculationTrace {
  /// The value of a term by name (the last one recorded under that name).
  public func value(of name: String) -> Double? {
    terms.last(where: { $0.name == name })?.value
  }
}
