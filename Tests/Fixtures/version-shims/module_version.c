/*
** Test fixture: another version of a plugin, made from the very same library.
**
** Built (scripts/build-c-plugins.sh) as libesca-1.1.0.so and libesca-1.2.0-rc.1.so: each opens
** WRAPPED_PLUGIN (an absolute path, -D; the repository's libESCA.so) and declares its module
** under SHIM_VERSION (-D). With SHIM_DESCRIPTOR_HEADER (-D, a header from add_field.py), it
** declares that descriptor set instead — ESCA's protos with one more request field — and
** accepts protobuf only, so that the host converts JSON requests with the new schema and the
** wrapped module, which never knew the field, ignores it as protobuf ignores unknown fields.
** The tests serve these beside libESCA.so (1.0.0): versions of one module side by side.
*/
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "carbon_plugin.h"
#ifdef SHIM_DESCRIPTOR_HEADER
#include SHIM_DESCRIPTOR_HEADER
#endif

static carbon_plugin_descriptor shim;
static const carbon_plugin_descriptor *described;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void describe(void) {
  void *library = dlopen(WRAPPED_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) return;
  carbon_plugin_entry_fn entry = (carbon_plugin_entry_fn)dlsym(library, "carbon_plugin_entry");
  const carbon_plugin_descriptor *wrapped = entry == NULL ? NULL : entry();
  if (wrapped == NULL) return;
  size_t size = wrapped->struct_size < sizeof shim ? wrapped->struct_size : sizeof shim;
  memcpy(&shim, wrapped, size);
  shim.struct_size = (uint32_t)size;
  shim.version = SHIM_VERSION;
#ifdef SHIM_DESCRIPTOR_HEADER
  shim.descriptor_set = shim_descriptor_set;
  shim.descriptor_set_length = sizeof shim_descriptor_set;
  if (size >= offsetof(carbon_plugin_descriptor, encodings) + sizeof shim.encodings) {
    shim.encodings = CARBON_ENCODINGS_PROTOBUF;
  }
#endif
  described = &shim;
}

__attribute__((visibility("default"))) const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  pthread_once(&once, describe);
  return described;
}
