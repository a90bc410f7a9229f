#define _GNU_SOURCE
#include "cprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/// What the child tells the parent through the status pipe before it executes the program.
typedef struct {
    int is_failure;   /* 1: `value` is the failed stage (fatal); 0: `value` is the isolation outcome */
    int value;
    int error;
} report;

static void send_report(int fd, int is_failure, int value, int error) {
    report r = {is_failure, value, error};
    while (write(fd, &r, sizeof r) < 0 && errno == EINTR) {}
}

static _Noreturn void fail(int fd, cprocess_stage stage) {
    send_report(fd, 1, stage, errno);
    _exit(127);
}

/// Writes `text` to a /proc file; async-signal-safe (open, write, close only).
static int write_proc(const char *path, const char *text, size_t length) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t written = write(fd, text, length);
    close(fd);
    return written == (ssize_t)length ? 0 : -1;
}

/// Closes descriptors first..last (inclusive); close_range where the kernel has it (5.9).
static void close_from(int first, int last) {
    if (first > last) return;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, (unsigned)last, 0) == 0) return;
#endif
    struct rlimit limit;
    int top = (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) ? (int)limit.rlim_cur : 65536;
    if (last > top) last = top;
    for (int fd = first; fd <= last; fd++) close(fd);
}

/// Runs in the forked child: only async-signal-safe calls until execve.
static _Noreturn void run_child(const cprocess_spec *spec, const int ends[3], int status_fd,
                                const char *uid_map, const char *gid_map, const sigset_t *empty) {
    // Handlers are reset by exec anyway; ignored signals (SIGPIPE in the host) are not.
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &action, NULL);

    // Its own group, so that a timeout kills the skill and everything it started.
    setpgid(0, 0);

    if (spec->isolate_network) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
            // Best effort: keep the same uid and gid inside, so files look as they do outside.
            write_proc("/proc/self/setgroups", "deny", 4);
            write_proc("/proc/self/uid_map", uid_map, strlen(uid_map));
            write_proc("/proc/self/gid_map", gid_map, strlen(gid_map));
            send_report(status_fd, 0, CPROCESS_ISOLATION_USER_AND_NET, 0);
        } else {
            int user_error = errno;
            if (unshare(CLONE_NEWNET) == 0) send_report(status_fd, 0, CPROCESS_ISOLATION_NET_ONLY, user_error);
            else send_report(status_fd, 0, CPROCESS_ISOLATION_UNAVAILABLE, user_error);
        }
    }

    if (chdir(spec->directory) != 0) fail(status_fd, CPROCESS_STAGE_DIRECTORY);

    if (spec->memory_mb > 0) {
        struct rlimit limit;
        if (getrlimit(RLIMIT_AS, &limit) != 0) fail(status_fd, CPROCESS_STAGE_RLIMIT);
        rlim_t bytes = (rlim_t)spec->memory_mb << 20;
        if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < bytes) bytes = limit.rlim_max;
        limit.rlim_cur = limit.rlim_max = bytes;
        if (setrlimit(RLIMIT_AS, &limit) != 0) fail(status_fd, CPROCESS_STAGE_RLIMIT);
    }

    // Move the pipe ends above 2 first, so that dup2 onto 0..2 cannot overwrite one of them.
    int high[3];
    for (int i = 0; i < 3; i++) {
        high[i] = fcntl(ends[i], F_DUPFD_CLOEXEC, 3);
        if (high[i] < 0) fail(status_fd, CPROCESS_STAGE_DESCRIPTORS);
    }
    int status_high = fcntl(status_fd, F_DUPFD_CLOEXEC, 3);
    if (status_high < 0) fail(status_fd, CPROCESS_STAGE_DESCRIPTORS);
    status_fd = status_high;
    for (int i = 0; i < 3; i++) {
        if (dup2(high[i], i) < 0) fail(status_fd, CPROCESS_STAGE_DESCRIPTORS);
    }
    // Nothing of the host leaks into the skill: everything but 0..2 and the status pipe
    // (close-on-exec) is closed now.
    close_from(3, status_fd - 1);
    close_from(status_fd + 1, 0x7fffffff);

    sigprocmask(SIG_SETMASK, empty, NULL);
    execve(spec->path, spec->argv, spec->envp);
    fail(status_fd, CPROCESS_STAGE_EXEC);
}

static void close_all(int *fds, int count) {
    for (int i = 0; i < count; i++) {
        if (fds[i] >= 0) close(fds[i]);
        fds[i] = -1;
    }
}

int cprocess_spawn(const cprocess_spec *spec, cprocess_child *child) {
    memset(child, 0, sizeof *child);
    child->pid = -1;
    child->stdin_fd = child->stdout_fd = child->stderr_fd = child->pid_fd = -1;

    // in[0] child's stdin, in[1] ours; out/err: [0] ours, [1] the child's.
    int fds[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    int *in = fds, *out = fds + 2, *err = fds + 4, *status = fds + 6;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0
        || pipe2(status, O_CLOEXEC) != 0) {
        child->failed_stage = CPROCESS_STAGE_PIPE;
        child->failed_errno = errno;
        close_all(fds, 8);
        return -1;
    }

    // Formatted before fork: snprintf is not async-signal-safe.
    char uid_map[64], gid_map[64];
    snprintf(uid_map, sizeof uid_map, "%u %u 1\n", (unsigned)geteuid(), (unsigned)geteuid());
    snprintf(gid_map, sizeof gid_map, "%u %u 1\n", (unsigned)getegid(), (unsigned)getegid());
    const int ends[3] = {in[0], out[1], err[1]};

    // Signals stay blocked across fork so that no host handler runs in the child before it
    // resets them; the child unblocks just before exec.
    sigset_t all, previous, empty;
    sigfillset(&all);
    sigemptyset(&empty);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) run_child(spec, ends, status[1], uid_map, gid_map, &empty);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);

    int theirs[4] = {in[0], out[1], err[1], status[1]};
    close_all(theirs, 4);
    if (pid < 0) {
        child->failed_stage = CPROCESS_STAGE_FORK;
        child->failed_errno = fork_errno;
        int ours[4] = {in[1], out[0], err[0], status[0]};
        close_all(ours, 4);
        return -1;
    }

    // The status pipe reaches end-of-file when exec succeeds (close-on-exec) or the child exits.
    child->isolation = spec->isolate_network ? CPROCESS_ISOLATION_UNAVAILABLE : CPROCESS_ISOLATION_NOT_REQUESTED;
    report r;
    for (;;) {
        ssize_t n = read(status[0], &r, sizeof r);
        if (n < 0 && errno == EINTR) continue;
        if (n != (ssize_t)sizeof r) break;
        if (r.is_failure) {
            child->failed_stage = (cprocess_stage)r.value;
            child->failed_errno = r.error;
        } else {
            child->isolation = (cprocess_isolation)r.value;
            child->isolation_errno = r.error;
        }
    }
    close(status[0]);

    if (child->failed_stage != CPROCESS_STAGE_NONE) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
        int ours[3] = {in[1], out[0], err[0]};
        close_all(ours, 3);
        return -1;
    }

    child->pid = pid;
    child->group = pid;
    child->stdin_fd = in[1];
    child->stdout_fd = out[0];
    child->stderr_fd = err[0];
    const int ours[3] = {in[1], out[0], err[0]};
    for (int i = 0; i < 3; i++) fcntl(ours[i], F_SETFL, fcntl(ours[i], F_GETFL) | O_NONBLOCK);
#ifdef SYS_pidfd_open
    child->pid_fd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    return 0;
}

const char *cprocess_signal_name(int signal) {
    return sigabbrev_np(signal);
}
