import CarbonHostProtocol
import CarbonPluginLoader
import Foundation
import GRPCCore
import Synchronization

/// What one module call's receipt will state, gathered as its messages pass: the hash of each
/// request and response message, and the methodologies and data sets the responses' traces
/// name. A stream's requests and responses pass on different tasks, hence the lock.
final class ReceiptRecorder: Sendable {
  /// The trailer that carries a receipt (binary metadata: base64 on the wire, bytes in clients).
  static let trailerKey = "carbonhub-receipt-bin"
  /// The HTTP/JSON gateway's response header that carries a unary call's receipt (base64).
  static let httpHeaderKey = "carbonhub-receipt"

  private let batcher: ReceiptBatcher
  private let call: ModuleCalls.Admitted
  private let encoding: WireEncoding
  private let state = Mutex(State())

  private struct State {
    var requests = MessageHashes()
    var responses = MessageHashes()
    var methodologies: [Carbon_Host_V1_ReceiptMethodology] = []
    var dataSets: [Carbon_Host_V1_ReceiptDataSet] = []
  }

  init(batcher: ReceiptBatcher, call: ModuleCalls.Admitted, encoding: WireEncoding) {
    self.batcher = batcher
    self.call = call
    self.encoding = encoding
  }

  /// Records a request message exactly as the client sent it.
  func request(_ bytes: [UInt8]) {
    state.withLock { $0.requests.add(bytes) }
  }

  /// Records a response message exactly as it is sent, and what its traces name.
  func response(_ bytes: [UInt8]) {
    let statements = call.module.metadata?.traces.statements(in: bytes, method: call.method.path, encoding: encoding) ?? []
    state.withLock { state in
      state.responses.add(bytes)
      for trace in statements {
        if !trace.method.isEmpty || !trace.methodVersion.isEmpty {
          let methodology = Carbon_Host_V1_ReceiptMethodology.with {
            $0.name = trace.method
            $0.version = trace.methodVersion
          }
          if !state.methodologies.contains(methodology) { state.methodologies.append(methodology) }
        }
        for dataSet in trace.dataSets
        where !state.dataSets.contains(where: { $0.name == dataSet.name && $0.version == dataSet.version }) {
          state.dataSets.append(
            .with {
              $0.name = dataSet.name
              $0.version = dataSet.version
            })
        }
      }
    }
  }

  /// The signed receipt of the messages recorded so far (asked once, when the call succeeded).
  func receipt() async -> Carbon_Host_V1_Receipt {
    var content = state.withLock { recorded in
      var content = Carbon_Host_V1_ReceiptContent()
      content.methodologies = recorded.methodologies
      content.dataSets = recorded.dataSets
      content.requestSha256 = recorded.requests.listedHashes
      content.requestCount = recorded.requests.count
      content.requestStreamSha256 = recorded.requests.streamHash
      content.responseSha256 = recorded.responses.listedHashes
      content.responseCount = recorded.responses.count
      content.responseStreamSha256 = recorded.responses.streamHash
      return content
    }
    content.format = 1
    content.module = call.module.moduleName
    content.moduleVersion = call.module.metadata?.version ?? ""
    content.pluginSha256 = call.module.metadata?.sha256 ?? ""
    content.method = call.method.path
    content.encoding = encoding == .json ? "json" : "protobuf"
    content.issuedAtUnixMs = Int64((Date().timeIntervalSince1970 * 1000).rounded())
    content.hostInstance = batcher.signer.instanceName
    content.requestID = call.requestID
    content.caller = call.identity.principal?.description ?? "anonymous"
    // Serializing a message built here does not fail.
    return await batcher.receipt(for: (try? content.serializedData()) ?? Data())
  }

  /// Trailing metadata holding the signed receipt.
  func trailer() async -> Metadata {
    var metadata: Metadata = [:]
    metadata.addBinary(Array((try? await receipt().serializedData()) ?? Data()), forKey: Self.trailerKey)
    return metadata
  }
}

extension ModuleCalls {
  /// A recorder for `call`'s receipt, nil when receipts are off.
  func receipt(for call: Admitted, _ encoding: WireEncoding) -> ReceiptRecorder? {
    receipts.map { ReceiptRecorder(batcher: $0, call: call, encoding: encoding) }
  }
}

extension ReceiptRecorder {
  /// The receipt trailer of a unary call that answered `response` to `request`.
  func trailer(request: [UInt8], response: [UInt8]) async -> Metadata {
    self.request(request)
    self.response(response)
    return await trailer()
  }
}
