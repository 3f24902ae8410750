import ArgumentParser
import CarbonHost
import Foundation

extension CarbonHub {
  struct Certs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Manage development certificates.", subcommands: [Init.self, Client.self])

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
  
    struct Client: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Issue a client certificate from the development CA (for hosts with access.client_ca).",
        discussion: """
          The identity is the certificate's common name; hosts match it against access.admins and each \
          module's allow list. Give the server's CA directory with --dir (its ca.pem and ca-key.pem) and \
          set access.client_ca to DIR/ca.pem in the deployment file.
          """)

      @Option(name: .long, help: "Directory holding the development CA (ca.pem, ca-key.pem).")
      var dir: String

      @Option(name: .long, help: "Identity of the client: the certificate's common name.")
      var name: String

      @Option(name: .long, help: "Extra identity as a DNS subject alternative name (repeatable).")
      var dns: [String] = []

      @Option(name: .long, help: "Output path prefix: writes PREFIX.pem and PREFIX-key.pem (default DIR/clients/NAME).")
      var out: String?

      func run() async throws {
        let certificates = DevelopmentCertificates(directory: dir)
        guard FileManager.default.fileExists(atPath: certificates.caKeyPath) else {
          throw ValidationError("\(certificates.caKeyPath) not found: create the CA with `carbonhub certs init --dir \(dir)`")
        }
        let prefix = out ?? "\(dir)/clients/\(name)"
        try certificates.issue(
          commonName: name, dnsNames: dns, usage: .clientAuth, certificatePath: prefix + ".pem", keyPath: prefix + "-key.pem")
        printOut("client certificate: \(prefix).pem")
        printOut("client key: \(prefix)-key.pem")
        printOut("use: carbonhub call … --cert \(prefix).pem --key \(prefix)-key.pem")
      }
    }
  }
}
