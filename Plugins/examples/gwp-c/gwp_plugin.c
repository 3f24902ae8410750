/*
** Example carbonhub module written in C against carbon_plugin.h, with protobuf-c.
**
** Service carbon.examples.v1.Gwp, method ToCo2e: CO2-equivalent of gas masses under a GWP set
** (protocols/carbon/examples/v1/gwp.proto). It reads and writes protobuf only, through
** protobuf-c, and says so in its descriptor (`.encodings = CARBON_ENCODINGS_PROTOBUF`): the host
** converts JSON callers' requests and this module's responses with the descriptor set, so that
** `carbonhub call gwp.ToCo2e` and Host/Invoke work as for any Swift module.
**
** Build: scripts/build-c-plugins.sh (gcc -fPIC -shared -fvisibility=hidden; exports only
** carbon_plugin_entry).
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carbon_plugin.h"
#include "carbon/examples/v1/gwp.pb-c.h"
#include "gwp_descriptor_set.h"

#define TO_CO2E_PATH "/carbon.examples.v1.Gwp/ToCo2e"

/* 100-year GWPs, kg CO2e per kg of gas, indexed by the Gas enum value (CO2, CH4, N2O, F-gases
** already in CO2e). Same values and sources as Sources/CarbonDomain/Data/gwp-sets.csv:
** IPCC AR5 WG1 (2013) Table 8.7; IPCC AR4 WG1 (2007) Table 2.14. */
static const double GWP_AR5[5] = {0, 1, 28, 265, 1};
static const double GWP_AR4[5] = {0, 1, 25, 298, 1};

static const carbon_method METHODS[] = {{TO_CO2E_PATH, CARBON_METHOD_UNARY}};

/* The module is stateless: every instance is this marker. */
static int instance_marker;

/* ---------------------------------------------------------------- errors */

static char *format(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  char *text = NULL;
  if (vasprintf(&text, fmt, args) < 0) text = NULL;
  va_end(args);
  return text;
}

static void fail(carbon_call_result *result, carbon_status status, const char *field,
                 const char *message) {
  result->status = status;
  result->error_message = field ? format("%s: %s", field, message) : strdup(message);
  result->error_field = field ? strdup(field) : NULL;
}

/* ---------------------------------------------------------------- the calculation */

typedef struct {
  int gas;
  double mass_kg;
} gas_mass;

/* Validates the request and computes the response into `out` (lines allocated here). */
static int compute(const gas_mass *masses, size_t count, int gwp_set,
                   Carbon__Examples__V1__ToCo2eResponse *out, Carbon__Examples__V1__GasCo2e *lines,
                   Carbon__Examples__V1__GasCo2e **line_pointers, carbon_call_result *result) {
  char field[64];
  if (count == 0) {
    fail(result, CARBON_STATUS_INVALID_ARGUMENT, "masses", "must contain at least one gas mass");
    return 0;
  }
  if (gwp_set == 0) gwp_set = CARBON__DOMAIN__V1__GWP_SET__GWP_SET_AR5;
  if (gwp_set != CARBON__DOMAIN__V1__GWP_SET__GWP_SET_AR5 &&
      gwp_set != CARBON__DOMAIN__V1__GWP_SET__GWP_SET_AR4) {
    fail(result, CARBON_STATUS_INVALID_ARGUMENT, "gwp_set", "unknown GWP set");
    return 0;
  }
  const double *table = gwp_set == CARBON__DOMAIN__V1__GWP_SET__GWP_SET_AR4 ? GWP_AR4 : GWP_AR5;
  double total = 0;
  for (size_t i = 0; i < count; i++) {
    if (masses[i].gas <= 0 || masses[i].gas > 4) {
      snprintf(field, sizeof field, "masses[%zu].gas", i);
      fail(result, CARBON_STATUS_INVALID_ARGUMENT, field, "is required and must be a known gas");
      return 0;
    }
    if (!isfinite(masses[i].mass_kg) || masses[i].mass_kg < 0) {
      snprintf(field, sizeof field, "masses[%zu].mass_kg", i);
      fail(result, CARBON_STATUS_INVALID_ARGUMENT, field, "must be a finite number >= 0");
      return 0;
    }
    carbon__examples__v1__gas_co2e__init(&lines[i]);
    lines[i].gas = masses[i].gas;
    lines[i].mass_kg = masses[i].mass_kg;
    lines[i].gwp = table[masses[i].gas];
    lines[i].co2e_kg = masses[i].mass_kg * table[masses[i].gas];
    line_pointers[i] = &lines[i];
    total += lines[i].co2e_kg;
    /* A mass near DBL_MAX times a GWP overflows: an answer never carries an infinity. */
    if (!isfinite(lines[i].co2e_kg) || !isfinite(total)) {
      snprintf(field, sizeof field, "masses[%zu].mass_kg", i);
      fail(result, CARBON_STATUS_OUT_OF_RANGE, field, "is too large: its CO2e (or the total) is not a finite number");
      return 0;
    }
  }
  carbon__examples__v1__to_co2e_response__init(out);
  out->n_lines = count;
  out->lines = line_pointers;
  out->total_co2e_kg = total;
  out->gwp_set = gwp_set;
  return 1;
}

