/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scheduler's dashboard (runtime/dash), end to end: real locus-scheduler
 * and locus-worker processes, real HTTP over loopback, Prometheus' own
 * promtool on /metrics, and headless Chromium on the page.  Tests that need
 * promtool or chromium are skipped, saying so, when they are missing
 * (tools/install-deps.sh installs both).
 *
 * The cost of the sink (dash_task_event) is measured in-process.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "cluster.h"
#include "dash/dash.h"
#include "dash/dash_int.h"
#include "locus.h"
#include "proc.h"
#include "proto/schedfile.h"

#define TASKLIB LOCUS_TEST_BINDIR "/libtasklib_test.so"
#define TMO 30000

static lt_cluster C;
static locus_client *cl;
static int passed;

static void teardown(void)
{
    if (cl)
        locus_disconnect(cl);
    cl = NULL;
    if (!C.dir) /* skipped before it started, or stopped by the test */
        return;
    lt_fini_check(lt_cluster_stop(&C, !passed));
}

TestSuite(dash, .fini = teardown, .timeout = 180);

#define PASS() (passed = 1)
#define OK(call) cr_assert_eq((call), 0, "%s: %s", #call, locus_last_error())

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    return (double)lc_now_ns() * 1e-9;
}

/* A scheduler with sargs, n workers of nthreads, a client with the test
 * task library.  Returns the dashboard URL from the scheduler file. */
static const char *start(const char *const *sargs, int n, int nthreads)
{
    static schedfile sf;
    char nt[16];
    snprintf(nt, sizeof(nt), "%d", nthreads);
    cr_assert_eq(lt_cluster_init(&C), 0);
    cr_assert_eq(lt_cluster_spawn_sched(&C, sargs, TMO), 0);
    const char *wargs[] = {"--nthreads", nt, NULL};
    for (int i = 0; i < n; i++)
        cr_assert_gt(lt_cluster_spawn_worker(&C, wargs), 0);
    OK(locus_connect(C.file, NULL, &cl));
    cr_assert_eq(lt_wait_workers(cl, (size_t)n, TMO), 0);
    OK(locus_require(cl, TASKLIB, TMO));
    OK(schedfile_read(C.file, &sf));
    return sf.dashboard;
}

/* ---- a small HTTP client
 * ----------------------------------------------------- */

typedef struct url {
    int port;
    char token[80];
} url;

static url parse_url(const char *u)
{
    url r;
    memset(&r, 0, sizeof(r));
    const char *h = strstr(u, "://");
    cr_assert(h, "not a URL: %s", u);
    const char *p = strchr(h + 3, ']');
    p = strchr(p ? p : h + 3, ':');
    cr_assert(p, "no port in %s", u);
    r.port = atoi(p + 1);
    const char *t = strstr(u, "?token=");
    if (t)
        snprintf(r.token, sizeof(r.token), "%s", t + 7);
    return r;
}

