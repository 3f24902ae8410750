import CarbonDomain
import CarbonPluginKit

/// One farm record of ComputeBatch → one result. Errors are caught per farm and reported in
/// the farm's own result with their field path (`farms[3].bonus.yield_kg_dry_per_ha_per_yr`).
struct Batch {
  let model: ModelledStock
  /// Record every term in each trace (off by default: a batch of 100 000 farms stays cheap).
  let includeTerms: Bool
  /// The declared ranges of the request fields: `farms` is checked per farm
  /// (`bounds_checked_per_item`), so one farm out of range fails alone.
  let bounds = FieldBounds.of(EscaModule.self)

  /// The result of `farm`, at `index` of the batch; `path` is the farm's field path in the
  /// request ("farms[3]", or "requests[0].farms[3]" in a stream), prefixed to its errors.
  func result(for farm: Carbon_Esca_V1_FarmRecord, index: Int, path: String) -> Carbon_Esca_V1_FarmResult {
    var result = Carbon_Esca_V1_FarmResult()
    result.index = Int32(clamping: index)
    result.farmID = farm.farmID
    var trace = Tracer(recordsTerms: includeTerms)
    do {
      let prefix = path + "."
      try bounds.check(farm, prefix: prefix)
      var rate: Double? = nil
      if farm.hasModel {
        let modelled = try model.compute(farm.model, prefix: prefix + "model.", trace: &trace)
        // (CSA − CSR) / n at years_since_csr: the exceptional ploughings' release included.
        rate = modelled.rate(atYears: farm.model.yearsSinceCsr)
        result.csaModelledTCPerHa = modelled.csaModelled ?? 0
      }
      guard farm.hasBonus else { throw ModuleError.invalidArgument(prefix + "bonus", "is required") }
      let bonus = try Bonus.compute(farm.bonus, rateFromModel: rate, prefix: prefix + "bonus.", trace: &trace)
      result.annualRateTCPerHaPerYr = bonus.annualRateTCPerHaPerYr
      result.escaGCo2EPerKgDry = bonus.escaGCo2EPerKgDry
      result.escaUncappedGCo2EPerMjFuel = bonus.escaUncappedGCo2EPerMjFuel
      result.escaCappedGCo2EPerMjFuel = bonus.escaCappedGCo2EPerMjFuel
    } catch let error as ModuleError {
      var failure = Carbon_Esca_V1_FarmError()
      failure.status = error.status.name
      failure.field = error.field ?? ""
      failure.message = error.message
      result = Carbon_Esca_V1_FarmResult()
      result.index = Int32(clamping: index)
      result.farmID = farm.farmID
      result.error = failure
    } catch {
      result = Carbon_Esca_V1_FarmResult()
      result.index = Int32(clamping: index)
      result.farmID = farm.farmID
      result.error.status = "INTERNAL"
      result.error.message = "\(error)"
    }
    result.trace = trace.build()
    return result
  }
}
