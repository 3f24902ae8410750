import CarbonDomain
import CarbonPluginLoader
import Foundation
import SwiftProtobuf
import Testing

/// Issue 20 point 9: "one spelling for tonnes of carbon per hectare, one for percentages vs
/// fractions … no proto field named with a Python/JS reserved word … add a lint test over
/// the .proto files that enforces the naming rule (e.g. `buf lint`-style rules you write as a
/// test, since buf itself is not installable here)". Over the descriptor sets of every plugin and
/// of the host's own services: every field of our packages (`carbon.*`).
@Suite("Proto lint: field names")
struct ProtoNamingLintTests {
  /// Python's keywords and JavaScript's reserved words: a field named so cannot be read as
  /// `message.from` in Python, and is awkward in generated JavaScript.
  static let reservedWords: Set<String> = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    "case", "catch", "const", "debugger", "default", "delete", "do", "enum", "export", "extends", "false",
    "function", "implements", "instanceof", "interface", "let", "new", "null", "package", "private",
    "protected", "public", "static", "super", "switch", "this", "throw", "true", "typeof", "var", "void",
  ]

  static func descriptorSets() throws -> [String] {
    try ProtoBoundsLintTests.pluginDescriptorSets()
      + [ProtoBoundsLintTests.repositoryRoot + "/Sources/CarbonHostProtocol/Generated/descriptor_set.binpb"]
  }

  /// The problems of one descriptor set: "type.field: what is wrong".
  static func problems(in descriptorSet: [UInt8]) throws -> [String] {
    let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet, extensions: carbonFieldOptionExtensions)
    var problems: [String] = []
    // The host fills `(carbon.domain.v1.caller_identity)` only in a string field at the top
    // level of a method's request: anywhere else the mark would be silently ignored.
    var requestTypes = Set<String>()
    for file in set.file {
      for service in file.service { for method in service.method { requestTypes.insert(String(method.inputType.dropFirst())) } }
    }
    func check(_ type: String, _ message: Google_Protobuf_DescriptorProto) {
      let names = Set(message.field.map(\.name))
      for field in message.field {
        let name = type + "." + field.name
        if reservedWords.contains(field.name) { problems.append("\(name): a Python or JavaScript reserved word") }
        // buf's FIELD_LOWER_SNAKE_CASE.
        if field.name != field.name.lowercased() || field.name.hasPrefix("_") || field.name.contains("__") {
          problems.append("\(name): not lower_snake_case")
        }
        // One spelling per unit: t_c (as t_co2e), percent.
        if field.name.contains("tc_per") || field.name.hasPrefix("tc_") { problems.append("\(name): tonnes of carbon are spelt t_c") }
        if field.name.hasSuffix("_pct") || field.name.contains("_pct_") { problems.append("\(name): percentages are spelt percent") }
        // Issue 20 point 9, "one [spelling] for percentages vs fractions": a share says which.
        if field.type == .double, field.name.contains("share") || field.name.contains("proportion"),
          !(field.name.hasSuffix("_fraction") || field.name.hasSuffix("_percent"))
        {
          problems.append("\(name): a share ends with _fraction (0–1) or _percent (0–100)")
        }
        // "units of rates per year in their names": a field whose range is per year says so.
        if field.options.hasCarbon_Domain_V1_bounds, field.options.Carbon_Domain_V1_bounds.unit.hasSuffix("/yr"),
          !field.name.contains("_per_yr"), !field.name.contains("_per_year")
        {
          problems.append("\(name): a rate per year (\(field.options.Carbon_Domain_V1_bounds.unit)) ends with _per_yr")
        }
        if field.options.Carbon_Domain_V1_callerIdentity,
          field.type != .string || field.label == .repeated || !requestTypes.contains(type)
        {
          problems.append("\(name): caller_identity marks a single string field of a method's request only")
        }
        if field.options.hasCarbon_Domain_V1_formerly {
          let former = field.options.Carbon_Domain_V1_formerly
          if names.contains(former) || message.reservedName.contains(former) {
            problems.append("\(name): its former name \(former) is a field or a reserved name of the message")
          }
        }
      }
    }
    for file in set.file where file.package.hasPrefix("carbon.") { file.forEachMessage(check) }
    return problems
  }

  @Test func noFieldIsNamedWithAReservedWordAndAllAreSnakeCase() throws {
    let sets = try Self.descriptorSets()
    #expect(sets.count >= 7)
    for path in sets {
      let problems = try Self.problems(in: try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
      #expect(problems.isEmpty, "\(path):\n\(problems.joined(separator: "\n"))")
    }
  }

  /// The lint finds the field ALDO had before its rename (`LandUse from = 1`).
  @Test func theLintFindsAReservedWord() throws {
    var message = Google_Protobuf_DescriptorProto()
    message.name = "AnnualChange"
    let from = descriptorField("from", number: 1, type: .enum)
    let area = descriptorField("areaHa", number: 3, type: .double)
    let share = descriptorField("lhv_share", number: 4, type: .double)
    let stock = descriptorField("stock_tc_per_ha", number: 5, type: .double)
    var flux = descriptorField("net_flux_t_co2e", number: 6, type: .double)
    flux.options.Carbon_Domain_V1_bounds = .with { $0.min = -1e9; $0.max = 1e9; $0.unit = "t CO2e/yr" }
    // Not a method's request (the file has no service): the host would never fill it.
    var caller = descriptorField("caller_identity", number: 7, type: .string)
    caller.options.Carbon_Domain_V1_callerIdentity = true
    message.field = [from, area, share, stock, flux, caller]
    var file = Google_Protobuf_FileDescriptorProto()
    file.name = "lint.proto"
    file.package = "carbon.lint.v1"
    file.messageType = [message]
    var set = Google_Protobuf_FileDescriptorSet()
    set.file = [file]
    #expect(
      try Self.problems(in: try set.serializedBytes()) == [
        "carbon.lint.v1.AnnualChange.from: a Python or JavaScript reserved word",
        "carbon.lint.v1.AnnualChange.areaHa: not lower_snake_case",
        "carbon.lint.v1.AnnualChange.lhv_share: a share ends with _fraction (0–1) or _percent (0–100)",
        "carbon.lint.v1.AnnualChange.stock_tc_per_ha: tonnes of carbon are spelt t_c",
        "carbon.lint.v1.AnnualChange.net_flux_t_co2e: a rate per year (t CO2e/yr) ends with _per_yr",
        "carbon.lint.v1.AnnualChange.caller_identity: caller_identity marks a single string field of a method's request only",
      ])
  }
}

/// The host's own JSON encoder (Host/Invoke's diagnosis, `carbonhub load`, the conformance
/// checker's protobuf samples) reads a renamed field's former name as the module does.
@Suite("Former names in the host's JSON encoder")
struct FormerNamesEncoderTests {
  @Test func theFormerNameEncodesAsTheCurrentField() throws {
    let path = ProtoBoundsLintTests.repositoryRoot + "/Plugins/ALDO/Module/Generated/descriptor_set.binpb"
    let codec = try JSONToProtobuf(descriptorSet: try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
    let type = ".carbon.aldo.v1.AnnualChange"
    let former = try codec.encode(json: Array(#"{"from": "LAND_USE_CROPLAND", "to": "LAND_USE_GRASSLAND"}"#.utf8), type: type)
    let current = try codec.encode(
      json: Array(#"{"from_land_use": "LAND_USE_CROPLAND", "to_land_use": "LAND_USE_GRASSLAND"}"#.utf8), type: type)
    #expect(former == current)
    #expect(!current.isEmpty)
  }
}
