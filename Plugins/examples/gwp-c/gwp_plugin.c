/*
** Example carbonhub module written in C against carbon_plugin.h, with protobuf-c.
**
** Service carbon.examples.v1.Gwp, method ToCo2e: CO2-equivalent of gas masses under a GWP set
** (protocols/carbon/examples/v1/gwp.proto). It accepts both encodings of the ABI: protobuf
** through protobuf-c, and proto3 JSON through the small reader below (protobuf-c has no JSON),
** so that `carbonhub call gwp.ToCo2e` works like for any Swift module.
**
** Build: Plugins/examples/gwp-c/build.sh (gcc -fPIC -shared -fvisibility=hidden; exports only
** carbon_plugin_entry).
*/
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carbon_plugin.h"
#include "carbon/examples/v1/gwp.pb-c.h"
#include "gwp_descriptor_set.h"

#define EXPORT __attribute__((visibility("default")))
#define TO_CO2E_PATH "/carbon.examples.v1.Gwp/ToCo2e"
#define MAX_MASSES 100000

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

/* ---------------------------------------------------------------- a minimal JSON reader */
/* Reads exactly the shape of ToCo2eRequest: {"masses":[{"gas":..,"mass_kg":..}],"gwp_set":..}
** (proto3 JSON: lowerCamelCase names accepted too, enums by name or number, unknown fields
** rejected). Not a general JSON parser. */

typedef struct {
  const char *at;
  const char *end;
  const char *error;
} reader;

static void skip_space(reader *r) {
  while (r->at < r->end && isspace((unsigned char)*r->at)) r->at++;
}

static int expect_char(reader *r, char c) {
  skip_space(r);
  if (r->at < r->end && *r->at == c) {
    r->at++;
    return 1;
  }
  if (!r->error) r->error = "malformed JSON";
  return 0;
}

static int peek_char(reader *r, char c) {
  skip_space(r);
  return r->at < r->end && *r->at == c;
}

/* Reads a string without escapes into buf. */
static int read_string(reader *r, char *buf, size_t size) {
  if (!expect_char(r, '"')) return 0;
  size_t n = 0;
  while (r->at < r->end && *r->at != '"') {
    if (*r->at == '\\' || n + 1 >= size) {
      r->error = "unsupported or too long string";
      return 0;
    }
    buf[n++] = *r->at++;
  }
  buf[n] = 0;
  return expect_char(r, '"');
}

static int read_number(reader *r, double *value) {
  skip_space(r);
  char buf[64];
  size_t n = 0;
  int quoted = peek_char(r, '"');
  if (quoted) r->at++;
  while (r->at < r->end && n + 1 < sizeof buf && strchr("+-0123456789.eE", *r->at)) buf[n++] = *r->at++;
  buf[n] = 0;
  if (quoted && !expect_char(r, '"')) return 0;
  char *stop = NULL;
  *value = strtod(buf, &stop);
  if (n == 0 || stop != buf + n) {
    r->error = "expected a number";
    return 0;
  }
  return 1;
}

/* An enum as its name (looked up in the protobuf-c descriptor) or its number. */
static int read_enum(reader *r, const ProtobufCEnumDescriptor *descriptor, int *value) {
  if (peek_char(r, '"')) {
    char name[64];
    if (!read_string(r, name, sizeof name)) return 0;
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(descriptor, name);
    if (!v) {
      r->error = "unknown enum value";
      return 0;
    }
    *value = v->value;
    return 1;
  }
  double number;
  if (!read_number(r, &number)) return 0;
  if (number != floor(number) || number < -2147483648.0 || number > 2147483647.0) {
    r->error = "enum number out of range";
    return 0;
  }
  *value = (int)number;
  return 1;
}

static int read_gas_mass(reader *r, gas_mass *out) {
  out->gas = 0;
  out->mass_kg = 0;
  if (!expect_char(r, '{')) return 0;
  if (peek_char(r, '}')) return expect_char(r, '}');
  do {
    char key[32];
    if (!read_string(r, key, sizeof key) || !expect_char(r, ':')) return 0;
    if (strcmp(key, "gas") == 0) {
      if (!read_enum(r, &carbon__domain__v1__gas__descriptor, &out->gas)) return 0;
    } else if (strcmp(key, "mass_kg") == 0 || strcmp(key, "massKg") == 0) {
      if (!read_number(r, &out->mass_kg)) return 0;
    } else {
      r->error = "unknown field in a gas mass";
      return 0;
    }
  } while (peek_char(r, ',') && expect_char(r, ','));
  return expect_char(r, '}');
}

/* Parses the request; returns the number of masses or -1 (r->error set). */
static long read_request(reader *r, gas_mass *masses, size_t capacity, int *gwp_set) {
  long count = 0;
  *gwp_set = 0;
  if (!expect_char(r, '{')) return -1;
  if (peek_char(r, '}')) return expect_char(r, '}') ? 0 : -1;
  do {
    char key[32];
    if (!read_string(r, key, sizeof key) || !expect_char(r, ':')) return -1;
    if (strcmp(key, "masses") == 0) {
      if (!expect_char(r, '[')) return -1;
      if (!peek_char(r, ']')) {
        do {
          if ((size_t)count >= capacity) {
            r->error = "too many masses";
            return -1;
          }
          if (!read_gas_mass(r, &masses[count++])) return -1;
        } while (peek_char(r, ',') && expect_char(r, ','));
      }
      if (!expect_char(r, ']')) return -1;
    } else if (strcmp(key, "gwp_set") == 0 || strcmp(key, "gwpSet") == 0) {
      if (!read_enum(r, &carbon__domain__v1__gwp_set__descriptor, gwp_set)) return -1;
    } else {
      r->error = "unknown field";
      return -1;
    }
  } while (peek_char(r, ',') && expect_char(r, ','));
  if (!expect_char(r, '}')) return -1;
  skip_space(r);
  if (r->at != r->end) {
    r->error = "trailing characters after the JSON object";
    return -1;
  }
  return count;
}

