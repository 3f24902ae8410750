import Foundation

extension Carbon_Domain_V1_Bounds {
  /// A bound or a value as messages and documentation print it: integers below 1e15 without
  /// ".0", magnitudes from 1e15 with an exponent, anything else in Swift's shortest round-trip
  /// form (`100000`, `0.35`, `1e+15`, `nan`). Foundation's `String(format:)` for every number
  /// cost a tenth of an ESCA batch where a third of the farms were out of range. Shared by the
  /// plugin kit's range errors and the host's OpenAPI descriptions.
  public static func printed(_ value: Double) -> String {
    if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
    // Swift writes 1e15 as "1000000000000000.0": large magnitudes (rare) take the C form.
    if value.isFinite, abs(value) >= 1e15 { return String(format: "%.15g", value) }
    return value.description
  }
}
