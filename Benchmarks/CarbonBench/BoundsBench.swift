import CarbonPluginKit
import ESCAModule
import Foundation
import SwiftProtobuf

// MARK: - The kit's range check (issue 20 point 1), per ESCA farm
//
// Every request is checked against the ranges its .proto declares before the method runs; in
// ComputeBatch each farm is checked on its own. This measures what that check costs per farm
// next to what decoding the farm costs, on the first farm of Plugins/ESCA/examples/
// ComputeBatch.json (every numeric field of a FarmRecord that the example sets).

func benchBounds() throws {
  report("## Range check per ESCA farm (FieldBounds.check) against decoding the farm")
  let url = URL(fileURLWithPath: repositoryRoot + "/Plugins/ESCA/examples/ComputeBatch.json")
  let batch = try Carbon_Esca_V1_BatchRequest(jsonUTF8Bytes: [UInt8](Data(contentsOf: url)))
  let farm = batch.farms[0]
  let bytes: [UInt8] = try farm.serializedBytes()
  let bounds = FieldBounds.of(EscaModule.self)
  let batches = 400, perBatch = 1000
  let decode = measure(batches: batches, perBatch: perBatch) {
    _ = try! Carbon_Esca_V1_FarmRecord(serializedBytes: bytes)
  }
  let check = measure(batches: batches, perBatch: perBatch) {
    try! bounds.check(farm, prefix: "farms[0].")
  }
  report(
    String(
      format: "  decode %.0f ns/farm (p99 %.0f), range check %.0f ns/farm (p99 %.0f): the check is %.0f %% of the decode",
      decode.median, decode.p99, check.median, check.p99, 100 * check.median / decode.median))
}