/* ---------------------------------------------------------------- the ABI functions */

static carbon_status gwp_initialize(void *module_data, const char *config_json,
                                    size_t config_length, const char *data_dir,
                                    void **instance_out, char **error_message_out) {
  (void)module_data;
  (void)data_dir;
  (void)error_message_out;
  /* This module takes no configuration: accept "{}" (or nothing), refuse anything else. */
  size_t kept = 0;
  char braces[3] = {0};
  for (size_t i = 0; i < config_length; i++) {
    if (config_json[i] == ' ' || config_json[i] == '\n' || config_json[i] == '\t' || config_json[i] == '\r') continue;
    if (kept == 2) { kept = 3; break; }
    braces[kept++] = config_json[i];
  }
  if (config_length > 0 && !(kept == 2 && braces[0] == '{' && braces[1] == '}')) {
    *error_message_out = strdup("config: the gwp module takes no configuration");
    return CARBON_STATUS_INVALID_ARGUMENT;
  }
  *instance_out = &instance_marker;
  return CARBON_STATUS_OK;
}

static void gwp_call(void *instance, const char *method_path, carbon_encoding encoding,
                     const uint8_t *request, size_t request_length, carbon_emit_fn emit,
                     void *emit_context, carbon_call_result *result) {
  (void)emit;
  (void)emit_context;
  if (instance != &instance_marker) {
    fail(result, CARBON_STATUS_INTERNAL, NULL, "call() on an unknown instance");
    return;
  }
  if (!method_path || strcmp(method_path, TO_CO2E_PATH) != 0) {
    result->status = CARBON_STATUS_UNIMPLEMENTED;
    result->error_message = format("module gwp has no method %s", method_path ? method_path : "(null)");
    return;
  }

  /* Always protobuf: the descriptor's `encodings` says the module reads no JSON. */
  (void)encoding;
  Carbon__Examples__V1__ToCo2eRequest *decoded =
      carbon__examples__v1__to_co2e_request__unpack(NULL, request_length, request);
  if (!decoded) {
    fail(result, CARBON_STATUS_INVALID_ARGUMENT, NULL,
         "request is not a valid protobuf carbon.examples.v1.ToCo2eRequest");
    return;
  }
  long count = (long)decoded->n_masses;
  gas_mass *masses = malloc(sizeof(gas_mass) * (decoded->n_masses ? decoded->n_masses : 1));
  if (!masses) {
    carbon__examples__v1__to_co2e_request__free_unpacked(decoded, NULL);
    fail(result, CARBON_STATUS_RESOURCE_EXHAUSTED, NULL, "out of memory");
    return;
  }
  for (size_t i = 0; i < decoded->n_masses; i++) {
    masses[i].gas = decoded->masses[i] ? (int)decoded->masses[i]->gas : 0;
    masses[i].mass_kg = decoded->masses[i] ? decoded->masses[i]->mass_kg : 0;
  }
  int gwp_set = (int)decoded->gwp_set;
  carbon__examples__v1__to_co2e_request__free_unpacked(decoded, NULL);

  size_t n = (size_t)count;
  Carbon__Examples__V1__GasCo2e *lines = malloc(sizeof *lines * (n ? n : 1));
  Carbon__Examples__V1__GasCo2e **pointers = malloc(sizeof *pointers * (n ? n : 1));
  Carbon__Examples__V1__ToCo2eResponse response;
  if (!lines || !pointers) {
    fail(result, CARBON_STATUS_RESOURCE_EXHAUSTED, NULL, "out of memory");
  } else if (compute(masses, n, gwp_set, &response, lines, pointers, result)) {
    size_t length = carbon__examples__v1__to_co2e_response__get_packed_size(&response);
    uint8_t *bytes = malloc(length ? length : 1);
    if (bytes) {
      carbon__examples__v1__to_co2e_response__pack(&response, bytes);
      result->response = bytes;
      result->response_length = length;
      result->status = CARBON_STATUS_OK;
    } else {
      fail(result, CARBON_STATUS_RESOURCE_EXHAUSTED, NULL, "out of memory");
    }
  }
  free(lines);
  free(pointers);
  free(masses);
}

static void gwp_free_buffer(void *buffer) { free(buffer); }

static void gwp_shutdown(void *instance) { (void)instance; }

static const carbon_plugin_descriptor DESCRIPTOR = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "gwp",
    .version = "1.0.0",
    .description = "CO2-equivalent of gas masses under a GWP set (example C module)",
    .methods = METHODS,
    .method_count = sizeof METHODS / sizeof METHODS[0],
    .descriptor_set = gwp_descriptor_set,
    .descriptor_set_length = sizeof gwp_descriptor_set,
    .module_data = NULL,
    .initialize = gwp_initialize,
    .call = gwp_call,
    .free_buffer = gwp_free_buffer,
    .shutdown = gwp_shutdown,
    .call_bidi = NULL,
    .encodings = CARBON_ENCODINGS_PROTOBUF,
};

CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) { return &DESCRIPTOR; }
