/* Test fixture: a well-behaved plugin whose one method sleeps for as many milliseconds as the
** request says (ASCII digits; empty = 0) and answers with its version ("sleepy 1.0.0"). Used to
** test deadlines, concurrency limits and reloads under load. Built twice by
** scripts/build-c-plugins.sh: libsleepy.so (1.0.0) and libsleepy-v2.so (2.0.0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "carbon_plugin.h"

#ifndef SLEEPY_VERSION
#define SLEEPY_VERSION "1.0.0"
#endif

static const carbon_method methods[] = {{"/carbon.test.v1.Sleepy/Sleep", CARBON_METHOD_UNARY}};
static int marker;

static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = &marker;
  return CARBON_STATUS_OK;
}

static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)e; (void)emit; (void)ctx;
  if (strcmp(p, methods[0].path) != 0) {
    result->status = CARBON_STATUS_UNIMPLEMENTED;
    result->error_message = strdup("unknown method");
    return;
  }
  long milliseconds = 0;
  for (size_t k = 0; k < n; k++) {
    if (r[k] < '0' || r[k] > '9' || milliseconds > 600000) {
      result->status = CARBON_STATUS_INVALID_ARGUMENT;
      result->error_message = strdup("request: milliseconds as ASCII digits, at most 600000");
      result->error_field = strdup("request");
      return;
    }
    milliseconds = milliseconds * 10 + (r[k] - '0');
  }
  struct timespec pause = {milliseconds / 1000, (milliseconds % 1000) * 1000000L};
  nanosleep(&pause, NULL);
  const char *answer = "sleepy " SLEEPY_VERSION;
  result->status = CARBON_STATUS_OK;
  result->response = (uint8_t *)strdup(answer);
  result->response_length = strlen(answer);
}

static void free_fn(void *b) { free(b); }
static void shutdown_fn(void *i) { (void)i; }

static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "sleepy", .version = SLEEPY_VERSION, .description = "sleeps as asked, for deadline and reload tests",
    .methods = methods, .method_count = 1, .initialize = init_fn, .call = call_fn,
    .free_buffer = free_fn, .shutdown = shutdown_fn};

CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
