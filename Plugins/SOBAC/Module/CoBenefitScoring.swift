import CarbonDomain
import CarbonPluginKit

/// The co-benefit triggers and points of Tableau 1 (§4.3.3), with the −30 % N-fertiliser check
/// of the monitoring report, reported and blocking only by configuration (METHODS §2.3).
///
/// §4.3.3: "Les réductions d'émissions sont déclenchées lorsque chacun des six indicateurs de
/// co-bénéfices a au moins atteint le seuil requis" — the six rows of Tableau 1 are water, and
/// IFT herbicide and non-herbicide under both water quality and biodiversity: three distinct
/// figures, none of them the N fertiliser.
struct CoBenefitScoring: Sendable {
  let data: SobacReferenceData
  let options: CalculationOptions

  /// Water: threshold and step, % (Tableau 1).
  static let waterThreshold = 30.0, waterStep = 10.0, waterMaxPoints = 7
  /// IFT thresholds (specific / generic) and step, % (Tableau 1, the body of the method).
  static let herbicideSpecific = 10.0, herbicideGeneric = 20.0
  static let nonHerbicideSpecific = 30.0, nonHerbicideGeneric = 50.0, iftStep = 5.0
  /// Category caps (Tableau 1): water quality and biodiversity 26 (specific) / 16 (generic).
  static let categoryCapSpecific = 26, categoryCapGeneric = 16, totalCap = 59
  /// N fertiliser check threshold, % (monitoring report, "écart relatif de 30 % au moins").
  static let nitrogenThreshold = 30.0

  /// Scores a farm. Years are in chronological order; `path` is the farm's field path;
  /// `iftScope` says who decides the IFT triggers (§4.3.2).
  func score(
    farm: Carbon_Sobac_V1_Farm, path: String,
    reference: [(year: Carbon_Sobac_V1_FarmYear, path: String)],
    project: [(year: Carbon_Sobac_V1_FarmYear, path: String)],
    referenceNitrogenKg: Double, projectNitrogenKg: Double, iftScope: IftScope = .farm
  ) throws(ModuleError) -> Carbon_Sobac_V1_CoBenefits {
    var result = Carbon_Sobac_V1_CoBenefits()
    result.iftReference = farm.iftReference
    let generic = farm.iftReference == .generic
    let ownIftBlocks: Bool
    switch iftScope {
    case .farm:
      result.iftTriggerScope = .farm
      ownIftBlocks = true
    case .collective(let decision):
      result.iftTriggerScope = .collective
      result.collectiveIftHerbicide = decision.herbicide
      result.collectiveIftNonHerbicide = decision.nonHerbicide
      ownIftBlocks = false
    case .collectivePending:
      result.iftTriggerScope = .collectivePending
      ownIftBlocks = false
    }

    result.irrigation = indicator(
      "irrigation_water", unit: "m3",
      reference: reference.reduce(0) { $0 + $1.year.irrigationM3 },
      project: project.reduce(0) { $0 + $1.year.irrigationM3 },
      threshold: Self.waterThreshold, step: Self.waterStep, blocking: true)
    result.irrigation.points = min(result.irrigation.points, Int32(Self.waterMaxPoints))

    result.referenceIftHerbicideByYear = reference.map(\.year.iftHerbicide)
    let figures = try iftFigures(farm: farm, path: path, reference: reference, project: project)
    result.genericIftHerbicideByYear = figures.genericHerbicideByYear
    result.genericIftNonHerbicideByYear = figures.genericNonHerbicideByYear
    result.iftHerbicide = indicator(
      "ift_herbicide", unit: "IFT/ha", reference: figures.herbicideReference, project: figures.herbicideProject,
      threshold: generic ? Self.herbicideGeneric : Self.herbicideSpecific, step: Self.iftStep, blocking: ownIftBlocks)
    result.iftNonHerbicide = indicator(
      "ift_non_herbicide", unit: "IFT/ha", reference: figures.nonHerbicideReference,
      project: figures.nonHerbicideProject,
      threshold: generic ? Self.nonHerbicideGeneric : Self.nonHerbicideSpecific, step: Self.iftStep, blocking: ownIftBlocks)
    result.nFertiliser = indicator(
      "n_fertiliser", unit: "kg N", reference: referenceNitrogenKg, project: projectNitrogenKg,
      threshold: Self.nitrogenThreshold, step: 0, blocking: options.nFertiliserCheckBlocking)

    let cap = generic ? Self.categoryCapGeneric : Self.categoryCapSpecific
    let iftPoints = Int(result.iftHerbicide.points) + Int(result.iftNonHerbicide.points)
    result.waterResourcePoints = result.irrigation.points
    result.waterQualityPoints = Int32(min(iftPoints, cap))
    result.biodiversityPoints = Int32(min(iftPoints, cap))
    result.totalPoints = Int32(
      min(Int(result.waterResourcePoints + result.waterQualityPoints + result.biodiversityPoints), Self.totalCap))
    var blockingIndicators = [result.irrigation, result.iftHerbicide, result.iftNonHerbicide, result.nFertiliser]
    if case .collective = iftScope {
      blockingIndicators += [result.collectiveIftHerbicide, result.collectiveIftNonHerbicide]
    }
    result.allTriggersMet = blockingIndicators.allSatisfy { !($0.blocking && $0.status == .notMet) }
    return result
  }

