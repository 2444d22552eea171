/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include "proc.h"

#include "arena/arena.h"
#include "xport.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

extern char **environ;

pid_t lt_spawn(char *const argv[], const char *log_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (log_path) {
        posix_spawn_file_actions_addopen(&fa, 1, log_path,
                                         O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "lt_spawn %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

pid_t lt_spawn_in(const char *ns, const char *hostname, char *const argv[],
                  const char *log_path)
{
    char *full[64];
    int n = 0;
    if (ns) {
        full[n++] = "/usr/sbin/ip";
        full[n++] = "netns";
        full[n++] = "exec";
        full[n++] = (char *)ns;
    }
    if (hostname) {
        /* unshare --uts gives the process a host name of its own; the
           script is fixed and the name is its argument, never parsed */
        full[n++] = (char *)"/usr/bin/unshare";
        full[n++] = (char *)"--uts";
        full[n++] = (char *)"/bin/sh";
        full[n++] = (char *)"-c";
        full[n++] = (char *)"hostname \"$1\" && shift && exec \"$@\"";
        full[n++] = (char *)"sh";
        full[n++] = (char *)hostname;
    }
    for (int i = 0; argv[i] && n < 63; i++)
        full[n++] = argv[i];
    full[n] = NULL;
    if (!ns && !hostname)
        return lt_spawn(argv, log_path);
    return lt_spawn(full, log_path);
}

static int decode(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

int lt_wait(pid_t pid, int timeout_ms)
{
    struct timespec step = {0, 5 * 1000 * 1000};
    for (int waited = 0;; waited += 5) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return decode(st);
        if (r < 0 && errno != EINTR)
            return -1;
        if (timeout_ms >= 0 && waited >= timeout_ms)
            break;
        nanosleep(&step, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

int lt_stop(pid_t pid, int grace_ms)
{
    kill(pid, SIGTERM);
    int rc = lt_wait(pid, grace_ms);
    return rc;
}

int lt_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st == -1 ? -1 : decode(st);
}

const char *lt_helper(const char *name)
{
    static _Thread_local char path[4][1024];
    static _Thread_local int slot;
    char *p = path[slot++ & 3];
    snprintf(p, 1024, "%s/%s", LOCUS_TEST_BINDIR, name);
    return p;
}

const char *lt_tool(const char *name)
{
    static _Thread_local char path[4][1024];
    static _Thread_local int slot;
    char *p = path[slot++ & 3];
    snprintf(p, 1024, "%s/%s", LOCUS_TOOLS_DIR, name);
    return p;
}

char *lt_tmpdir(void)
{
    char tmpl[] = "/tmp/locus-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void lt_rmdir(const char *dir)
{
    if (dir && strncmp(dir, "/tmp/locus-test-", 16) == 0)
        lt_sh("rm -rf '%s'", dir);
}

char *lt_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

int lt_shm_files_of(pid_t pid)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        int p = arena_file_pid(e->d_name);
        if (!p)
            p = xport_file_pid(e->d_name);
        n += p == (int)pid;
    }
    closedir(d);
    return n;
}

long lt_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after "(comm)": state ppid pgrp session tty tpgid flags
       minflt cminflt majflt cmajflt utime stime */
    char *rp = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!rp ||
        sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &st) != 2)
        return -1;
    return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}
