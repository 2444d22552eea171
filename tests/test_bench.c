/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * locus-bench and locus-pingpong, run as processes: a number option that
 * is not a number in range is refused with exit status 2 and a message
 * naming the option and the value (atoi() once made "abc" mean 0), and
 * the MAC section runs to its table.  With --json, each tool prints one
 * JSON document that python3 -m json.tool accepts, with the keys a
 * program comparing runs reads, and the medians over --runs are the
 * medians of the runs it lists.
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
    refused("locus-bench", (const char *[]){"--runs", "0", NULL}, "--runs",
            "out of range");
    refused("locus-bench", (const char *[]){"--runs", "101", NULL}, "--runs",
            "out of range");
    refused("locus-bench", (const char *[]){"--runs", "3x", NULL}, "--runs",
            "'3x'");
    refused("locus-bench", (const char *[]){"--idle-seconds", "0", NULL},
            "--idle-seconds", "out of range");
    refused("locus-bench", (const char *[]){"--idle-seconds", "3601", NULL},
            "--idle-seconds", "out of range");
    refused("locus-bench", (const char *[]){"--idle-seconds", "", NULL},
            "--idle-seconds", "not a number");
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

/* ---- --json -------------------------------------------------------------- */

/* Checks a document (argv[2]) for what argv[1] names; prints "json ok". */
static const char check_py[] =
    "import json, sys, statistics\n"
    "what, d = sys.argv[1], json.load(open(sys.argv[2]))\n"
    "def need(o, *ks):\n"
    "    for k in ks:\n"
    "        assert k in o, 'no key %s in %s' % (k, sorted(o))\n"
    "def near(a, b):\n"
    "    assert abs(a - b) <= 1e-6 * abs(b), (a, b)\n"
    "need(d, 'tool', 'version', 'host', 'date', 'provider')\n"
    "if what == 'pingpong':\n"
    "    need(d, 'iterations', 'fabric', 'pingpong', 'rma_read')\n"
    "    assert d['provider'] == 'shm' and d['iterations'] == 100, d\n"
    "    [p], [r] = d['pingpong'], d['rma_read']\n"
    "    assert p['bytes'] == 4096 and r['bytes'] == 4096, d\n"
    "    assert 0 < p['median_us'] <= p['p99_us'] and r['mb_per_s'] > 0, d\n"
    "    print('json ok'); sys.exit(0)\n"
    "need(d, 'iterations', 'runs', 'sections', 'ok', 'exit_status')\n"
    "assert d['tool'] == 'locus-bench' and d['ok'] is True, d.get('error')\n"
    "s = d['sections']\n"
    "if what == 'latency':\n"
    "    l = s['latency']\n"
    "    need(l, 'iterations', 'warmup_iterations', 'runs', 'paths')\n"
    "    assert l['runs'] == 3 and len(l['paths']) == 1, l\n"
    "    for p in l['paths']:\n"
    "        need(p, 'path', 'provider', 'locus_median_us', 'locus_p99_us',\n"
    "             'raw_median_us', 'raw_p99_us', 'ratio_locus_to_raw', "
    "'runs')\n"
    "        assert p['ok'] and len(p['runs']) == 3, p\n"
    "        for k in ('locus_median_us', 'locus_p99_us', 'raw_median_us',\n"
    "                  'raw_p99_us'):\n"
    "            assert p[k] > 0, (k, p)\n"
    "            near(p[k], statistics.median(r[k] for r in p['runs']))\n"
    "        near(p['ratio_locus_to_raw'],\n"
    "             p['locus_median_us'] / p['raw_median_us'])\n"
    "elif what == 'idle':\n"
    "    i = s['idle']\n"
    "    need(i, 'idle_seconds', 'measured_seconds', 'processes', "
    "'all_met')\n"
    "    assert i['ok'] and i['measured_seconds'] >= 2, i\n"
    "    roles = [p['process'] for p in i['processes']]\n"
    "    assert roles[0] == 'scheduler' and roles[-1].startswith('client'), "
    "roles\n"
    "    assert sum(r.startswith('worker') for r in roles) == 2, roles\n"
    "    assert sum(r.startswith('nanny') for r in roles) == 2, roles\n"
    "    for p in i['processes']:\n"
    "        assert p['pid'] > 0 and p['cpu_percent_of_core'] >= 0, p\n"
    "print('json ok')\n";

/* Run script under sh -c with $1 = the tool, $2 = the checker, $3 = a
 * fresh directory; expect exit 0 and "json ok" in its output. */
static void json_checked(const char *tool, const char *script, int timeout_ms)
{
    char *dir = lt_tmpdir();
    cr_assert_not_null(dir);
    char log[512], py[512];
    snprintf(log, sizeof(log), "%s/out.log", dir);
    snprintf(py, sizeof(py), "%s/check.py", dir);
    FILE *f = fopen(py, "w");
    cr_assert_not_null(f);
    fputs(check_py, f);
    fclose(f);
    char *argv[] = {
        "/bin/sh", "-c", (char *)script, "sh", (char *)lt_tool(tool), py,
        dir,       NULL};
    pid_t pid = lt_spawn(argv, log);
    cr_assert(pid > 0, "cannot start sh");
    int st = lt_wait(pid, timeout_ms);
    char *out = lt_slurp(log);
    cr_expect(st == 0 && out && strstr(out, "json ok"),
              "%s --json: exit %d; output: %s", tool, st, out ? out : "");
    free(out);
    lt_rmdir(dir);
    free(dir);
}

/* the JSON check, then the stderr of the tool when it failed */
#define CHECK_DOC(what)                                                        \
    "python3 -m json.tool \"$3/doc.json\" > /dev/null && "                     \
    "python3 \"$2\" " what " \"$3/doc.json\" || { cat \"$3/err.log\" "         \
    "\"$3/doc.json\"; exit 1; }"

Test(bench, bench_json_has_every_figure_and_medians_of_runs)
{
    /* a quick run of 3 runs, so that medians over runs are checked (the
       shm path only: each run starts a cluster, and the machine is small) */
    json_checked("locus-bench",
                 "\"$1\" --quick --json --only latency --path shm --runs 3 "
                 "--iters 300 "
                 "> \"$3/doc.json\" 2> \"$3/err.log\"; " CHECK_DOC("latency"),
                 120000);
}

Test(bench, bench_json_idle_names_every_process)
{
    json_checked("locus-bench",
                 "\"$1\" --quick --json --only idle --idle-seconds 2 "
                 "> \"$3/doc.json\" 2> \"$3/err.log\"; " CHECK_DOC("idle"),
                 60000);
}

Test(bench, pingpong_json_over_shm)
{
    /* a port of this test's own, away from the default */
    json_checked("locus-pingpong",
                 "P=$((47700 + $$ % 200)); "
                 "\"$1\" -p shm -P $P --json > \"$3/server.json\" 2> "
                 "\"$3/server.err\" & "
                 "\"$1\" -p shm -P $P -n 100 -S 4k --json 127.0.0.1 "
                 "> \"$3/doc.json\" 2> \"$3/err.log\"; rc=$?; wait $!; "
                 "[ $rc = 0 ] && python3 -m json.tool \"$3/server.json\" "
                 "> /dev/null && " CHECK_DOC("pingpong"),
                 60000);
}
