import CarbonDomain
import CarbonHost
import CarbonHostProtocol
import CarbonPluginLoader
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization
import Testing

/// Issue 26 point 5: "The COP register's `actor` becomes the caller's identity when one exists
/// (the client may add a display name, never replace it)". The host writes the certified
/// identity into the request field the module marks `(carbon.domain.v1.caller_identity)`; a
/// value the client put there is replaced, over protobuf and over JSON (Host/Invoke).
@Suite("The caller's certified identity reaches the module; the client cannot forge it", .serialized)
struct CallerIdentityTests {
  static let createProject = "/carbon.cop.v1.CopVivier/CreateProject"

  @Test func theCopHistoryRecordsTheCertifiedIdentityWithTheDisplayNameBesideIt() async throws {
    let issued = Mutex<ClientTransportFactory.ClientCertificate?>(nil)
    let host = try await RunningHost.start(modules: [("cop-vivier", try TestEnvironment.plugin("libCOPVivier.so"))]) { config in
      let dev = DevelopmentCertificates(directory: config.stateDirectory + "/tls")
      try dev.ensure()
      let prefix = config.stateDirectory + "/clients/coop-a"
      try dev.issue(commonName: "coop-a", usage: .clientAuth, certificatePath: prefix + ".pem", keyPath: prefix + "-key.pem")
      issued.withLock { $0 = .init(certificate: prefix + ".pem", key: prefix + "-key.pem") }
      config.access = .init(clientCA: dev.caCertificatePath, requireClientCertificate: true)
    }
    defer { Task { try? await host.stop() } }
    let certificate = issued.withLock { $0 }
    let example = try String(
      contentsOfFile: TestEnvironment.repositoryRoot + "/Plugins/COPVivier/examples/CreateProject.json", encoding: .utf8)
    // The client claims to be an admin, in the field the host fills in.
    let forged = example.replacingOccurrences(of: #""actor": "DDT de l'Oise""#, with: #""actor": "Mallory", "caller_identity": "cn:admin""#)
    #expect(forged != example)

    // Over JSON (Host/Invoke).
    let viaJSON = try await host.withClient(certificate: certificate) { client in
      try await Carbon_Host_V1_Host.Client(wrapping: client).invoke(.with {
        $0.module = "cop-vivier"
        $0.method = "CreateProject"
        $0.requestJson = forged
      })
    }
    #expect(viaJSON.responseJson.contains(#""updated_by":"cn:coop-a (Mallory)""#), "\(viaJSON.responseJson)")
    #expect(!viaJSON.responseJson.contains("cn:admin"))
    // The field's JSON name (camelCase) is replaced as well.
    let camel = try await host.withClient(certificate: certificate) { client in
      try await Carbon_Host_V1_Host.Client(wrapping: client).invoke(.with {
        $0.module = "cop-vivier"
        $0.method = "CreateProject"
        $0.requestJson = forged.replacingOccurrences(of: #""caller_identity""#, with: #""callerIdentity""#)
      })
    }
    #expect(camel.responseJson.contains(#""updated_by":"cn:coop-a (Mallory)""#), "\(camel.responseJson)")

    // Over protobuf, the field set by the client too (first), then the host's (last, wins).
    let descriptors = try #require(host.server.registry.module(named: "cop-vivier")?.metadata?.descriptorSet)
    let codec = try JSONToProtobuf(descriptorSet: descriptors)
    let request = try codec.encodeRequest(
      json: Array(forged.replacingOccurrences(of: "Mallory", with: "").utf8), method: Self.createProject)
    let answer = try await host.withClient(certificate: certificate) { client in
      try await client.unary(
        request: ClientRequest(message: request),
        descriptor: MethodDescriptor(fullyQualifiedService: "carbon.cop.v1.CopVivier", method: "CreateProject"),
        serializer: RawBytesCoder(), deserializer: RawBytesCoder(), options: .defaults
      ) { try $0.message }
    }
    let text = String(decoding: answer, as: UTF8.self)
    // No display name: the identity alone.
    #expect(text.contains("cn:coop-a") && !text.contains("cn:coop-a (") && !text.contains("cn:admin"), "\(text)")
  }
}
