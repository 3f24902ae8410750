import CarbonDomain

/// ALDO's leaf land-use categories, the unit of every land-use-change calculation.
///
/// The names, soil-flux ids and CLC codes come from `Data/land-uses.csv` (ALDO's GroundTypes);
/// this enum only fixes the set of leaves and how they map to the shared `LandUse` type.
enum Leaf: String, CaseIterable, Sendable, Hashable, Comparable {
  case crops = "cultures"
  case grasslandWooded = "prairies zones arborées"
  case grasslandHerbaceous = "prairies zones herbacées"
  case grasslandShrubby = "prairies zones arbustives"
  case wetlands = "zones humides"
  case orchards = "vergers"
  case vineyards = "vignes"
  case artificialSealed = "sols artificiels imperméabilisés"
  /// ALDO's "sols artificiels arbustifs" (grassed/vegetated artificial soils, "enherbés").
  case artificialGrassed = "sols artificiels arbustifs"
  case artificialWooded = "sols artificiels arborés et buissonants"
  case forestBroadleaf = "forêt feuillu"
  case forestConifer = "forêt conifere"
  case forestMixed = "forêt mixte"
  case forestPoplar = "forêt peupleraie"

  /// ALDO's name (stocksId), used in its data-file column names.
  var aldoName: String { rawValue }

  static func < (lhs: Leaf, rhs: Leaf) -> Bool { lhs.order < rhs.order }
  private var order: Int { Leaf.allCases.firstIndex(of: self) ?? 0 }

  /// The shared domain land use of this leaf.
  var landUse: LandUse {
    switch self {
    case .crops: .cropland
    case .grasslandWooded: .grasslandWooded
    case .grasslandHerbaceous: .grassland
    case .grasslandShrubby: .grasslandShrubby
    case .wetlands: .wetland
    case .orchards: .orchard
    case .vineyards: .vineyard
    case .artificialSealed: .artificialSealed
    case .artificialGrassed: .artificialGrassed
    case .artificialWooded: .artificialWooded
    case .forestBroadleaf: .forestBroadleaf
    case .forestConifer: .forestConifer
    case .forestMixed: .forestMixed
    case .forestPoplar: .forestPoplar
    }
  }

  /// The leaf of a shared land use, nil for summary categories and unknown values.
  init?(_ landUse: LandUse) {
    guard let leaf = Leaf.allCases.first(where: { $0.landUse == landUse }) else { return nil }
    self = leaf
  }

  var isForest: Bool {
    switch self {
    case .forestBroadleaf, .forestConifer, .forestMixed, .forestPoplar: true
    default: false
    }
  }

  var isGrassland: Bool {
    self == .grasslandWooded || self == .grasslandHerbaceous || self == .grasslandShrubby
  }

  var isArtificial: Bool {
    self == .artificialSealed || self == .artificialGrassed || self == .artificialWooded
  }

  /// The summary group the leaf is counted in.
  var group: Carbon_Aldo_V1_LandUseGroup {
    switch self {
    case .crops: .crops
    case .grasslandWooded, .grasslandHerbaceous, .grasslandShrubby: .grasslands
    case .wetlands: .wetlands
    case .orchards: .orchards
    case .vineyards: .vineyards
    case .artificialSealed, .artificialGrassed, .artificialWooded: .artificialSoils
    case .forestBroadleaf, .forestConifer, .forestMixed, .forestPoplar: .forests
    }
  }

  /// Forest subtypes in ALDO's order.
  static let forests: [Leaf] = [.forestBroadleaf, .forestConifer, .forestMixed, .forestPoplar]
}

extension Carbon_Aldo_V1_LandUseGroup {
  /// Groups in the order of the seed's breakdown.
  static let balanceOrder: [Carbon_Aldo_V1_LandUseGroup] = [
    .forests, .woodProducts, .crops, .grasslands, .wetlands, .orchards, .vineyards,
    .artificialSoils, .hedges,
  ]

  /// The label ALDO and the observatory show (French).
  var label: String {
    switch self {
    case .forests: "Forêts"
    case .crops: "Cultures"
    case .grasslands: "Prairies"
    case .wetlands: "Zones humides"
    case .orchards: "Vergers"
    case .vineyards: "Vignes"
    case .artificialSoils: "Sols artificiels"
    case .woodProducts: "Produits bois"
    case .hedges: "Haies"
    default: "?"
    }
  }
}

extension Carbon_Aldo_V1_Practice {
  /// ALDO's identifier of the practice (its data-file key).
  var aldoName: String? {
    switch self {
    case .prairieExtension: "prairieExtension"
    case .prairieIntensification: "prairieIntensification"
    case .cropsAgroforestry: "cropsAgroforestry"
    case .prairiesAgroforestry: "prairiesAgroforestry"
    case .catchCrops: "catchCrops"
    case .cropsHedges: "cropsHedges"
    case .prairiesHedges: "prairiesHedges"
    case .grassyStrips: "grassyStrips"
    case .vineyardsInterCoverCropping: "vineyardsInterCoverCropping"
    case .orchardsInterCoverCropping: "orchardsInterCoverCropping"
    case .directSowingContinuous: "directSowingContinuous"
    case .directSowingFiveYearWork: "directSowingFiveYearWork"
    default: nil
    }
  }
}
