/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test support: start real processes and reap them with deadlines.
 */
#ifndef LT_PROC_H
#define LT_PROC_H

#include <sys/types.h>

/* Start argv[0] (a path) with argv, stdout+stderr appended to log_path if
 * not NULL.  Returns the pid, or -1.  Uses posix_spawn (no fork of a
 * process that may hold registered memory). */
pid_t lt_spawn(char *const argv[], const char *log_path);

/* Same, inside network namespace ns (via "ip netns exec"), and with its own
 * UTS host name when hostname is not NULL (via "unshare --uts"; the name is an
 * argument, no shell parses it). */
pid_t lt_spawn_in(const char *ns, const char *hostname, char *const argv[],
                  const char *log_path);

/* Wait up to timeout_ms for pid.  Returns its exit status (0..255), 128+sig
 * if killed by a signal, or -1 on timeout (the process is then killed with
 * SIGKILL and reaped). */
int lt_wait(pid_t pid, int timeout_ms);

/* SIGTERM, then SIGKILL after grace_ms; reaps. Returns as lt_wait. */
int lt_stop(pid_t pid, int grace_ms);

/* Run a shell command, return its exit status (for set-up steps). */
int lt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Path of a built helper or tool: LOCUS_TEST_BINDIR/name, LOCUS_TOOLS_DIR/name.
 */
const char *lt_helper(const char *name);
const char *lt_tool(const char *name);

/* A fresh private directory under /tmp for one test; removed by lt_rmdir. */
char *lt_tmpdir(void);
void lt_rmdir(const char *dir);

/* How many /dev/shm files process pid made (arena segments, the
 * transport's shm regions), as the runtime names them. */
int lt_shm_files_of(pid_t pid);

/* CPU time (user + system) process pid used so far, in ms; -1 if gone. */
long lt_cpu_ms(pid_t pid);

/* Read a whole file (NUL-terminated); free() it.  NULL if missing. */
char *lt_slurp(const char *path);

#endif
