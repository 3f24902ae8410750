/*
** libFuzzer harness for one C-ABI entry: carbon_plugin_entry() of the plugin linked with it
** (built from source with -fsanitize=fuzzer,address,undefined, see scripts/libfuzzer.sh).
**
** Input layout: byte 0 picks the method (byte % method_count) and the encoding (bit 7: JSON,
** else protobuf); the rest is the request. A bidirectional method gets the rest cut into
** 1 to 4 requests (bits 4-5 of byte 0 say how many) through call_bidi(). Every call must return OK or a documented error
** status (the set ConformanceChecker.acceptableForFuzzedRequest allows); anything else, a
** leaked or invalid buffer, or a memory error aborts and libFuzzer keeps the input.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carbon_plugin.h"

const carbon_plugin_descriptor *carbon_plugin_entry(void);

static const carbon_plugin_descriptor *descriptor;
static void *instance;

static int emit_discard(void *context, const uint8_t *message, size_t length) {
  (void)context;
  /* Touch every byte, so that ASan sees a response buffer that is too short. */
  volatile uint8_t sum = 0;
  for (size_t i = 0; i < length; i++) sum ^= message[i];
  return 0;
}

static int acceptable(carbon_status status) {
  switch (status) {
    case CARBON_STATUS_OK: case CARBON_STATUS_INVALID_ARGUMENT: case CARBON_STATUS_NOT_FOUND:
    case CARBON_STATUS_RESOURCE_EXHAUSTED: case CARBON_STATUS_FAILED_PRECONDITION:
    case CARBON_STATUS_OUT_OF_RANGE: case CARBON_STATUS_UNIMPLEMENTED:
      return 1;
    default:
      return 0;
  }
}

/* The requests of a bidirectional call: the input cut into `count` nearly equal pieces. */
typedef struct {
  const uint8_t *data;
  size_t size, count, taken;
} pieces;

static int receive_piece(void *context, const uint8_t **message, size_t *length) {
  pieces *p = context;
  if (p->taken == p->count) {
    *message = NULL;
    *length = 0;
    return 0;
  }
  size_t start = p->size * p->taken / p->count, end = p->size * (p->taken + 1) / p->count;
  p->taken++;
  *message = p->data + start;
  *length = end - start;
  return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc; (void)argv;
  descriptor = carbon_plugin_entry();
  char *error = NULL;
  if (descriptor == NULL || descriptor->method_count == 0 ||
      descriptor->initialize(descriptor->module_data, "{}", 2, "/tmp", &instance, &error) != CARBON_STATUS_OK) {
    fprintf(stderr, "abi_fuzz: the plugin did not initialise: %s\n", error ? error : "no message");
    abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const carbon_method *method = &descriptor->methods[data[0] % descriptor->method_count];
  carbon_encoding encoding = (data[0] & 0x80) ? CARBON_ENCODING_JSON : CARBON_ENCODING_PROTOBUF;
  carbon_call_result result;
  memset(&result, 0, sizeof result);
  if (method->kind == CARBON_METHOD_BIDI_STREAMING) {
    pieces requests = {data + 1, size - 1, 1 + ((data[0] >> 4) & 3), 0};
    descriptor->call_bidi(instance, method->path, encoding, receive_piece, &requests, emit_discard, NULL, &result);
  } else {
    int streaming = method->kind == CARBON_METHOD_SERVER_STREAMING;
    descriptor->call(instance, method->path, encoding, data + 1, size - 1, streaming ? emit_discard : NULL, NULL, &result);
  }
  if (!acceptable(result.status)) {
    fprintf(stderr, "abi_fuzz: %s answered status %d: %s\n", method->path, (int)result.status,
            result.error_message ? result.error_message : "(no message)");
    abort();
  }
  if (result.status == CARBON_STATUS_OK && result.error_message != NULL) abort();
  if (result.status != CARBON_STATUS_OK && result.error_message == NULL) {
    fprintf(stderr, "abi_fuzz: %s: an error status without a message\n", method->path);
    abort();
  }
  if (result.response != NULL) {
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < result.response_length; i++) sum ^= result.response[i];
  }
  descriptor->free_buffer(result.response);
  descriptor->free_buffer(result.error_message);
  descriptor->free_buffer(result.error_field);
  return 0;
}
