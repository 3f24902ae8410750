/* Test fixture: a well-behaved plugin whose one unary method works for as many milliseconds as
** the request says (ASCII digits), in 1 ms steps, and asks the host between steps whether the
** answer is still wanted (call_cancellable): cancelled, it stops and returns CANCELLED naming
** the step. call() (for hosts that predate call_cancellable) works the whole time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "carbon_plugin.h"

static const carbon_method methods[] = {{"/carbon.test.v1.Patient/Work", CARBON_METHOD_UNARY}};
static int marker;

static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = &marker;
  return CARBON_STATUS_OK;
}

static void work(const uint8_t *r, size_t n, carbon_cancelled_fn cancelled, void *cancel_context,
                 carbon_call_result *result) {
  long milliseconds = 0;
  for (size_t k = 0; k < n && k < 7; k++) milliseconds = milliseconds * 10 + (r[k] >= '0' && r[k] <= '9' ? r[k] - '0' : 0);
  struct timespec step = {0, 1000000L};
  for (long done = 0; done < milliseconds; done++) {
    if (cancelled && cancelled(cancel_context)) {
      char message[96];
      snprintf(message, sizeof message, "stopped after %ld ms of %ld: cancelled", done, milliseconds);
      result->status = CARBON_STATUS_CANCELLED;
      result->error_message = strdup(message);
      return;
    }
    nanosleep(&step, NULL);
  }
  result->status = CARBON_STATUS_OK;
  result->response = (uint8_t *)strdup("done");
  result->response_length = 4;
}

static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)p; (void)e; (void)emit; (void)ctx;
  work(r, n, NULL, NULL, result);
}

static void call_cancellable_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                                carbon_emit_fn emit, void *ctx, carbon_cancelled_fn cancelled,
                                void *cancel_context, carbon_call_result *result) {
  (void)i; (void)p; (void)e; (void)emit; (void)ctx;
  work(r, n, cancelled, cancel_context, result);
}

static void free_fn(void *b) { free(b); }
static void shutdown_fn(void *i) { (void)i; }

static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "patient", .version = "1.0.0", .description = "works as long as asked, unless cancelled",
    .methods = methods, .method_count = 1, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn, .encodings = CARBON_ENCODINGS_PROTOBUF,
    .call_cancellable = call_cancellable_fn};

CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
