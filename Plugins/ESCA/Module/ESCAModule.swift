import CarbonDomain
import CarbonPluginKit

/// The ESCA module: the soil-carbon accumulation bonus of the RED II/III GHG formula as the
/// 2BS ESCA guidelines V7 define it, from lab analyses to the capped bonus per MJ of fuel,
/// with the farmer's case, calendar, penalties and group audits. See Plugins/ESCA/README.md.
public struct EscaModule: CarbonModule {
  public static let name = "esca"
  public static let version = "1.0.1"
  public static let summary = "ESCA soil-carbon accumulation bonus (2BS ESCA guidelines V7, RED II/III e_sca)"
  public static let descriptorSet = PackageResources.descriptor_set_binpb
  public static let methods: [ModuleMethod<EscaModule>] = [
    .unary("/carbon.esca.v1.Esca/ComputeSoilStock", EscaModule.computeSoilStock),
    .unary("/carbon.esca.v1.Esca/ComputeFarmValue", EscaModule.computeFarmValue),
    .unary("/carbon.esca.v1.Esca/CheckSamplingPlan", EscaModule.checkSamplingPlan),
    .unary("/carbon.esca.v1.Esca/ComputeModelledStock", EscaModule.computeModelledStock),
    .unary("/carbon.esca.v1.Esca/DecideCategory", EscaModule.decideCategory),
    .unary("/carbon.esca.v1.Esca/ComputeBonus", EscaModule.computeBonus),
    .unary("/carbon.esca.v1.Esca/AssessFarmerCase", EscaModule.assessFarmerCase),
    .unary("/carbon.esca.v1.Esca/GetRegionalCsrInterval", EscaModule.getRegionalCsrInterval),
    .unary("/carbon.esca.v1.Esca/ComputePenalties", EscaModule.computePenalties),
    .unary("/carbon.esca.v1.Esca/SampleGroupAudit", EscaModule.sampleGroupAudit),
    .serverStreaming("/carbon.esca.v1.Esca/ComputeBatch", EscaModule.computeBatch),
    .bidiStreaming("/carbon.esca.v1.Esca/ComputeBatchStream", EscaModule.computeBatchStream),
    .bidiStreaming("/carbon.esca.v1.Esca/ComputeBatchStreamGrouped", EscaModule.computeBatchStreamGrouped),
    .unary("/carbon.esca.v1.Esca/AssessDossier", EscaModule.assessDossier),
    .bidiStreaming("/carbon.esca.v1.Esca/AssessDossierStream", EscaModule.assessDossierStream),
  ]

