import CarbonPluginABI

/// The call a module method is running, as far as the method may ask about it.
///
/// A long calculation (a batch, a territory, a pool report) checks between steps whether the
/// host still wants its answer, and stops when not: the caller left or the deadline passed, the
/// host has already answered it, and the thread is better used elsewhere (an isolated module's
/// worker that ignores a cancellation is killed 2 s past the deadline).
///
/// ```swift
/// for (index, dossier) in request.dossiers.enumerated() {
///   try ModuleCall.checkCancellation("dossiers[\(index)]")
///   …
/// }
/// ```
/// Cheap (one atomic load in the host); false whenever the host cannot say (a host that
/// predates `call_cancellable`, a test calling the module directly).
public enum ModuleCall {
  /// How the running call asks the host, bound for the duration of one call on its thread.
  @TaskLocal static var probe: CancellationProbe?

  /// True once the host no longer wants the running call's answer.
  public static var isCancelled: Bool { probe?.isCancelled ?? false }

  /// Throws CANCELLED when the host no longer wants the answer; `step` names where the
  /// calculation stopped, for the host's log.
  public static func checkCancellation(_ step: String = "") throws(ModuleError) {
    guard isCancelled else { return }
    throw ModuleError(.cancelled, step.isEmpty ? "cancelled by the host" : "cancelled by the host at \(step)")
  }
}

/// The host's `carbon_cancelled_fn` and its context, for one call.
struct CancellationProbe: @unchecked Sendable {
  let cancelled: carbon_cancelled_fn
  let context: UnsafeMutableRawPointer?

  var isCancelled: Bool { cancelled(context) != 0 }
}
