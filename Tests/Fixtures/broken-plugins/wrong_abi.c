/* Test fixture: a plugin built for a future ABI version. The host must refuse it with a message
** naming both versions. */
#include <stddef.h>
#include "carbon_plugin.h"

static const carbon_method methods[] = {{"/carbon.test.v1.Broken/Call", CARBON_METHOD_UNARY}};
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
    .abi_version = CARBON_PLUGIN_ABI_VERSION + 41, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "wrong-abi", .version = "0.0.1", .description = "built for another ABI",
    .methods = methods, .method_count = 1, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn};
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
