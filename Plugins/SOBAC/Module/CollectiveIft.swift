import CarbonPluginKit

/// A farm's IFT figures (§4.3.3), as the collective IFT weighs them.
struct FarmIftFigures: Sendable {
  /// The farm's weight: its mean SAU over the 10 years, ha ([`collective_ift`] decision).
  var weightHa = 0.0
  /// True for the generic (regional) reference option.
  var generic = false
  /// Reference olympic mean IFT herbicide (own, or regional for the generic option), IFT/ha.
  var herbicideReference = 0.0
  /// Reference olympic mean IFT non-herbicide, IFT/ha.
  var nonHerbicideReference = 0.0
  /// Project olympic mean IFT herbicide, IFT/ha.
  var herbicideProject = 0.0
  /// Project olympic mean IFT non-herbicide, IFT/ha.
  var nonHerbicideProject = 0.0
  /// Generic option: the regional IFT herbicide of each reference year.
  var genericHerbicideByYear: [Double] = []
  /// Generic option: the regional IFT non-herbicide of each reference year.
  var genericNonHerbicideByYear: [Double] = []

  /// The figures a farm's result reports (the same numbers `CoBenefitScoring.iftFigures` gave).
  init(result: Carbon_Sobac_V1_FarmProjectResult) {
    weightHa = result.meanSauHa
    generic = result.coBenefits.iftReference == .generic
    herbicideReference = result.coBenefits.iftHerbicide.referenceValue
    nonHerbicideReference = result.coBenefits.iftNonHerbicide.referenceValue
    herbicideProject = result.coBenefits.iftHerbicide.projectValue
    nonHerbicideProject = result.coBenefits.iftNonHerbicide.projectValue
  }

  init() {}
}

/// Who decides a farm's IFT triggers (§4.3.2).
enum IftScope: Sendable {
  /// An individual project: the farm's own IFT.
  case farm
  /// A collective project whose group IFT is known.
  case collective(CollectiveIftDecision)
  /// A streamed collective project: the group IFT is decided after the last farm.
  case collectivePending
}

/// The group's IFT triggers: decided once, the same for every farm of the group.
struct CollectiveIftDecision: Sendable {
  /// The group's IFT herbicide against the group's reference (blocking).
  var herbicide = Carbon_Sobac_V1_CoBenefitIndicator()
  /// The group's IFT non-herbicide against the group's reference (blocking).
  var nonHerbicide = Carbon_Sobac_V1_CoBenefitIndicator()
  /// The thresholds used: "specific", "generic" (every farm on that option) or
  /// "generic (mixed options)".
  var thresholds = ""

  /// True when neither collective IFT trigger is NOT_MET.
  var met: Bool { herbicide.status != .notMet && nonHerbicide.status != .notMet }
}

/// The collective IFT of §4.3.2: "Pour un projet collectif, on considérera un IFT moyen (en
/// calculant une somme des IFT individuels pondérée par la surface de chaque exploitation)".
/// Reference and project figures of every farm are weighted by the farm's mean SAU; a
/// generic-option farm brings its regional reference into the group's reference.
struct CollectiveIft: Sendable {
  private var weight = 0.0
  private var herbicideReference = 0.0, herbicideProject = 0.0
  private var nonHerbicideReference = 0.0, nonHerbicideProject = 0.0
  private var specificFarms = 0, genericFarms = 0
  /// The first farm's figures: a lone farm's group IFT is its own, whatever its SAU.
  private var first: FarmIftFigures? = nil

  /// Adds one farm.
  mutating func add(_ farm: FarmIftFigures) {
    if first == nil { first = farm }
    weight += farm.weightHa
    herbicideReference += farm.weightHa * farm.herbicideReference
    herbicideProject += farm.weightHa * farm.herbicideProject
    nonHerbicideReference += farm.weightHa * farm.nonHerbicideReference
    nonHerbicideProject += farm.weightHa * farm.nonHerbicideProject
    if farm.generic { genericFarms += 1 } else { specificFarms += 1 }
  }

  /// True for a group of one farm, whose figures need no weight.
  private var lone: Bool { specificFarms + genericFarms == 1 }

  /// The group's mean-SAU-weighted IFT herbicide, reference and project (a lone farm's own; 0
  /// without area).
  var herbicide: (reference: Double, project: Double) {
    if lone, let first { return (first.herbicideReference, first.herbicideProject) }
    return weight > 0 ? (herbicideReference / weight, herbicideProject / weight) : (0, 0)
  }

  /// The group's mean-SAU-weighted IFT non-herbicide, reference and project (a lone farm's own;
  /// 0 without area).
  var nonHerbicide: (reference: Double, project: Double) {
    if lone, let first { return (first.nonHerbicideReference, first.nonHerbicideProject) }
    return weight > 0 ? (nonHerbicideReference / weight, nonHerbicideProject / weight) : (0, 0)
  }

  /// Decides the group's IFT triggers. Thresholds ([`collective_ift_thresholds`] decision): the
  /// option's when every farm chose the same one; the generic ones (−20 % / −50 %, the
  /// stricter) as soon as one farm uses the generic reference, so that mixing options never
  /// lowers the bar of the farms that chose the regional reference. `path` names the farms for
  /// the error of a group without area.
  func decide(scoring: CoBenefitScoring, path: String) throws(ModuleError) -> CollectiveIftDecision {
    guard weight > 0 || lone else {
      throw .invalidArgument(
        "\(path).years.sau_ha", "the collective IFT is weighted by each farm's SAU (§4.3.2) and every farm's SAU is 0")
    }
    let generic = genericFarms > 0
    var decision = CollectiveIftDecision()
    decision.thresholds = !generic ? "specific" : specificFarms == 0 ? "generic" : "generic (mixed options)"
    decision.herbicide = scoring.indicator(
      "collective_ift_herbicide", unit: "IFT/ha", reference: herbicide.reference, project: herbicide.project,
      threshold: generic ? CoBenefitScoring.herbicideGeneric : CoBenefitScoring.herbicideSpecific,
      step: CoBenefitScoring.iftStep, blocking: true)
    decision.nonHerbicide = scoring.indicator(
      "collective_ift_non_herbicide", unit: "IFT/ha", reference: nonHerbicide.reference, project: nonHerbicide.project,
      threshold: generic ? CoBenefitScoring.nonHerbicideGeneric : CoBenefitScoring.nonHerbicideSpecific,
      step: CoBenefitScoring.iftStep, blocking: true)
    // The group's figures decide the triggers only: points stay each farm's own (Annex 5
    // Partie A is filled per farm).
    decision.herbicide.points = 0
    decision.nonHerbicide.points = 0
    return decision
  }
}
