import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import SwiftProtobuf
import Testing

/// Real TLS gRPC on an ephemeral loopback port, with generated clients like any remote caller.
@Suite("End to end over TLS gRPC", .serialized)
struct EndToEndTests {
  @Test func swiftClientCallsTheSwiftAndTheCPlugin() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      var convert = Carbon_Examples_V1_ConvertRequest()
      convert.quantity = Quantity(6, .tC)
      convert.targetUnit = .tCo2E
      let converted = try await Carbon_Examples_V1_Units.Client(wrapping: client).convert(convert)
      #expect(abs(converted.quantity.value - 22) < 1e-12, "6 t C × 44/12 = 22 t CO2e")
      #expect(converted.trace.value(of: "co2_per_carbon") == 44.0 / 12.0)

      var co2e = Carbon_Examples_V1_ToCo2eRequest()
      co2e.masses = [GasMass.with { $0.gas = .ch4; $0.massKg = 10 }, GasMass.with { $0.gas = .n2O; $0.massKg = 2 }]
      co2e.gwpSet = .ar4
      let answer = try await Carbon_Examples_V1_Gwp.Client(wrapping: client).toCo2e(co2e)
      #expect(answer.totalCo2EKg == 846, "10 × 25 + 2 × 298")
      #expect(answer.lines.map(\.gwp) == [25, 298])
    }
  }

  @Test func serverStreamingDeliversEveryItemInOrder() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    let values = try await host.withClient { client in
      var batch = Carbon_Examples_V1_ConvertBatchRequest()
      batch.items = (1...500).map { i in
        Carbon_Examples_V1_ConvertRequest.with { $0.quantity = Quantity(Double(i), .t); $0.targetUnit = .kg }
      }
      return try await Carbon_Examples_V1_Units.Client(wrapping: client).convertBatch(batch) { response in
        var values: [Double] = []
        for try await message in response.messages { values.append(message.quantity.value) }
        return values
      }
    }
    #expect(values == (1...500).map { Double($0) * 1000 })
  }

  @Test func errorsKeepTheirStatusMessageAndField() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      var request = Carbon_Examples_V1_ToCo2eRequest()
      request.masses = [GasMass.with { $0.gas = .ch4; $0.massKg = .nan }]
      do {
        _ = try await Carbon_Examples_V1_Gwp.Client(wrapping: client).toCo2e(request)
        Issue.record("expected INVALID_ARGUMENT")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("masses[0].mass_kg"))
        #expect(Array(error.metadata[stringValues: "carbon-error-field"]) == ["masses[0].mass_kg"])
      }
    }
  }

  @Test func everyCallCarriesARequestIDTheCallerMayChoose() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      var request = Carbon_Examples_V1_ConvertRequest()
      request.quantity = Quantity(2, .t)
      request.targetUnit = .kg
      let bytes: [UInt8] = try request.serializedBytes()
      func requestID(sending metadata: Metadata) async throws -> [String] {
        try await client.unary(
          request: ClientRequest(message: bytes, metadata: metadata), descriptor: Carbon_Examples_V1_Units.Method.Convert.descriptor,
          serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
        ) { response in Array(response.metadata[stringValues: "x-request-id"]) }
      }
      // Generated: 16 lowercase hexadecimal digits, different on each call.
      let first = try await requestID(sending: [:]), second = try await requestID(sending: [:])
      #expect(first.count == 1 && second.count == 1 && first != second)
      #expect(first.allSatisfy { $0.count == 16 && $0.allSatisfy { "0123456789abcdef".contains($0) } })
      // Chosen by the caller: sent back as given (at most 64 characters).
      #expect(try await requestID(sending: ["x-request-id": "audit-2026-0042"]) == ["audit-2026-0042"])
      let long = String(repeating: "x", count: 80)
      #expect(try await requestID(sending: ["x-request-id": .string(long)]) == [String(long.prefix(64))])
    }
  }

  @Test func invalidRequestBytesGiveInvalidArgumentAndTheHostKeepsServing() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      for method in [Carbon_Examples_V1_Units.Method.Convert.descriptor, Carbon_Examples_V1_Gwp.Method.ToCo2e.descriptor] {
        do {
          _ = try await client.unary(
            request: ClientRequest(message: [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]), descriptor: method,
            serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults) { try $0.message }
          Issue.record("expected INVALID_ARGUMENT for \(method)")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument, "\(method): \(error)")
        }
      }
      // Still serving.
      let list = try await Carbon_Host_V1_Host.Client(wrapping: client).listModules(.init())
      #expect(list.modules.count == 2)
    }
  }

  @Test func hostServiceListsModulesIncludingFailedOnes() async throws {
    let failing = try TestEnvironment.plugin("libfailing_init.so", in: TestEnvironment.fixtureDirectory)
    let host = try await RunningHost.startExamples(extra: [("failing-init", failing)])
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let hostAPI = Carbon_Host_V1_Host.Client(wrapping: client)
      let modules = try await hostAPI.listModules(.init()).modules
      #expect(modules.map(\.name) == ["units", "gwp", "failing-init"])
      let units = try #require(modules.first)
      #expect(units.state == .serving && units.version == "1.0.0" && units.abiVersion == 1)
      #expect(units.sha256.count == 64)
      #expect(units.methods.map(\.kind) == [.unary, .serverStreaming])
      #expect(units.services == ["carbon.examples.v1.Units"])
      let failed = try #require(modules.last)
      #expect(failed.state == .failed)
      #expect(failed.failureReason.contains("cannot reach the database"))

      let gwp = try await hostAPI.getModule(.with { $0.name = "gwp" })
      #expect(gwp.methods.map(\.path) == ["/carbon.examples.v1.Gwp/ToCo2e"])
      do {
        _ = try await hostAPI.getModule(.with { $0.name = "nope" })
        Issue.record("expected NOT_FOUND")
      } catch let error as RPCError {
        #expect(error.code == .notFound)
      }
    }
  }

  @Test func invokeCallsAnyMethodWithJSON() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let hostAPI = Carbon_Host_V1_Host.Client(wrapping: client)
      let unary = try await hostAPI.invoke(.with {
        $0.module = "gwp"
        $0.method = "ToCo2e"
        $0.requestJson = #"{"masses": [{"gas": "GAS_N2O", "mass_kg": 1}]}"#
      })
      let object = try #require(try JSONSerialization.jsonObject(with: Data(unary.responseJson.utf8)) as? [String: Any])
      #expect((object["total_co2e_kg"] as? NSNumber)?.doubleValue == 265)

      let streamed = try await hostAPI.invokeStream(.with {
        $0.module = "units"
        $0.method = "/carbon.examples.v1.Units/ConvertBatch"
        $0.requestJson = #"{"items": [{"quantity": {"value": 1, "unit": "UNIT_T"}, "target_unit": "UNIT_KG"}, {"quantity": {"value": 2, "unit": "UNIT_HA"}, "target_unit": "UNIT_M2"}]}"#
      }) { response in
        var lines: [String] = []
        for try await message in response.messages { lines.append(message.responseJson) }
        return lines
      }
      #expect(streamed.count == 2)
      #expect(streamed[1].contains("20000"))

      for (module, method, code) in [("nope", "X", RPCError.Code.notFound), ("units", "Nope", .notFound), ("units", "ConvertBatch", .failedPrecondition)] {
        do {
          _ = try await hostAPI.invoke(.with { $0.module = module; $0.method = method; $0.requestJson = "{}" })
          Issue.record("expected \(code)")
        } catch let error as RPCError {
          #expect(error.code == code, "\(module).\(method): \(error)")
        }
      }
      do {
        _ = try await hostAPI.invoke(.with { $0.module = "units"; $0.method = "Convert"; $0.requestJson = "{not json" })
        Issue.record("expected INVALID_ARGUMENT")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
      }
    }
  }

  @Test func healthIsReportedPerModule() async throws {
    let failing = try TestEnvironment.plugin("libfailing_init.so", in: TestEnvironment.fixtureDirectory)
    let host = try await RunningHost.startExamples(extra: [("failing-init", failing)])
    defer { Task { try? await host.stop() } }
    try await host.withClient { client in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      for service in ["", "units", "gwp", "carbon.examples.v1.Units", "carbon.examples.v1.Gwp", "carbon.host.v1.Host"] {
        let status = try await health.check(Grpc_Health_V1_HealthCheckRequest.with { $0.service = service }).status
        #expect(status == .serving, "\(service)")
      }
      let failed = try await health.check(Grpc_Health_V1_HealthCheckRequest.with { $0.service = "failing-init" }).status
      #expect(failed == .notServing)
      do {
        _ = try await health.check(Grpc_Health_V1_HealthCheckRequest.with { $0.service = "no.such.Service" })
        Issue.record("expected NOT_FOUND")
      } catch let error as RPCError {
        #expect(error.code == .notFound)
      }
      let first = try await health.watch(Grpc_Health_V1_HealthCheckRequest.with { $0.service = "units" }) { response in
        var statuses: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
        for try await message in response.messages {
          statuses.append(message.status)
          break
        }
        return statuses.first ?? .unknown
      }
      #expect(first == .serving)
    }
  }

  @Test func reflectionDescribesPluginServicesTheHostNeverCompiled() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    let responses = try await host.withClient { client in
      try await Grpc_Reflection_V1_ServerReflection.Client(wrapping: client).serverReflectionInfo { writer in
        try await writer.write(.with { $0.listServices = "" })
        try await writer.write(.with { $0.fileContainingSymbol = "carbon.examples.v1.Gwp" })
        try await writer.write(.with { $0.fileContainingSymbol = "carbon.examples.v1.Units.ConvertBatch" })
        try await writer.write(.with { $0.fileByFilename = "no/such.proto" })
      } onResponse: { response in
        var all: [Grpc_Reflection_V1_ServerReflectionResponse] = []
        for try await message in response.messages { all.append(message) }
        return all
      }
    }
    try #require(responses.count == 4)
    let services = responses[0].listServicesResponse.service.map(\.name)
    #expect(services.contains("carbon.examples.v1.Units") && services.contains("carbon.examples.v1.Gwp"))
    #expect(services.contains("grpc.health.v1.Health") && services.contains("carbon.host.v1.Host"))

    let gwpFiles = try responses[1].fileDescriptorResponse.fileDescriptorProto.map { try Google_Protobuf_FileDescriptorProto(serializedBytes: $0) }
    #expect(gwpFiles.map(\.name) == ["carbon/examples/v1/gwp.proto", "carbon/domain/v1/gas.proto"])
    #expect(gwpFiles.first?.service.first?.method.first?.name == "ToCo2e")
    let unitsFiles = try responses[2].fileDescriptorResponse.fileDescriptorProto.map { try Google_Protobuf_FileDescriptorProto(serializedBytes: $0) }
    #expect(unitsFiles.first?.name == "carbon/examples/v1/units.proto")
    #expect(Set(unitsFiles.map(\.name)).isSuperset(of: ["carbon/domain/v1/units.proto", "carbon/domain/v1/trace.proto"]))
    #expect(responses[3].errorResponse.errorCode == 5)
  }

  /// Issue 20 point 8: every service the host lists can be described, `v1alpha` included.
  @Test func everyListedServiceIsDescribableThroughReflection() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    let (services, described) = try await host.withClient { client in
      let reflection = Grpc_Reflection_V1_ServerReflection.Client(wrapping: client)
      let services = try await reflection.serverReflectionInfo { writer in
        try await writer.write(.with { $0.listServices = "" })
      } onResponse: { response in
        var names: [String] = []
        for try await message in response.messages { names += message.listServicesResponse.service.map(\.name) }
        return names
      }
      let described = try await reflection.serverReflectionInfo { writer in
        for service in services { try await writer.write(.with { $0.fileContainingSymbol = service }) }
      } onResponse: { response in
        var all: [Grpc_Reflection_V1_ServerReflectionResponse] = []
        for try await message in response.messages { all.append(message) }
        return all
      }
      return (services, described)
    }
    #expect(services.contains("grpc.reflection.v1alpha.ServerReflection"))
    #expect(described.count == services.count)
    for (service, answer) in zip(services, described) {
      let files = try answer.fileDescriptorResponse.fileDescriptorProto.map { try Google_Protobuf_FileDescriptorProto(serializedBytes: $0) }
      let defined = files.first.map { file in file.service.map { file.package + "." + $0.name } } ?? []
      #expect(defined.contains(service), "\(service): \(answer.errorResponse.errorMessage)")
    }
    let alpha = try described[services.firstIndex(of: "grpc.reflection.v1alpha.ServerReflection")!]
      .fileDescriptorResponse.fileDescriptorProto.map { try Google_Protobuf_FileDescriptorProto(serializedBytes: $0) }
    #expect(alpha.first?.name == "grpc/reflection/v1alpha/reflection.proto")
    #expect(alpha.first?.service.first?.method.first?.inputType == ".grpc.reflection.v1alpha.ServerReflectionRequest")
  }

  @Test func ipAddressAndLocalhostBothWorkOverTLS() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    for server in ["127.0.0.1:\(host.port)", "localhost:\(host.port)"] {
      let count = try await host.withClient(server: server) { client in
        try await Carbon_Host_V1_Host.Client(wrapping: client).listModules(.init()).modules.count
      }
      #expect(count == 2, "\(server)")
    }
  }

  @Test func aClientThatDoesNotTrustTheCAIsRefused() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    let otherCA = try TestEnvironment.temporaryDirectory("other-ca")
    try DevelopmentCertificates(directory: otherCA).create()
    let transport = try ClientTransportFactory.make(server: host.address, caFile: otherCA + "/ca.pem")
    await #expect(throws: (any Error).self) {
      try await withGRPCClient(transport: transport) { client in
        try await Carbon_Host_V1_Host.Client(wrapping: client).listModules(.init(), options: .defaults)
      }
    }
  }

  @Test func gracefulShutdownReturns() async throws {
    let host = try await RunningHost.startExamples()
    try await host.stop()
  }
}
