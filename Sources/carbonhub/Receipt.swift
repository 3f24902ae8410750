import ArgumentParser
import CarbonHost
import CarbonHostProtocol
import CarbonPluginLoader
import Foundation

extension CarbonHub {
  /// `carbonhub receipt verify|show|key`.
  struct Receipt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check the signed receipts a host returns with every successful module call.",
      discussion: """
        Every successful module call carries a receipt in its `carbonhub-receipt-bin` trailer: the
        module, its version and plugin sha256, the methodology and data sets its trace names, the
        sha256 of each request and response message, the time and the host, signed with the
        host's Ed25519 receipt key. `carbonhub call --receipt-dir DIR` saves one with the exact
        request and response; `verify` checks it offline. docs/versions-and-receipts.md.
        """,
      subcommands: [Verify.self, Show.self, Key.self])
  }
}

extension CarbonHub.Receipt {
  /// `carbonhub receipt verify --receipt R --key PUB [--request F]... [--response F]...`.
  struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Verify a receipt offline: its signature, then the request and response files against it.",
      discussion: """
        Exit code 0 when the signature is the key's and every file given matches; 1 otherwise,
        with the reason on standard error. Give the messages exactly as sent and received: the
        protobuf bytes for a method called directly, the JSON text for `carbonhub call`. For a
        streamed result, give every message in order, or a single one to check it is one of them.
        """)

    @Option(name: .long, help: "The receipt file (the trailer's bytes, or their base64).")
    var receipt: String

    @Option(name: .long, help: "The host's public receipt key: base64 of the 32 raw bytes (receipt.pub, `carbonhub receipt key`) or a PEM public key.")
    var key: String

    @Option(name: .long, help: "A request message file (repeat for a stream of requests, in order).")
    var request: [String] = []

    @Option(name: .long, help: "A response message file (repeat for a stream, in order; or one message of it).")
    var response: [String] = []

    func run() throws {
      let publicKey = try readPublicKey(key)
      let receiptBytes = try read(receipt)
      let requests = try request.map(read)
      let responses = try response.map(read)
      do throws(ReceiptVerification.Failure) {
        let receipt = try ReceiptVerification.decode(receiptBytes)
        let verified = try ReceiptVerification.verify(receipt, publicKey: publicKey, requests: requests, responses: responses)
        printOut("receipt verified: signed by key \(receipt.keyID)")
        for line in verified.checked { printOut("  \(line)") }
        if request.isEmpty && response.isEmpty { printOut("  (no request or response given: only the signature was checked)") }
        printOut(describe(verified.content))
      } catch {
        printError("receipt NOT verified: \(error)")
        throw ExitCode(1)
      }
    }
  }

  /// `carbonhub receipt show --receipt R`.
  struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print what a receipt states (without checking it: see `verify`).")

    @Option(name: .long, help: "The receipt file (the trailer's bytes, or their base64).")
    var receipt: String

    func run() throws {
      let receiptBytes = try read(receipt)
      do throws(ReceiptVerification.Failure) {
        let receipt = try ReceiptVerification.decode(receiptBytes)
        guard let content = try? Carbon_Host_V1_ReceiptContent(serializedBytes: receipt.content) else {
          throw ReceiptVerification.Failure("the signed content is not a carbon.host.v1.ReceiptContent")
        }
        printOut("receipt signed by key \(receipt.keyID) (NOT verified: `carbonhub receipt verify` checks it)")
        printOut(describe(content))
      } catch {
        printError("error: \(error)")
        throw ExitCode(1)
      }
    }
  }

  /// `carbonhub receipt key [--out FILE]`: the host's public receipt key.
  struct Key: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Fetch the host's public receipt key (Host.GetReceiptKey) and print or save it.")

    @Option(name: .long, help: "Write the key (base64) to this file instead of printing it.")
    var out: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
      let key = try await client.withHost { host in try await host.getReceiptKey(Carbon_Host_V1_GetReceiptKeyRequest()) }
      guard key.enabled else {
        printError("this host signs no receipts (`[receipts] enabled = false`)")
        throw ExitCode(1)
      }
      if let out {
        try Data((key.publicKeyBase64 + "\n").utf8).write(to: URL(fileURLWithPath: out))
        printOut("wrote \(out): \(key.algorithm) key \(key.keyID) of host \(key.hostInstance)")
      } else {
        printOut(key.publicKeyBase64)
      }
    }
  }
}

/// The file's bytes; a clear error naming it when it cannot be read.
private func read(_ path: String) throws -> Data {
  guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
  return data
}

/// A public key file: base64 of the 32 raw bytes, or a PEM `PUBLIC KEY` (SubjectPublicKeyInfo,
/// as `openssl pkey -pubout` writes for Ed25519).
private func readPublicKey(_ path: String) throws -> PublisherKey {
  let text = String(decoding: try read(path), as: UTF8.self)
  if text.contains("-----BEGIN PUBLIC KEY-----") {
    let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
    // An Ed25519 SubjectPublicKeyInfo is 12 fixed bytes (algorithm 1.3.101.112) then the key.
    let prefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]
    guard let der = Data(base64Encoded: body), der.count == 44, Array(der.prefix(12)) == prefix,
      let key = try? PublisherKey(base64: der.suffix(32).base64EncodedString())
    else { throw ValidationError("\(path): not an Ed25519 public key (PEM)") }
    return key
  }
  do {
    return try PublisherKey(base64: text)
  } catch {
    throw ValidationError("\(path): \(error)")
  }
}

/// The receipt's statements, one per line.
private func describe(_ content: Carbon_Host_V1_ReceiptContent) -> String {
  let formatter = ISO8601DateFormatter()
  formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
  let issuedText = formatter.string(from: Date(timeIntervalSince1970: Double(content.issuedAtUnixMs) / 1000))
  var lines = [
    "module:          \(content.module) \(content.moduleVersion)",
    "plugin sha256:   \(content.pluginSha256)",
    "method:          \(content.method) (\(content.encoding))",
  ]
  for methodology in content.methodologies { lines.append("methodology:     \(methodology.name) — \(methodology.version)") }
  for dataSet in content.dataSets {
    lines.append("data set:        \(dataSet.name) \(dataSet.version)")
  }
  for (index, hash) in content.requestSha256.enumerated() {
    lines.append("request \(index + 1) sha256: \(ReceiptVerification.hex(hash))")
  }
  for (index, hash) in content.responseSha256.enumerated() {
    lines.append("response \(index + 1) sha256: \(ReceiptVerification.hex(hash))")
  }
  lines += [
    "issued at:       \(issuedText)",
    "host:            \(content.hostInstance)",
    "request id:      \(content.requestID)",
    "caller:          \(content.caller)",
  ]
  return lines.joined(separator: "\n")
}
