/* Test fixture: a well-behaved plugin whose one unary method works for as many milliseconds as
** the request says (ASCII digits), in 1 ms steps, and asks the host between steps whether the
** answer is still wanted (call_cancellable): cancelled, it stops and returns CANCELLED naming
** the step. call() (for hosts that predate call_cancellable) works the whole time.
** It also declares a descriptor set (below), so that the HTTP gateway can call it with JSON: a
** request in protobuf (a WorkRequest, first byte 0x08) is answered with a WorkResponse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "carbon_plugin.h"

static const carbon_method methods[] = {{"/carbon.test.v1.Patient/Work", CARBON_METHOD_UNARY}};
static int marker;

/* FileDescriptorSet of carbon/test/v1/patient.proto (made with Python's descriptor_pb2):
**   syntax = "proto3"; package carbon.test.v1;
**   message WorkRequest { int64 milliseconds = 1; }
**   message WorkResponse { string answer = 1; }
**   service Patient { rpc Work(WorkRequest) returns (WorkResponse); } */
static const uint8_t descriptor_set[] = {
    0x0a, 0xdf, 0x01, 0x0a, 0x1c, 0x63, 0x61, 0x72, 0x62, 0x6f, 0x6e, 0x2f, 0x74, 0x65, 0x73, 0x74,
    0x2f, 0x76, 0x31, 0x2f, 0x70, 0x61, 0x74, 0x69, 0x65, 0x6e, 0x74, 0x2e, 0x70, 0x72, 0x6f, 0x74,
    0x6f, 0x12, 0x0e, 0x63, 0x61, 0x72, 0x62, 0x6f, 0x6e, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x2e, 0x76,
    0x31, 0x22, 0x31, 0x0a, 0x0b, 0x57, 0x6f, 0x72, 0x6b, 0x52, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74,
    0x12, 0x22, 0x0a, 0x0c, 0x6d, 0x69, 0x6c, 0x6c, 0x69, 0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64, 0x73,
    0x18, 0x01, 0x20, 0x01, 0x28, 0x03, 0x52, 0x0c, 0x6d, 0x69, 0x6c, 0x6c, 0x69, 0x73, 0x65, 0x63,
    0x6f, 0x6e, 0x64, 0x73, 0x22, 0x26, 0x0a, 0x0c, 0x57, 0x6f, 0x72, 0x6b, 0x52, 0x65, 0x73, 0x70,
    0x6f, 0x6e, 0x73, 0x65, 0x12, 0x16, 0x0a, 0x06, 0x61, 0x6e, 0x73, 0x77, 0x65, 0x72, 0x18, 0x01,
    0x20, 0x01, 0x28, 0x09, 0x52, 0x06, 0x61, 0x6e, 0x73, 0x77, 0x65, 0x72, 0x32, 0x4c, 0x0a, 0x07,
    0x50, 0x61, 0x74, 0x69, 0x65, 0x6e, 0x74, 0x12, 0x41, 0x0a, 0x04, 0x57, 0x6f, 0x72, 0x6b, 0x12,
    0x1b, 0x2e, 0x63, 0x61, 0x72, 0x62, 0x6f, 0x6e, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x2e, 0x76, 0x31,
    0x2e, 0x57, 0x6f, 0x72, 0x6b, 0x52, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74, 0x1a, 0x1c, 0x2e, 0x63,
    0x61, 0x72, 0x62, 0x6f, 0x6e, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x2e, 0x76, 0x31, 0x2e, 0x57, 0x6f,
    0x72, 0x6b, 0x52, 0x65, 0x73, 0x70, 0x6f, 0x6e, 0x73, 0x65, 0x62, 0x06, 0x70, 0x72, 0x6f, 0x74,
    0x6f, 0x33,
};

static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = &marker;
  return CARBON_STATUS_OK;
}

static void work(const uint8_t *r, size_t n, carbon_cancelled_fn cancelled, void *cancel_context,
                 carbon_call_result *result) {
  long milliseconds = 0;
  int protobuf = n > 0 && r[0] == 0x08;
  if (protobuf) {
    /* WorkRequest.milliseconds: a varint after the tag (at most 7 digits' worth is used). */
    for (size_t k = 1, shift = 0; k < n && shift < 28; k++, shift += 7) {
      milliseconds |= (long)(r[k] & 0x7f) << shift;
      if (!(r[k] & 0x80)) break;
    }
  } else {
    for (size_t k = 0; k < n && k < 7; k++) milliseconds = milliseconds * 10 + (r[k] >= '0' && r[k] <= '9' ? r[k] - '0' : 0);
  }
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
  if (protobuf) {
    /* WorkResponse { answer: "done" } */
    result->response = (uint8_t *)strdup("\x0a\x04" "done");
    result->response_length = 6;
  } else {
    result->response = (uint8_t *)strdup("done");
    result->response_length = 4;
  }
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
    .call_cancellable = call_cancellable_fn, .descriptor_set = descriptor_set,
    .descriptor_set_length = sizeof descriptor_set};

CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
