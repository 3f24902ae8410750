import CarbonDomain
import CarbonPluginLoader
import Foundation
import SwiftProtobuf
import Synchronization

/// The OpenAPI 3.1 description of the HTTP gateway (`GET /openapi.json`), made at run time from
/// the descriptor sets of the modules serving now (each in its default version), so that a
/// module added, reloaded or removed is described as it is: one path per method, the request
/// and response messages as JSON Schema (2020-12, OpenAPI 3.1's dialect), with the protos'
/// comments as descriptions.
final class OpenAPIDocument: Sendable {
  let registry: ModuleRegistry
  /// The host's name, in the document's title.
  let instanceName: String
  /// The document of the registry generation it was made from.
  private let cache = Mutex<(generation: Int, json: [UInt8])?>(nil)

  init(registry: ModuleRegistry, instanceName: String) {
    self.registry = registry
    self.instanceName = instanceName
  }

  /// The document as JSON.
  func json() -> [UInt8] {
    let generation = registry.generation
    if let cached = cache.withLock({ $0 }), cached.generation == generation { return cached.json }
    let json = Self.document(modules: registry.servingVersions(selectedBy: nil), title: "carbonhub \(instanceName)").serialized
    cache.withLock { $0 = (generation, json) }
    return json
  }

  /// The document describing `modules`.
  static func document(modules: [ModuleRegistry.ModuleSnapshot], title: String) -> JSONValue {
    var schemas = Schemas()
    var paths: [JSONValue.Member] = []
    for module in modules {
      guard let metadata = module.metadata else { continue }
      let index = SchemaIndex(descriptorSet: metadata.descriptorSet)
      for method in metadata.methods {
        guard let types = index.methods[method.path] else { continue }
        schemas.add(types.input, from: index)
        schemas.add(types.output, from: index)
        paths.append(.init("/v1/\(module.moduleName)/\(method.name)", .object([.init("post", operation(method, types, module: module))])))
      }
    }
    schemas.definitions.append(.init(errorSchema, errorDefinition))
    return .object([
      .init("openapi", .string("3.1.0")),
      .init("info", .object([
        .init("title", .string(title)),
        .init("version", .string("1")),
        .init("description", .string(
          "Every method of every module this host serves, called with JSON (docs/http-json.md). The same calls are served over gRPC; "
            + "the `carbonhub-module-version` header picks one version of a module served in several.")),
      ])),
      .init("paths", .object(paths)),
      .init("components", .object([.init("schemas", .object(schemas.definitions))])),
    ])
  }

  // MARK: Operations

  private static let errorSchema = "carbonhub.Error"

  private static func reference(_ type: String) -> JSONValue {
    .object([.init("$ref", .string("#/components/schemas/\(schemaName(type))"))])
  }

  /// ".carbon.esca.v1.SoilStockRequest" → "carbon.esca.v1.SoilStockRequest".
  static func schemaName(_ type: String) -> String { type.hasPrefix(".") ? String(type.dropFirst()) : type }

  private static func operation(
    _ method: PluginMethod, _ types: SchemaIndex.MethodTypes, module: ModuleRegistry.ModuleSnapshot
  ) -> JSONValue {
    let streamed = method.isServerStreaming || method.isClientStreaming
    let line = JSONValue.object([
      .init("description", .string("One line of the NDJSON response: a result, or at the end an error or the stream's signed receipt.")),
      .init("type", .string("object")),
      .init("properties", .object([
        .init("result", reference(types.output)),
        .init("error", reference(errorSchema)),
        .init("receipt", .object([.init("type", .string("string")), .init("contentEncoding", .string("base64"))])),
      ])),
      .init("minProperties", .number("1")),
      .init("maxProperties", .number("1")),
    ])
    // A bidirectional method's requests: a JSON array, or NDJSON (one request a line).
    let samples = (module.metadata?.examples ?? []).filter { $0.method == method.name }
    let requestContent: [JSONValue.Member] =
      method.isClientStreaming
      ? [
        .init("application/json", mediaType(
          .object([.init("type", .string("array")), .init("items", reference(types.input))]), examples(samples, inArray: true))),
        // The examples on the JSON form only: generic clients (schemathesis) cannot write NDJSON.
        .init("application/x-ndjson", mediaType(reference(types.input), [])),
      ]
      : [.init("application/json", mediaType(reference(types.input), examples(samples, inArray: false)))]
    var description = types.comment
    if method.isClientStreaming {
      description += (description.isEmpty ? "" : "\n\n")
        + "Bidirectional: the body holds the requests as a JSON array, or one request per line (NDJSON); the response is NDJSON."
    }
    else if method.isServerStreaming { description += (description.isEmpty ? "" : "\n\n") + "Server-streaming: the response is NDJSON, one line per result, as produced." }
    var successHeaders: [JSONValue.Member] = [
      .init("carbonhub-module-version", header("The version of the module that answered.")),
      .init("x-request-id", header("The call's id in the host's logs.")),
    ]
    if !streamed {
      successHeaders.append(.init(ReceiptRecorder.httpHeaderKey, header("The call's signed receipt (base64 of carbon.host.v1.Receipt), when the host signs receipts.")))
    }
    let errorResponse = JSONValue.object([
      .init("description", .string("The call failed: its gRPC status as JSON, with the HTTP status grpc-gateway gives that code.")),
      .init("content", .object([.init("application/json", .object([.init("schema", reference(errorSchema))]))])),
    ])
    return .object([
      .init("operationId", .string("\(module.moduleName).\(method.name)")),
      .init("tags", .array([.string(module.moduleName)])),
      .init("summary", .string("\(module.moduleName) \(module.version?.text ?? "") — \(method.name)")),
      .init("description", .string(description)),
      .init("parameters", .array(parameters)),
      .init("requestBody", .object([.init("required", .bool(true)), .init("content", .object(requestContent))])),
      .init("responses", .object([
        .init("200", .object([
          .init("description", .string(streamed ? "The results, one JSON object a line." : "The result.")),
          .init("headers", .object(successHeaders)),
          .init("content", .object([
            streamed
              ? .init("application/x-ndjson", .object([.init("schema", line)]))
              : .init("application/json", .object([.init("schema", reference(types.output))]))
          ])),
        ])),
        .init("default", errorResponse),
      ])),
    ])
  }

