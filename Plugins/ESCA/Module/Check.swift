import CarbonPluginKit

/// The kit's ``Validate`` checks with the field path built only on failure: batch records
/// validate dozens of fields each, and building `farms[12345].bonus.…` for every check that
/// passes would dominate the cost of a record. Could move to the kit as lazy overloads.
enum Check {
  @discardableResult @inline(__always)
  static func finite(_ value: Double, _ field: @autoclosure () -> String) throws(ModuleError) -> Double {
    guard value.isFinite else { return try Validate.finite(value, field()) }
    return value
  }

  @discardableResult @inline(__always)
  static func nonNegative(_ value: Double, _ field: @autoclosure () -> String) throws(ModuleError) -> Double {
    guard value.isFinite && value >= 0 else { return try Validate.nonNegative(value, field()) }
    return value
  }

  @discardableResult @inline(__always)
  static func positive(_ value: Double, _ field: @autoclosure () -> String) throws(ModuleError) -> Double {
    guard value.isFinite && value > 0 else { return try Validate.positive(value, field()) }
    return value
  }

  @discardableResult @inline(__always)
  static func inRange(_ value: Double, _ range: ClosedRange<Double>, _ field: @autoclosure () -> String) throws(ModuleError) -> Double {
    guard value.isFinite && range.contains(value) else { return try Validate.inRange(value, range, field()) }
    return value
  }

  @discardableResult @inline(__always)
  static func inRange<I: BinaryInteger>(_ value: I, _ range: ClosedRange<I>, _ field: @autoclosure () -> String) throws(ModuleError) -> I {
    guard range.contains(value) else { return try Validate.inRange(value, range, field()) }
    return value
  }

  @discardableResult @inline(__always)
  static func nonEmpty(_ value: String, _ field: @autoclosure () -> String) throws(ModuleError) -> String {
    guard !value.isEmpty else { return try Validate.nonEmpty(value, field()) }
    return value
  }

  @discardableResult @inline(__always)
  static func nonEmpty<C: Collection>(_ value: C, _ field: @autoclosure () -> String) throws(ModuleError) -> C {
    guard !value.isEmpty else { return try Validate.nonEmpty(value, field()) }
    return value
  }

  @discardableResult @inline(__always)
  static func specified<E: RawRepresentable>(
    _ value: E, _ field: @autoclosure () -> String, known: (E) -> Bool = { _ in true }
  ) throws(ModuleError) -> E where E.RawValue == Int {
    guard value.rawValue != 0 && known(value) else { return try Validate.specified(value, field(), known: known) }
    return value
  }
}
