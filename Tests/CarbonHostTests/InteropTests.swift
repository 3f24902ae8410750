import CarbonHost
import Foundation
import Testing

/// Clients nobody here wrote: Python grpcio with stubs generated in the test run, and
/// `openssl s_client` for the TLS versions.
@Suite("Interoperability with independent clients", .serialized)
struct InteropTests {
  /// A fresh directory holding the Python messages and stubs of `protos` and of every domain
  /// .proto, generated with grpcio-tools as a Python client team would.
  static func pythonStubs(_ name: String, for protos: [String]) async throws -> String {
    let work = try TestEnvironment.temporaryDirectory(name)
    let protocols = TestEnvironment.repositoryRoot + "/protocols"
    let domain = try FileManager.default.contentsOfDirectory(atPath: protocols + "/carbon/domain/v1")
      .filter { $0.hasSuffix(".proto") }.map { "carbon/domain/v1/" + $0 }
    let generate = try await runProcess("/usr/bin/env", [
      "python3", "-m", "grpc_tools.protoc", "-I", protocols, "--python_out=\(work)", "--grpc_python_out=\(work)",
    ] + protos + domain)
    try #require(generate.status == 0, "grpcio-tools failed (pip install grpcio grpcio-tools): \(generate.output)")
    return work
  }

