/* Test fixture: a C module with a bidirectional-streaming method, written against the header
** alone, to test call_bidi() through the ABI.
**   /carbon.test.v1.Sum/Echo  answers each request with its bytes reversed, as soon as it is
**                             pulled, then one last message "n=<requests>" after the end.
**                             A request "fail" ends the call with INVALID_ARGUMENT naming
**                             requests[i]; a cancelled receive ends it with CANCELLED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "carbon_plugin.h"

static const carbon_method methods[] = {{"/carbon.test.v1.Sum/Echo", CARBON_METHOD_BIDI_STREAMING}};
static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = (void *)methods;
  return CARBON_STATUS_OK;
}
static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)p; (void)e; (void)r; (void)n; (void)emit; (void)ctx;
  result->status = CARBON_STATUS_UNIMPLEMENTED;
  result->error_message = strdup("bidi-sum serves its one method through call_bidi()");
}
static void fail(carbon_call_result *result, carbon_status status, const char *message, const char *field) {
  result->status = status;
  result->error_message = strdup(message);
  if (field) result->error_field = strdup(field);
}
static void bidi_fn(void *i, const char *p, carbon_encoding e, carbon_receive_fn receive, void *receive_context,
                    carbon_emit_fn emit, void *emit_context, carbon_call_result *result) {
  (void)i; (void)p; (void)e;
  size_t count = 0;
  for (;;) {
    const uint8_t *message = NULL;
    size_t length = 0;
    int got = receive(receive_context, &message, &length);
    if (got == CARBON_RECEIVE_CANCELLED) return fail(result, CARBON_STATUS_CANCELLED, "the host cancelled the stream", NULL);
    if (got == CARBON_RECEIVE_END) break;
    if (length == 4 && memcmp(message, "fail", 4) == 0) {
      char field[32];
      snprintf(field, sizeof field, "requests[%zu]", count);
      return fail(result, CARBON_STATUS_INVALID_ARGUMENT, "this request asked to fail", field);
    }
    uint8_t *reversed = malloc(length ? length : 1);
    for (size_t k = 0; k < length; k++) reversed[k] = message[length - 1 - k];
    int stop = emit(emit_context, reversed, length) != CARBON_EMIT_CONTINUE;
    free(reversed);
    if (stop) return fail(result, CARBON_STATUS_CANCELLED, "the host stopped the stream", NULL);
    count++;
  }
  char last[32];
  int written = snprintf(last, sizeof last, "n=%zu", count);
  if (emit(emit_context, (const uint8_t *)last, (size_t)written) != CARBON_EMIT_CONTINUE) {
    return fail(result, CARBON_STATUS_CANCELLED, "the host stopped the stream", NULL);
  }
  result->status = CARBON_STATUS_OK;
}
static void free_fn(void *b) { free(b); }
static void shutdown_fn(void *i) { (void)i; }
static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "bidi-sum", .version = "1.0.0", .description = "reverses each request of a stream",
    .methods = methods, .method_count = 1, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn, .call_bidi = bidi_fn};
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
