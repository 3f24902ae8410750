import ArgumentParser
import CarbonHost
import Foundation

extension CarbonHub {
  struct Certs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Manage development certificates.", subcommands: [Init.self])

    struct Init: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Create a development CA and a server certificate (localhost, 127.0.0.1, ::1).")

      @Option(name: .long, help: "Directory to write ca.pem, ca-key.pem, server.pem, server-key.pem.")
      var dir: String

      @Option(name: .customLong("host"), help: "Extra DNS name for the server certificate (repeatable).")
      var hosts: [String] = []

      @Flag(name: .long, help: "Replace existing files.")
      var force = false

      func run() async throws {
        let certificates = DevelopmentCertificates(directory: dir)
        if certificates.exist && !force {
          printError("certificates already exist in \(dir) (use --force to replace them)")
        } else {
          try certificates.create(extraHostNames: hosts)
        }
        printOut("CA certificate (give to clients): \(certificates.caCertificatePath)")
        printOut("server certificate: \(certificates.serverCertificatePath)")
        printOut("server key: \(certificates.serverKeyPath)")
      }
    }
  }
}
