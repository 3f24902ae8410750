import CarbonDomain
import Testing

/// `CarbonStatus` numbers statuses as carbon_plugin.h does: "values are gRPC status codes".
@Suite("Call statuses: gRPC's numbers and canonical names")
struct CarbonStatusTests {
  /// The 17 codes of grpc/doc/statuscodes.md, number and name.
  @Test func numbersAndNamesAreGRPCs() {
    let documented = [
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
      "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]
    #expect(CarbonStatus.allCases.map(\.rawValue) == Array(0...16))
    #expect(CarbonStatus.allCases.map(\.name) == documented)
    for (code, name) in documented.enumerated() {
      #expect(CarbonStatus(name: name) == CarbonStatus(rawValue: UInt32(code)))
    }
  }

  @Test func aNumberOrNameNoStatusHasIsNotTakenForAnother() {
    #expect(CarbonStatus(code: 17) == .unknown)
    #expect(CarbonStatus(code: .max) == .unknown)
    #expect(CarbonStatus(name: "invalid_argument") == nil, "names are upper case, as written in expect files")
    #expect(CarbonStatus(name: "") == nil)
  }
}
