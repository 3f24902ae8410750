import Testing

@testable import CarbonHost

/// Which plugin calls run on the calling task instead of a plugin thread (`FastCalls`): only
/// methods whose recent calls all took under 100 µs, with small requests, a bounded number at
/// once; a slow call sends its method back to the threads at once.
@Suite("Fast plugin calls run inline")
struct FastCallsTests {
  let path = "/carbon.examples.v1.Units/Convert"

  @Test func aMethodNeverMeasuredGoesToThePluginThreads() {
    let fast = FastCalls(maxInline: 4)
    #expect(!fast.begin(path, bytes: 10))
    fast.record(path, .microseconds(5))
    #expect(fast.begin(path, bytes: 10))
    fast.finish()
    // Another method is measured on its own.
    #expect(!fast.begin("/carbon.examples.v1.Units/ConvertBatch", bytes: 10))
  }

  @Test func aLargeRequestGoesToThePluginThreads() {
    let fast = FastCalls(maxInline: 4)
    fast.record(path, .microseconds(5))
    #expect(fast.begin(path, bytes: FastCalls.maxRequestBytes))
    fast.finish()
    #expect(!fast.begin(path, bytes: FastCalls.maxRequestBytes + 1))
  }

  @Test func atMostMaxInlineCallsRunInlineAtOnce() {
    let fast = FastCalls(maxInline: 2)
    fast.record(path, .microseconds(5))
    #expect(fast.begin(path, bytes: 10))
    #expect(fast.begin(path, bytes: 10))
    #expect(!fast.begin(path, bytes: 10))
    fast.finish()
    #expect(fast.begin(path, bytes: 10))
    fast.finish()
    fast.finish()
  }

  /// 2 ms, then calls of 5 µs: the recent duration decays by an eighth a call, so it is below
  /// 100 µs only after 23 of them (2000 × (7/8)^n + 5 × (1 − (7/8)^n) < 100 ⇔ n ≥ 23).
  @Test func oneSlowCallSendsTheMethodBackToTheThreadsUntilItIsFastAgain() {
    let fast = FastCalls(maxInline: 4)
    fast.record(path, .microseconds(5))
    #expect(fast.begin(path, bytes: 10))
    fast.finish()
    fast.record(path, .milliseconds(2))
    #expect(!fast.begin(path, bytes: 10))
    for _ in 0..<22 { fast.record(path, .microseconds(5)) }
    #expect(!fast.begin(path, bytes: 10))
    fast.record(path, .microseconds(5))
    #expect(fast.begin(path, bytes: 10))
    fast.finish()
  }

  @Test func aCallAtTheThresholdIsNotFast() {
    let fast = FastCalls(maxInline: 4)
    fast.record(path, FastCalls.threshold)
    #expect(!fast.begin(path, bytes: 10))
  }
}
