/* Test fixture: a well-formed plugin whose initialize() refuses its configuration. The host must
** mark it failed with this message and keep serving the other modules. */
#include <stdlib.h>
#include <string.h>
#include "carbon_plugin.h"

static const carbon_method methods[] = {{"/carbon.test.v1.FailingInit/Call", CARBON_METHOD_UNARY}};
static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)out;
  *err = strdup("config.database_url: cannot reach the database (test fixture)");
  return CARBON_STATUS_FAILED_PRECONDITION;
}
static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)p; (void)e; (void)r; (void)n; (void)emit; (void)ctx;
  result->status = CARBON_STATUS_INTERNAL;
}
static void free_fn(void *b) { free(b); }
static void shutdown_fn(void *i) { (void)i; }
static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "failing-init", .version = "0.0.1", .description = "init always fails",
    .methods = methods, .method_count = 1, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn};
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
