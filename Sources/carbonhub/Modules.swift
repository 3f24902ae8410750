import ArgumentParser
import CarbonHostProtocol
import Foundation
import SwiftProtobuf

extension CarbonHub {
  struct Modules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the modules of a running host with their state and methods.")

    @OptionGroup var client: ClientOptions

    @Flag(name: .long, help: "Print the ListModules response as JSON.")
    var json = false

    func run() async throws {
      let response = try await client.withHost { host in
        try await host.listModules(Carbon_Host_V1_ListModulesRequest())
      }
      if json {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        printOut(try response.jsonString(options: options))
        return
      }
      for module in response.modules {
        let state: String
        switch module.state {
        case .serving: state = "serving"
        case .failed: state = "FAILED"
        case .disabled: state = "disabled"
        case .loading: state = "loading"
        case .restarting: state = "RESTARTING"
        case .retired: state = "retired"
        default: state = "unknown"
        }
        // A module that never loaded has no ABI version or digest to show: its reason says why.
        let identity = module.abiVersion == 0 && module.sha256.isEmpty ? "" : "\tabi \(module.abiVersion)\tsha256 \(module.sha256.prefix(12))"
        // Of a module served in several versions, the one calls naming no version reach.
        let isDefault = module.defaultVersion && response.modules.contains { $0.module == module.module && $0.name != module.name }
        printOut("\(module.name)\t\(module.version.isEmpty ? "-" : module.version)\t\(state)\(isDefault ? " (default)" : "")\(identity)")
        if !module.failureReason.isEmpty { printOut("  reason: \(module.failureReason)") }
        // The host shows allow-lists (and paths) to admins only; others see neither.
        let allow = module.allowAny ? "any caller" : module.allow.isEmpty ? "(shown to admins only)" : module.allow.joined(separator: ", ")
        printOut("  allow: \(allow)" + (module.isolation == .isolated ? "  isolated, \(module.restarts) restarts" : ""))
        if module.maxMessageBytes > 0 {
          printOut(
            "  limits: messages up to \(module.maxMessageBytes) bytes, deadline \(Self.seconds(module.unaryTimeoutMs)) unary, "
              + "\(Self.seconds(module.streamingTimeoutMs)) streaming; \(module.callsInFlight) calls in flight")
        }
        for method in module.methods {
          let kind = method.kind == .serverStreaming ? "  (server-streaming)" : method.kind == .bidiStreaming ? "  (bidirectional-streaming)" : ""
        printOut("  \(method.path)\(kind)")
        }
      }
    }

    /// "30 s", "5 min" for a deadline in milliseconds.
    static func seconds(_ milliseconds: UInt32) -> String {
      milliseconds % 60_000 == 0 ? "\(milliseconds / 60_000) min" : milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
  }
}
