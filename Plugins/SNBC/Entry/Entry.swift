import CarbonPluginKit
import SNBCModule

/// The plugin's one exported C symbol (see carbon_plugin.h). The module itself lives in the
/// SNBCModule target so that tests can link it without this symbol.
@_cdecl("carbon_plugin_entry")
public func carbonPluginEntry() -> UnsafeRawPointer {
  PluginExport.descriptor(for: SNBCModule.self)
}
