import CarbonDomain
import CarbonPluginLoader
import CarbonTestSupport
import Foundation
import SwiftProtobuf
import Testing

/// The host's protobuf → proto3 JSON writer (issue 24, point 3: "the host converts proto3 JSON
/// ↔ protobuf with the module's descriptor set … for modules that declare they accept
/// protobuf only, so a C module needs only protobuf-c").
@Suite("Protobuf to JSON with a module's descriptor set", .cpuBound)
struct ProtobufToJSONTests {
  /// The JSON a module writes itself and the JSON the host writes from the module's protobuf
  /// answer to the same request must mean the same: every unary example of every product
  /// module (their answers use nested and repeated messages, enums, oneofs, 64-bit integers).
  @Test(arguments: [("libESCA.so", "ESCA"), ("libSOBAC.so", "SOBAC"), ("libALDO.so", "ALDO"), ("libSNBC.so", "SNBC")])
  func everyExampleAnswerReadsTheSameAsTheModulesOwnJSON(library file: String, folder: String) throws {
    let library = try PluginLibrary(path: try TestEnvironment.plugin(file))
    let instance = try library.makeInstance(configJSON: "{}", dataDirectory: try TestEnvironment.temporaryDirectory("pb2json"))
    let requests = try JSONToProtobuf(descriptorSet: library.descriptorSet)
    let writer = try ProtobufToJSON(descriptorSet: library.descriptorSet)
    let service = try #require(library.methods.first?.path.split(separator: "/").first)
    let examples = TestEnvironment.repositoryRoot + "/Plugins/\(folder)/examples/"
    var compared = 0
    for file in try FileManager.default.contentsOfDirectory(atPath: examples).sorted()
    where file.hasSuffix(".json") && !file.hasSuffix(".expect.json") {
      let method = "/\(service)/\(file.split(separator: ".")[0])"
      guard let kind = library.methods.first(where: { $0.path == method }), !kind.isServerStreaming else { continue }
      let json = Array(try Data(contentsOf: URL(fileURLWithPath: examples + file)))
      guard let own = try? instance.call(method, request: json, encoding: .json),
        let protobufRequest = try? requests.encodeRequest(json: json, method: method)
      else { continue }
      let protobufAnswer = try instance.call(method, request: protobufRequest, encoding: .protobuf)
      let written = try writer.encodeResponse(protobuf: protobufAnswer, method: method)
      // Compared as values (numbers by their doubles): "1.0" and "1" are the same answer.
      let difference = firstDifference(try JSONValue(parsing: written), try JSONValue(parsing: own))
      #expect(difference == nil, "\(folder)/\(file): first difference at \(difference ?? "")")
      compared += 1
    }
    #expect(compared >= 3, "\(folder): \(compared) examples compared")
  }

