#ifndef CPROCESS_H
#define CPROCESS_H

#include <sys/types.h>

/// What to start: `path` is executed with `argv` (NULL-terminated, passed unchanged: no
/// shell) and exactly the environment `envp` (NULL-terminated), in `directory`.
typedef struct {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *directory;
    /// RLIMIT_AS in MiB (address space, not resident memory); 0 leaves the limit unchanged.
    long memory_mb;
    /// Non-zero: start the program in new user and network namespaces (no network).
    int isolate_network;
} cprocess_spec;

/// How network isolation went (only meaningful when it was asked for).
typedef enum {
    CPROCESS_ISOLATION_NOT_REQUESTED = 0,
    /// New user and network namespaces: the program sees only a down loopback device.
    CPROCESS_ISOLATION_USER_AND_NET = 1,
    /// The kernel refused a user namespace, but a network namespace alone was allowed.
    CPROCESS_ISOLATION_NET_ONLY = 2,
    /// Both were refused (`isolation_errno` says why): the program has the host's network.
    CPROCESS_ISOLATION_UNAVAILABLE = 3,
} cprocess_isolation;

/// The step that failed when `cprocess_spawn` returns -1.
typedef enum {
    CPROCESS_STAGE_NONE = 0,
    CPROCESS_STAGE_PIPE,
    CPROCESS_STAGE_FORK,
    CPROCESS_STAGE_DIRECTORY,
    CPROCESS_STAGE_RLIMIT,
    CPROCESS_STAGE_DESCRIPTORS,
    CPROCESS_STAGE_EXEC,
} cprocess_stage;

/// A started child. The parent's pipe ends are non-blocking and close-on-exec.
typedef struct {
    pid_t pid;
    /// The child's process group id (equal to `pid`: it leads its own group).
    pid_t group;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /// A pidfd that becomes readable when the child exits, or -1 where the kernel lacks
    /// pidfd_open (Linux < 5.3).
    int pid_fd;
    cprocess_isolation isolation;
    int isolation_errno;
    /// On failure: which step failed and its errno.
    cprocess_stage failed_stage;
    int failed_errno;
} cprocess_child;

/// Forks and executes `spec` in its own process group with stdin, stdout and stderr on pipes
/// and every other descriptor closed. Between fork and exec the child makes only
/// async-signal-safe calls; it reports a failure to exec (or to prepare) through a
/// close-on-exec pipe, so that a return of 0 means the program is running.
/// Returns 0, or -1 with `failed_stage` and `failed_errno` set (the child, if any, reaped).
int cprocess_spawn(const cprocess_spec *spec, cprocess_child *child);

/// The signal's abbreviation without the SIG prefix ("KILL", "SEGV"), or NULL if unknown.
const char *cprocess_signal_name(int signal);

#endif
