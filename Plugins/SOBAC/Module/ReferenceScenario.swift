/// The olympic rule on the reference emissions (§6, Eq. 3 and 4): when, for a crop grown in at
/// least 3 reference years, one year's yield lies more than 20 % below the lowest or above the
/// highest of the other years, the years with that crop's highest and lowest yields are dropped
/// and E_ref = 5/3 × Σ of the 3 remaining years.
struct OlympicRuleEvaluator: Sendable {
  /// Yield per reference year of one crop (t/ha), for the years it was grown.
  struct CropYields {
    let crop: String
    let yields: [(year: Int32, value: Double)]
  }

  /// What the rule decided.
  struct Outcome {
    var applied = false
    var crop = ""
    var deviationPercent = 0.0
    var droppedYears: [Int32] = []
    var candidates: [String] = []
    /// The ties broken, e.g. "highest yield 7.0 in [2015, 2016]: 2015 dropped" (empty: none).
    var ties: [String] = []
  }

  /// Tolerated deviation, % (§4.3.1, §6).
  static let toleratedDeviationPercent = 20.0

  func evaluate(_ crops: [CropYields]) -> Outcome {
    var outcome = Outcome()
    var best: (crop: CropYields, deviation: Double)? = nil
    for crop in crops where crop.yields.count >= 3 {
      var largest = 0.0
      var largestYear: Int32 = 0
      for (index, entry) in crop.yields.enumerated() {
        let others = crop.yields.enumerated().filter { $0.offset != index }.map { $0.element.value }
        guard let low = others.min(), let high = others.max() else { continue }
        var deviation = 0.0
        if low > 0, entry.value < low * (1 - Self.toleratedDeviationPercent / 100) {
          deviation = (low - entry.value) / low * 100
        } else if high > 0, entry.value > high * (1 + Self.toleratedDeviationPercent / 100) {
          deviation = (entry.value - high) / high * 100
        } else if high == 0, entry.value > 0 {
          deviation = .greatestFiniteMagnitude
        }
        if deviation > largest { largest = deviation; largestYear = entry.year }
      }
      guard largest > 0 else { continue }
      let shown = largest == .greatestFiniteMagnitude ? "∞" : "\(largest)"
      outcome.candidates.append("\(crop.crop): \(largestYear) deviates \(shown) %")
      if let current = best, largest <= current.deviation { continue }
      best = (crop, largest)
    }
    guard let best else { return outcome }
    outcome.applied = true
    outcome.crop = best.crop.crop
    outcome.deviationPercent = best.deviation == .greatestFiniteMagnitude ? 0 : best.deviation
    // Ties (the seed is silent): of equal highest or equal lowest yields, the earliest year is
    // the one dropped (decision olympic_rule_crop).
    let yields = best.crop.yields
    let lowest = yields.min { ($0.value, $0.year) < ($1.value, $1.year) }
    let highest = yields.max { ($0.value, -$0.year) < ($1.value, -$1.year) }
    if let lowest, let highest {
      outcome.droppedYears = [lowest.year, highest.year].sorted()
      for (name, chosen) in [("lowest", lowest), ("highest", highest)] {
        let tied = yields.filter { $0.value == chosen.value }.map(\.year)
        if tied.count > 1 { outcome.ties.append("\(name) yield \(chosen.value) in \(tied): \(chosen.year) dropped") }
      }
    }
    return outcome
  }
}
