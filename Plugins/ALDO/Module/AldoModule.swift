import CarbonDomain
import CarbonPluginKit

/// ADEME's ALDO: annual carbon flux and stocks of a territory by land use (METHODS.md §3).
///
/// Reference data (ALDO's own files, MIT) are embedded and parsed once; commune-level files too
/// big to embed are read once from the optional `reference_dir` configuration. The instance is
/// immutable, so concurrent calls share it safely.
public struct AldoModule: CarbonModule {
  public static let name = "aldo"
  public static let version = "1.1.0"
  public static let summary = "ADEME ALDO: carbon flux and stocks by land use of a French territory (PCAET)"
  public static let descriptorSet = PackageResources.descriptor_set_binpb
  public static let methods: [ModuleMethod<AldoModule>] = [
    .unary("/carbon.aldo.v1.Aldo/ListReferenceData", AldoModule.listReferenceData),
    .unary("/carbon.aldo.v1.Aldo/ComputeFlux", AldoModule.computeFlux),
    .unary("/carbon.aldo.v1.Aldo/SummarizeBalance", AldoModule.summarizeBalance),
    .unary("/carbon.aldo.v1.Aldo/ComputeStocks", AldoModule.computeStocks),
    .unary("/carbon.aldo.v1.Aldo/RenderFluxChart", AldoModule.renderFluxChart),
    .unary("/carbon.aldo.v1.Aldo/ExportFlux", AldoModule.exportFlux),
  ]

  /// Name of the method in every trace.
  static let methodName = "ADEME ALDO carbon flux by land use"
  /// Version of the method reproduced.
  static let methodVersion = "ALDO as coded at incubateur-ademe/aldo a8f42b2 (2024-11-18)"

  /// Configuration (`[modules.aldo.config]` in the deployment file).
  struct Config: Decodable {
    /// Directory holding zpc.csv, communes_17122018.csv and clc18-change.csv (optional).
    var referenceDir: String?
    enum CodingKeys: String, CodingKey { case referenceDir = "reference_dir" }
  }

  let data: AldoReferenceData
  let communes: CommuneReference?

  public init(context: ModuleContext) throws(ModuleError) {
    data = try AldoReferenceData.embedded.get()
    let config = try context.decodeConfig(Config.self)
    if let directory = config.referenceDir, !directory.isEmpty {
      communes = try CommuneReference(directory: directory, data: data)
    } else {
      communes = nil
    }
  }

  /// A new trace with the data sets and the sign convention.
  func newTrace() -> TraceBuilder {
    var trace = TraceBuilder(method: Self.methodName, version: Self.methodVersion)
    for file in data.files + (communes?.files ?? []) {
      var set = DataSetVersion()
      set.name = file.name
      set.version = file.version
      set.source = "\(file.file): \(file.source)"
      trace.dataSet(set)
    }
    trace.decision(
      "sign_convention", "negative = net sequestration",
      reason: "the seed (aldo-flux-hauts-de-france.txt): « une séquestration nette de carbone est représentée par le "
        + "signe négatif »; ALDO computes with the opposite sign, kept only in fields named *stock_change*")
    return trace
  }

  public func listReferenceData(_ request: Carbon_Aldo_V1_ListReferenceDataRequest) throws(ModuleError)
    -> Carbon_Aldo_V1_ListReferenceDataResponse
  {
    if !request.pedoclimaticZone.isEmpty && data.soilFlux[request.pedoclimaticZone] == nil {
      throw .invalidArgument("pedoclimatic_zone", "unknown pedoclimatic zone \(request.pedoclimaticZone.quoted)")
    }
    var response = Carbon_Aldo_V1_ListReferenceDataResponse()
    // Embedded files, then the territory files shipped beside the plugin (with their sha256),
    // then those of reference_dir when configured.
    response.files = data.files + data.territoryManifest.values.sorted { $0.file < $1.file } + (communes?.files ?? [])
    response.pedoclimaticZones = data.soilFlux.keys.sorted()
    response.landUses = Leaf.allCases.map { leaf in
      var info = Carbon_Aldo_V1_LandUseInfo()
      info.landUse = leaf.landUse
      info.aldoName = leaf.aldoName
      info.group = leaf.group
      info.clcCodes = (data.clcCodes[leaf] ?? []).sorted()
      return info
    }
    response.values = data.referenceValues(zone: request.pedoclimaticZone, includeForest: request.includeForestRows)
    response.communeReferenceLoaded = communes != nil
    response.dataSetVersion = AldoReferenceData.version
    response.trace = newTrace().build()
    return response
  }

