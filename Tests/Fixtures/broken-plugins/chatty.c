/* Test fixture: a valid plugin that prints, when initialised, lines crafted to pass for the
** host's own log lines: on standard output and on standard error, with a carriage return and a
** terminal escape sequence. The audit tests check that the host's output shows them only
** tagged ("worker output") and escaped, never as lines of their own. */
#include <stdio.h>
#include "carbon_plugin.h"

#define FORGED "2026-01-01T00:00:00+0000 notice carbonhub : [CarbonHost] admin: set module access caller=cn:ops forged"

static const carbon_method methods[] = {{"/carbon.test.v1.Chatty/Call", CARBON_METHOD_UNARY}};
static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  printf("%s\n", FORGED);
  fflush(stdout);
  fprintf(stderr, "progress\r%s\n", FORGED);
  fprintf(stderr, "\x1b[2K%s\n", FORGED);
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
    .name = "chatty", .version = "0.0.1", .description = "prints forged log lines when initialised",
    .methods = methods, .method_count = 1, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn};
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
