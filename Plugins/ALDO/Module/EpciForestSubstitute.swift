import CarbonDomain
import CarbonPluginKit
import Foundation

/// The EPCI-level forest substitute of the reference pack (README §5.6 a, method M2): the
/// commune-level BD Forêt file ALDO uses (surface-foret.csv) is not public in any form that can
/// ship, so each EPCI's BD Forêt 2019 areas (ign19.csv) get the IGN 2016–2020 per-ha rates at
/// the EPCI's GRECO mix (derived-epci-greco-weights.csv), with ALDO's fallback chain (greco →
/// rad13 with its substitutions → France), poplar at the region's poplar basin.
///
/// It is expressed as BD Forêt-like stands — one per (EPCI, GRECO), areas × weight, plus one
/// poplar stand — so growth, wood products and deforestation densities go through the same
/// code as ALDO's exact per-commune method (``ForestInventory``, ``WoodProductShares``).
/// Every figure computed this way is an APPROXIMATION, labelled so in the response and trace.
struct EpciForestSubstitute {
  let data: AldoReferenceData
  let areas: [String: [Leaf: Double]]
  let weights: [String: [Leaf: [(greco: String, weight: Double)]]]

  /// Method, data and vintage, as the trace and the response say them.
  static let method =
    "APPROXIMATION (EPCI forest substitute, reference pack README §5.6): BD Forêt 2019 areas by EPCI (ign19.csv) × IGN "
    + "2016–2020 bilan_carbone at the EPCI's GRECO mix (derived-epci-greco-weights.csv), fallback rad13 → France, poplar "
    + "at the region's basin; EPCIs straddling the territory's boundary count with their share of communes inside"

  /// Forest area of an EPCI, ha, all subtypes (0 when ign19.csv has no row).
  /// Summed in a fixed order: a dictionary's order changes from process to process, and so
  /// would the last bits of the sum (and the response's bytes).
  func totalArea(_ epci: String) -> Double { (areas[epci] ?? [:]).sorted { $0.key < $1.key }.reduce(0) { $0 + $1.value } }

  /// The stands standing for an EPCI's forest, scaled by `share`; `unitAreas` gives each
  /// subtype an area of 1 ha instead (the weights alone), for a deforestation density that is
  /// Σ_g w_g (carbone + bois_mort_carbone), README §5.6 a step 4.
  func stands(epci: String, region: String, share: Double, unitAreas: Bool = false) -> [Stand] {
    guard let codes = data.regionForestCodes[region] else { return [] }
    let epciAreas = areas[epci] ?? [:]
    func area(_ leaf: Leaf) -> Double { unitAreas ? 1 : (epciAreas[leaf] ?? 0) * share }
    var byGreco: [String: [Leaf: Double]] = [:]
    for leaf in [Leaf.forestBroadleaf, .forestConifer, .forestMixed] {
      let mix = weights[epci]?[leaf] ?? []
      if mix.isEmpty {
        byGreco["", default: [:]][leaf, default: 0] += area(leaf)  // no GRECO known: rad13, then France
      } else {
        // Weights as the file gives them (3 decimals, not renormalised), as the pack's check does.
        for (greco, weight) in mix { byGreco[greco, default: [:]][leaf, default: 0] += area(leaf) * weight }
      }
    }
    var stands = byGreco.sorted { $0.key < $1.key }.map { greco, areas in
      Stand(greco: greco, rad13: codes.rad13, bassinPopulicole: codes.bassin, areas: areas)
    }
    stands.append(Stand(rad13: codes.rad13, bassinPopulicole: codes.bassin, areas: [.forestPoplar: area(.forestPoplar)]))
    return stands
  }

  /// The GRECO mix of an EPCI in words, for references ("B:0.728|C:0.272").
  func mixLabel(_ epci: String) -> String {
    let mix = weights[epci]?[.forestBroadleaf] ?? []
    return mix.isEmpty ? "no GRECO (rad13)" : mix.map { "\($0.greco):\(String(format: "%.3f", $0.weight))" }.joined(separator: "|")
  }
}