  /// Hand-made bytes for the cases the modules' answers do not show: a packed and an unpacked
  /// repeated field, a negative int64 (a string), NaN, an enum number the type lacks, a map,
  /// bytes, a string needing escapes, an unknown field (skipped), and the errors.
  @Test func handMadeBytesGiveProto3JSON() throws {
    // message Sample { repeated int32 counts = 1; int64 big = 2; double ratio = 3; Kind kind = 4;
    //   map<string, double> shares = 5; bytes blob = 6; string note = 7; Sample child = 8;
    //   optional int32 zero = 9; }  enum Kind { KIND_UNSPECIFIED = 0; KIND_A = 1; }
    var file = Google_Protobuf_FileDescriptorProto()
    file.name = "sample.proto"
    file.package = "t"
    file.syntax = "proto3"
    var kind = Google_Protobuf_EnumDescriptorProto()
    kind.name = "Kind"
    kind.value = [.with { $0.name = "KIND_UNSPECIFIED"; $0.number = 0 }, .with { $0.name = "KIND_A"; $0.number = 1 }]
    file.enumType = [kind]
    func field(_ name: String, _ number: Int32, _ type: Google_Protobuf_FieldDescriptorProto.TypeEnum,
               repeated: Bool = false, typeName: String = "") -> Google_Protobuf_FieldDescriptorProto {
      .with {
        $0.name = name
        $0.number = number
        $0.type = type
        $0.label = repeated ? .repeated : .optional
        if !typeName.isEmpty { $0.typeName = typeName }
      }
    }
    var entry = Google_Protobuf_DescriptorProto()
    entry.name = "SharesEntry"
    entry.field = [field("key", 1, .string), field("value", 2, .double)]
    entry.options.mapEntry = true
    var sample = Google_Protobuf_DescriptorProto()
    sample.name = "Sample"
    sample.nestedType = [entry]
    var zero = field("zero", 9, .int32)
    zero.oneofIndex = 0
    zero.proto3Optional = true
    sample.oneofDecl = [.with { $0.name = "_zero" }]
    sample.field = [
      field("counts", 1, .int32, repeated: true), field("big", 2, .int64), field("ratio", 3, .double),
      field("kind", 4, .enum, typeName: ".t.Kind"), field("shares", 5, .message, repeated: true, typeName: ".t.Sample.SharesEntry"),
      field("blob", 6, .bytes), field("note", 7, .string), field("child", 8, .message, typeName: ".t.Sample"), zero,
    ]
    file.messageType = [sample]
    let set = try Google_Protobuf_FileDescriptorSet.with { $0.file = [file] }.serializedBytes() as [UInt8]
    let writer = try ProtobufToJSON(descriptorSet: set)

    var bytes: [UInt8] = []
    func key(_ number: UInt64, _ wire: UInt64) { JSONToProtobuf.varint(number << 3 | wire, into: &bytes) }
    key(1, 2); JSONToProtobuf.lengthDelimited([1, 2, 0x96, 0x01], into: &bytes)  // packed 1, 2, 150
    key(1, 0); JSONToProtobuf.varint(7, into: &bytes)  // and one more, unpacked
    key(2, 0); JSONToProtobuf.varint(UInt64(bitPattern: -5), into: &bytes)
    key(3, 1); withUnsafeBytes(of: Double.nan.bitPattern.littleEndian) { bytes += $0 }
    key(4, 0); JSONToProtobuf.varint(9, into: &bytes)  // no such Kind value
    var mapEntry: [UInt8] = [0x0A, 1, UInt8(ascii: "a"), 0x11]
    withUnsafeBytes(of: (0.25).bitPattern.littleEndian) { mapEntry += $0 }
    key(5, 2); JSONToProtobuf.lengthDelimited(mapEntry, into: &bytes)
    key(6, 2); JSONToProtobuf.lengthDelimited([0xFF, 0x00], into: &bytes)
    key(7, 2); JSONToProtobuf.lengthDelimited(Array("say \"hi\"\n".utf8), into: &bytes)
    key(8, 2); JSONToProtobuf.lengthDelimited([0x20, 0x01], into: &bytes)  // child { kind: KIND_A }
    key(9, 0); JSONToProtobuf.varint(0, into: &bytes)  // optional, set to 0: written
    key(99, 0); JSONToProtobuf.varint(1, into: &bytes)  // unknown: skipped
    let json = String(decoding: try writer.json(protobuf: bytes, type: ".t.Sample"), as: UTF8.self)
    #expect(
      json == #"{"counts":[1,2,150,7],"big":"-5","ratio":"NaN","kind":9,"shares":{"a":0.25},"blob":"/wA=","note":"say \"hi\"\n","child":{"kind":"KIND_A"},"zero":0}"#,
      "\(json)")
    #expect(String(decoding: try writer.json(protobuf: [], type: ".t.Sample"), as: UTF8.self) == "{}", "defaults are left out")

    // Broken bytes name the field; a type outside the set is refused.
    #expect(throws: ProtobufToJSON.DecodingError.self) { try writer.json(protobuf: [0x3A, 0x05, 0x61], type: ".t.Sample") }
    #expect(throws: ProtobufToJSON.DecodingError.self) { try writer.json(protobuf: [0x42, 0x02, 0x3A, 0x05], type: ".t.Sample") }
    #expect(throws: ProtobufToJSON.DecodingError.self) { try writer.json(protobuf: [], type: ".google.protobuf.Timestamp") }
  }
}

