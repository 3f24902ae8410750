import ArgumentParser
import CarbonDomain
import CarbonHostProtocol
import Foundation
import GRPCCore

extension CarbonHub {
  struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Call a module method with a JSON request; print the JSON response.",
      discussion: """
        The request is the proto3 JSON form of the method's request message. A unary method
        prints one JSON object; a server-streaming method prints one JSON object per line.
        On error the exit code is 1 and the gRPC status, message and offending field are
        printed on standard error.
        """)

    @Argument(help: "The method, as <module>.<Method> (e.g. units.Convert).")
    var target: String

    @Option(name: .long, help: "JSON request file, or - for standard input.")
    var json: String

    @Option(name: .customLong("file-field"), help: ArgumentHelp(
      "Set a top-level string field of the request to a file's contents, NAME=PATH (repeatable), e.g. ledger_csv=ledger.csv.",
      valueName: "NAME=PATH"))
    var fileFields: [String] = []

    @Option(name: .customLong("receipt-dir"), help: ArgumentHelp(
      "Save the call's signed receipt in DIR (receipt.bin) with the exact request and response(s) it covers (request.json, response.json or response-N.json), for `carbonhub receipt verify`.",
      valueName: "DIR"))
    var receiptDirectory: String?

    @Option(name: .customLong("module-version"), help: ArgumentHelp(
      "The module's version to call, exact (1.0.0) or a release prefix (1.0), when the host serves several; default: the host's default version.",
      valueName: "VERSION"))
    var moduleVersion: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
      guard let dot = target.firstIndex(of: "."), dot != target.startIndex, target.index(after: dot) != target.endIndex else {
        throw ValidationError("'\(target)' is not <module>.<Method>")
      }
      let module = String(target[..<dot]) + (moduleVersion.map { "@" + $0 } ?? "")
      let method = String(target[target.index(after: dot)...])
      let data: Data
      if json == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
      } else {
        guard let contents = FileManager.default.contents(atPath: json) else {
          throw ValidationError("cannot read \(json)")
        }
        data = contents
      }
      let requestJSON = try Self.injectFileFields(fileFields, into: data)
      let request = Carbon_Host_V1_InvokeRequest.with {
        $0.module = module
        $0.method = method
        $0.requestJson = requestJSON
      }
      let (responses, trailers) = try await client.withHost { host in
        var get = Carbon_Host_V1_GetModuleRequest()
        get.name = module
        let info = try await host.getModule(get)
        let streaming = info.methods.contains { ($0.path.hasSuffix("/" + method) || $0.path == method) && ($0.kind == .serverStreaming || $0.kind == .bidiStreaming) }
        if streaming {
          return try await host.invokeStream(request) { response in
            var responses: [String] = []
            var trailers: Metadata = [:]
            for try await part in response.bodyParts {
              switch part {
              case .message(let message):
                printOut(message.responseJson)
                responses.append(message.responseJson)
              case .trailingMetadata(let metadata):
                trailers = metadata
              }
            }
            return (responses, trailers)
          }
        } else {
          return try await host.invoke(request) { response in
            let message = try response.message
            printOut(message.responseJson)
            return ([message.responseJson], response.trailingMetadata)
          }
        }
      }
      if let receiptDirectory { try Self.saveReceipt(trailers, request: requestJSON, responses: responses, in: receiptDirectory) }
    }

    /// Writes the receipt and the exact messages it covers; says where on standard error.
    static func saveReceipt(_ trailers: Metadata, request: String, responses: [String], in directory: String) throws {
      guard let receipt = trailers[binaryValues: "carbonhub-receipt-bin"].first(where: { _ in true }) else {
        printError("no receipt: this host signs none (`[receipts] enabled = false`)")
        throw ExitCode(1)
      }
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      try Data(receipt).write(to: URL(fileURLWithPath: directory + "/receipt.bin"))
      try Data(request.utf8).write(to: URL(fileURLWithPath: directory + "/request.json"))
      if responses.count == 1 {
        try Data(responses[0].utf8).write(to: URL(fileURLWithPath: directory + "/response.json"))
      } else {
        for (index, response) in responses.enumerated() {
          try Data(response.utf8).write(to: URL(fileURLWithPath: directory + "/response-\(index + 1).json"))
        }
      }
      printError("receipt saved in \(directory) (check it with `carbonhub receipt verify --receipt \(directory)/receipt.bin --request \(directory)/request.json --response ... --key KEY`)")
    }

    /// Adds `NAME=PATH` file contents as string fields of the JSON request object.
    static func injectFileFields(_ fields: [String], into data: Data) throws -> String {
      guard !fields.isEmpty else { return String(decoding: data, as: UTF8.self) }
      // JSONValue keeps the request's numbers exactly as written (JSONSerialization does not).
      var object = data.isEmpty ? JSONValue.object([]) : try JSONValue(parsing: data)
      guard object.members != nil else {
        throw ValidationError("--file-field needs the JSON request to be an object")
      }
      for field in fields {
        guard let equals = field.firstIndex(of: "="), equals != field.startIndex else {
          throw ValidationError("--file-field '\(field)' is not NAME=PATH")
        }
        let name = String(field[..<equals])
        let path = String(field[field.index(after: equals)...])
        guard let contents = FileManager.default.contents(atPath: path) else {
          throw ValidationError("--file-field \(name): cannot read \(path)")
        }
        object.set(name, to: .string(String(decoding: contents, as: UTF8.self)))
      }
      return String(decoding: object.serialized, as: UTF8.self)
    }
  }
}
