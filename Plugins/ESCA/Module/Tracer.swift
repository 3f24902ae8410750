import CarbonDomain

/// The trace of one ESCA calculation: a ``TraceBuilder`` whose terms can be switched off for
/// cheap batch records (decisions, rules, data sets and warnings are always kept).
struct Tracer {
  private(set) var builder: TraceBuilder
  /// Whether intermediate terms are recorded.
  let recordsTerms: Bool

  init(recordsTerms: Bool = true) {
    builder = TraceBuilder(method: EscaRules.methodName, version: EscaRules.methodVersion)
    self.recordsTerms = recordsTerms
    builder.dataSet(EscaRules.rulesDataSet)
  }

  /// Records a term (when terms are on) and returns its value.
  @discardableResult
  mutating func term(
    _ name: String, _ value: Double, _ unit: MeasurementUnit, formula: @autoclosure () -> String = "",
    source: @autoclosure () -> String = ""
  ) -> Double {
    if recordsTerms { builder.term(name, value, unit, formula: formula(), source: source()) }
    return value
  }

  /// Records a data set used.
  mutating func dataSet(_ version: DataSetVersion) { builder.dataSet(version) }

  /// Records a decision taken where the guidelines leave a choice.
  mutating func decision(_ rule: String, _ choice: String, reason: String) {
    builder.decision(rule, choice, reason: reason)
  }

  /// Records a rule that capped, refused or changed the result.
  mutating func rule(_ rule: String, _ effect: String) { builder.rule(rule, effect) }

  /// Records a warning.
  mutating func warning(_ text: String) { builder.warning(text) }

  /// The finished trace.
  func build() -> CalculationTrace { builder.build() }
}
