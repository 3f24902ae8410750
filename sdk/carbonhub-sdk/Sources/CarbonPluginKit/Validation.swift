/// Checks of request fields that throw ``ModuleError/invalidArgument(_:_:)`` naming the field.
///
/// Every check returns the value so that validation and use read as one line:
/// `let yield = try Validate.positive(farm.yieldKgPerHa, "farms[\(i)].yield_kg_per_ha")`.
///
/// The field path is an autoclosure: an interpolated path like the one above is built only
/// when the check fails, not on every call. The checks are inlinable so that a module's calls
/// are specialized and inlined rather than going through generic code.
public enum Validate {
  /// A finite number (not NaN, not infinite).
  @discardableResult @inlinable
  public static func finite(_ value: Double, _ field: @autoclosure () -> String) throws(ModuleError) -> Double {
    guard value.isFinite else { throw .invalidArgument(field(), "must be a finite number, got \(value)") }
    return value
  }

  /// A finite number ≥ 0.
  @discardableResult @inlinable
  public static func nonNegative(_ value: Double, _ field: @autoclosure () -> String) throws(ModuleError) -> Double {
    try finite(value, field())
    guard value >= 0 else { throw .invalidArgument(field(), "must not be negative, got \(value)") }
    return value
  }

  /// A finite number > 0.
  @discardableResult @inlinable
  public static func positive(_ value: Double, _ field: @autoclosure () -> String) throws(ModuleError) -> Double {
    try finite(value, field())
    guard value > 0 else { throw .invalidArgument(field(), "must be greater than 0, got \(value)") }
    return value
  }

  /// A finite number in a closed interval.
  @discardableResult @inlinable
  public static func inRange(
    _ value: Double, _ range: ClosedRange<Double>, _ field: @autoclosure () -> String
  ) throws(ModuleError) -> Double {
    try finite(value, field())
    guard range.contains(value) else {
      throw .invalidArgument(
        field(), "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
    }
    return value
  }

  /// An integer in a closed interval (years, counts).
  @discardableResult @inlinable
  public static func inRange<I: BinaryInteger>(
    _ value: I, _ range: ClosedRange<I>, _ field: @autoclosure () -> String
  ) throws(ModuleError) -> I {
    guard range.contains(value) else {
      throw .invalidArgument(
        field(), "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
    }
    return value
  }

  /// A non-empty string.
  @discardableResult @inlinable
  public static func nonEmpty(_ value: String, _ field: @autoclosure () -> String) throws(ModuleError) -> String {
    guard !value.isEmpty else { throw .invalidArgument(field(), "is required") }
    return value
  }

  /// A non-empty list.
  @discardableResult @inlinable
  public static func nonEmpty<C: Collection>(_ value: C, _ field: @autoclosure () -> String) throws(ModuleError) -> C {
    guard !value.isEmpty else { throw .invalidArgument(field(), "must contain at least one item") }
    return value
  }

  /// An enum value that is set (not its `*_UNSPECIFIED = 0` case) and known to this build.
  @discardableResult @inlinable
  public static func specified<E: RawRepresentable>(
    _ value: E, _ field: @autoclosure () -> String, known: (E) -> Bool = { _ in true }
  ) throws(ModuleError) -> E where E.RawValue == Int {
    guard value.rawValue != 0 else { throw .invalidArgument(field(), "is required (unspecified)") }
    guard known(value) else {
      throw .invalidArgument(field(), "has an unknown value \(value.rawValue)")
    }
    return value
  }
}