  /// A media type of the request body: its schema, and its examples when the module has some.
  private static func mediaType(_ schema: JSONValue, _ examples: [JSONValue.Member]) -> JSONValue {
    .object([.init("schema", schema)] + (examples.isEmpty ? [] : [.init("examples", .object(examples))]))
  }

  /// The module's sample requests of one method (`<library>.examples/`) as OpenAPI examples,
  /// named by their case ("default" for `<Method>.json`) and summarised with the outcome their
  /// `.expect.json` states. `inArray`: a bidirectional method's JSON body, an array of requests.
  private static func examples(_ samples: [ExampleCase], inArray: Bool) -> [JSONValue.Member] {
    samples.compactMap { sample in
      guard let request = try? JSONValue(parsing: Array(sample.requestJSON.utf8)) else { return nil }
      var outcome = "answers \(sample.expectedStatus)"
      if let field = sample.expectedField { outcome += " naming \(field)" }
      let file = sample.name.isEmpty ? sample.method : "\(sample.method).\(sample.name)"
      return .init(sample.name.isEmpty ? "default" : sample.name, .object([
        .init("summary", .string("\(file).json: \(outcome)")),
        .init("value", inArray ? .array([request]) : request),
      ]))
    }
  }

  private static func header(_ description: String) -> JSONValue {
    .object([.init("description", .string(description)), .init("schema", .object([.init("type", .string("string"))]))])
  }

  private static let parameters: [JSONValue] = [
    .object([
      .init("name", .string("names")), .init("in", .string("query")),
      .init("description", .string("Field names of the response: json (lowerCamelCase, the default) or proto (as in the .proto).")),
      .init("schema", .object([.init("type", .string("string")), .init("enum", .array([.string("json"), .string("proto")]))])),
    ]),
    .object([
      .init("name", .string("defaults")), .init("in", .string("query")),
      .init("description", .string("true writes fields at their default value too (zeros, empty lists).")),
      .init("schema", .object([.init("type", .string("boolean"))])),
    ]),
    .object([
      .init("name", .string("carbonhub-module-version")), .init("in", .string("header")),
      .init("description", .string("The module version to call: exact (1.0.0) or a release prefix (1.0); default: the host's default version.")),
      .init("schema", .object([.init("type", .string("string"))])),
    ]),
    .object([
      .init("name", .string("grpc-timeout")), .init("in", .string("header")),
      .init("description", .string("The caller's deadline, as gRPC writes it: a number and a unit (H, M, S, m, u, n), e.g. 30S or 500m.")),
      .init("schema", .object([.init("type", .string("string")), .init("pattern", .string("^[1-9][0-9]{0,7}[HMSmun]$"))])),
    ]),
    .object([
      .init("name", .string("x-request-id")), .init("in", .string("header")),
      .init("description", .string("The call's id in the host's logs (one is made when absent).")),
      .init("schema", .object([.init("type", .string("string"))])),
    ]),
  ]

