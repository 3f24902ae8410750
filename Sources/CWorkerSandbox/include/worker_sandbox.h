/* Confinement of an isolated module's worker process (Linux): Landlock rules on files and TCP
** ports, Landlock scoping of signals and abstract Unix sockets, and a seccomp filter on socket
** families and io_uring. Called once by `carbonhub worker`, after it dropped privileges and
** before the plugin is loaded, so no plugin code ever runs unconfined.
**
** Everything here is irreversible for the calling process and inherited by its children.
** Thread-safety: call before the process starts other threads (Landlock and seccomp apply to
** the calling thread; the worker has no other thread yet). */
#ifndef CARBON_WORKER_SANDBOX_H
#define CARBON_WORKER_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What `carbon_sandbox_apply` put in place. */
typedef struct {
  /* The kernel's Landlock ABI version; 0 when Landlock is not available (kernel too old, not
  ** enabled at boot, or forbidden by a container's seccomp profile). */
  int landlock_abi;
  /* 1 when file access is limited to the rules (Landlock ABI >= 1). */
  int files_confined;
  /* 1 when TCP bind and connect are limited to the allowed ports (Landlock ABI >= 4). */
  int tcp_confined;
  /* 1 when signals and abstract Unix sockets cannot reach outside the worker (ABI >= 6). */
  int scope_confined;
  /* 1 when the seccomp filter is installed (x86_64 and aarch64). */
  int seccomp_installed;
} carbon_sandbox_report;

/* Confines the calling process.
**   read_paths:    files and directories (and everything beneath) the worker may read and
**                  execute; paths that do not exist are skipped. Borrowed for the call.
**   write_paths:   files and directories the worker may also write, create in and delete in.
**   connect_ports: TCP ports the worker may connect to (any address); none: no TCP at all.
**   allow_inet:    0: the seccomp filter refuses every socket family but AF_UNIX (EACCES);
**                  1: other families are allowed (TCP is still limited to connect_ports).
**   report:        filled in on return, also on failure (what was applied before it failed).
**   error:         on failure, a NUL-terminated message (at most error_length bytes).
** Returns 0 on success, including when the kernel lacks Landlock or refuses the seccomp filter
** (the report shows what is missing); -1 when a Landlock step that is available failed (the
** process may be partly confined: the caller exits). */
int carbon_sandbox_apply(const char *const *read_paths, size_t read_count, const char *const *write_paths,
                         size_t write_count, const uint16_t *connect_ports, size_t port_count, int allow_inet,
                         carbon_sandbox_report *report, char *error, size_t error_length);

#ifdef __cplusplus
}
#endif
#endif
