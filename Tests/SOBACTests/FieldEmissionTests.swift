import CarbonDomain
import CarbonPluginKit
import Testing

@testable import SOBACModule
