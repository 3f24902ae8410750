import CarbonDomain

/// The trace of one ESCA calculation: a ``TraceBuilder`` that can be made compact for cheap
/// batch records: no terms, decisions without their reason and data sets without their source
/// (rule and choice, name and version stay; the full wording is in every unary response).
struct Tracer {
  private(set) var builder: TraceBuilder
  /// Whether intermediate terms are recorded.
  let recordsTerms: Bool

  init(recordsTerms: Bool = true) {
    builder = TraceBuilder(method: EscaRules.methodName, version: EscaRules.methodVersion)
    self.recordsTerms = recordsTerms
    dataSet(EscaRules.rulesDataSet)
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
  mutating func dataSet(_ version: DataSetVersion) {
    if recordsTerms {
      builder.dataSet(version)
    } else {
      var short = DataSetVersion()
      short.name = version.name
      short.version = version.version
      builder.dataSet(short)
    }
  }

  /// Records a decision taken where the guidelines leave a choice.
  mutating func decision(_ rule: String, _ choice: String, reason: @autoclosure () -> String) {
    builder.decision(rule, choice, reason: recordsTerms ? reason() : "")
  }

  /// Records a rule that capped, refused or changed the result.
  mutating func rule(_ rule: String, _ effect: String) { builder.rule(rule, effect) }

  /// Records a warning.
  mutating func warning(_ text: String) { builder.warning(text) }

  /// The finished trace.
  func build() -> CalculationTrace { builder.build() }
}
