import GRPCCore
import GRPCProtobuf

/// The outermost interceptor: every call gets a request id, and every answer — success or error,
/// unary or streaming, refused by the host or by a module — carries the same envelope:
/// - `x-request-id` (the caller's, cut to 64 characters, or a new one) and `carbonhub-instance`
///   in the headers of an accepted call and in the trailers of every error;
/// - for every error, `grpc-status-details-bin`: a `google.rpc.Status` with the standard details
///   that grpcio's `rpc_status`, grpc-go's `status.FromError` and grpc-java's `StatusProto` read
///   natively (see docs/errors.md):
///   - `google.rpc.BadRequest` with one `FieldViolation` (field path, description) when a
///     request field is at fault;
///   - `google.rpc.PreconditionFailure` with one violation (type `RULE`, subject = the rule id)
///     for FAILED_PRECONDITION;
///   - `google.rpc.ErrorInfo`: reason (the rule id, or the status name), domain `carbonhub`,
///     metadata `module`, `field` or `rule`;
///   - `google.rpc.RequestInfo`: the request id and the instance that answered.
///   The `carbon-error-field` trailer stays, for clients that read plain metadata.
///
/// Done once here rather than at each place that can fail, so that no error path can forget it.
struct CallEnvelopeInterceptor: ServerInterceptor {
  /// This host's name (`instance_name`, default the listen address).
  let instanceName: String
  /// The module serving a method path, if any (for `ErrorInfo.metadata["module"]`).
  let moduleOwning: @Sendable (String) -> String?

  func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>, context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    var request = request
    let requestID = request.metadata[stringValues: "x-request-id"].first(where: { _ in true }).map { String($0.prefix(64)) }
      ?? ModuleCalls.newRequestID()
    // Downstream (module admission, logs) sees the one id the caller will get back.
    request.metadata.replaceOrAddString(requestID, forKey: "x-request-id")
    let path = "/\(context.descriptor.service.fullyQualifiedService)/\(context.descriptor.method)"
    let envelope = ErrorEnvelope(requestID: requestID, instance: instanceName, module: moduleOwning(path))

    let response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      throw envelope.wrap(error)
    }
    switch response.accepted {
    case .success(var contents):
      if !contents.metadata.contains(where: { $0.key == "x-request-id" }) {
        contents.metadata.addString(requestID, forKey: "x-request-id")
        contents.metadata.addString(instanceName, forKey: "carbonhub-instance")
      }
      let producer = contents.producer
      contents.producer = { writer in
        do {
          return try await producer(writer)
        } catch {
          throw envelope.wrap(error)
        }
      }
      return StreamingServerResponse(accepted: .success(contents))
    case .failure(let error):
      return StreamingServerResponse(error: envelope.wrap(error))
    }
  }
}

/// What every error of one call is dressed with.
struct ErrorEnvelope: Sendable {
  /// The standard trailer of the rich error model.
  static let statusDetailsKey = "grpc-status-details-bin"
  let requestID: String
  let instance: String
  let module: String?

  /// `error` as an `RPCError` with the request id, instance and standard status details.
  func wrap(_ error: any Error) -> RPCError {
    var rpcError: RPCError
    if let known = error as? RPCError {
      rpcError = known
    } else if let convertible = error as? any RPCErrorConvertible {
      rpcError = RPCError(convertible)
    } else if error is CancellationError {
      rpcError = RPCError(code: .cancelled, message: "the call was cancelled")
    } else {
      rpcError = RPCError(code: .unknown, message: "\(error)")
    }
    if !rpcError.metadata.contains(where: { $0.key == "x-request-id" }) {
      rpcError.metadata.addString(requestID, forKey: "x-request-id")
      rpcError.metadata.addString(instance, forKey: "carbonhub-instance")
    }
    if !rpcError.metadata.contains(where: { $0.key == ErrorEnvelope.statusDetailsKey }),
      let bytes: [UInt8] = try? status(of: rpcError).serializedBytes()
    {
      rpcError.metadata.addBinary(bytes, forKey: ErrorEnvelope.statusDetailsKey)
    }
    return rpcError
  }

  /// The `google.rpc.Status` of an error, with the details described on ``CallEnvelopeInterceptor``.
  func status(of error: RPCError) -> GoogleRPCStatus {
    let field: String? = error.metadata[stringValues: "carbon-error-field"].first(where: { _ in true }).map { String($0) }
    let codeName = error.code.name
    var info: [String: String] = [:]
    if let module { info["module"] = module }
    var details: [ErrorDetails] = []
    var reason = codeName
    if let field, !field.isEmpty {
      if error.code == .failedPrecondition {
        reason = field
        info["rule"] = field
        details.append(.preconditionFailure(violations: [.init(type: "RULE", subject: field, description: error.message)]))
      } else {
        info["field"] = field
        details.append(.badRequest(violations: [.init(field: field, description: error.message)]))
      }
    }
    details.insert(.errorInfo(reason: reason, domain: "carbonhub", metadata: info), at: 0)
    details.append(.requestInfo(requestID: requestID, servingData: instance))
    return GoogleRPCStatus(code: error.code, message: error.message, details: details)
  }
}

