import CarbonDomain
import CarbonPluginKit

/// Shows how a derived reference series combines its components (the guide's « Transport
/// routier – véhicules légers » = VP + VUL, or « tous secteurs confondus »): the sum of their
/// AMS trajectories, i.e. each component's rate weighted by its share of the emissions at the
/// company's reference year.
enum ReferenceCombination {
  /// Each component's weight at the reference year and reduction to each target year
  /// (empty for a printed series, or when a component has no rate over these years).
  /// `targetYears` are in horizon order.
  static func components(
    of series: ReferenceSeries, catalog: ReferenceCatalog, referenceYear: Int32, targetYears: [Int32]
  ) -> [Carbon_Snbc_V1_ReferenceComponent] {
    guard series.derived else { return [] }
    var result: [Carbon_Snbc_V1_ReferenceComponent] = []
    var total = 0.0
    for id in series.componentIds {
      // A component without a positive value at the reference year, or without a value at a
      // target year, has no rate: the combination is then not shown at all rather than shown
      // with a made-up rate (the embedded AMS data always has them for 2015-2050).
      guard let component = catalog.lookup(id), let path = SeriesPath.of(component, basis: .projectedAms2018),
        let start = path.evaluate(at: referenceYear), start.value > 0
      else { return [] }
      var reductions: [Double] = []
      for year in targetYears {
        guard let end = path.evaluate(at: year) else { return [] }
        reductions.append((start.value - end.value) / start.value)
      }
      var item = Carbon_Snbc_V1_ReferenceComponent()
      item.seriesID = id
      item.referenceValueMtCo2E = start.value
      item.reductionFraction = reductions
      total += start.value
      result.append(item)
    }
    guard total > 0 else { return result }
    for index in result.indices { result[index].weightFraction = result[index].referenceValueMtCo2E / total }
    return result
  }

  /// Records the combination in the trace: components, weights and the rule that sums them.
  static func record(
    _ components: [Carbon_Snbc_V1_ReferenceComponent], of series: ReferenceSeries, categoryName: String,
    referenceYear: Int32, trace: inout TraceBuilder
  ) {
    guard !components.isEmpty else { return }
    trace.decisionOnce(
      "reference_combination", "SUM_OF_AMS_COMPONENTS",
      reason: "a combined reference (e.g. « Transport routier – véhicules légers » = VP + VUL of Annexe II) is the "
        + "sum of its components' AMS trajectories: each component's rate weighted by its reference-year emissions")
    let parts = components.map { "\($0.seriesID) \($0.referenceValueMtCo2E) Mt (weight \($0.weightFraction))" }
    trace.rule(
      "snbc.reference.combination",
      "\(categoryName): \(series.id) at \(referenceYear) = " + parts.joined(separator: " + "))
  }
}
