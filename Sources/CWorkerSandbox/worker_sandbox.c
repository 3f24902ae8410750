/* See worker_sandbox.h. The Landlock structures and constants are declared here rather than
** taken from <linux/landlock.h>, whose copy on older build machines stops at ABI 2: the kernel
** ABI is stable and versioned, and the code asks the running kernel which version it has. */
#define _GNU_SOURCE
#include "worker_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

/* Landlock UAPI (include/uapi/linux/landlock.h). */
struct carbon_landlock_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net; /* ABI 4 */
  uint64_t scoped;             /* ABI 6 */
};
struct carbon_landlock_path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));
struct carbon_landlock_net_port_attr {
  uint64_t allowed_access;
  uint64_t port;
};
enum { CARBON_LANDLOCK_RULE_PATH_BENEATH = 1, CARBON_LANDLOCK_RULE_NET_PORT = 2 };
#define CARBON_LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_ALL_V1 ((1ULL << 13) - 1) /* execute … make_sym */
#define FS_REFER (1ULL << 13)         /* ABI 2 */
#define FS_TRUNCATE (1ULL << 14)      /* ABI 3 */
#define FS_IOCTL_DEV (1ULL << 15)     /* ABI 5 */
#define NET_BIND_TCP (1ULL << 0)
#define NET_CONNECT_TCP (1ULL << 1)
#define SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define SCOPE_SIGNAL (1ULL << 1)

static int fail(char *error, size_t length, const char *format, ...) {
  va_list args;
  va_start(args, format);
  if (error != NULL && length > 0) vsnprintf(error, length, format, args);
  va_end(args);
  return -1;
}

static uint64_t handled_fs_for(int abi) {
  uint64_t handled = FS_ALL_V1;
  if (abi >= 2) handled |= FS_REFER;
  if (abi >= 3) handled |= FS_TRUNCATE;
  if (abi >= 5) handled |= FS_IOCTL_DEV;
  return handled;
}

/* The rights a rule on a regular file (or device) may carry: Landlock refuses directory rights
** on a non-directory. */
static uint64_t file_rights(uint64_t rights) {
  return rights & (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV);
}

static int add_path(int ruleset, const char *path, uint64_t rights, char *error, size_t length) {
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ENOTDIR || errno == EACCES ? 0 : fail(error, length, "open %s: %s", path, strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int saved = errno;
    close(fd);
    return fail(error, length, "fstat %s: %s", path, strerror(saved));
  }
  struct carbon_landlock_path_beneath_attr rule = {
      .allowed_access = S_ISDIR(info.st_mode) ? rights : file_rights(rights), .parent_fd = fd};
  long added = syscall(__NR_landlock_add_rule, ruleset, CARBON_LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
  int saved = errno;
  close(fd);
  return added == 0 ? 0 : fail(error, length, "landlock_add_rule %s: %s", path, strerror(saved));
}

static int apply_landlock(const char *const *read_paths, size_t read_count, const char *const *write_paths,
                          size_t write_count, const uint16_t *ports, size_t port_count,
                          carbon_sandbox_report *report, char *error, size_t length) {
  long abi = syscall(__NR_landlock_create_ruleset, NULL, 0, CARBON_LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) return 0; /* ENOSYS / EOPNOTSUPP: not available; the report says so. */
  report->landlock_abi = (int)abi;

  struct carbon_landlock_ruleset_attr attributes = {.handled_access_fs = handled_fs_for((int)abi)};
  size_t size = sizeof(uint64_t);
  if (abi >= 4) {
    attributes.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
    size = 2 * sizeof(uint64_t);
  }
  if (abi >= 6) {
    attributes.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL;
    size = 3 * sizeof(uint64_t);
  }
  int ruleset = (int)syscall(__NR_landlock_create_ruleset, &attributes, size, 0);
  if (ruleset < 0) return fail(error, length, "landlock_create_ruleset: %s", strerror(errno));

  const uint64_t read_rights = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR;
  for (size_t i = 0; i < read_count; i++) {
    if (add_path(ruleset, read_paths[i], read_rights, error, length) != 0) goto failed;
  }
  for (size_t i = 0; i < write_count; i++) {
    if (add_path(ruleset, write_paths[i], attributes.handled_access_fs, error, length) != 0) goto failed;
  }
  if (abi >= 4) {
    for (size_t i = 0; i < port_count; i++) {
      struct carbon_landlock_net_port_attr rule = {.allowed_access = NET_CONNECT_TCP, .port = ports[i]};
      if (syscall(__NR_landlock_add_rule, ruleset, CARBON_LANDLOCK_RULE_NET_PORT, &rule, 0) != 0) {
        fail(error, length, "landlock_add_rule port %u: %s", ports[i], strerror(errno));
        goto failed;
      }
    }
  }
  if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) {
    fail(error, length, "landlock_restrict_self: %s", strerror(errno));
    goto failed;
  }
  close(ruleset);
  report->files_confined = 1;
  report->tcp_confined = abi >= 4;
  report->scope_confined = abi >= 6;
  return 0;

failed:
  close(ruleset);
  return -1;
}

#if defined(__x86_64__)
#define CARBON_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define CARBON_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static int apply_seccomp(int allow_inet, carbon_sandbox_report *report, char *error, size_t length) {
#ifdef CARBON_AUDIT_ARCH
  struct sock_filter filter[] = {
      /* Another architecture's system call numbers would mean something else: kill. */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CARBON_AUDIT_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
      /* x32 numbers (bit 30) reach the same calls under other numbers. */
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
#endif
      /* io_uring performs socket and file operations outside this filter. */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      /* Another process's memory, even of the same user (covered by Landlock where present). */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ptrace, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_readv, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_process_vm_writev, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      /* socket(family, …): AF_UNIX only, unless the module may use the network. */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])), /* low 32 bits */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
  if (allow_inet) {
    /* Drop the socket-family test: the last five instructions become "allow". */
    filter[program.len - 5] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    program.len -= 4;
  }
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) {
    return fail(error, length, "seccomp filter: %s", strerror(errno));
  }
  report->seccomp_installed = 1;
#else
  (void)allow_inet;
  (void)report;
  (void)error;
  (void)length;
#endif
  return 0;
}

int carbon_sandbox_apply(const char *const *read_paths, size_t read_count, const char *const *write_paths,
                         size_t write_count, const uint16_t *connect_ports, size_t port_count, int allow_inet,
                         carbon_sandbox_report *report, char *error, size_t error_length) {
  memset(report, 0, sizeof(*report));
  if (error != NULL && error_length > 0) error[0] = '\0';
  /* Both Landlock and an unprivileged seccomp filter require it; it is also inherited. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return fail(error, error_length, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
  }
  if (apply_landlock(read_paths, read_count, write_paths, write_count, connect_ports, port_count, report, error,
                     error_length) != 0) {
    return -1;
  }
  /* A container may forbid installing filters: the report then says none is installed, which
  ** `required` refuses and `best-effort` logs. */
  if (apply_seccomp(allow_inet, report, error, error_length) != 0) {
    if (error != NULL && error_length > 0) error[0] = '\0';
  }
  return 0;
}