  /// A farm's IFT figures (§4.3.3): the reference is the olympic mean of the farm's own IFT
  /// (specific option) or of its crops' regional IFT (generic option, Annex 2); the project
  /// figure is the olympic mean of the farm's IFT over the project years.
  func iftFigures(
    farm: Carbon_Sobac_V1_Farm, path: String,
    reference: [(year: Carbon_Sobac_V1_FarmYear, path: String)],
    project: [(year: Carbon_Sobac_V1_FarmYear, path: String)]
  ) throws(ModuleError) -> FarmIftFigures {
    var figures = FarmIftFigures()
    figures.generic = farm.iftReference == .generic
    figures.weightHa = (reference + project).reduce(0) { $0 + $1.year.sauHa } / Double(reference.count + project.count)
    if figures.generic {
      let (herbicideByYear, nonHerbicideByYear) = try genericReference(farm: farm, path: path, reference: reference)
      figures.genericHerbicideByYear = herbicideByYear
      figures.genericNonHerbicideByYear = nonHerbicideByYear
      figures.herbicideReference = Statistics.olympicMean(herbicideByYear) ?? 0
      figures.nonHerbicideReference = Statistics.olympicMean(nonHerbicideByYear) ?? 0
    } else {
      figures.herbicideReference = Statistics.olympicMean(reference.map(\.year.iftHerbicide)) ?? 0
      figures.nonHerbicideReference = Statistics.olympicMean(reference.map(\.year.iftNonHerbicide)) ?? 0
    }
    figures.herbicideProject = Statistics.olympicMean(project.map(\.year.iftHerbicide)) ?? 0
    figures.nonHerbicideProject = Statistics.olympicMean(project.map(\.year.iftNonHerbicide)) ?? 0
    return figures
  }

  /// One indicator: reduction (ref − proj)/ref in %, status and points (1 at the threshold, +1
  /// per further step). Reference and project both 0 → not applicable; reference 0 with a
  /// positive project → not met (METHODS §2.3 decision).
  func indicator(
    _ name: String, unit: String, reference: Double, project: Double, threshold: Double,
    step: Double, blocking: Bool
  ) -> Carbon_Sobac_V1_CoBenefitIndicator {
    var out = Carbon_Sobac_V1_CoBenefitIndicator()
    out.name = name
    out.unit = unit
    out.referenceValue = reference
    out.projectValue = project
    out.thresholdPercent = threshold
    out.stepPercent = step
    out.blocking = blocking
    if reference <= 0 {
      out.status = project <= 0 ? .notApplicable : .notMet
      return out
    }
    let reduction = (reference - project) / reference * 100
    // Absurd magnitudes (sums overflowing to infinity) cannot be scored: not met, no crash.
    guard reduction.isFinite else {
      out.status = .notMet
      return out
    }
    out.reductionPercent = reduction
    guard reduction + Statistics.thresholdTolerance >= threshold else {
      out.status = .notMet
      return out
    }
    out.status = .met
    if step > 0 {
      let steps = ((reduction - threshold) / step + Statistics.thresholdTolerance).rounded(.down)
      out.points = Int32(1 + min(max(steps, 0), 100))
    }
    return out
  }

