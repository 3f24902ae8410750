import ArgumentParser
import CarbonHost
import Foundation

/// `carbonhub`: the single executable of the platform.
@main
struct CarbonHub: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "carbonhub",
    abstract: "Serve carbon-accounting calculation modules over TLS gRPC, and call them.",
    subcommands: [
      Serve.self, Modules.self, Call.self, WhoAmI.self, Admin.self, Certs.self, Verify.self, PluginCommand.self,
      Load.self, Worker.self,
    ])
}

/// Defaults shared by the server and the client commands, so that a client with no flags
/// finds a server started with no flags.
enum Defaults {
  static let listen = "127.0.0.1:8443"

  /// `$CARBONHUB_STATE_DIR`, else `$XDG_STATE_HOME/carbonhub`, else `~/.local/state/carbonhub`.
  static var stateDirectory: String {
    let environment = ProcessInfo.processInfo.environment
    if let dir = environment["CARBONHUB_STATE_DIR"], !dir.isEmpty { return dir }
    if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/carbonhub" }
    return FileManager.default.homeDirectoryForCurrentUser.path + "/.local/state/carbonhub"
  }

  /// The directory of the running executable: plugins are built next to it.
  static var pluginDirectory: String {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: executable).deletingLastPathComponent().standardizedFileURL.path
  }
}

/// Writes a line to standard error, unbuffered (buffered output is lost on SIGTERM).
func printError(_ text: String) {
  FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Writes a line to standard output and flushes it.
func printOut(_ text: String) {
  FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