  public func summarizeBalance(_ request: Carbon_Aldo_V1_SummarizeBalanceRequest) throws(ModuleError)
    -> Carbon_Aldo_V1_SummarizeBalanceResponse
  {
    let inputs = try Self.groupInputs(request.landUses, field: "land_uses")
    var trace = newTrace()
    var response = Carbon_Aldo_V1_SummarizeBalanceResponse()
    response.balance = BalanceBuilder.balance(of: inputs)
    Self.recordTotals(response.balance, in: &trace)
    response.trace = trace.build()
    return response
  }

  /// Validated per-group inputs: each group set, at most once, finite.
  static func groupInputs(
    _ inputs: [Carbon_Aldo_V1_GroupFluxInput], field: String
  ) throws(ModuleError) -> [(group: Carbon_Aldo_V1_LandUseGroup, net: Double)] {
    try Validate.nonEmpty(inputs, field)
    var seen: Set<Int> = []
    var result: [(group: Carbon_Aldo_V1_LandUseGroup, net: Double)] = []
    for (index, input) in inputs.enumerated() {
      try Validate.specified(input.group, "\(field)[\(index)].group") { Carbon_Aldo_V1_LandUseGroup.balanceOrder.contains($0) }
      guard seen.insert(input.group.rawValue).inserted else {
        throw .invalidArgument("\(field)[\(index)].group", "\(input.group) is given twice")
      }
      result.append((input.group, try Validate.finite(input.netFluxTCo2EPerYr, "\(field)[\(index)].net_flux_t_co2e_per_yr")))
    }
    return result
  }

  /// The EPCI a request names by SIREN code (nil when the field is empty): 9 digits, present
  /// in ALDO's epci.csv; INVALID_ARGUMENT naming `field` otherwise.
  func epciInfo(_ siren: String, field: String, trace: inout TraceBuilder) throws(ModuleError) -> Carbon_Aldo_V1_EpciInfo? {
    guard !siren.isEmpty else { return nil }
    guard siren.count == 9, siren.allSatisfy({ $0.isASCII && $0.isNumber }) else {
      throw .invalidArgument(field, "must be a 9-digit SIREN code, got \(siren.quoted)")
    }
    guard let epci = data.epcis[siren] else {
      throw .invalidArgument(field, "unknown EPCI SIREN code \(siren.quoted) (not in ALDO's epci.csv)")
    }
    trace.decision(
      "epci", "\(epci.siren) \(epci.name)",
      reason: "named by the request; epci.csv gives \(epci.communeCount) communes and populationTotale "
        + "\(epci.populationTotal), shown only: ALDO's population method uses the sum of the communes' populations")
    return epci
  }

  /// Records each value a request replaced as a trace rule (the response's `overrides` has them too).
  static func recordOverrides(_ applied: [Carbon_Aldo_V1_AppliedOverride], in trace: inout TraceBuilder) {
    for override in applied {
      trace.rule("aldo.override", "\(override.name): \(override.defaultValue) → \(override.value) \(override.unit)")
    }
  }

  /// Records the totals of a balance as trace terms.
  static func recordTotals(_ balance: Carbon_Aldo_V1_FluxBalance, in trace: inout TraceBuilder) {
    for row in balance.landUses {
      trace.term("net_flux.\(row.group)", row.netFluxTCo2EPerYr, .tCo2EPerYr, formula: "Σ entries of « \(row.label) »")
    }
    trace.term("sequestered", balance.sequesteredTCo2EPerYr, .tCo2EPerYr, formula: "Σ negative land-use net fluxes")
    trace.term("emitted", balance.emittedTCo2EPerYr, .tCo2EPerYr, formula: "Σ positive land-use net fluxes")
    trace.term("net", balance.netTCo2EPerYr, .tCo2EPerYr, formula: "sequestered + emitted")
  }
}