  /// Generic reference per reference year: Σ(crop area × regional IFT) / Σ area (Annex 2).
  func genericReference(
    farm: Carbon_Sobac_V1_Farm, path: String,
    reference: [(year: Carbon_Sobac_V1_FarmYear, path: String)]
  ) throws(ModuleError) -> ([Double], [Double]) {
    // The region is needed only for crops other than vines (vines use the wine basin).
    let needsRegion = reference.contains { $0.year.crops.contains { $0.iftCrop != "vigne" } }
    let region = needsRegion ? try formerRegion(farm: farm, path: path) : ""
    var herbicide: [Double] = []
    var nonHerbicide: [Double] = []
    for (year, yearPath) in reference {
      var area = 0.0, weightedHerbicide = 0.0, weightedNonHerbicide = 0.0
      for (index, crop) in year.crops.enumerated() {
        let cropPath = "\(yearPath).crops[\(index)]"
        guard !crop.iftCrop.isEmpty else {
          throw .invalidArgument("\(cropPath).ift_crop", "is required with the generic IFT reference (Annex 2 crop code)")
        }
        guard data.iftCropCodes.contains(crop.iftCrop) else {
          throw .invalidArgument("\(cropPath).ift_crop", "\(crop.iftCrop.quoted) is not a crop of the Annex 2 tables (see ListReferenceData)")
        }
        if crop.iftCrop == "vigne" {
          guard data.regionalIft["ift_vineyards"]?.values.contains(where: { $0.areaCode == farm.wineBasin }) == true else {
            throw .invalidArgument("\(path).wine_basin", "\(farm.wineBasin.quoted) is not a wine basin of Tableau 12 (e.g. bordelais, val_de_loire)")
          }
        }
        let mode = crop.iftMode.isEmpty ? "all" : crop.iftMode
        guard let entry = data.regionalIft(crop: crop.iftCrop, mode: mode, formerRegion: region, wineBasin: farm.wineBasin)
        else {
          throw .failedPrecondition(
            rule: "sobac.ift.generic_reference_unavailable",
            "crop \(crop.crop.quoted) (\(crop.iftCrop), mode \(mode)) has no regional IFT for area \(crop.iftCrop == "vigne" ? farm.wineBasin : region) in Annex 2: the generic reference cannot be used, choose the specific one")
        }
        guard case .value(let h) = entry.herbicide, case .value(let n) = entry.nonHerbicide else {
          throw .failedPrecondition(
            rule: "sobac.ift.generic_reference_unavailable",
            "crop \(crop.crop.quoted) (\(crop.iftCrop)) in \(entry.areaName): Annex 2 cell is \(entry.herbicide.text.quoted) / \(entry.nonHerbicide.text.quoted) (/ absent, ns not significant, nd not published): the generic reference cannot be used, choose the specific one")
        }
        area += crop.areaHa
        weightedHerbicide += crop.areaHa * h
        weightedNonHerbicide += crop.areaHa * n
      }
      guard area > 0 else {
        throw .invalidArgument("\(yearPath).crops", "the generic IFT reference needs the crops of every reference year")
      }
      herbicide.append(weightedHerbicide / area)
      nonHerbicide.append(weightedNonHerbicide / area)
    }
    return (herbicide, nonHerbicide)
  }

  /// The former region (COG 2015) of the farm, from former_region_code or department_code.
  func formerRegion(farm: Carbon_Sobac_V1_Farm, path: String) throws(ModuleError) -> String {
    if !farm.formerRegionCode.isEmpty {
      guard FrenchTerritories.formerRegion(code: farm.formerRegionCode) != nil else {
        throw .invalidArgument("\(path).former_region_code", "\(farm.formerRegionCode.quoted) is not a former region code (COG 2015, e.g. 73)")
      }
      return farm.formerRegionCode
    }
    guard !farm.departmentCode.isEmpty else {
      throw .invalidArgument("\(path).former_region_code", "is required with the generic IFT reference (or give department_code)")
    }
    guard let department = FrenchTerritories.department(code: farm.departmentCode) else {
      throw .invalidArgument("\(path).department_code", "\(farm.departmentCode.quoted) is not a French department code")
    }
    return department.formerRegionCode
  }
}

extension IftCell {
  /// The cell as printed.
  var text: String {
    switch self {
    case .value(let value): return "\(value)"
    case .unavailable(let text): return text
    }
  }
}
