import CarbonDomain
import CarbonPluginKit
import CarbonPluginLoader
import ExampleUnitsModule
import Foundation

// MARK: - A bare dispatch loop for callgrind
//
//   valgrind --tool=callgrind --callgrind-out-file=dispatch.out \
//     .build/release/carbonhub-bench profile-dispatch --calls 100000
//   callgrind_annotate --inclusive=yes dispatch.out | head -60
//
// The loop is the dispatch bench's Swift round trip: encode the units.Convert request, call it
// through the C ABI, decode the response. Instruction counts per call (inclusive cost / calls)
// split into: the request's encoding and the response's decoding (the caller's side), the
// host wrapper (PluginInstance.call), the plugin kit's trampoline and routing, SwiftProtobuf
// decoding, the conversion, the kit's encoding, malloc/free.

func profileDispatch(calls: Int) throws {
  let units = try PluginLibrary(path: binDirectory + "/libExampleUnits.so")
  let instance = try units.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
  var request = Carbon_Examples_V1_ConvertRequest()
  request.quantity = Quantity(2, .t)
  request.targetUnit = .kg
  var total = 0
  for _ in 0..<calls {
    let encoded = try request.onePassSerializedBytes()
    let response = try instance.call("/carbon.examples.v1.Units/Convert", request: encoded)
    total &+= try Carbon_Examples_V1_ConvertResponse(serializedBytes: response).quantity.value > 0 ? response.count : 0
  }
  report("profile-dispatch: \(calls) round trips, \(total) response bytes")
}

// MARK: - Any module's method, for callgrind
//
//   .build/release/carbonhub-bench profile-call --library libSOBAC.so \
//     --method /carbon.sobac.v1.Sobac/EvaluateFarmProject \
//     --request Plugins/SOBAC/examples/EvaluateFarmProject.json --calls 200
//
// The JSON sample is encoded once as protobuf with the plugin's own descriptor set; only the
// ABI calls run in the loop, so the profile is the module's calculation plus its coding. Any
// kind of method: a streaming method's responses are collected.

/// The value following `name` on the command line.
private func argument(_ name: String) -> String? {
  guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
  return arguments[index + 1]
}

func profileCall(calls: Int) throws {
  guard let library = argument("--library"), let method = argument("--method"), let requestFile = argument("--request") else {
    report("profile-call needs --library FILE.so --method /pkg.Service/Method --request FILE.json [--calls N]")
    exit(2)
  }
  let plugin = try PluginLibrary(path: library.hasPrefix("/") ? library : binDirectory + "/" + library)
  let instance = try plugin.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
  let json = Array(try Data(contentsOf: URL(fileURLWithPath: requestFile)))
  let request = try JSONToProtobuf(descriptorSet: plugin.descriptorSet).encodeRequest(json: json, method: method)
  guard let described = plugin.methods.first(where: { $0.path == method }) else {
    report("profile-call: \(library) has no method \(method)")
    exit(2)
  }
  var total = 0
  // Any kind of method: a streaming one's responses are collected.
  for _ in 0..<calls { total &+= try instance.callCollecting(described, request: request).reduce(0) { $0 + $1.count } }
  report("profile-call: \(method), \(calls) calls, \(total) response bytes")
}
