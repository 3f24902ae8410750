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
      Load.self, Receipt.self, SDK.self, Worker.self,
    ])

  /// Runs the command. SIGPIPE is ignored so that a reader that goes away (`carbonhub modules |
  /// head`) shows up as EPIPE on a write, which ends the CLI quietly (see `printOut`).
  static func main() async {
    signal(SIGPIPE, SIG_IGN)
    do {
      var command = try parseAsRoot()
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      exit(withError: error)
    }
  }
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

  /// The running executable's path (`/proc/self/exe`, else argv[0]).
  static var executable: String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
  }

  /// The directory of the running executable: plugins are built next to it.
  static var pluginDirectory: String {
    URL(fileURLWithPath: executable).deletingLastPathComponent().standardizedFileURL.path
  }
}

/// Writes a line to standard error, unbuffered (buffered output is lost on SIGTERM).
func printError(_ text: String) {
  writeLine(text, to: STDERR_FILENO)
}

/// Writes a line to standard output, unbuffered.
func printOut(_ text: String) {
  writeLine(text, to: STDOUT_FILENO)
}

/// Writes `text` and a newline to `descriptor`, retrying short writes and EINTR.
///
/// When the reader has gone away (`carbonhub modules | head`), the process ends quietly with
/// status 0, as Unix filters do: there is no one left to tell. (Foundation's
/// `FileHandle.write(_:)` traps on EPIPE instead, which crashed the CLI.)
private func writeLine(_ text: String, to descriptor: Int32) {
  var bytes = Array((text + "\n").utf8)
  var offset = 0
  while offset < bytes.count {
    let written = bytes.withUnsafeMutableBytes { buffer in
      write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
    }
    if written >= 0 {
      offset += written
    } else if errno == EINTR {
      continue
    } else if errno == EPIPE {
      exit(0)
    } else {
      return  // nowhere else to report a failed write to
    }
  }
}
