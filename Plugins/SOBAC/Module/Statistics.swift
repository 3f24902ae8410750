/// The two averages of the method.
enum Statistics {
  /// Olympic mean: the mean of the values left after dropping one highest and one lowest
  /// (§4.3.3; of 5 values, the mean of the 3 middle ones). Nil with fewer than 3 values.
  static func olympicMean(_ values: [Double]) -> Double? {
    guard values.count >= 3 else { return nil }
    let middle = values.sorted().dropFirst().dropLast()
    return middle.reduce(0, +) / Double(middle.count)
  }

  /// Median (mean of the two middle values for an even count). Nil for no value.
  static func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }

  /// Arithmetic mean. Nil for no value.
  static func mean(_ values: [Double]) -> Double? {
    values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
  }

  /// Tolerance used when comparing percentages with thresholds, so that a reduction computed as
  /// 29.999999999 % from decimal inputs still reaches a 30 % threshold.
  static let thresholdTolerance = 1e-9
}
