import CarbonHost
import Foundation
import Testing

/// Clients nobody here wrote: Python grpcio with stubs generated in the test run, and
/// `openssl s_client` for the TLS versions.
@Suite("Interoperability with independent clients", .serialized)
struct InteropTests {
  @Test func pythonGrpcioClientCallsACPluginOverTLS() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    let work = try TestEnvironment.temporaryDirectory("python")
    let protocols = TestEnvironment.repositoryRoot + "/protocols"
    let generate = try runProcess("/usr/bin/env", [
      "python3", "-m", "grpc_tools.protoc", "-I", protocols, "--python_out=\(work)", "--grpc_python_out=\(work)",
      "carbon/examples/v1/gwp.proto", "carbon/domain/v1/gas.proto",
    ])
    try #require(generate.status == 0, "grpcio-tools failed (pip install grpcio grpcio-tools): \(generate.output)")
    let script = """
      import sys
      sys.path.insert(0, "\(work)")
      import grpc
      from carbon.examples.v1 import gwp_pb2, gwp_pb2_grpc
      from carbon.domain.v1 import gas_pb2
      credentials = grpc.ssl_channel_credentials(root_certificates=open("\(host.caFile)", "rb").read())
      with grpc.secure_channel("localhost:\(host.port)", credentials) as channel:
          stub = gwp_pb2_grpc.GwpStub(channel)
          request = gwp_pb2.ToCo2eRequest(gwp_set=gas_pb2.GWP_SET_AR5)
          request.masses.add(gas=gas_pb2.GAS_CH4, mass_kg=3.5)
          request.masses.add(gas=gas_pb2.GAS_N2O, mass_kg=0.25)
          reply = stub.ToCo2e(request, timeout=120)
          print("total", repr(reply.total_co2e_kg))
          try:
              stub.ToCo2e(gwp_pb2.ToCo2eRequest(), timeout=120)
          except grpc.RpcError as error:
              print("error", error.code().name, error.details())
      """
    let run = try runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 300)
    #expect(run.status == 0, "\(run.output)")
    // 3.5 kg CH4 × 28 + 0.25 kg N2O × 265 = 98 + 66.25 = 164.25 kg CO2e
    #expect(run.output.contains("total 164.25"), "\(run.output)")
    #expect(run.output.contains("error INVALID_ARGUMENT masses: must contain at least one gas mass"), "\(run.output)")
  }

  @Test func opensslCompletesTLS12And13HandshakesAndIsRefusedTLS11() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    func handshake(_ flags: [String]) throws -> (status: Int32, output: String) {
      try runProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(host.port)", "-servername", "localhost",
        "-CAfile", host.caFile, "-verify_return_error", "-alpn", "h2"] + flags, input: "", timeout: 20)
    }
    let tls12 = try handshake(["-tls1_2"])
    #expect(tls12.status == 0 && tls12.output.contains("Protocol  : TLSv1.2") || tls12.output.contains("TLSv1.2"), "\(tls12.output)")
    #expect(tls12.output.contains("Verify return code: 0 (ok)"), "\(tls12.output)")
    let tls13 = try handshake(["-tls1_3"])
    #expect(tls13.status == 0 && tls13.output.contains("TLSv1.3"), "\(tls13.output)")
    #expect(tls13.output.contains("ALPN protocol: h2"), "\(tls13.output)")
    // SECLEVEL=0 lets the client offer TLS 1.1 at all; the server must refuse it.
    let tls11 = try handshake(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
    #expect(tls11.status != 0, "\(tls11.output)")
    #expect(tls11.output.contains("no peer certificate available"), "\(tls11.output)")
    #expect(tls11.output.contains("alert protocol version") || tls11.output.contains("unsupported protocol") || tls11.output.contains("no protocols available"), "\(tls11.output)")
  }
}
