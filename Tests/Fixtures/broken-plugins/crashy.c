/* Test fixture for isolated mode: a plugin that misbehaves on demand. Each method is a way a
** native plugin can take its process down: a segfault, an abort, a call that never returns, an
** allocation loop that runs into the worker's memory limit, a crash in the middle of a stream.
** Echo and Count behave, so that a restarted worker can be shown to serve again. Requests and
** responses are raw bytes (the fixture has no messages): Echo returns its request, Count emits
** request[0] one-byte messages (3 when the request is empty). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "carbon_plugin.h"

#define SERVICE "/carbon.test.v1.Crashy/"
static const carbon_method methods[] = {
    {SERVICE "Echo", CARBON_METHOD_UNARY},
    {SERVICE "Count", CARBON_METHOD_SERVER_STREAMING},
    {SERVICE "Segfault", CARBON_METHOD_UNARY},
    {SERVICE "Abort", CARBON_METHOD_UNARY},
    {SERVICE "Spin", CARBON_METHOD_UNARY},
    {SERVICE "Hog", CARBON_METHOD_UNARY},
    {SERVICE "CountThenSegfault", CARBON_METHOD_SERVER_STREAMING},
};
static int marker;

static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = &marker;
  return CARBON_STATUS_OK;
}

/* The store itself must be volatile: with only the pointer volatile, gcc -O2 treats the null
** dereference as undefined behaviour and drops it, and the "crash" silently never happens. */
static void segfault(void) {
  volatile int *volatile nowhere = NULL;
  *nowhere = 1;
}

/* Allocates and touches 16 MiB blocks until malloc fails (the worker's RLIMIT_AS), then aborts
** as a Swift plugin would on allocation failure. Stops at 4 GiB so that a run without a limit
** does not take the machine down. */
static carbon_status hog(void) {
  const size_t block = 16u << 20;
  for (size_t total = 0; total < (4ull << 30); total += block) {
    char *p = malloc(block);
    if (p == NULL) {
      fprintf(stderr, "crashy: malloc failed after %zu MiB: out of memory\n", total >> 20);
      abort();
    }
    memset(p, 1, block);
  }
  return CARBON_STATUS_RESOURCE_EXHAUSTED;
}

static int emit_count(carbon_emit_fn emit, void *ctx, int n) {
  for (int i = 0; i < n; i++) {
    uint8_t byte = (uint8_t)i;
    if (emit(ctx, &byte, 1) != CARBON_EMIT_CONTINUE) return 0;
  }
  return 1;
}

static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)e;
  if (strcmp(p, SERVICE "Echo") == 0) {
    result->status = CARBON_STATUS_OK;
    result->response = malloc(n > 0 ? n : 1);
    if (n > 0) memcpy(result->response, r, n);
    result->response_length = n;
  } else if (strcmp(p, SERVICE "Count") == 0) {
    result->status = emit_count(emit, ctx, n > 0 ? r[0] : 3) ? CARBON_STATUS_OK : CARBON_STATUS_CANCELLED;
  } else if (strcmp(p, SERVICE "Segfault") == 0) {
    segfault();
  } else if (strcmp(p, SERVICE "Abort") == 0) {
    abort();
  } else if (strcmp(p, SERVICE "Spin") == 0) {
    for (volatile unsigned long spins = 0;; spins++) {}
  } else if (strcmp(p, SERVICE "Hog") == 0) {
    result->status = hog();
  } else if (strcmp(p, SERVICE "CountThenSegfault") == 0) {
    emit_count(emit, ctx, 2);
    segfault();
  } else {
    result->status = CARBON_STATUS_UNIMPLEMENTED;
    result->error_message = strdup("unknown method");
  }
}
static void free_fn(void *b) { free(b); }
static void shutdown_fn(void *i) { (void)i; }
static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "crashy", .version = "0.0.1", .description = "crashes on demand (isolated-mode tests)",
    .methods = methods, .method_count = sizeof(methods) / sizeof(methods[0]), .initialize = init_fn,
    .call = call_fn, .free_buffer = free_fn, .shutdown = shutdown_fn};
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