  @Test func pythonGrpcioClientCallsACPluginOverTLS() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    let work = try await Self.pythonStubs("python", for: ["carbon/examples/v1/gwp.proto"])
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
    let run = try await runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 300)
    #expect(run.status == 0, "\(run.output)")
    // 3.5 kg CH4 × 28 + 0.25 kg N2O × 265 = 98 + 66.25 = 164.25 kg CO2e
    #expect(run.output.contains("total 164.25"), "\(run.output)")
    #expect(run.output.contains("error INVALID_ARGUMENT masses: must contain at least one gas mass"), "\(run.output)")
  }

  /// Issue 23: "receipts verified in Swift and Python, and a tampered request, response or
  /// receipt refused" — here with grpcio and the `cryptography` package only, from receipt.proto,
  /// as an auditor's own tool would.
  @Test func pythonVerifiesAReceiptWithCryptography() async throws {
    // A batch window, so that calls made together share a signature and Python walks real
    // inclusion paths (a lone call's path is empty).
    let host = try await RunningHost.start(modules: [("esca", try TestEnvironment.plugin("libESCA.so"))]) {
      $0.receipts.batchWindow = .milliseconds(50)
    }
    defer { Task { try? await host.stop() } }
    let work = try await Self.pythonStubs(
      "python-receipt", for: ["carbon/esca/v1/esca.proto", "carbon/host/v1/host.proto", "carbon/host/v1/receipt.proto"])
    let example = TestEnvironment.repositoryRoot + "/Plugins/ESCA/examples/AssessDossier.json"
    let script = """
      import sys, hashlib
      sys.path.insert(0, "\(work)")
      import grpc
      from google.protobuf import json_format
      from cryptography.exceptions import InvalidSignature
      from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
      from carbon.esca.v1 import esca_pb2
      from carbon.host.v1 import host_pb2, host_pb2_grpc, receipt_pb2

      credentials = grpc.ssl_channel_credentials(root_certificates=open("\(host.caFile)", "rb").read())
      with grpc.secure_channel("localhost:\(host.port)", credentials) as channel:
          key = host_pb2_grpc.HostStub(channel).GetReceiptKey(host_pb2.GetReceiptKeyRequest(), timeout=120)
          request = json_format.Parse(open("\(example)").read(), esca_pb2.FarmDossier()).SerializeToString()
          # Bytes in, bytes out: the receipt hashes the messages exactly as they travelled.
          assess = channel.unary_unary("/carbon.esca.v1.Esca/AssessDossier")
          response, call = assess.with_call(request, timeout=120)
          trailers = dict(call.trailing_metadata())
          # Calls in flight together are signed as one batch: each receipt still stands alone.
          futures = [assess.future(request, timeout=120) for _ in range(8)]
          together = [(f.result(), dict(f.trailing_metadata())) for f in futures]

      public_key = Ed25519PublicKey.from_public_bytes(key.public_key)
      receipt = receipt_pb2.Receipt.FromString(trailers["carbonhub-receipt-bin"])
      print("key id", receipt.key_id == hashlib.sha256(key.public_key).hexdigest()[:16])

      def node(left, right):
          return hashlib.sha256(b"\\x01" + left + right).digest()

      def root(receipt):
          # RFC 9162 section 2.1.3.2: the batch's Merkle root from this receipt's leaf and path.
          fn, sn = receipt.leaf_index, receipt.batch_size - 1
          r = hashlib.sha256(b"\\x00" + receipt.content).digest()
          for p in receipt.inclusion_path:
              if sn == 0:
                  return None
              if fn & 1 or fn == sn:
                  r = node(p, r)
                  while not fn & 1 and fn != 0:
                      fn >>= 1
                      sn >>= 1
              else:
                  r = node(r, p)
              fn >>= 1
              sn >>= 1
          return r if sn == 0 else None

      def verify(receipt, request, response):
          batch_root = root(receipt)
          if batch_root is None:
              return "bad path"
          try:
              public_key.verify(receipt.signature, b"carbonhub.receipt.v1" + batch_root)
          except InvalidSignature:
              return "bad signature"
          content = receipt_pb2.ReceiptContent.FromString(receipt.content)
          if list(content.request_sha256) != [hashlib.sha256(request).digest()]:
              return "request differs"
          if list(content.response_sha256) != [hashlib.sha256(response).digest()]:
              return "response differs"
          return "verified"

      print("genuine", verify(receipt, request, response))
      print("request changed", verify(receipt, request[:-1] + bytes([request[-1] ^ 1]), response))
      print("response changed", verify(receipt, request, response + b"\\x00"))
      edited = receipt_pb2.Receipt()
      edited.CopyFrom(receipt)
      content = receipt_pb2.ReceiptContent.FromString(receipt.content)
      content.module_version = "9.9.9"
      edited.content = content.SerializeToString()
      print("receipt changed", verify(edited, request, response))
      batched = [receipt_pb2.Receipt.FromString(t["carbonhub-receipt-bin"]) for _, t in together]
      print("together", all(verify(r, request, body) == "verified" for r, (body, _) in zip(batched, together)))
      print("batched", max(r.batch_size for r in batched) > 1 and any(len(r.inclusion_path) > 0 for r in batched))
      content = receipt_pb2.ReceiptContent.FromString(receipt.content)
      print("states", content.module, content.method, content.encoding, [d.name for d in content.data_sets][:2])
      """
    let run = try await runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 300)
    #expect(run.status == 0, "\(run.output)")
    let lines = Set(run.output.split(separator: "\n").map(String.init))
    #expect(lines.contains("key id True"), "\(run.output)")
    #expect(lines.contains("genuine verified"), "\(run.output)")
    #expect(lines.contains("request changed request differs"), "\(run.output)")
    #expect(lines.contains("response changed response differs"), "\(run.output)")
    #expect(lines.contains("receipt changed bad signature"), "\(run.output)")
    #expect(lines.contains("together True"), "\(run.output)")
    #expect(lines.contains("batched True"), "\(run.output)")
    #expect(
      lines.contains("states esca /carbon.esca.v1.Esca/AssessDossier protobuf ['2bs-esca-guidelines', 'ipcc-2019-soc-ref']"),
      "\(run.output)")
  }

  /// Issue 20 point 2 and 4: grpcio's own `rpc_status` reads the rich error model, and every
  /// error carries the request id and instance, whoever refused the call.
  @Test func pythonGrpcStatusReadsTheStandardErrorDetailsOfEveryError() async throws {
    let host = try await RunningHost.startExamples(extra: [("esca", try TestEnvironment.plugin("libESCA.so"))])
    defer { Task { try? await host.stop() } }
    let work = try await Self.pythonStubs("python-status", for: ["carbon/examples/v1/gwp.proto", "carbon/esca/v1/esca.proto"])
    let script = """
      import sys
      sys.path.insert(0, "\(work)")
      import grpc
      from grpc_status import rpc_status
      from google.rpc import error_details_pb2 as details
      from google.protobuf import json_format
      from carbon.examples.v1 import gwp_pb2, gwp_pb2_grpc
      from carbon.esca.v1 import esca_pb2, esca_pb2_grpc

      def show(label, call):
          try:
              call()
              print(label, "no error")
          except grpc.RpcError as error:
              trailers = dict(error.trailing_metadata())
              print(label, "code", error.code().name)
              print(label, "trailers", trailers.get("x-request-id"), trailers.get("carbonhub-instance") is not None)
              status = rpc_status.from_call(error)
              for any in status.details:
                  for kind in (details.ErrorInfo, details.BadRequest, details.PreconditionFailure, details.RequestInfo):
                      if any.Is(kind.DESCRIPTOR):
                          message = kind()
                          any.Unpack(message)
                          if kind is details.ErrorInfo:
                              print(label, "info", message.reason, message.domain, sorted(message.metadata.items()))
                          elif kind is details.BadRequest:
                              print(label, "violation", message.field_violations[0].field, "|", message.field_violations[0].description)
                          elif kind is details.PreconditionFailure:
                              print(label, "precondition", message.violations[0].type, message.violations[0].subject)
                          else:
                              print(label, "request", message.request_id)

      credentials = grpc.ssl_channel_credentials(root_certificates=open("\(host.caFile)", "rb").read())
      with grpc.secure_channel("localhost:\(host.port)", credentials) as channel:
          gwp = gwp_pb2_grpc.GwpStub(channel)
          show("field", lambda: gwp.ToCo2e(gwp_pb2.ToCo2eRequest(), timeout=120, metadata=[("x-request-id", "py-field-1")]))
          esca = esca_pb2_grpc.EscaStub(channel)
          shallow = json_format.Parse('{"analysis": {"carbon_g_per_kg": 10, "depth_cm": 20, "bulk_density_g_per_cm3": 1.3, '
              '"bulk_density_method": "BULK_DENSITY_METHOD_CYLINDER"}, "purpose": "ANALYSIS_PURPOSE_CLAIM"}',
              esca_pb2.SoilStockRequest())
          show("rule", lambda: esca.ComputeSoilStock(shallow, timeout=120))
          nowhere = channel.unary_unary("/carbon.nowhere.v1.Nowhere/Call")
          show("route", lambda: nowhere(b"", timeout=120, metadata=[("x-request-id", "py-route-3")]))
      """
    let run = try await runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 300)
    #expect(run.status == 0, "\(run.output)")
    let lines = Set(run.output.split(separator: "\n").map(String.init))
    // A field error from a C module: BadRequest names the field, ErrorInfo the module.
    #expect(lines.contains("field code INVALID_ARGUMENT"), "\(run.output)")
    #expect(lines.contains("field trailers py-field-1 True"), "\(run.output)")
    #expect(lines.contains("field violation masses | masses: must contain at least one gas mass"), "\(run.output)")
    #expect(lines.contains("field info INVALID_ARGUMENT carbonhub [('field', 'masses'), ('module', 'gwp')]"), "\(run.output)")
    #expect(lines.contains("field request py-field-1"), "\(run.output)")
    // A rule refusal from a Swift module: PreconditionFailure and ErrorInfo carry the rule id;
    // the host generated a request id (16 hex digits) and sends it back.
    #expect(lines.contains("rule code FAILED_PRECONDITION"), "\(run.output)")
    #expect(lines.contains("rule precondition RULE esca.soil.claim_depth_30cm"), "\(run.output)")
    #expect(lines.contains("rule info esca.soil.claim_depth_30cm carbonhub [('module', 'esca'), ('rule', 'esca.soil.claim_depth_30cm')]"), "\(run.output)")
    #expect(lines.contains { $0.hasPrefix("rule trailers ") && $0.hasSuffix(" True") && $0.count == "rule trailers ".count + 16 + 5 }, "\(run.output)")
    // Refused by the host itself, before any module: the same envelope.
    #expect(lines.contains("route code UNIMPLEMENTED"), "\(run.output)")
    #expect(lines.contains("route trailers py-route-3 True"), "\(run.output)")
    #expect(lines.contains("route info UNIMPLEMENTED carbonhub []"), "\(run.output)")
    #expect(lines.contains("route request py-route-3"), "\(run.output)")
  }

  /// Issue 20 points 1, 3 and 7 as a grpcio client meets them over TLS:
  /// 1. "ALDO accepted an area of 1e308 and answered OK with ±inf entries … SNBC accepts 1e308":
  ///    each is refused as INVALID_ARGUMENT naming the field and its declared range;
  /// 3. "JSON errors name the field (Host/Invoke …): wrong type, unknown enum name (list the
  ///    valid ones), array for object — today they are bare parser codes";
  /// 7. "error messages that echo client input escape it (today `unknown sector "x"><svg
  ///    onload=…>` is echoed raw)".
  @Test func pythonClientMeetsRangesJSONErrorsByFieldAndEscapedEchoes() async throws {
    let host = try await RunningHost.startExamples(extra: [
      ("esca", try TestEnvironment.plugin("libESCA.so")),
      ("aldo", try TestEnvironment.plugin("libALDO.so")),
      ("snbc", try TestEnvironment.plugin("libSNBC.so")),
    ])
    defer { Task { try? await host.stop() } }
    let work = try await Self.pythonStubs(
      "python-edges", for: ["carbon/aldo/v1/aldo.proto", "carbon/snbc/v1/snbc.proto", "carbon/host/v1/host.proto"])
    let script = #"""
      import sys
      sys.path.insert(0, "\#(work)")
      import grpc
      from grpc_status import rpc_status
      from google.rpc import error_details_pb2 as details
      from google.protobuf import json_format
      from carbon.aldo.v1 import aldo_pb2, aldo_pb2_grpc
      from carbon.snbc.v1 import snbc_pb2, snbc_pb2_grpc
      from carbon.host.v1 import host_pb2, host_pb2_grpc

      def show(label, call):
          try:
              call()
              print(label, "no error")
          except grpc.RpcError as error:
              print(label, "code", error.code().name)
              print(label, "message", error.details())
              for any in rpc_status.from_call(error).details:
                  if any.Is(details.BadRequest.DESCRIPTOR):
                      bad = details.BadRequest()
                      any.Unpack(bad)
                      print(label, "field", bad.field_violations[0].field)

      credentials = grpc.ssl_channel_credentials(root_certificates=open("\#(host.caFile)", "rb").read())
      with grpc.secure_channel("localhost:\#(host.port)", credentials) as channel:
          aldo = aldo_pb2_grpc.AldoStub(channel)
          flux = json_format.Parse('{"territory_name": "T", "parts": [{"name": "p", "pedoclimatic_zone": "2_1", '
              '"region_code": "32", "clc_changes": [{"code_2012": "211", "code_2018": "112", "area_ha": 1e308}]}]}',
              aldo_pb2.ComputeFluxRequest())
          show("aldo", lambda: aldo.ComputeFlux(flux, timeout=120))
          snbc = snbc_pb2_grpc.SnbcStub(channel)
          show("snbc", lambda: snbc.GetReferenceSeries(snbc_pb2.GetReferenceSeriesRequest(series_id="total", year=10**9), timeout=120))
          show("echo", lambda: snbc.GetReferenceSeries(
              snbc_pb2.GetReferenceSeriesRequest(series_id='x"><svg onload=alert(1)>\x1b[31m'), timeout=120))
          hub = host_pb2_grpc.HostStub(channel)
          def invoke(label, text):
              show(label, lambda: hub.Invoke(host_pb2.InvokeRequest(module="esca", method="ComputeSoilStock", request_json=text), timeout=120))
          invoke("type", '{"analysis": {"depth_cm": "deep"}}')
          invoke("enum", '{"purpose": "ANALYSIS_PURPOSE_NOPE"}')
          invoke("array", '{"analysis": [1, 2]}')
          invoke("unknown", '{"analysis": {"depth": 30}}')
          invoke("syntax", '{"analysis": {"depth_cm": 30}')
      """#
    let run = try await runProcess("/usr/bin/env", ["python3", "-c", script], timeout: 300)
    #expect(run.status == 0, "\(run.output)")
    let lines = Set(run.output.split(separator: "\n").map(String.init))
    func has(_ line: String) -> Bool { lines.contains(line) }
    // 1. Declared ranges (aldo.proto: areas 0–1e8 ha; snbc.proto: years 1990–2100).
    #expect(has("aldo code INVALID_ARGUMENT"), "\(run.output)")
    #expect(has("aldo field parts[0].clc_changes[0].area_ha"), "\(run.output)")
    #expect(has("aldo message parts[0].clc_changes[0].area_ha: must be between 0 and 100000000 ha, got 1e+308"), "\(run.output)")
    #expect(has("snbc field year"), "\(run.output)")
    #expect(has("snbc message year: must be between 1990 and 2100 year, got 1000000000"), "\(run.output)")
    // 7. The echoed series id is a JSON string literal: quotes, markup and ESC escaped.
    #expect(run.output.contains(#"echo message series_id: unknown reference series "x\"\u003e\u003csvg onload=alert(1)\u003e\u001b[31m""#), "\(run.output)")
    #expect(!run.output.contains("<svg"), "\(run.output)")
    // 3. JSON refusals name the field and say what was wrong.
    #expect(has("type field analysis.depth_cm"), "\(run.output)")
    #expect(run.output.contains(#"analysis.depth_cm: expected a number, got the string "deep""#), "\(run.output)")
    #expect(has("enum field purpose"), "\(run.output)")
    #expect(run.output.contains(#"purpose: "ANALYSIS_PURPOSE_NOPE" is not a value of carbon.esca.v1.AnalysisPurpose (valid: ANALYSIS_PURPOSE_UNSPECIFIED, "#), "\(run.output)")
    #expect(has("array field analysis"), "\(run.output)")
    #expect(run.output.contains("analysis: expected a JSON object (carbon.esca.v1.SoilAnalysis), got an array"), "\(run.output)")
    #expect(has("unknown field analysis.depth"), "\(run.output)")
    #expect(run.output.contains("analysis.depth: no such field in carbon.esca.v1.SoilAnalysis (its fields: "), "\(run.output)")
    #expect(has("syntax code INVALID_ARGUMENT"), "\(run.output)")
    #expect(run.output.contains("the request is not valid JSON"), "\(run.output)")
  }

  @Test func opensslCompletesTLS12And13HandshakesAndIsRefusedTLS11() async throws {
    let host = try await RunningHost.startExamples()
    defer { Task { try? await host.stop() } }
    func handshake(_ flags: [String]) async throws -> (status: Int32, output: String) {
      try await runProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(host.port)", "-servername", "localhost",
        "-CAfile", host.caFile, "-verify_return_error", "-alpn", "h2"] + flags, input: "", timeout: 20)
    }
    let tls12 = try await handshake(["-tls1_2"])
    #expect(tls12.status == 0 && tls12.output.contains("Protocol  : TLSv1.2") || tls12.output.contains("TLSv1.2"), "\(tls12.output)")
    #expect(tls12.output.contains("Verify return code: 0 (ok)"), "\(tls12.output)")
    let tls13 = try await handshake(["-tls1_3"])
    #expect(tls13.status == 0 && tls13.output.contains("TLSv1.3"), "\(tls13.output)")
    #expect(tls13.output.contains("ALPN protocol: h2"), "\(tls13.output)")
    // SECLEVEL=0 lets the client offer TLS 1.1 at all; the server must refuse it.
    let tls11 = try await handshake(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
    #expect(tls11.status != 0, "\(tls11.output)")
    #expect(tls11.output.contains("no peer certificate available"), "\(tls11.output)")
    #expect(tls11.output.contains("alert protocol version") || tls11.output.contains("unsupported protocol") || tls11.output.contains("no protocols available"), "\(tls11.output)")
  }
}