  private static let errorDefinition = JSONValue.object([
    .init("description", .string("A failed call: its gRPC status.")),
    .init("type", .string("object")),
    .init("required", .array([.string("code"), .string("status"), .string("message")])),
    .init("properties", .object([
      .init("code", .object([.init("type", .string("integer")), .init("description", .string("The gRPC status code (3 for INVALID_ARGUMENT)."))])),
      .init("status", .object([.init("type", .string("string")), .init("description", .string("The gRPC status name."))])),
      .init("message", .object([.init("type", .string("string"))])),
      .init("field", .object([.init("type", .string("string")), .init("description", .string("The offending field of the request, e.g. analysis.depth_cm."))])),
      .init("requestId", .object([.init("type", .string("string"))])),
    ])),
  ])

  // MARK: Schemas

  /// The component schemas of the messages and enums reached from the methods.
  private struct Schemas {
    var definitions: [JSONValue.Member] = []
    private var named: Set<String> = []

    mutating func add(_ type: String, from index: SchemaIndex) {
      let name = OpenAPIDocument.schemaName(type)
      guard named.insert(name).inserted else { return }
      if let values = index.enums[type] {
        definitions.append(.init(name, OpenAPIDocument.enumSchema(values.values, comment: values.comment)))
        return
      }
      guard let message = index.messages[type] else {
        // A type the descriptor set does not define (a well-known type): any JSON.
        definitions.append(.init(name, .object([])))
        return
      }
      var properties: [JSONValue.Member] = []
      for field in message.descriptor.field {
        var schema = fieldSchema(field, index: index)
        var comment = message.fieldComments[field.number] ?? ""
        // A numeric field's declared bounds (`(carbon.domain.v1.bounds)`), in words: one schema
        // serves requests and responses, where 0 means "not given" and may lie outside them.
        if field.options.hasCarbon_Domain_V1_bounds {
          comment += (comment.isEmpty ? "" : "\n") + Self.boundsText(field.options.Carbon_Domain_V1_bounds)
        }
        if case .object(var members) = schema, !comment.isEmpty {
          members.insert(.init("description", .string(comment)), at: 0)
          schema = .object(members)
        }
        // Read by either name (the gateway accepts both); written by the JSON name unless asked.
        properties.append(.init(JSONToProtobuf.jsonName(of: field), schema))
      }
      var members: [JSONValue.Member] = [.init("type", .string("object"))]
      if !message.comment.isEmpty { members.append(.init("description", .string(message.comment))) }
      members.append(.init("properties", .object(properties)))
      if let choices = Self.oneofs(of: message.descriptor) { members.append(choices) }
      definitions.append(.init(name, .object(members)))
    }

    /// "Unit: t C/ha. Accepted in requests: 0 to 1000." from a field's bounds.
    static func boundsText(_ bounds: Carbon_Domain_V1_Bounds) -> String {
      let number = Carbon_Domain_V1_Bounds.printed
      var text = bounds.unit.isEmpty ? "" : "Unit: \(bounds.unit). "
      if bounds.min.isFinite && bounds.max.isFinite && bounds.min < bounds.max {
        text += "Accepted in requests: \(number(bounds.min)) to \(number(bounds.max))."
      }
      return text.trimmingCharacters(in: .whitespaces)
    }

    /// The message's oneofs as JSON Schema: for each, at most one of its fields is present
    /// (exactly one of "only this field" or "none of them"), with a description naming them.
    /// A proto3 `optional` field's synthetic oneof is not a choice and is left out.
    static func oneofs(of message: Google_Protobuf_DescriptorProto) -> JSONValue.Member? {
      let grouped = Dictionary(grouping: message.field.filter { $0.hasOneofIndex && !$0.proto3Optional }, by: \.oneofIndex)
      let choices = grouped.keys.sorted().compactMap { index -> JSONValue? in
        guard let fields = grouped[index], Int(index) < message.oneofDecl.count else { return nil }
        let names = fields.map { JSONToProtobuf.jsonName(of: $0) }
        let present = names.map { JSONValue.object([.init("required", .array([.string($0)]))]) }
        return .object([
          .init("description", .string("oneof \(message.oneofDecl[Int(index)].name): at most one of \(names.joined(separator: ", "))")),
          .init("oneOf", .array(present + [.object([.init("not", .object([.init("anyOf", .array(present))]))])])),
        ])
      }
      return choices.isEmpty ? nil : .init("allOf", .array(choices))
    }

    private mutating func fieldSchema(_ field: Google_Protobuf_FieldDescriptorProto, index: SchemaIndex) -> JSONValue {
      if field.label == .repeated, let entry = index.messages[field.typeName], entry.descriptor.options.mapEntry,
        let value = entry.descriptor.field.first(where: { $0.number == 2 })
      {
        return .object([.init("type", .string("object")), .init("additionalProperties", single(value, index: index))])
      }
      let element = single(field, index: index)
      return field.label == .repeated ? .object([.init("type", .string("array")), .init("items", element)]) : element
    }

