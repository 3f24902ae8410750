/* Test fixture for worker confinement: a plugin that tries, on request, what a confined worker
** must not be able to do. Its one method takes "OPERATION ARGUMENT" as raw bytes and answers
** "ok" or "denied: <strerror>":
**   read PATH       open(PATH, O_RDONLY)
**   write PATH      open(PATH, O_WRONLY | O_CREAT)
**   tcp PORT        a TCP connection to 127.0.0.1:PORT
**   udp -           a UDP socket
**   signal PID      kill(PID, 0)
**   memory PID      open(/proc/PID/mem): another process's memory (the host's TLS key is there)
**   uring -         io_uring_setup */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "carbon_plugin.h"

#define PROBE "/carbon.test.v1.Escape/Probe"
static const carbon_method methods[] = {{PROBE, CARBON_METHOD_UNARY}};
static int marker;

static carbon_status init_fn(void *d, const char *c, size_t l, const char *dir, void **out, char **err) {
  (void)d; (void)c; (void)l; (void)dir; (void)err;
  *out = &marker;
  return CARBON_STATUS_OK;
}

/* 0 on success, else errno. */
static int probe(const char *operation, const char *argument) {
  int fd = -1, saved = 0;
  if (strcmp(operation, "read") == 0) {
    fd = open(argument, O_RDONLY | O_CLOEXEC);
  } else if (strcmp(operation, "write") == 0) {
    fd = open(argument, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  } else if (strcmp(operation, "tcp") == 0) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argument))};
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        saved = errno;
        close(fd);
        return saved;
      }
    }
  } else if (strcmp(operation, "udp") == 0) {
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  } else if (strcmp(operation, "signal") == 0) {
    return kill((pid_t)atoi(argument), 0) == 0 ? 0 : errno;
  } else if (strcmp(operation, "memory") == 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", atoi(argument));
    fd = open(path, O_RDONLY | O_CLOEXEC);
  } else if (strcmp(operation, "uring") == 0) {
    char params[120] = {0};
    fd = (int)syscall(425 /* io_uring_setup */, 1, params);
  } else {
    return EINVAL;
  }
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

static void call_fn(void *i, const char *p, carbon_encoding e, const uint8_t *r, size_t n,
                    carbon_emit_fn emit, void *ctx, carbon_call_result *result) {
  (void)i; (void)e; (void)emit; (void)ctx;
  if (strcmp(p, PROBE) != 0 || n == 0 || n > 1000) {
    result->status = CARBON_STATUS_INVALID_ARGUMENT;
    result->error_message = strdup("Probe takes \"OPERATION ARGUMENT\"");
    return;
  }
  char request[1001];
  memcpy(request, r, n);
  request[n] = '\0';
  char *space = strchr(request, ' ');
  const char *argument = "";
  if (space != NULL) {
    *space = '\0';
    argument = space + 1;
  }
  int error = probe(request, argument);
  char answer[256];
  if (error == 0) snprintf(answer, sizeof answer, "ok");
  else snprintf(answer, sizeof answer, "denied: %s", strerror(error));
  result->status = CARBON_STATUS_OK;
  result->response = (uint8_t *)strdup(answer);
  result->response_length = strlen(answer);
}
static void free_fn(void *b) { free(b); }
static void shutdown_fn(void *i) { (void)i; }
static const carbon_plugin_descriptor descriptor = {
    .abi_version = CARBON_PLUGIN_ABI_VERSION, .struct_size = sizeof(carbon_plugin_descriptor),
    .name = "escape", .version = "0.0.1", .description = "tries what a confined worker must not do (tests)",
    .methods = methods, .method_count = 1, .initialize = init_fn,
    .call = call_fn, .free_buffer = free_fn, .shutdown = shutdown_fn};
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) {
  return &descriptor;
}
