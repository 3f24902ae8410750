import CarbonDomain
import CarbonPluginKit

/// Crop yields of the two periods and the production rabais / bonus (§5.4.2, Eq. 1 and 2;
/// atypical years §11.3).
struct YieldAnalysis: Sendable {
  /// Area and production of one crop in one year (lines of the same crop name are added up),
  /// or UGB and milk or meat sold for an animal production.
  struct CropYear {
    /// Area, ha (crops) or UGB (animal productions): the yield's denominator.
    var areaHa = 0.0
    /// Production, t (sold, or produced when self-consumed), hL of milk or t of meat.
    var soldT = 0.0
    var genericYield = 0.0
    var genericDocument = ""
    /// Field path of the first line of this crop in that year.
    var path = ""
    /// Unit of the yield: "t/ha", "hL/UGB" or "t/UGB".
    var unit = "t/ha"
    /// How the yield is computed (reported in the summary).
    var basis = "sold_t / area_ha"
    /// False for milk and meat: the olympic rule (footnote 33) and the atypical-year rule
    /// (Annex 5: "les valeurs des rendements des cultures") read crops only.
    var isCrop = true
    var yield: Double { areaHa > 0 ? soldT / areaHa : 0 }
  }

  /// Production name of the milk yield (hL/UGB), also its name in generic_reference_yields.
  static let milk = "milk"
  /// Production name of the meat yield (t live weight/UGB).
  static let meat = "meat"

  /// Per crop name, per year.
  typealias Table = [String: [Int32: CropYear]]

  /// The result.
  struct Outcome {
    var summaries: [Carbon_Sobac_V1_CropYieldSummary] = []
    var rabaisPercent = 0.0
    var bonusPercent = 0.0
    var rules: [String] = []
    /// Trace warnings (Agreste years missing).
    var warnings: [String] = []
  }

  /// Checks the supplied Agreste yields (§5.4.2: « les données Agreste correspondant aux 5
  /// années antérieures à la Notification de projet »): each names a reference year N−5..N−1,
  /// once per production, and a production's name; `path` is the farm's.
  static func checkGenericReference(
    _ entries: [Carbon_Sobac_V1_GenericReferenceYield], referenceYears: ClosedRange<Int32>, path: String
  ) throws(ModuleError) {
    var seen: [String: Int] = [:]
    for (index, entry) in entries.enumerated() {
      let entryPath = "\(path).generic_reference_yields[\(index)]"
      try Validate.nonEmpty(entry.crop, "\(entryPath).crop")
      try Validate.nonNegative(entry.referenceYield, "\(entryPath).reference_yield")
      guard referenceYears.contains(entry.year) else {
        throw .invalidArgument(
          "\(entryPath).year",
          "year \(entry.year) is not a reference year \(referenceYears.lowerBound)..\(referenceYears.upperBound): the Agreste yields are those « correspondant aux 5 années antérieures à la Notification de projet » (§5.4.2)")
      }
      if let first = seen.updateValue(index, forKey: "\(entry.crop)\u{0}\(entry.year)") {
        throw .invalidArgument(
          "\(entryPath).year",
          "\(entry.crop.quoted) \(entry.year) is already \(path).generic_reference_yields[\(first)]")
      }
    }
  }

  /// Tolerance on the mean yield, % (§5.4.2).
  static let tolerancePercent = 20.0
  /// Drop beyond which a project year is atypical and uses a generic yield, % (§11.3).
  static let atypicalDropPercent = 50.0

  /// Builds the crop table of a set of years; `paths` gives each year's field path.
  static func table(_ years: [(year: Carbon_Sobac_V1_FarmYear, path: String)]) -> Table {
    var table: Table = [:]
    for (year, path) in years {
      for (index, crop) in year.crops.enumerated() {
        var entry = table[crop.crop, default: [:]][year.year] ?? CropYear(path: "\(path).crops[\(index)]")
        entry.areaHa += crop.areaHa
        // A crop used on the farm counts with its own production figure (forage: 0 t sold).
        if crop.selfConsumed {
          entry.soldT += crop.producedT
          entry.basis = "produced_t / area_ha (self-consumed)"
        } else {
          entry.soldT += crop.soldT
        }
        if crop.genericYieldTPerHa > 0 {
          entry.genericYield = crop.genericYieldTPerHa
          entry.genericDocument = crop.genericYieldDocument
        }
        table[crop.crop, default: [:]][year.year] = entry
      }
    }
    return table
  }

  /// The milk and meat yields of a set of years, per UGB (Annex 5 "Productions animales"), for
  /// the years that sell them.
  static func animalTable(_ years: [(year: Carbon_Sobac_V1_FarmYear, path: String)]) -> Table {
    var table: Table = [:]
    for (year, path) in years {
      if year.milkSoldHl > 0 {
        table[milk, default: [:]][year.year] = CropYear(
          areaHa: year.ugb, soldT: year.milkSoldHl, path: "\(path).milk_sold_hl", unit: "hL/UGB",
          basis: "milk_sold_hl / ugb", isCrop: false)
      }
      if year.meatSoldLiveT > 0 {
        table[meat, default: [:]][year.year] = CropYear(
          areaHa: year.ugb, soldT: year.meatSoldLiveT, path: "\(path).meat_sold_live_t", unit: "t/UGB",
          basis: "meat_sold_live_t / ugb", isCrop: false)
      }
    }
    return table
  }