  /// Configuration (`[modules.esca.config]`).
  struct Config: Decodable {
    /// Largest number of farms accepted by ComputeBatch (and over a ComputeBatchStream).
    var maxBatchFarms: Int = 10_000_000
    enum CodingKeys: String, CodingKey { case maxBatchFarms = "max_batch_farms" }
    init() {}
    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      maxBatchFarms = try container.decodeIfPresent(Int.self, forKey: .maxBatchFarms) ?? maxBatchFarms
    }
  }

  let config: Config
  let reference: ReferenceData

  public init(context: ModuleContext) throws(ModuleError) {
    config = try context.decodeConfig(Config.self)
    guard config.maxBatchFarms > 0 else { throw .invalidArgument("config.max_batch_farms", "must be greater than 0") }
    reference = try ReferenceData.load()
  }

  /// ComputeSoilStock: the stock of one analysis.
  public func computeSoilStock(_ request: Carbon_Esca_V1_SoilStockRequest) throws(ModuleError) -> Carbon_Esca_V1_SoilStockResponse {
    guard request.hasAnalysis else { throw .invalidArgument("analysis", "is required") }
    var trace = Tracer()
    let result = try SoilStock.compute(request.analysis, purpose: request.purpose, prefix: "analysis.", trace: &trace)
    var response = Carbon_Esca_V1_SoilStockResponse()
    response.carbonGPerKg = result.carbonGPerKg
    response.fineEarthTPerHa = result.fineEarthTPerHa
    response.stockTCPerHa = result.stockTCPerHa
    response.trace = trace.build()
    return response
  }

  /// ComputeFarmValue: interval and median of several analyses.
  public func computeFarmValue(_ request: Carbon_Esca_V1_FarmValueRequest) throws(ModuleError) -> Carbon_Esca_V1_FarmValueResponse {
    var trace = Tracer()
    try Check.specified(request.purpose, "purpose") { $0.rawValue >= 1 && $0.rawValue <= 2 }
    let bounds = try SoilStock.bounds(
      request.values, purpose: request.purpose, csrMethod: request.csrBulkDensityMethod, prefix: "values", trace: &trace)
    let value = SoilStock.farmValue(bounds, trace: &trace)
    var response = Carbon_Esca_V1_FarmValueResponse()
    response.analyses = bounds.map { bound in
      var message = Carbon_Esca_V1_StockBounds()
      message.id = bound.id
      message.stockTCPerHa = bound.value
      message.lowTCPerHa = bound.low
      message.highTCPerHa = bound.high
      return message
    }
    response.meanLowTCPerHa = value.meanLow
    response.meanHighTCPerHa = value.meanHigh
    response.medianTCPerHa = value.median
    response.intervalLowTCPerHa = value.intervalLow
    response.intervalHighTCPerHa = value.intervalHigh
    response.trace = trace.build()
    return response
  }

  /// CheckSamplingPlan: the sampling protocol rules.
  public func checkSamplingPlan(_ request: Carbon_Esca_V1_SamplingPlanRequest) throws(ModuleError) -> Carbon_Esca_V1_SamplingPlanResponse {
    try SamplingPlan.check(request)
  }

  /// ComputeModelledStock: IPCC Tier 1 model, modelled CSA, deviation, recalibration ratios.
  public func computeModelledStock(_ request: Carbon_Esca_V1_ModelledStockRequest) throws(ModuleError) -> Carbon_Esca_V1_ModelledStockResponse {
    var trace = Tracer()
    let result = try ModelledStock(reference: reference).compute(request, prefix: "", trace: &trace)
    return ModelledStock.response(result, trace: trace)
  }

  /// DecideCategory: IPCC categories from declared practices.
  public func decideCategory(_ request: Carbon_Esca_V1_CategoryRequest) throws(ModuleError) -> Carbon_Esca_V1_CategoryResponse {
    try CategoryDecision.decide(request)
  }

  /// ComputeBonus: per kg, per MJ, EF policy, LHV split, caps, biogas effluent bonus.
  public func computeBonus(_ request: BonusRequest) throws(ModuleError) -> BonusResponse {
    var trace = Tracer()
    var response = try Bonus.compute(request, rateFromModel: nil, prefix: "", trace: &trace)
    response.trace = trace.build()
    return response
  }

  /// AssessFarmerCase: case, calendar, deadlines, caps.
  public func assessFarmerCase(_ request: Carbon_Esca_V1_FarmerCaseRequest) throws(ModuleError) -> Carbon_Esca_V1_FarmerCaseResponse {
    try FarmerCaseAssessment(reference: reference).assess(request)
  }

  /// GetRegionalCsrInterval: Annex 3 lookup and intersection.
  public func getRegionalCsrInterval(_ request: Carbon_Esca_V1_RegionalCsrRequest) throws(ModuleError) -> Carbon_Esca_V1_RegionalCsrResponse {
    try RegionalCsr.lookup(request, reference: reference)
  }

  /// ComputePenalties: withdrawal, tenant exit, real vs modelled CSA.
  public func computePenalties(_ request: Carbon_Esca_V1_PenaltyRequest) throws(ModuleError) -> Carbon_Esca_V1_PenaltyResponse {
    try Penalties.compute(request)
  }

  /// SampleGroupAudit: √N sample, 75 % risk, 25 % random.
  public func sampleGroupAudit(_ request: Carbon_Esca_V1_GroupAuditRequest) throws(ModuleError) -> Carbon_Esca_V1_GroupAuditResponse {
    try GroupAudit.sample(request)
  }

  /// ComputeBatch: one streamed result per farm; a farm's error stays in its result.
  public func computeBatch(
    _ request: Carbon_Esca_V1_BatchRequest, _ stream: ResponseStream<Carbon_Esca_V1_FarmResult>
  ) throws(ModuleError) {
    guard request.farms.count <= config.maxBatchFarms else {
      throw .invalidArgument("farms", "\(request.farms.count) farms exceed the configured maximum \(config.maxBatchFarms)")
    }
    let batch = Batch(model: ModelledStock(reference: reference), includeTerms: request.includeTerms)
    for (index, farm) in request.farms.enumerated() {
      try stream.send(batch.result(for: farm, index: index, path: "farms[\(index)]"))
    }
  }

  /// ComputeBatchStreamGrouped: ComputeBatchStream with up to N results (or M ms) per response
  /// message; a group is sent at the latest when its request is done, so a client that waits
  /// for results before sending more never waits for ever.
  public func computeBatchStreamGrouped(
    _ requests: RequestStream<Carbon_Esca_V1_BatchRequest>, _ stream: ResponseStream<Carbon_Esca_V1_FarmResultGroup>
  ) throws(ModuleError) {
    var batch: Batch? = nil
    var limit = 0
    var maxAge: Duration? = nil
    var group = Carbon_Esca_V1_FarmResultGroup()
    var groupStarted = ContinuousClock.now
    var index = 0
    func flush() throws(ModuleError) {
      guard !group.results.isEmpty else { return }
      try stream.send(group)
      group.results.removeAll(keepingCapacity: true)
    }
    while let request = try requests.next() {
      let position = RequestStream<Carbon_Esca_V1_BatchRequest>.path(requests.received - 1)
      if batch == nil {
        batch = Batch(model: ModelledStock(reference: reference), includeTerms: request.includeTerms)
        limit = Int(try Check.inRange(request.maxResultsPerMessage, 0...100_000, "\(position).max_results_per_message"))
        if limit == 0 { limit = 1000 }
        let ms = try Check.inRange(request.maxMillisecondsPerMessage, 0...3_600_000, "\(position).max_milliseconds_per_message")
        maxAge = ms > 0 ? .milliseconds(Int(ms)) : nil
        group.results.reserveCapacity(limit)
      }
      guard let current = batch else { break }
      for (offset, farm) in request.farms.enumerated() {
        guard index < config.maxBatchFarms else {
          throw .invalidArgument(
            "\(position).farms[\(offset)]", "the stream exceeds the configured maximum of \(config.maxBatchFarms) farms")
        }
        if group.results.isEmpty { groupStarted = ContinuousClock.now }
        group.results.append(current.result(for: farm, index: index, path: "\(position).farms[\(offset)]"))
        index += 1
        if group.results.count >= limit || maxAge.map({ ContinuousClock.now - groupStarted >= $0 }) == true { try flush() }
      }
      try flush()
    }
  }

  /// AssessDossier: a farm's whole ESCA result in one call.
  public func assessDossier(_ request: Carbon_Esca_V1_FarmDossier) throws(ModuleError) -> Carbon_Esca_V1_DossierResponse {
    var trace = Tracer()
    var response = try Dossier(reference: reference, model: ModelledStock(reference: reference)).assess(request, prefix: "", trace: &trace)
    response.trace = trace.build()
    return response
  }

  /// AssessDossierStream: dossiers arriving in pieces, one result per farm as soon as it is
  /// computed; a farm's error stays in its result.
  public func assessDossierStream(
    _ requests: RequestStream<Carbon_Esca_V1_DossierBatchRequest>, _ stream: ResponseStream<Carbon_Esca_V1_DossierResult>
  ) throws(ModuleError) {
    let dossier = Dossier(reference: reference, model: ModelledStock(reference: reference))
    // `dossiers` is checked per farm (`bounds_checked_per_item`): one farm out of range fails alone.
    let bounds = FieldBounds.of(EscaModule.self)
    var includeTerms: Bool? = nil
    var index = 0
    while let request = try requests.next() {
      let position = RequestStream<Carbon_Esca_V1_DossierBatchRequest>.path(requests.received - 1)
      let terms = includeTerms ?? request.includeTerms
      includeTerms = terms
      for (offset, farm) in request.dossiers.enumerated() {
        let path = "\(position).dossiers[\(offset)]"
        guard index < config.maxBatchFarms else {
          throw .invalidArgument(path, "the stream exceeds the configured maximum of \(config.maxBatchFarms) farms")
        }
        var result = Carbon_Esca_V1_DossierResult()
        result.index = Int32(clamping: index)
        result.farmID = farm.farmID
        var trace = Tracer(recordsTerms: terms)
        do {
          try bounds.check(farm, prefix: path + ".")
          result.dossier = try dossier.assess(farm, prefix: path + ".", trace: &trace)
          result.dossier.trace = trace.build()
        } catch {
          result.error.status = error.status.name
          result.error.field = error.field ?? ""
          result.error.message = error.message
        }
        try stream.send(result)
        index += 1
      }
    }
  }

  /// ComputeBatchStream: ComputeBatch with the farms arriving in pieces; each result goes out
  /// before the next request is read, so memory does not grow with the batch.
  public func computeBatchStream(
    _ requests: RequestStream<Carbon_Esca_V1_BatchRequest>, _ stream: ResponseStream<Carbon_Esca_V1_FarmResult>
  ) throws(ModuleError) {
    var batch: Batch? = nil
    var index = 0
    while let request = try requests.next() {
      let position = RequestStream<Carbon_Esca_V1_BatchRequest>.path(requests.received - 1)
      let current = batch ?? Batch(model: ModelledStock(reference: reference), includeTerms: request.includeTerms)
      batch = current
      for (offset, farm) in request.farms.enumerated() {
        guard index < config.maxBatchFarms else {
          throw .invalidArgument(
            "\(position).farms[\(offset)]", "the stream exceeds the configured maximum of \(config.maxBatchFarms) farms")
        }
        try stream.send(current.result(for: farm, index: index, path: "\(position).farms[\(offset)]"))
        index += 1
      }
    }
  }
}
