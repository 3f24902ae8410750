import ArgumentParser
import CarbonHost
import CarbonHostProtocol
import Foundation
import GRPCCore
import SwiftProtobuf

extension CarbonHub {
  struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "whoami", abstract: "Show how a host sees you: identities, roles, modules you may call.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
      let response = try await client.withHost { host in try await host.whoAmI(Carbon_Host_V1_WhoAmIRequest()) }
      printOut("authenticated: \(response.authenticated ? "yes" : "no (no client certificate)")")
      if !response.identities.isEmpty { printOut("identities: \(response.identities.joined(separator: ", "))") }
      printOut("roles: \(response.roles.isEmpty ? "none" : response.roles.joined(separator: ", "))")
      printOut("modules you may call: \(response.callableModules.joined(separator: ", "))")
    }
  }

  /// `carbonhub admin …`: run-time administration of a host (admin role: an mTLS client
  /// certificate whose identity is in the deployment's `access.admins`).
  struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Change a running host: enable, disable, retire, reload a module, or set who may call it.",
      discussion: "Needs a client certificate (--cert/--key) whose identity is in the host's access.admins.",
      subcommands: [Enable.self, Disable.self, Retire.self, Reload.self, Allow.self])

    struct Enable: AsyncParsableCommand {
      static let configuration = CommandConfiguration(abstract: "Load (if needed) and serve a module.")
      @OptionGroup var client: ClientOptions
      @Argument(help: "Module name.") var module: String

      func run() async throws {
        try await client.admin(module: module) { try await $0.enableModule($1) }
      }
    }

    struct Disable: AsyncParsableCommand {
      static let configuration = CommandConfiguration(abstract: "Stop serving a module (calls in flight finish).")
      @OptionGroup var client: ClientOptions
      @Argument(help: "Module name.") var module: String

      func run() async throws {
        try await client.admin(module: module) { try await $0.disableModule($1) }
      }
    }

    struct Retire: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Take one version of a module out of service (e.g. esca@1.0.0); calls asking for it are refused, naming the versions still served.")
      @OptionGroup var client: ClientOptions
      @Argument(help: "Module name, with its version when several are served (esca@1.0.0).") var module: String

      func run() async throws {
        try await client.admin(module: module) { try await $0.retireModule($1) }
      }
    }

    struct Reload: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Load a new binary for a module and switch to it; the old one keeps serving if the new one fails.")
      @OptionGroup var client: ClientOptions
      @Argument(help: "Module name.") var module: String
      @Option(name: .long, help: "New library path on the host (default: the module's current path).") var path: String?
      @Option(name: .long, help: "Expected SHA-256 of the new library.") var sha256: String?

      func run() async throws {
        var request = Carbon_Host_V1_ReloadModuleRequest()
        request.name = module
        request.path = path ?? ""
        request.sha256 = sha256 ?? ""
        try await client.admin { [request] in try await $0.reloadModule(request) }
      }
    }

    struct Allow: AsyncParsableCommand {
      static let configuration = CommandConfiguration(abstract: "Replace the list of identities allowed to call a module.")
      @OptionGroup var client: ClientOptions
      @Argument(help: "Module name.") var module: String
      @Argument(help: "Identities (certificate common name or subject alternative name).") var identities: [String] = []
      @Flag(name: .long, help: "Let any caller the host accepts call the module.") var any = false

      func validate() throws {
        if any == !identities.isEmpty { throw ValidationError("give identities, or --any") }
      }

      func run() async throws {
        var request = Carbon_Host_V1_SetModuleAccessRequest()
        request.name = module
        request.allow = identities
        request.allowAny = any
        try await client.admin { [request] in try await $0.setModuleAccess(request) }
      }
    }
  }
}

extension ClientOptions {
  /// An admin action that names the module alone (enable, disable, retire).
  func admin(
    module: String,
    _ action: @Sendable (Carbon_Host_V1_HostAdmin.Client<HostClientTransport>, Carbon_Host_V1_ModuleRef) async throws
      -> Carbon_Host_V1_ModuleInfo
  ) async throws {
    var request = Carbon_Host_V1_ModuleRef()
    request.name = module
    try await admin { [request] in try await action($0, request) }
  }

  /// Runs one admin action and prints the module as it is afterwards.
  func admin(
    _ action: @Sendable (Carbon_Host_V1_HostAdmin.Client<HostClientTransport>) async throws -> Carbon_Host_V1_ModuleInfo
  ) async throws {
    let info = try await withClient { client in try await action(Carbon_Host_V1_HostAdmin.Client(wrapping: client)) }
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    printOut(try info.jsonString(options: options))
  }
}