    private mutating func single(_ field: Google_Protobuf_FieldDescriptorProto, index: SchemaIndex) -> JSONValue {
      func type(_ name: String, _ extra: [JSONValue.Member] = []) -> JSONValue { .object([.init("type", .string(name))] + extra) }
      switch field.type {
      case .double, .float:
        // proto3 JSON writes non-finite numbers as strings.
        return .object([.init("oneOf", .array([
          type("number"), type("string", [.init("enum", .array(["NaN", "Infinity", "-Infinity"].map(JSONValue.string)))]),
        ]))])
      case .int32, .sint32, .sfixed32: return type("integer", [.init("format", .string("int32"))])
      case .uint32, .fixed32: return type("integer", [.init("format", .string("int32")), .init("minimum", .number("0"))])
      case .int64, .sint64, .sfixed64, .uint64, .fixed64:
        // Written as a string (JSON numbers lose 64-bit precision); read as either.
        return .object([.init("type", .array([.string("string"), .string("integer")])), .init("format", .string("int64"))])
      case .bool: return type("boolean")
      case .string: return type("string")
      case .bytes: return type("string", [.init("contentEncoding", .string("base64"))])
      case .enum, .message, .group:
        add(field.typeName, from: index)
        return OpenAPIDocument.reference(field.typeName)
      }
    }
  }

  fileprivate static func enumSchema(_ values: [String], comment: String) -> JSONValue {
    var members: [JSONValue.Member] = [.init("type", .string("string"))]
    if !comment.isEmpty { members.append(.init("description", .string(comment))) }
    members.append(.init("enum", .array(values.map(JSONValue.string))))
    return .object(members)
  }
}

/// A module's descriptor set indexed for the document: messages, enums and methods by name,
/// with the leading comments of each.
private struct SchemaIndex {
  struct Message {
    let descriptor: Google_Protobuf_DescriptorProto
    let comment: String
    let fieldComments: [Int32: String]
  }

  struct MethodTypes {
    let input: String
    let output: String
    let comment: String
  }

  var messages: [String: Message] = [:]
  var enums: [String: (values: [String], comment: String)] = [:]
  /// "/carbon.esca.v1.Esca/ComputeSoilStock" → its types.
  var methods: [String: MethodTypes] = [:]

  init(descriptorSet: [UInt8]) {
    // With our field options, so that a field's bounds and unit can be read.
    guard let set = try? Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet, extensions: carbonFieldOptionExtensions) else { return }
    for file in set.file {
      // Leading comments by the location path (descriptor.proto's field numbers).
      var comments: [[Int32]: String] = [:]
      for location in file.sourceCodeInfo.location where location.hasLeadingComments {
        comments[location.path] = location.leadingComments.trimmingCharacters(in: .whitespacesAndNewlines)
      }
      let prefix = file.package.isEmpty ? "." : ".\(file.package)."
      for (index, message) in file.messageType.enumerated() {
        addMessage(message, name: prefix + message.name, path: [4, Int32(index)], comments: comments)
      }
      for (index, enumType) in file.enumType.enumerated() {
        enums[prefix + enumType.name] = (enumType.value.map(\.name), comments[[5, Int32(index)]] ?? "")
      }
      for (serviceIndex, service) in file.service.enumerated() {
        for (methodIndex, method) in service.method.enumerated() {
          let path = "/\(file.package.isEmpty ? "" : file.package + ".")\(service.name)/\(method.name)"
          methods[path] = MethodTypes(
            input: method.inputType, output: method.outputType,
            comment: comments[[6, Int32(serviceIndex), 2, Int32(methodIndex)]] ?? "")
        }
      }
    }
  }

  private mutating func addMessage(_ message: Google_Protobuf_DescriptorProto, name: String, path: [Int32], comments: [[Int32]: String]) {
    var fieldComments: [Int32: String] = [:]
    for (index, field) in message.field.enumerated() {
      if let comment = comments[path + [2, Int32(index)]] { fieldComments[field.number] = comment }
    }
    messages[name] = Message(descriptor: message, comment: comments[path] ?? "", fieldComments: fieldComments)
    for (index, nested) in message.nestedType.enumerated() {
      addMessage(nested, name: name + "." + nested.name, path: path + [3, Int32(index)], comments: comments)
    }
    for (index, enumType) in message.enumType.enumerated() {
      enums[name + "." + enumType.name] = (enumType.value.map(\.name), comments[path + [4, Int32(index)]] ?? "")
    }
  }
}