static char *write_json(const Carbon__Examples__V1__ToCo2eResponse *response, size_t *length) {
  size_t capacity = 128 + response->n_lines * 160;
  char *json = malloc(capacity);
  if (!json) return NULL;
  size_t n = (size_t)snprintf(json, capacity, "{\"lines\":[");
  for (size_t i = 0; i < response->n_lines; i++) {
    const Carbon__Examples__V1__GasCo2e *line = response->lines[i];
    const ProtobufCEnumValue *gas =
        protobuf_c_enum_descriptor_get_value(&carbon__domain__v1__gas__descriptor, line->gas);
    n += (size_t)snprintf(json + n, capacity - n,
                          "%s{\"gas\":\"%s\",\"mass_kg\":%.17g,\"gwp\":%.17g,\"co2e_kg\":%.17g}",
                          i ? "," : "", gas ? gas->name : "GAS_UNSPECIFIED", line->mass_kg,
                          line->gwp, line->co2e_kg);
  }
  const ProtobufCEnumValue *set = protobuf_c_enum_descriptor_get_value(
      &carbon__domain__v1__gwp_set__descriptor, response->gwp_set);
  n += (size_t)snprintf(json + n, capacity - n, "],\"total_co2e_kg\":%.17g,\"gwp_set\":\"%s\"}",
                        response->total_co2e_kg, set ? set->name : "GWP_SET_UNSPECIFIED");
  *length = n;
  return json;
}

/* ---------------------------------------------------------------- the ABI functions */

static carbon_status gwp_initialize(void *module_data, const char *config_json,
                                    size_t config_length, const char *data_dir,
                                    void **instance_out, char **error_message_out) {
  (void)module_data;
  (void)data_dir;
  (void)error_message_out;
  /* This module takes no configuration: accept "{}" (or nothing), refuse anything else. */
  reader r = {config_json, config_json + config_length, NULL};
  if (config_length > 0 && !(expect_char(&r, '{') && expect_char(&r, '}'))) {
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

  gas_mass *masses = NULL;
  long count = 0;
  int gwp_set = 0;
  Carbon__Examples__V1__ToCo2eRequest *decoded = NULL;
  if (encoding == CARBON_ENCODING_JSON) {
    masses = malloc(sizeof(gas_mass) * 1024);
    size_t capacity = 1024;
    /* Count commas to size the buffer for large requests, bounded by MAX_MASSES. */
    size_t braces = 0;
    for (size_t i = 0; i < request_length; i++) braces += request[i] == '{';
    if (braces > capacity) {
      capacity = braces < MAX_MASSES ? braces : MAX_MASSES;
      free(masses);
      masses = malloc(sizeof(gas_mass) * capacity);
    }
    if (!masses) {
      fail(result, CARBON_STATUS_RESOURCE_EXHAUSTED, NULL, "out of memory");
      return;
    }
    reader r = {(const char *)request, (const char *)request + request_length, NULL};
    count = read_request(&r, masses, capacity, &gwp_set);
    if (count < 0) {
      char *message = format("request is not a valid proto3 JSON carbon.examples.v1.ToCo2eRequest: %s",
                             r.error ? r.error : "malformed JSON");
      result->status = CARBON_STATUS_INVALID_ARGUMENT;
      result->error_message = message;
      free(masses);
      return;
    }
  } else {
    decoded = carbon__examples__v1__to_co2e_request__unpack(NULL, request_length, request);
    if (!decoded) {
      fail(result, CARBON_STATUS_INVALID_ARGUMENT, NULL,
           "request is not a valid protobuf carbon.examples.v1.ToCo2eRequest");
      return;
    }
    count = (long)decoded->n_masses;
    masses = malloc(sizeof(gas_mass) * (decoded->n_masses ? decoded->n_masses : 1));
    if (!masses) {
      carbon__examples__v1__to_co2e_request__free_unpacked(decoded, NULL);
      fail(result, CARBON_STATUS_RESOURCE_EXHAUSTED, NULL, "out of memory");
      return;
    }
    for (size_t i = 0; i < decoded->n_masses; i++) {
      masses[i].gas = decoded->masses[i] ? (int)decoded->masses[i]->gas : 0;
      masses[i].mass_kg = decoded->masses[i] ? decoded->masses[i]->mass_kg : 0;
    }
    gwp_set = (int)decoded->gwp_set;
    carbon__examples__v1__to_co2e_request__free_unpacked(decoded, NULL);
  }

  size_t n = (size_t)count;
  Carbon__Examples__V1__GasCo2e *lines = malloc(sizeof *lines * (n ? n : 1));
  Carbon__Examples__V1__GasCo2e **pointers = malloc(sizeof *pointers * (n ? n : 1));
  Carbon__Examples__V1__ToCo2eResponse response;
  if (!lines || !pointers) {
    fail(result, CARBON_STATUS_RESOURCE_EXHAUSTED, NULL, "out of memory");
  } else if (compute(masses, n, gwp_set, &response, lines, pointers, result)) {
    if (encoding == CARBON_ENCODING_JSON) {
      size_t length = 0;
      char *json = write_json(&response, &length);
      if (json) {
        result->response = (uint8_t *)json;
        result->response_length = length;
        result->status = CARBON_STATUS_OK;
      } else {
        fail(result, CARBON_STATUS_RESOURCE_EXHAUSTED, NULL, "out of memory");
      }
    } else {
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
};

EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) { return &DESCRIPTOR; }
