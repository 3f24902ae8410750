/* The ABI target is header-only; SwiftPM needs one C file to build a C target. This one also
** lets Swift code read the header's version without relying on macro import rules. */
#include "carbon_plugin.h"

uint32_t carbon_plugin_header_abi_version(void) { return CARBON_PLUGIN_ABI_VERSION; }
