/* The ABI target is header-only; SwiftPM needs one C file to build a C target. This one checks
** at compile time what the header promises about layout. */
#include "carbon_plugin.h"

_Static_assert(sizeof(carbon_method) == sizeof(const char *) * 2, "carbon_method: a pointer and a 4-byte kind, padded");
_Static_assert(sizeof(((carbon_call_result *)0)->status) == 4, "carbon_call_result.status is 4 bytes");
_Static_assert(sizeof(carbon_status) == 4 && sizeof(carbon_encoding) == 4, "the ABI's enums are int-sized (no -fshort-enums)");
