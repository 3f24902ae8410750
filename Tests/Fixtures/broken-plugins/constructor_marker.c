/* Test fixture: a valid plugin whose constructor writes a file, so a test can prove whether any
** of its code ran. When the library is loaded (dlopen runs constructors before the host looks at
** anything), it writes "constructor ran\n" to the path in CARBONHUB_MARKER_FILE, if set. The
** manifest tests assert the file is absent after each refusal before dlopen and present after a
** successful load. */
#include <stdio.h>
#include <stdlib.h>
#include "carbon_plugin.h"

__attribute__((constructor)) static void write_marker(void) {
  const char *path = getenv("CARBONHUB_MARKER_FILE");
  if (path == NULL || path[0] == '\0') return;
  FILE *file = fopen(path, "w");
  if (file == NULL) return;
  fputs("constructor ran\n", file);
  fclose(file);
}

static const carbon_method methods[] = {{"/carbon.test.v1.Marker/Call", CARBON_METHOD_UNARY},
                                        {"/carbon.test.v1.Marker/Stream", CARBON_METHOD_SERVER_STREAMING}};
static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = (void *)methods;
  return CARBON_STATUS_OK;
}
static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)p; (void)e; (void)r; (void)n; (void)emit; (void)ctx;
  result->status = CARBON_STATUS_OK;
}
static void free_fn(void *b) { (void)b; }
static void shutdown_fn(void *i) { (void)i; }
static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "constructor-marker", .version = "0.0.1", .description = "writes a marker file when loaded",
    .methods = methods, .method_count = 2, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn};
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
