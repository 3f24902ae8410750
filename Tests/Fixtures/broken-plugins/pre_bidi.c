/* Test fixture: a module as built against the header before call_bidi was appended: its
** struct_size ends at shutdown. With a unary method it loads and serves (the appended field
** is never read); compiled with -DDECLARES_BIDI it declares a bidirectional method it cannot
** serve, and the host must refuse it naming call_bidi. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "carbon_plugin.h"

#ifdef DECLARES_BIDI
static const carbon_method methods[] = {{"/carbon.test.v1.Old/Stream", CARBON_METHOD_BIDI_STREAMING}};
#define MODULE_NAME "bidi-without-entry"
#else
static const carbon_method methods[] = {{"/carbon.test.v1.Old/Ping", CARBON_METHOD_UNARY}};
#define MODULE_NAME "pre-bidi"
#endif
static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = (void *)methods;
  return CARBON_STATUS_OK;
}
static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)p; (void)e; (void)emit; (void)ctx;
  result->status = CARBON_STATUS_OK;
  /* Echoes the request. */
  if (n > 0) {
    result->response = (uint8_t *)strndup((const char *)r, n);
    result->response_length = n;
  }
}
static void free_fn(void *b) { free(b); }
static void shutdown_fn(void *i) { (void)i; }
static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = offsetof(carbon_plugin_descriptor, call_bidi),
    .name = MODULE_NAME, .version = "0.9.0", .description = "built before call_bidi existed",
    .methods = methods, .method_count = 1, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn,
    /* Garbage where an older module has whatever follows its struct: the host must not read it. */
    .call_bidi = (carbon_call_bidi_fn)1};
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
