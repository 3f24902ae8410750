import CarbonDomain
import CarbonPluginLoader
import ExampleUnitsModule
import Foundation

// MARK: - A bare dispatch loop for callgrind
//
//   valgrind --tool=callgrind --callgrind-out-file=dispatch.out \
//     .build/release/carbonhub-bench profile-dispatch --calls 100000
//   callgrind_annotate --inclusive=yes dispatch.out | head -60
//
// Only the host's ABI call of units.Convert on pre-encoded bytes runs in the measured loop, so
// instruction counts per call (total / calls) split into: the host wrapper (PluginInstance),
// the plugin kit's trampoline and routing, SwiftProtobuf decoding and encoding, the
// conversion itself, malloc/free.

func profileDispatch(calls: Int) throws {
  let units = try PluginLibrary(path: binDirectory + "/libExampleUnits.so")
  let instance = try units.makeInstance(configJSON: "{}", dataDirectory: NSTemporaryDirectory())
  var request = Carbon_Examples_V1_ConvertRequest()
  request.quantity = Quantity(2, .t)
  request.targetUnit = .kg
  let bytes: [UInt8] = try request.serializedBytes()
  var total = 0
  for _ in 0..<calls { total &+= try instance.call("/carbon.examples.v1.Units/Convert", request: bytes).count }
  report("profile-dispatch: \(calls) calls, \(total) response bytes")
}
