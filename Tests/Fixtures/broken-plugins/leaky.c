/* Test fixture: a plugin whose free_buffer() does not free. The conformance checker's heap check
** must catch it. */
#include <stdlib.h>
#include <string.h>
#include "carbon_plugin.h"

static const carbon_method methods[] = {{"/carbon.test.v1.Leaky/Call", CARBON_METHOD_UNARY}};
static int marker;
static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = &marker;
  return CARBON_STATUS_OK;
}
static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)e; (void)r; (void)emit; (void)ctx;
  if (strcmp(p, methods[0].path) != 0) {
    result->status = CARBON_STATUS_UNIMPLEMENTED;
    return;
  }
  if (n > 0) { /* any non-empty request is "invalid" */
    result->status = CARBON_STATUS_INVALID_ARGUMENT;
    result->error_message = strdup("request: invalid");
    return;
  }
  result->status = CARBON_STATUS_OK;
  result->response = malloc(64);
  memset(result->response, 0, 64);
  result->response_length = 0;
}
static void free_fn(void *b) { (void)b; /* the leak */ }
static void shutdown_fn(void *i) { (void)i; }
static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "leaky", .version = "0.0.1", .description = "never frees its buffers",
    .methods = methods, .method_count = 1, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn};
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
