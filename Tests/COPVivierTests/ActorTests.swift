import CarbonPluginKit
import CarbonPluginTesting
import Testing

@testable import COPVivierModule

/// Who the register records for a change (issue 26 point 5): the certified identity the host
/// writes into `caller_identity` when the caller has a client certificate, with the request's
/// `actor` as a display name beside it; the `actor` alone, and required, without one. The host's
/// side (replacing a forged value) is tested over TLS in CallerIdentityTests.
@Suite struct ActorTests {
  @Test func theCertifiedIdentityIsRecordedWithTheDisplayNameBesideIt() throws {
    let harness = try ModuleHarness<COPVivierModule>()
    var request = Carbon_Cop_V1_CreateProjectRequest()
    request.project = carriedProject(id: "actor-1")
    request.actor = "Marie Dupont"
    request.callerIdentity = "cn:coop-a"
    let created = try harness.call(Path.create, request, as: Carbon_Cop_V1_ProjectResponse.self).project
    #expect(created.updatedBy == "cn:coop-a (Marie Dupont)")
    // No display name: the identity alone, and `actor` is then optional.
    request.project = carriedProject(id: "actor-2")
    request.actor = ""
    #expect(try harness.call(Path.create, request, as: Carbon_Cop_V1_ProjectResponse.self).project.updatedBy == "cn:coop-a")
    // The history shows the same name.
    var history = Carbon_Cop_V1_GetProjectHistoryRequest()
    history.projectID = "actor-1"
    let entries = try harness.call(Path.history, history, as: Carbon_Cop_V1_GetProjectHistoryResponse.self).entries
    #expect(entries.map(\.actor) == ["cn:coop-a (Marie Dupont)"])
  }

  @Test func withoutACertificateTheActorIsRequired() throws {
    let harness = try ModuleHarness<COPVivierModule>()
    var request = Carbon_Cop_V1_CreateProjectRequest()
    request.project = carriedProject(id: "actor-3")
    do {
      _ = try harness.call(Path.create, request, as: Carbon_Cop_V1_ProjectResponse.self)
      Issue.record("created without an actor or a certified identity")
    } catch {
      #expect(error.status == .invalidArgument && error.field == "actor", "\(error)")
    }
    request.actor = "DDT de l'Oise"
    #expect(try harness.call(Path.create, request, as: Carbon_Cop_V1_ProjectResponse.self).project.updatedBy == "DDT de l'Oise")
  }
}
