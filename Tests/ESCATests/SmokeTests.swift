import Testing
@testable import ESCAModule
