import CarbonDomain
import CarbonPluginKit

/// Shows how a derived reference series combines its components (the guide's « Transport
/// routier – véhicules légers » = VP + VUL, or « tous secteurs confondus »): the sum of their
/// AMS trajectories, i.e. each component's rate weighted by its share of the emissions at the
/// company's reference year.
enum ReferenceCombination {
  /// Each component's weight at the reference year and reduction to each target year
  /// (empty for a printed series). `targetYears` are in horizon order.
  static func components(
    of series: ReferenceSeries, catalog: ReferenceCatalog, referenceYear: Int32, targetYears: [Int32]
  ) -> [Carbon_Snbc_V1_ReferenceComponent] {
    guard series.derived else { return [] }
    var result: [Carbon_Snbc_V1_ReferenceComponent] = []
    var total = 0.0
    for id in series.componentIds {
      guard let component = catalog.lookup(id), let path = SeriesPath.of(component, basis: .projectedAms2018),
        let start = path.evaluate(at: referenceYear)
      else { continue }
      var item = Carbon_Snbc_V1_ReferenceComponent()
      item.seriesID = id
      item.referenceValueMtCo2E = start.value
      item.reductionFraction = targetYears.map { year in
        guard start.value > 0, let end = path.evaluate(at: year) else { return 0 }
        return (start.value - end.value) / start.value
      }
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