/// Where two JSON values first differ ("lines[2].co2e_kg: 1.5 / 1.25"), numbers compared by
/// their doubles and objects by their keys; nil when they mean the same.
private func firstDifference(_ a: JSONValue?, _ b: JSONValue?, path: String = "") -> String? {
  switch (a, b) {
  case (.object(let x)?, .object(let y)?):
    let left = Dictionary(x.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    let right = Dictionary(y.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    for key in Set(left.keys).union(right.keys).sorted() {
      if let found = firstDifference(left[key], right[key], path: path.isEmpty ? key : path + "." + key) { return found }
    }
    return nil
  case (.array(let x)?, .array(let y)?):
    guard x.count == y.count else { return "\(path): \(x.count) items / \(y.count)" }
    for index in x.indices {
      if let found = firstDifference(x[index], y[index], path: "\(path)[\(index)]") { return found }
    }
    return nil
  case (.number?, .number?):
    return a?.doubleValue?.bitPattern == b?.doubleValue?.bitPattern ? nil : "\(path): \(a!) / \(b!)"
  default:
    return a == b ? nil : "\(path): \(a.map { "\($0)" } ?? "absent") / \(b.map { "\($0)" } ?? "absent")"
  }
}

/// The JSON → protobuf direction keeps numbers exact (it reads them with `JSONValue`).
@Suite("JSON to protobuf keeps every number")
struct JSONToProtobufNumberTests {
  @Test func decimalsReachTheModuleAsTheNearestDouble() throws {
    let library = try PluginLibrary(path: try TestEnvironment.plugin("libgwp.so"))
    let encoder = try JSONToProtobuf(descriptorSet: library.descriptorSet)
    let json = #"{"masses":[{"gas":"GAS_CH4","mass_kg":15.341088000000001},{"gas":"GAS_N2O","mass_kg":0.1200192000000003}]}"#
    let bytes = try encoder.encodeRequest(json: Array(json.utf8), method: "/carbon.examples.v1.Gwp/ToCo2e")
    let request = try Carbon_Examples_V1_ToCo2eRequest(serializedBytes: bytes)
    #expect(request.masses.map(\.massKg.bitPattern) == [(15.341088000000001 as Double).bitPattern, (0.1200192000000003 as Double).bitPattern])
  }
}

/// The JSON reader refuses what a proto3 JSON parser refuses instead of letting the last value
/// win silently: the protobuf JSON mapping says a parser must reject "multiple fields of the same
/// oneof" and a field given twice; SwiftProtobuf's reader (a Swift module's own JSON) does.
/// Before, the gateway and `Invoke` passed both on, and the module read the last one encoded:
/// `ComputeBonus` computed with the stock change while the caller also gave an annual rate.
@Suite("JSON to protobuf refuses a choice made twice")
struct JSONToProtobufOneofTests {
  static let bonus = "/carbon.esca.v1.Esca/ComputeBonus"

  @Test func twoMembersOfOneOneofAreRefusedNamingTheOneof() throws {
    let library = try PluginLibrary(path: try TestEnvironment.plugin("libESCA.so"))
    let encoder = try JSONToProtobuf(descriptorSet: library.descriptorSet)
    let both = #"{"annualRateTCPerHaPerYr": 0.5, "stockChange": {"years": 5}, "yieldKgDryPerHaPerYr": 8000}"#
    #expect {
      try encoder.encodeRequest(json: Array(both.utf8), method: Self.bonus)
    } throws: { error in
      let failure = error as? JSONToProtobuf.EncodingError
      return failure?.path == "stockChange"
        && failure?.message == "annualRateTCPerHaPerYr and stockChange are both set, but they are members of oneof rate_source: give one"
    }
    // One member, or one of them null (unset), is fine.
    _ = try encoder.encodeRequest(json: Array(#"{"annualRateTCPerHaPerYr": 0.5, "yieldKgDryPerHaPerYr": 8000}"#.utf8), method: Self.bonus)
    _ = try encoder.encodeRequest(json: Array(#"{"annualRateTCPerHaPerYr": 0.5, "stockChange": null}"#.utf8), method: Self.bonus)
    // The module's own JSON reader agrees: it refuses the same request.
    let instance = try library.makeInstance(configJSON: "{}", dataDirectory: try TestEnvironment.temporaryDirectory("oneof"))
    #expect(throws: PluginCallError.self) { try instance.call(Self.bonus, request: Array(both.utf8), encoding: .json) }
  }

  @Test func aFieldGivenByBothItsNamesIsRefused() throws {
    let library = try PluginLibrary(path: try TestEnvironment.plugin("libESCA.so"))
    let encoder = try JSONToProtobuf(descriptorSet: library.descriptorSet)
    let twice = #"{"yieldKgDryPerHaPerYr": 8000, "yield_kg_dry_per_ha_per_yr": 9000}"#
    #expect {
      try encoder.encodeRequest(json: Array(twice.utf8), method: Self.bonus)
    } throws: { error in
      (error as? JSONToProtobuf.EncodingError)?.description
        == "yield_kg_dry_per_ha_per_yr: field yield_kg_dry_per_ha_per_yr is given twice (as yieldKgDryPerHaPerYr and yield_kg_dry_per_ha_per_yr); give it once"
    }
  }
}