  /// Compares project and reference yields crop by crop (and milk, meat).
  func analyse(
    reference: Table, project: Table, referenceYears: [Int32], projectYears: [Int32],
    genericReference: [Carbon_Sobac_V1_GenericReferenceYield]
  ) throws(ModuleError) -> Outcome {
    var outcome = Outcome()
    var lows: [Double] = []
    var highs: [Double] = []
    let crops = Set(reference.keys).union(project.keys).sorted()
    for crop in crops {
      var summary = Carbon_Sobac_V1_CropYieldSummary()
      summary.crop = crop
      let refEntries = referenceYears.compactMap { year in reference[crop]?[year].map { (year, $0) } }
      let projEntries = projectYears.compactMap { year in project[crop]?[year].map { (year, $0) } }
      for (year, entry) in refEntries + projEntries {
        summary.yearlyYields.append("\(year): \(entry.yield)")
      }
      let sample = (refEntries + projEntries).first?.1 ?? CropYear()
      summary.yieldUnit = sample.unit
      summary.yieldBasis = Set((refEntries + projEntries).map(\.1.basis)).sorted().joined(separator: "; ")
      // Reference mean: the farm's years with the crop; otherwise the supplied Agreste yields.
      var referenceMean: Double? = Statistics.mean(refEntries.map { $0.1.yield })
      if referenceMean == nil {
        // Entries were checked to be reference years, once each (checkGenericReference).
        let entries = genericReference.filter { $0.crop == crop }
        if let mean = Statistics.mean(entries.map(\.referenceYield)) {
          referenceMean = mean
          summary.referenceIsGeneric = true
          let given = Set(entries.map(\.year))
          let missing = referenceYears.filter { !given.contains($0) }
          outcome.rules.append(
            "sobac.yield.generic_reference: \(crop) has no reference yield on the farm; the mean of \(entries.count) supplied Agreste yields of \(given.sorted()) (\(mean) \(summary.yieldUnit)) is used")
          if !missing.isEmpty {
            outcome.warnings.append(
              "generic_reference_yields: \(crop.quoted) has no Agreste yield for \(missing) (§5.4.2 uses « les données Agreste correspondant aux 5 années antérieures à la Notification »): its reference mean is over \(given.sorted()) only")
          }
        }
      }
      guard !projEntries.isEmpty else {
        summary.referenceMeanYield = referenceMean ?? 0
        summary.status = .notComparable
        outcome.summaries.append(summary)
        continue
      }
      guard let referenceMean, referenceMean > 0 else {
        let zeroSold = !refEntries.isEmpty && sample.isCrop
        throw .failedPrecondition(
          rule: "sobac.yield.reference_missing",
          zeroSold
            ? "crop \(crop.quoted) has 0 t sold in every reference year: if it is used on the farm (forage), set self_consumed and produced_t so that its own production figure gives its yield; otherwise supply generic_reference_yields"
            : "\(sample.isCrop ? "crop" : "production") \(crop.quoted) is produced during the project but has no reference yield: supply generic_reference_yields (Agreste departmental yields of N−5..N−1, §5.4.2)")
      }
      summary.referenceMeanYield = referenceMean
      var projectYields: [Double] = []
      for (year, entry) in projEntries {
        let drop = (referenceMean - entry.yield) / referenceMean * 100
        if drop > Self.atypicalDropPercent, entry.isCrop {
          guard entry.genericYield > 0 else {
            throw .failedPrecondition(
              rule: "sobac.yield.atypical_year",
              "\(entry.path): the yield of \(crop.quoted) in \(year) (\(entry.yield) t/ha) is \(drop) % below the reference mean: give generic_yield_t_per_ha (Agreste) and generic_yield_document (§11.3)")
          }
          guard !entry.genericDocument.isEmpty else {
            throw .invalidArgument("\(entry.path).generic_yield_document", "is required with generic_yield_t_per_ha (official document, §11.3)")
          }
          projectYields.append(entry.genericYield)
          summary.genericProjectYears.append(year)
          outcome.rules.append(
            "sobac.yield.atypical_year: \(crop) \(year) yield \(entry.yield) t/ha (−\(drop) %) replaced by the generic yield \(entry.genericYield) t/ha (\(entry.genericDocument))")
        } else {
          projectYields.append(entry.yield)
        }
      }
      let projectMean = Statistics.mean(projectYields) ?? 0
      summary.projectMeanYield = projectMean
      let gap = (referenceMean - projectMean) / referenceMean * 100
      summary.relativeGapPercent = gap
      if gap > Self.tolerancePercent + Statistics.thresholdTolerance {
        summary.status = .tooLow
        summary.excessPercent = gap - Self.tolerancePercent
        lows.append(summary.excessPercent)
      } else if -gap > Self.tolerancePercent + Statistics.thresholdTolerance {
        summary.status = .tooHigh
        summary.excessPercent = -gap - Self.tolerancePercent
        highs.append(summary.excessPercent)
      } else {
        summary.status = .withinTolerance
      }
      outcome.summaries.append(summary)
    }
    outcome.rabaisPercent = Statistics.median(lows) ?? 0
    outcome.bonusPercent = Statistics.median(highs) ?? 0
    if !lows.isEmpty {
      outcome.rules.append("sobac.yield.rabais: \(lows.count) production(s) more than 20 % below the reference: P_rabais = median(\(lows)) = \(outcome.rabaisPercent) %")
    }
    if !highs.isEmpty {
      outcome.rules.append("sobac.yield.bonus: \(highs.count) production(s) more than 20 % above the reference: P_bonus = median(\(highs)) = \(outcome.bonusPercent) %")
    }
    return outcome
  }
}
