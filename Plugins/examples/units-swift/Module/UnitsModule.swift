import CarbonDomain
import CarbonPluginKit

/// Example module: conversions between units of the shared domain types.
///
/// It exercises the whole plugin kit (config, unary and streaming methods, validation with
/// field paths, traces) and is the template to copy for a new module.
public struct UnitsModule: CarbonModule {
  public static let name = "units"
  public static let version = "1.0.0"
  public static let summary = "Unit conversions of the shared domain types (example Swift module)"
  public static let descriptorSet = PackageResources.descriptor_set_binpb
  public static let methods: [ModuleMethod<UnitsModule>] = [
    .unary("/carbon.examples.v1.Units/Convert", UnitsModule.convert),
    .serverStreaming("/carbon.examples.v1.Units/ConvertBatch", UnitsModule.convertBatch),
  ]

  /// Configuration (`[modules.units.config]` in the deployment file).
  struct Config: Decodable {
    /// Largest batch accepted by ConvertBatch.
    var maxBatchItems: Int = 1_000_000

    enum CodingKeys: String, CodingKey { case maxBatchItems = "max_batch_items" }

    init() {}
    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      maxBatchItems = try container.decodeIfPresent(Int.self, forKey: .maxBatchItems) ?? maxBatchItems
    }
  }

  let config: Config

  public init(context: ModuleContext) throws(ModuleError) {
    config = try context.decodeConfig(Config.self)
    guard config.maxBatchItems > 0 else {
      throw .invalidArgument("config.max_batch_items", "must be greater than 0")
    }
  }

  public func convert(_ request: Carbon_Examples_V1_ConvertRequest) throws(ModuleError)
    -> Carbon_Examples_V1_ConvertResponse
  {
    try convert(request, field: "")
  }

  public func convertBatch(
    _ request: Carbon_Examples_V1_ConvertBatchRequest,
    _ stream: ResponseStream<Carbon_Examples_V1_ConvertResponse>
  ) throws(ModuleError) {
    guard request.items.count <= config.maxBatchItems else {
      throw .invalidArgument(
        "items", "\(request.items.count) items exceed the configured maximum \(config.maxBatchItems)")
    }
    for (index, item) in request.items.enumerated() {
      try stream.send(try convert(item, field: "items[\(index)]."))
    }
  }

  private func convert(_ request: Carbon_Examples_V1_ConvertRequest, field prefix: String)
    throws(ModuleError) -> Carbon_Examples_V1_ConvertResponse
  {
    guard request.hasQuantity else { throw .invalidArgument("\(prefix)quantity", "is required") }
    let input = request.quantity
    try Validate.finite(input.value, "\(prefix)quantity.value")
    try Validate.specified(input.unit, "\(prefix)quantity.unit") { $0.dimension != nil }
    try Validate.specified(request.targetUnit, "\(prefix)target_unit") { $0.dimension != nil }

    var trace = TraceBuilder(method: "unit conversion", version: Self.version)
    trace.term("input", input.value, input.unit)
    let output: Quantity
    do {
      if input.unit.dimension == .carbonMass && request.targetUnit.dimension == .co2eMass {
        output = try input.carbonToCo2e().converted(to: request.targetUnit)
        trace.term(
          "co2_per_carbon", CarbonConstants.co2PerCarbon, .ratio, formula: "44/12",
          source: "molar masses")
      } else if input.unit == .tCPerYr && request.targetUnit == .tCo2EPerYr {
        output = try input.carbonToCo2e()
        trace.term(
          "co2_per_carbon", CarbonConstants.co2PerCarbon, .ratio, formula: "44/12",
          source: "molar masses")
      } else {
        output = try input.converted(to: request.targetUnit)
      }
    } catch {
      throw .invalidArgument("\(prefix)target_unit", error.description)
    }
    trace.term("output", output.value, output.unit)
    var response = Carbon_Examples_V1_ConvertResponse()
    response.quantity = output
    response.trace = trace.build()
    return response
  }
}