static int connect_to(int port, int nonblock)
{
    int fd =
        socket(AF_INET,
               SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
        !(nonblock && errno == EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send raw, read the whole answer; status code (or -1), body in *body
 * (malloc'd, may be NULL). */
static int http_raw(int port, const char *req, size_t reqlen, char **body)
{
    if (body)
        *body = NULL;
    int fd = connect_to(port, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {15, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    size_t off = 0;
    while (off < reqlen) {
        ssize_t w = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may answer and close early */
        off += (size_t)w;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    char *b = strstr(buf, "\r\n\r\n");
    if (body && b)
        *body = strdup(b + 4);
    free(buf);
    return status;
}

/* GET path (with its query), with extra header lines (each ending in
 * \r\n) and a loopback Host unless the extra lines give one. */
static int http_get(const url *u, const char *path, const char *extra,
                    char **body)
{
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\n%s%s%d\r\n"
                     "Connection: close\r\n\r\n",
                     path, extra ? extra : "",
                     extra && strstr(extra, "Host:") ? "X-Port: "
                                                     : "Host: 127.0.0.1:",
                     u->port);
    return http_raw(u->port, req, (size_t)n, body);
}

/* path with the dashboard's token, if it has one */
static const char *with_token(const url *u, const char *path)
{
    static char buf[1024];
    if (!u->token[0])
        return path;
    snprintf(buf, sizeof(buf), "%s%stoken=%s", path,
             strchr(path, '?') ? "&" : "?", u->token);
    return buf;
}

/* The value of the sample "name{labels}" (exact text) in an exposition. */
static double metric(const char *text, const char *sample)
{
    size_t n = strlen(sample);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (!strncmp(p, sample, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    cr_assert_fail("no sample %s in /metrics", sample);
    return -1;
}

static int have(const char *prog)
{
    return lt_sh("command -v %s >/dev/null 2>&1", prog) == 0;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static locus_future **map_i64(const char *fn, int n, int64_t v)
{
    locus_arg *a = calloc((size_t)n, sizeof(*a));
    locus_future **fs = calloc((size_t)n, sizeof(*fs));
    for (int i = 0; i < n; i++)
        a[i] = locus_arg_i64(v < 0 ? i : v);
    OK(locus_map(cl, fn, a, (size_t)n, NULL, fs));
    free(a);
    return fs;
}

static void release_all(locus_future **fs, int n)
{
    for (int i = 0; i < n; i++)
        locus_release(fs[i]);
    free(fs);
}

/* ---- /metrics
 * ------------------------------------------------------------------ */

Test(dash, metrics_pass_promtool_and_match_locus_workers)
{
    if (!have("promtool"))
        cr_skip_test("promtool not found: apt-get install prometheus (or "
                     "run tools/install-deps.sh)");
    const char *sargs[] = {"--dashboard", "127.0.0.1:0", NULL};
    url u = parse_url(start(sargs, 2, 2));

    locus_future **fs = map_i64("f1", 200, -1);
    locus_value *v = calloc(200, sizeof(*v));
    OK(locus_gather(fs, 200, TMO, v));
    free(v);
    /* three that fail, and a name that needs escaping in a label */
    locus_future *bad[4];
    for (int i = 0; i < 3; i++) {
        locus_arg a = locus_arg_str("on purpose");
        OK(locus_submit(cl, "fail_with", &a, 1, NULL, &bad[i]));
    }
    OK(locus_submit(cl, "no\"such\\fn\nhere", NULL, 0, NULL, &bad[3]));
    cr_assert_eq(locus_wait(bad, 4, TMO), 0);

    /* wait until a heartbeat carried every count, then compare */
    locus_worker_info wi[8];
    size_t nw = 0;
    for (int tries = 0; tries < 100; tries++) {
        OK(locus_workers(cl, wi, 8, &nw));
        uint64_t done = 0;
        for (size_t i = 0; i < nw; i++)
            done += wi[i].tasks_done + wi[i].tasks_unbooked;
        if (done >= 203)
            break;
        nap_ms(100);
    }
    nap_ms(1200); /* two heartbeats: the dashboard's copy is as new */
    OK(locus_workers(cl, wi, 8, &nw));
    char *m = NULL;
    cr_assert_eq(http_get(&u, "/metrics", NULL, &m), 200);

    char path[1024];
    snprintf(path, sizeof(path), "%s/metrics.txt", C.dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(m, f);
    fclose(f);
    int rc = lt_sh("promtool check metrics < %s > %s/promtool.out 2>&1", path,
                   C.dir);
    if (rc != 0)
        lt_sh("cat %s/promtool.out >&2", C.dir);
    cr_assert_eq(rc, 0, "promtool check metrics failed (output above)");

    cr_assert_eq(metric(m, "locus_tasks_total{state=\"done\"}"), 200);
    cr_assert_eq(metric(m, "locus_tasks_total{state=\"failed\"}"), 4);
    cr_assert_eq(metric(m, "locus_tasks_total{state=\"submitted\"}"), 204);
    cr_assert_eq(metric(m, "locus_tasks{state=\"running\"}"), 0);
    cr_assert_eq(metric(m, "locus_tasks{state=\"waiting\"}"), 0);
    cr_assert_eq(metric(m, "locus_function_tasks_total{function=\"f1\","
                           "state=\"done\"}"),
                 200);
    cr_assert_eq(metric(m, "locus_task_duration_seconds_count{function="
                           "\"f1\"}"),
                 200);
    cr_assert_eq(metric(m, "locus_function_tasks_total{function="
                           "\"no\\\"such\\\\fn\\nhere\",state=\"failed\"}"),
                 1);
    cr_assert_eq(metric(m, "locus_workers"), (double)nw);
    uint64_t done = 0;
    for (size_t i = 0; i < nw; i++) {
        char s[256];
        done += wi[i].tasks_done;
        snprintf(s, sizeof(s), "locus_worker_tasks_done_total{worker=\"%d\"}",
                 wi[i].id);
        cr_assert_eq(metric(m, s), (double)wi[i].tasks_done, "%s", s);
        snprintf(s, sizeof(s), "locus_worker_threads{worker=\"%d\"}", wi[i].id);
        cr_assert_eq(metric(m, s), (double)wi[i].nthreads, "%s", s);
        snprintf(s, sizeof(s),
                 "locus_worker_started_tasks_total{worker="
                 "\"%d\",inputs=\"local\"}",
                 wi[i].id);
        cr_assert_eq(metric(m, s), (double)wi[i].tasks_local, "%s", s);
        snprintf(s, sizeof(s),
                 "locus_worker_input_bytes_total{worker="
                 "\"%d\",path=\"mapped\"}",
                 wi[i].id);
        cr_assert_eq(metric(m, s), (double)wi[i].bytes_mapped, "%s", s);
        snprintf(s, sizeof(s),
                 "locus_worker_arena_reserved_bytes{worker="
                 "\"%d\"}",
                 wi[i].id);
        cr_assert_eq(metric(m, s), (double)wi[i].bytes_reserved, "%s", s);
        snprintf(s, sizeof(s),
                 "locus_worker_heartbeat_lag_seconds{worker="
                 "\"%d\"}",
                 wi[i].id);
        cr_assert_lt(metric(m, s), 2.0, "%s", s);
    }
    cr_assert_eq(done, 204, "locus_workers: %llu tasks done",
                 (unsigned long long)done);
    cr_assert_gt(metric(m, "locus_messages_received_total"), 0);
    free(m);
    release_all(fs, 200);
    for (int i = 0; i < 4; i++)
        locus_release(bad[i]);
    PASS();
}

/* ---- locality
 * ------------------------------------------------------------------------ */

static locus_future *submit_on(int worker, const char *fn, locus_arg *a,
                               size_t n)
{
    struct locus_submit_opts o = LOCUS_SUBMIT_OPTS_INIT;
    o.workers = &worker;
    o.nworkers = 1;
    locus_future *f;
    OK(locus_submit(cl, fn, a, n, &o, &f));
    cr_assert_eq(locus_result(f, TMO, NULL, NULL), 0, "%s", locus_last_error());
    return f;
}

Test(dash, locality_shows_bytes_that_stayed_and_bytes_that_moved)
{
    const char *sargs[] = {"--dashboard", "127.0.0.1:0", NULL};
    url u = parse_url(start(sargs, 2, 1));
    locus_worker_info wi[2];
    size_t nw = 0;
    OK(locus_workers(cl, wi, 2, &nw));
    cr_assert_eq(nw, 2);
    int a = wi[0].id, b = wi[1].id;
    const int64_t N = 1 << 20;
    locus_arg mk[2] = {locus_arg_i64(N), locus_arg_i64(7)};
    locus_future *data = submit_on(a, "make_bytes", mk, 2);
    locus_arg ck[2] = {locus_arg_future(data), locus_arg_i64(7)};
    locus_future *here = submit_on(a, "check_bytes", ck, 2);  /* stays */
    locus_future *there = submit_on(b, "check_bytes", ck, 2); /* moves */
    nap_ms(1200); /* the workers' counters come with heartbeats */

    char *j = NULL;
    cr_assert_eq(http_get(&u, "/api/locality", NULL, &j), 200);
    json_object *o = json_tokener_parse(j), *placed, *moved, *v;
    cr_assert(o, "not JSON: %s", j);
    cr_assert(json_object_object_get_ex(o, "placed", &placed));
    cr_assert(json_object_object_get_ex(placed, "stayed", &v));
    cr_assert_eq(json_object_get_int64(v), N);
    cr_assert(json_object_object_get_ex(placed, "same_host", &v));
    cr_assert_eq(json_object_get_int64(v), N);
    cr_assert(json_object_object_get_ex(o, "moved", &moved));
    cr_assert(json_object_object_get_ex(moved, "mapped", &v));
    int64_t mapped = json_object_get_int64(v);
    cr_assert(json_object_object_get_ex(moved, "rma", &v));
    int64_t rma = json_object_get_int64(v);
    cr_assert(json_object_object_get_ex(moved, "inline", &v));
    int64_t inl = json_object_get_int64(v);
    cr_assert_eq(mapped + rma + inl, N, "moved %lld+%lld+%lld, want %lld",
                 (long long)mapped, (long long)rma, (long long)inl,
                 (long long)N);
    json_object_put(o);
    free(j);

    /* the last task's record names where its input came from */
    cr_assert_eq(http_get(&u, "/api/tasks?since=2", NULL, &j), 200);
    o = json_tokener_parse(j);
    json_object *ts, *t;
    cr_assert(o && json_object_object_get_ex(o, "tasks", &ts));
    cr_assert_eq(json_object_array_length(ts), 1, "%s", j);
    t = json_object_array_get_idx(ts, 0);
    cr_assert(json_object_object_get_ex(t, "worker", &v));
    cr_assert_eq(json_object_get_int(v), b);
    cr_assert(json_object_object_get_ex(t, "src_worker", &v));
    cr_assert_eq(json_object_get_int(v), a);
    cr_assert(json_object_object_get_ex(t, "bytes_same_host", &v));
    cr_assert_eq(json_object_get_int64(v), N);
    /* its lane: the worker's thread it ran on (one thread here) */
    cr_assert(json_object_object_get_ex(t, "thread", &v));
    cr_assert_eq(json_object_get_int(v), 0, "%s", j);
    json_object_put(o);
    free(j);
    locus_release(here);
    locus_release(there);
    locus_release(data);
    PASS();
}

/* ---- a worker that dies
 * ---------------------------------------------------------------- */

Test(dash, progress_stays_right_when_a_worker_dies)
{
    const char *sargs[] = {"--dashboard", "127.0.0.1:0",     "--heartbeat-ms",
                           "100",         "--dead-after-ms", "1500",
                           NULL};
    url u = parse_url(start(sargs, 2, 1));
    locus_worker_info wi[2];
    size_t nw = 0;
    OK(locus_workers(cl, wi, 2, &nw));
    cr_assert_eq(nw, 2);
    locus_future **fs = map_i64("f_sleep_pid", 20, 20); /* 200 ms each */
    cr_assert_eq(locus_result(fs[0], TMO, NULL, NULL), 0);
    kill(wi[0].pid, SIGKILL); /* with a task running: it is retried */
    cr_assert_eq(locus_wait(fs, 20, 60000), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(locus_future_status(fs[i]), 0, "task %d: %s", i,
                     locus_future_error(fs[i]));
    /* results lost with the worker are computed again (after the client
       has its values): each is counted as submitted again, so that done
       and failed only ever grow; wait until that work is over */
    char *j = NULL;
    json_object *o = NULL, *tot = NULL, *v;
    int pending = 1;
    for (int tries = 0; tries < 100 && pending; tries++) {
        if (o)
            json_object_put(o);
        free(j);
        cr_assert_eq(http_get(&u, "/api/progress", NULL, &j), 200);
        o = json_tokener_parse(j);
        cr_assert(o && json_object_object_get_ex(o, "total", &tot), "%s", j);
        pending = 0;
        json_object_object_get_ex(tot, "running", &v);
        pending += json_object_get_int(v);
        json_object_object_get_ex(tot, "waiting", &v);
        pending += json_object_get_int(v);
        if (pending)
            nap_ms(100);
    }
    cr_assert_eq(pending, 0, "%s", j);
    json_object_object_get_ex(tot, "submitted", &v);
    int64_t sub = json_object_get_int64(v);
    json_object_object_get_ex(tot, "done", &v);
    int64_t done = json_object_get_int64(v);
    json_object_object_get_ex(tot, "failed", &v);
    cr_assert_eq(json_object_get_int64(v), 0, "%s", j);
    cr_assert_eq(done, sub, "%s", j);
    cr_assert_geq(sub, 20, "%s", j);
    fprintf(stderr,
            "dash: a worker died: %lld tasks done for 20 "
            "submitted (%lld computed again)\n",
            (long long)done, (long long)(sub - 20));
    json_object_put(o);
    free(j);
    /* the dead worker left the table; its nanny's restart joined as a
       new worker */
    json_object *ws = NULL;
    o = NULL;
    j = NULL;
    for (int tries = 0; tries < 100; tries++) { /* the restart joins */
        if (o)
            json_object_put(o);
        free(j);
        cr_assert_eq(http_get(&u, "/api/workers", NULL, &j), 200);
        o = json_tokener_parse(j);
        cr_assert(o && json_object_object_get_ex(o, "workers", &ws));
        if (json_object_array_length(ws) == 2)
            break;
        nap_ms(50);
    }
    cr_assert_eq(json_object_array_length(ws), 2, "%s", j);
    for (size_t i = 0; i < json_object_array_length(ws); i++) {
        json_object *e = json_object_array_get_idx(ws, i), *id;
        cr_assert(json_object_object_get_ex(e, "id", &id), "%s", j);
        cr_assert_neq(json_object_get_int(id), wi[0].id,
                      "the dead worker is still listed: %s", j);
    }
    json_object_put(o);
    free(j);
    release_all(fs, 20);
    PASS();
}

/* ---- the page in a real browser
 * ------------------------------------------------------ */

#define CHROMIUM                                                               \
    "timeout 120 chromium --headless --no-sandbox --disable-gpu "              \
    "--disable-quic --no-first-run --disable-background-networking "           \
    "--disable-component-update --disable-sync --user-data-dir=%s/chromium "   \
    "--window-size=1400,1000 --virtual-time-budget=4000 "

Test(dash, chromium_shows_a_row_per_worker_and_a_task_stream)
{
    if (!have("chromium"))
        cr_skip_test("chromium not found: apt-get install chromium (or run "
                     "tools/install-deps.sh)");
    const char *sargs[] = {"--dashboard", "127.0.0.1:0", NULL};
    const char *dash_url = start(sargs, 3, 1);
    char page[600];
    snprintf(page, sizeof(page), "%s", dash_url);

    /* a job that runs for several seconds: 150 tasks of 100 ms on 3
       threads; the screenshot, then the DOM, are taken while it runs */
    locus_future **fs = map_i64("f_sleep_pid", 150, 10);
    /* some finished already: the stream has bars */
    cr_assert_eq(locus_result(fs[0], TMO, NULL, NULL), 0);
    nap_ms(300);

    const char *shot = LOCUS_TEST_BINDIR "/dash-screenshot.png";
    unlink(shot);
    int rc = lt_sh(CHROMIUM "--screenshot=%s '%s' 2> %s/chromium.log", C.dir,
                   shot, page, C.dir);
    struct stat st;
    cr_assert_eq(rc, 0, "chromium --screenshot failed");
    cr_assert(stat(shot, &st) == 0 && st.st_size > 1000, "no screenshot");
    fprintf(stderr, "dash: screenshot %s (%lld bytes)\n", shot,
            (long long)st.st_size);

    rc = lt_sh(CHROMIUM "--dump-dom '%s' > %s/dom.html 2>> %s/chromium.log",
               C.dir, page, C.dir, C.dir);
    int running = locus_future_status(fs[149]) == LOCUS_EAGAIN;
    char path[1100];
    snprintf(path, sizeof(path), "%s/dom.html", C.dir);
    char *dom = lt_slurp(path);
    if (rc != 0 || !dom || !strstr(dom, "<tr class=\"worker\""))
        lt_sh("tail -20 %s/chromium.log >&2; head -c 4000 %s/dom.html >&2",
              C.dir, C.dir);
    cr_assert_eq(rc, 0, "chromium --dump-dom failed");
    cr_assert(dom);
    cr_assert_eq(count(dom, "<tr class=\"worker\""), 3, "one row per worker");
    size_t bars = count(dom, "<rect class=\"bar");
    cr_assert_gt(bars, 0, "the task stream is empty");
    cr_assert(strstr(dom, "f_sleep_pid"), "no function name on the page");
    cr_assert(strstr(dom, "class=\"prow\" data-fn=\"f_sleep_pid\""),
              "no progress bar for f_sleep_pid");
    cr_assert_null(strstr(dom, "cannot reach the scheduler"));
    fprintf(stderr,
            "dash: chromium rendered 3 worker rows and %zu task "
            "bars; the job was %s\n",
            bars, running ? "still running" : "over (a slow machine)");
    free(dom);

    cr_assert_eq(locus_wait(fs, 150, 60000), 0);
    release_all(fs, 150);
    PASS();
}

/* ---- bad requests
 * ------------------------------------------------------------------------ */

Test(dash, bad_requests_get_clean_errors)
{
    const char *sargs[] = {"--dashboard", "127.0.0.1:0", NULL};
    url u = parse_url(start(sargs, 1, 1));
    char *b = NULL;
    cr_assert_eq(http_get(&u, "/nope", NULL, NULL), 404);
    cr_assert_eq(http_get(&u, "/api/nope", NULL, NULL), 404);
    cr_assert_eq(http_get(&u, "/../../etc/passwd", NULL, NULL), 404);
    cr_assert_eq(
        http_get(&u, "/api/tasks?since=zz&seconds=nan&limit=-1", NULL, &b),
        200);
    cr_assert(b && strstr(b, "\"tasks\":["));
    free(b);
    /* read-only */
    const char post[] = "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Length: 5\r\nConnection: close\r\n\r\nhello";
    cr_assert_eq(http_raw(u.port, post, sizeof(post) - 1, NULL), 405);
    const char del[] = "DELETE /api/workers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Connection: close\r\n\r\n";
    cr_assert_eq(http_raw(u.port, del, sizeof(del) - 1, NULL), 405);
    /* a web page cannot reach it by DNS rebinding */
    cr_assert_eq(http_get(&u, "/api/workers", "Host: evil.example\r\n", NULL),
                 403);
    cr_assert_eq(http_get(&u, "/api/workers", "Host: localhost:1\r\n", NULL),
                 200);
    /* a huge header */
    size_t big = 200000;
    char *req = malloc(big + 256);
    int n = snprintf(req, 256,
                     "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "X-Big: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 5);
    int st = http_raw(u.port, req, (size_t)n + big + 4, NULL);
    cr_assert(st == 431 || st == 400, "huge header: status %d", st);
    /* many headers */
    n = snprintf(req, 256, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (int i = 0; i < 5000; i++)
        n += sprintf(req + n, "X-%d: y\r\n", i);
    n += sprintf(req + n, "\r\n");
    st = http_raw(u.port, req, (size_t)n, NULL);
    cr_assert(st == 431 || st == 400, "many headers: status %d", st);
    free(req);
    /* garbage */
    const char junk[] =
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 junk\r\n\r\n";
    st = http_raw(u.port, junk, sizeof(junk) - 1, NULL);
    cr_assert(st == 400 || st == -1, "junk: status %d", st);
    /* and it still serves, and the scheduler still works */
    cr_assert_eq(http_get(&u, "/api/status", NULL, NULL), 200);
    locus_future **fs = map_i64("f1", 20, -1);
    cr_assert_eq(locus_wait(fs, 20, TMO), 0);
    release_all(fs, 20);
    PASS();
}

static double run_job(int n)
{
    double t0 = now_s();
    locus_future **fs = map_i64("f_sleep_pid", n, 2);
    cr_assert_eq(locus_wait(fs, (size_t)n, 60000), 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(locus_future_status(fs[i]), 0);
    release_all(fs, n);
    return now_s() - t0;
}

Test(dash, idle_connections_neither_stop_the_scheduler_nor_the_server,
     .timeout = 240)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 1200 && rl.rlim_max >= 1200) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 1100)
        cr_skip_test("needs 1100 file descriptors, RLIMIT_NOFILE is %llu",
                     (unsigned long long)rl.rlim_cur);
    const char *sargs[] = {"--dashboard", "127.0.0.1:0", NULL};
    url u = parse_url(start(sargs, 2, 2));
    run_job(40); /* warm */
    double base = run_job(100);

    int fds[1000], open_ok = 0;
    double opened = now_s();
    for (int i = 0; i < 1000; i++) {
        fds[i] = connect_to(u.port, 1);
        open_ok += fds[i] >= 0;
    }
    nap_ms(200);
    double busy = run_job(100);
    fprintf(stderr,
            "dash: 100 tasks of 20 ms on 4 threads: %.3f s alone, "
            "%.3f s with %d idle dashboard connections\n",
            base, busy, open_ok);
    cr_assert_gt(open_ok, 900);
    cr_assert_lt(busy, 2 * base + 1.0, "the job slowed from %.3f to %.3f s",
                 base, busy);
    /* the server closes idle connections (5 s) and serves again */
    double t0 = now_s();
    int st = -1;
    while (now_s() - t0 < 60 &&
           (st = http_get(&u, "/api/status", NULL, NULL)) != 200)
        nap_ms(500);
    fprintf(stderr,
            "dash: /api/status answered %d after %.1f s of the "
            "flood\n",
            st, now_s() - t0);
    cr_assert_eq(st, 200, "the dashboard did not recover");
    /* it may answer before the idle timeout (a slow build accepts fewer
       of the flood): the accepted ones are closed once it has passed */
    while (now_s() - opened < 5 + 2)
        nap_ms(200);
    int closed = 0;
    for (int i = 0; i < 1000; i++) {
        if (fds[i] < 0)
            continue;
        char c;
        ssize_t r = recv(fds[i], &c, 1, MSG_DONTWAIT);
        closed += r == 0 || (r < 0 && errno != EAGAIN);
        close(fds[i]);
    }
    fprintf(stderr,
            "dash: %d of %d idle connections were closed by the "
            "server\n",
            closed, open_ok);
    cr_assert_gt(closed, 0, "no idle connection was closed");
    PASS();
}

/* ---- tokens
 * ----------------------------------------------------------------------------------
 */

Test(dash, token_is_required_when_asked)
{
    const char *sargs[] = {"--dashboard", "127.0.0.1:0", "--dashboard-token",
                           NULL};
    const char *du = start(sargs, 1, 1);
    url u = parse_url(du);
    cr_assert_eq(strlen(u.token), 32, "no token in %s", du);
    cr_assert_eq(http_get(&u, "/api/workers", NULL, NULL), 403);
    cr_assert_eq(http_get(&u, "/metrics", NULL, NULL), 403);
    cr_assert_eq(http_get(&u, "/", NULL, NULL), 403);
    cr_assert_eq(http_get(&u, "/dash.js", NULL, NULL), 403);
    cr_assert_eq(http_get(&u, "/metrics?token=0123456789abcdef0123456789abcdef",
                          NULL, NULL),
                 403);
    cr_assert_eq(http_get(&u, "/metrics?token=", NULL, NULL), 403);
    cr_assert_eq(
        http_get(&u, "/metrics", "Authorization: Bearer nope\r\n", NULL), 403);
    char *b = NULL;
    cr_assert_eq(http_get(&u, with_token(&u, "/metrics"), NULL, NULL), 200);
    char hdr[160];
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", u.token);
    cr_assert_eq(http_get(&u, "/api/workers", hdr, &b), 200);
    cr_assert(b && strstr(b, "\"workers\":[{"));
    free(b);
    /* the page passes its token on to its script and style sheet */
    cr_assert_eq(http_get(&u, with_token(&u, "/"), NULL, &b), 200);
    char want[120];
    snprintf(want, sizeof(want), "/dash.js?token=%s", u.token);
    cr_assert(b && strstr(b, want), "page without its token");
    free(b);
    cr_assert_eq(http_get(&u, with_token(&u, "/dash.js"), NULL, NULL), 200);
    PASS();
}

Test(dash, non_loopback_bind_requires_a_token)
{
    const char *sargs[] = {"--dashboard", "0.0.0.0:0", NULL};
    const char *du = start(sargs, 1, 1);
    url u = parse_url(du);
    cr_assert_eq(strlen(u.token), 32, "no token in %s", du);
    cr_assert_null(strstr(du, "0.0.0.0"), "URL names no host: %s", du);
    cr_assert_eq(http_get(&u, "/api/status", NULL, NULL), 403);
    cr_assert_eq(http_get(&u, with_token(&u, "/api/status"),
                          "Host: elsewhere.example\r\n", NULL),
                 200);
    PASS();
}

/* ---- ports
 * ------------------------------------------------------------------------------------
 */

Test(dash, taken_port_falls_back_and_no_dashboard_means_none)
{
    /* take a port, ask for it */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(lfd, 1), 0);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", ntohs(a.sin_port));
    const char *sargs[] = {"--dashboard", want, NULL};
    url u = parse_url(start(sargs, 1, 1));
    cr_assert_neq(u.port, ntohs(a.sin_port));
    cr_assert_eq(http_get(&u, "/api/status", NULL, NULL), 200);
    close(lfd);
    locus_disconnect(cl);
    cl = NULL;
    cr_assert_eq(lt_cluster_stop(&C, 0), 0);

    const char *none[] = {"--no-dashboard", NULL};
    cr_assert_eq(lt_cluster_init(&C), 0);
    cr_assert_eq(lt_cluster_spawn_sched(&C, none, TMO), 0);
    schedfile sf;
    OK(schedfile_read(C.file, &sf));
    cr_assert_str_empty(sf.dashboard);
    char *text = lt_slurp(C.file);
    cr_assert(text && !strstr(text, "dashboard"));
    free(text);
    PASS();
}

/* ---- LOCUS_TRACE
 * --------------------------------------------------------------------------------
 */

Test(dash, trace_file_is_valid_chrome_trace_json)
{
    char *dir = lt_tmpdir();
    char path[1024];
    snprintf(path, sizeof(path), "%s/trace.json", dir);
    setenv("LOCUS_TRACE", path, 1);
    const char *sargs[] = {"--no-dashboard", NULL};
    start(sargs, 2, 1);
    unsetenv("LOCUS_TRACE");
    locus_future **fs = map_i64("f1", 50, -1);
    cr_assert_eq(locus_wait(fs, 50, TMO), 0);
    release_all(fs, 50);
    locus_future *bad;
    locus_arg arg = locus_arg_str("traced");
    OK(locus_submit(cl, "fail_with", &arg, 1, NULL, &bad));
    cr_assert_eq(locus_wait(&bad, 1, TMO), 0);
    locus_release(bad);
    locus_disconnect(cl);
    cl = NULL;
    cr_assert_eq(lt_cluster_stop(&C, 0), 0); /* the scheduler closes it */

    json_object *o = json_object_from_file(path);
    if (!o)
        lt_sh("tail -c 2000 %s >&2", path);
    cr_assert(o, "%s is not valid JSON", path);
    json_object *evs;
    cr_assert(json_object_object_get_ex(o, "traceEvents", &evs) &&
              json_object_is_type(evs, json_type_array));
    int x = 0, failed = 0, named = 0;
    for (size_t i = 0; i < json_object_array_length(evs); i++) {
        json_object *e = json_object_array_get_idx(evs, i), *v;
        cr_assert(json_object_object_get_ex(e, "ph", &v));
        const char *ph = json_object_get_string(v);
        if (!strcmp(ph, "M")) {
            named++;
            continue;
        }
        if (strcmp(ph, "X"))
            continue;
        x++;
        cr_assert(json_object_object_get_ex(e, "name", &v));
        const char *name = json_object_get_string(v);
        cr_assert(!strcmp(name, "f1") || !strcmp(name, "fail_with"), "%s",
                  name);
        cr_assert(json_object_object_get_ex(e, "ts", &v));
        cr_assert_geq(json_object_get_double(v), 0);
        cr_assert(json_object_object_get_ex(e, "dur", &v));
        cr_assert_gt(json_object_get_double(v), 0);
        cr_assert(json_object_object_get_ex(e, "pid", &v));
        cr_assert_gt(json_object_get_int(v), 0);
        json_object *args;
        cr_assert(json_object_object_get_ex(e, "args", &args));
        cr_assert(json_object_object_get_ex(args, "status", &v));
        failed += json_object_get_int(v) != 0;
    }
    json_object_put(o);
    cr_assert_eq(x, 51, "%d task events, want 51", x);
    cr_assert_eq(failed, 1);
    cr_assert_geq(named, 3, "scheduler and worker names");
    lt_rmdir(dir);
    free(dir);
    PASS();
}

/* ---- the sink's cost
 * ------------------------------------------------------------------------------
 */

static atomic_int reading; /* the main thread stops the reader */

static void *reader(void *arg)
{
    dash *d = arg;
    while (reading) {
        dbuf b = {0};
        dash_json_tasks(d, &b, 0, 0, 10000);
        dash_metrics(d, &b);
        free(b.p);
    }
    return NULL;
}

static double per_call_ns(dash *d, int n, int bars)
{
    static const char *fns[] = {"load", "stencil", "reduce", "write"};
    struct dash_task_ev e = {.from = DASH_T_RUNNING,
                             .to = DASH_T_DONE,
                             .worker = 3,
                             .thread = -1,
                             .duration_ns = 12345,
                             .bytes_stayed = 4096};
    if (!bars) {
        e.from = DASH_T_WAITING;
        e.to = DASH_T_RUNNING;
        e.duration_ns = 0;
    }
    uint64_t t0 = lc_now_ns();
    for (int i = 0; i < n; i++) {
        e.fn = fns[i & 3];
        e.start_ns = t0 + (uint64_t)i;
        dash_task_event(d, &e);
    }
    return (double)(lc_now_ns() - t0) / n;
}

Test(dash, task_event_costs_well_under_a_microsecond)
{
    struct dash_opts o = DASH_OPTS_INIT;
    o.listen = "127.0.0.1:0";
    dash *d = NULL;
    OK(dash_open(&o, &d));
    cr_assert(d);
    struct dash_worker w = {
        .id = 3, .host = "h", .cpuset = "0-3", .nthreads = 4};
    dash_worker_update(d, &w);
    per_call_ns(d, 100000, 1); /* warm */
    double done = per_call_ns(d, 1000000, 1);
    double prog = per_call_ns(d, 1000000, 0);
    reading = 1;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, reader, d), 0);
    nap_ms(20);
    double busy = per_call_ns(d, 1000000, 1);
    reading = 0;
    pthread_join(th, NULL);
    fprintf(stderr,
            "dash: dash_task_event %.1f ns per call (finished task, "
            "ring record), %.1f ns (progress only), %.1f ns while a thread "
            "reads /api/tasks and /metrics in a loop\n",
            done, prog, busy);
    dash_close(d);
    /* generous, for loaded machines; sanitizer builds (-O0, ASan; TSan)
       are some 20 times slower */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    double limit = 20000;
#else
    double limit = 2000;
#endif
    cr_assert_lt(done, limit);
    cr_assert_lt(prog, limit);
    PASS();
}
