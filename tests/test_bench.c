/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench and locus-pingpong, run as processes: a number option that
 * is not a number in range is refused with exit status 2 and a message
 * naming the option and the value (atoi() once made "abc" mean 0), and
 * the MAC section runs to its table.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"

/* Run tool with args; its exit status, its output in *out (free it). */
static int run(const char *tool, const char *const *args, char **out)
{
    char *dir = lt_tmpdir();
    cr_assert_not_null(dir);
    char log[512];
    snprintf(log, sizeof(log), "%s/out.log", dir);
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)lt_tool(tool);
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    pid_t pid = lt_spawn(argv, log);
    cr_assert(pid > 0, "cannot start %s", argv[0]);
    int st = lt_wait(pid, 60000);
    *out = lt_slurp(log);
    if (!*out)
        *out = strdup("");
    lt_rmdir(dir);
    free(dir);
    return st;
}

static void refused(const char *tool, const char *const *args,
                    const char *want1, const char *want2)
{
    char *out;
    int st = run(tool, args, &out);
    cr_expect_eq(st, 2, "%s %s %s: exit %d, expected 2; output: %s", tool,
                 args[0], args[1] ? args[1] : "", st, out);
    cr_expect(strstr(out, want1) && strstr(out, want2),
              "%s %s %s: output does not name '%s' and '%s': %s", tool, args[0],
              args[1] ? args[1] : "", want1, want2, out);
    free(out);
}

Test(bench, bench_number_options_are_checked)
{
    refused("locus-bench", (const char *[]){"--iters", "abc", NULL}, "--iters",
            "'abc'");
    refused("locus-bench", (const char *[]){"--iters", "12x", NULL}, "--iters",
            "'12x'");
    refused("locus-bench", (const char *[]){"--iters", "0", NULL}, "--iters",
            "out of range");
    refused("locus-bench",
            (const char *[]){"--tasks", "99999999999999999999", NULL},
            "--tasks", "out of range");
    refused("locus-bench", (const char *[]){"--tasks", "", NULL}, "--tasks",
            "not a number");
    refused("locus-bench", (const char *[]){"--only", "nothing", NULL},
            "--only", "'nothing'");
    refused("locus-bench", (const char *[]){"--path", "ib", NULL}, "--path",
            "'ib'");
}

Test(bench, pingpong_number_options_are_checked)
{
    refused("locus-pingpong", (const char *[]){"-n", "abc", NULL}, "-n",
            "'abc'");
    refused("locus-pingpong", (const char *[]){"-n", "-5", NULL}, "-n",
            "out of range");
    refused("locus-pingpong", (const char *[]){"-P", "70000", NULL}, "-P",
            "out of range");
    refused("locus-pingpong", (const char *[]){"-W", "1.5", NULL}, "-W",
            "'1.5'");
    refused("locus-pingpong", (const char *[]){"-S", "12x", NULL}, "-S",
            "'12x'");
    refused("locus-pingpong", (const char *[]){"-S", "0", NULL}, "-S", "'0'");
}

Test(bench, mac_section_prints_its_table)
{
    char *out;
    int st = run("locus-bench", (const char *[]){"--only", "mac", NULL}, &out);
    cr_expect_eq(st, 0, "exit %d: %s", st, out);
    cr_expect(strstr(out, "# MAC per message") &&
                  strstr(out, "chacha20-poly1305 (used)"),
              "no MAC table: %s", out);
    free(out);
}
