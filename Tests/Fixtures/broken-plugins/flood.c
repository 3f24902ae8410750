/* Test fixture: a well-behaved plugin that answers as much as it is asked, for the overload
** tests (issue 25). Requests are ASCII "COUNT,BYTES":
**   /carbon.test.v1.Flood/Stream  (server-streaming) emits COUNT messages of BYTES bytes each;
**   /carbon.test.v1.Flood/Answer  (unary) answers one message of BYTES bytes (COUNT ignored).
** Each message is filled with 'x'. An emit that returns non-zero stops the stream (CANCELLED). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "carbon_plugin.h"

static const carbon_method methods[] = {
    {"/carbon.test.v1.Flood/Stream", CARBON_METHOD_SERVER_STREAMING},
    {"/carbon.test.v1.Flood/Answer", CARBON_METHOD_UNARY},
};
static int marker;

static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = &marker;
  return CARBON_STATUS_OK;
}

/* "COUNT,BYTES" → 1, or 0 when malformed or out of range. */
static int parse(const uint8_t *r, size_t n, long *count, long *bytes) {
  char text[64];
  if (n == 0 || n >= sizeof text) return 0;
  memcpy(text, r, n);
  text[n] = 0;
  char *end = NULL;
  *count = strtol(text, &end, 10);
  if (end == NULL || *end != ',') return 0;
  *bytes = strtol(end + 1, &end, 10);
  return *end == 0 && *count >= 0 && *count <= 100000000L && *bytes >= 0 && *bytes <= (64L << 20);
}

static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)e;
  long count = 0, bytes = 0;
  if (!parse(r, n, &count, &bytes)) {
    result->status = CARBON_STATUS_INVALID_ARGUMENT;
    result->error_message = strdup("request: \"COUNT,BYTES\" in ASCII, BYTES at most 64 MiB");
    result->error_field = strdup("request");
    return;
  }
  uint8_t *message = malloc(bytes > 0 ? (size_t)bytes : 1);
  if (message == NULL) {
    result->status = CARBON_STATUS_RESOURCE_EXHAUSTED;
    result->error_message = strdup("out of memory");
    return;
  }
  memset(message, 'x', (size_t)bytes);
  if (strcmp(p, methods[1].path) == 0) {
    result->status = CARBON_STATUS_OK;
    result->response = message;
    result->response_length = (size_t)bytes;
    return;
  }
  if (strcmp(p, methods[0].path) != 0) {
    free(message);
    result->status = CARBON_STATUS_UNIMPLEMENTED;
    result->error_message = strdup("unknown method");
    return;
  }
  carbon_status status = CARBON_STATUS_OK;
  for (long k = 0; k < count; k++) {
    if (emit(ctx, message, (size_t)bytes) != CARBON_EMIT_CONTINUE) {
      status = CARBON_STATUS_CANCELLED;
      break;
    }
  }
  free(message);
  result->status = status;
}

static void free_fn(void *b) { free(b); }
static void shutdown_fn(void *i) { (void)i; }

static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "flood", .version = "1.0.0", .description = "answers as much as asked, for overload tests",
    .methods = methods, .method_count = 2, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn};

CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
