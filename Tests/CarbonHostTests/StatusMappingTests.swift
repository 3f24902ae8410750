import CarbonDomain
import GRPCCore
import Testing

@testable import CarbonHost

/// The host's one mapping between a module's status and gRPC's (`StatusMapping.swift`).
@Suite("Status mapping: CarbonStatus ↔ RPCError.Code")
struct StatusMappingTests {
  @Test func everyErrorStatusKeepsItsNumberAndName() {
    for status in CarbonStatus.allCases where status != .ok {
      let code = RPCError.Code(status)
      #expect(code.rawValue == Int(status.rawValue), "\(status)")
      #expect(code.name == status.name)
      #expect(CarbonStatus(code) == status)
    }
    #expect(RPCError.Code(CarbonStatus.invalidArgument) == .invalidArgument)
    #expect(RPCError.Code(CarbonStatus.internal) == .internalError)
  }

  @Test func okIsNeverAnError() {
    #expect(RPCError.Code(CarbonStatus.ok) == .unknown)
    #expect(CarbonStatus(Status.Code.ok) == .ok)
  }
}
