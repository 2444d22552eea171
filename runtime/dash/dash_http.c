/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP server: libmicrohttpd with its own threads (epoll, a pool of
 * two), so no request ever runs on the scheduler's loop.  Read-only: GET and
 * HEAD only.  Bounded: a connection limit, an idle timeout and a per-
 * connection memory limit (oversized headers get 431 from libmicrohttpd).
 *
 * Access: a loopback bind serves requests whose Host is a loopback name
 * (127.x, ::1, localhost: a web page cannot reach it through DNS
 * rebinding); a non-loopback bind, or token_required, needs the token on
 * every request, as ?token= or "Authorization: Bearer", else 403.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/base.h"
#include "dash/dash_int.h"
#include "proto/auth.h"

#define DEFAULT_LISTEN "127.0.0.1:8787"

struct dash_http {
    struct MHD_Daemon *mhd;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    lc_log(LC_LOG_DEBUG, "dash", "http: %s", msg);
}

/* ---- answering
 * ------------------------------------------------------------------- */

static void count(dash *d, unsigned code)
{
    unsigned k = code / 100;
    if (k < 2 || k > 5)
        return;
    pthread_mutex_lock(&d->mu);
    d->http_requests[k - 2]++;
    pthread_mutex_unlock(&d->mu);
}

static enum MHD_Result reply(dash *d, struct MHD_Connection *c, unsigned code,
                             const char *type, void *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    /* the token may be in the page's URL: never send it elsewhere */
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; "
                            "style-src 'self'; connect-src 'self'; "
                            "img-src 'self'; frame-ancestors 'none'");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    count(d, code);
    return rc;
}

static enum MHD_Result send_text(dash *d, struct MHD_Connection *c,
                                 unsigned code, const char *msg)
{
    return reply(d, c, code, "text/plain; charset=utf-8", (void *)msg,
                 strlen(msg), MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result send_dbuf(dash *d, struct MHD_Connection *c,
                                 const char *type, dbuf *b)
{
    if (b->err || !b->p) {
        free(b->p);
        return send_text(d, c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
    }
    return reply(d, c, MHD_HTTP_OK, type, b->p, b->len, MHD_RESPMEM_MUST_FREE);
}

/* host part of a Host header: "[::1]:80" -> "::1", "a:80" -> "a" */
static int host_is_loopback_name(const char *h)
{
    char buf[256];
    if (!h || strlen(h) >= sizeof(buf))
        return 0;
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        if (!e)
            return 0;
        snprintf(buf, sizeof(buf), "%.*s", (int)(e - h - 1), h + 1);
        return !strcmp(buf, "::1");
    }
    snprintf(buf, sizeof(buf), "%s", h);
    char *colon = strchr(buf, ':');
    if (colon)
        *colon = 0;
    if (!strcasecmp(buf, "localhost"))
        return 1;
    struct in_addr a;
    return inet_pton(AF_INET, buf, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static int token_ok(dash *d, struct MHD_Connection *c)
{
    const char *t =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!t && auth && !strncasecmp(auth, "Bearer ", 7)) {
        t = auth + 7;
        while (*t == ' ')
            t++;
    }
    size_t n = strlen(d->token);
    return t && strlen(t) == n && sodium_memcmp(t, d->token, n) == 0;
}

static uint64_t arg_u64(struct MHD_Connection *c, const char *name,
                        uint64_t dflt)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    return *end ? dflt : (uint64_t)x;
}

static double arg_double(struct MHD_Connection *c, const char *name,
                         double dflt)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    if (!v || !*v)
        return dflt;
    char *end;
    double x = strtod(v, &end);
    return *end || x != x ? dflt : x;
}

/* The page, with the token (already checked) appended to the URLs of its
 * script and style sheet so that they pass the same check. */
static enum MHD_Result send_index(dash *d, struct MHD_Connection *c,
                                  const dash_file *f)
{
    static const char mark[] = "__Q__";
    char q[80] = "";
    if (d->need_token)
        snprintf(q, sizeof(q), "?token=%s", d->token);
    dbuf b = {0};
    const char *s = (const char *)f->data, *end = s + f->len;
    while (s < end) {
        const char *m = memmem(s, (size_t)(end - s), mark, sizeof(mark) - 1);
        size_t n = m ? (size_t)(m - s) : (size_t)(end - s);
        dbuf_printf(&b, "%.*s", (int)n, s);
        if (!m)
            break;
        dbuf_puts(&b, q);
        s = m + sizeof(mark) - 1;
    }
    return send_dbuf(d, c, f->type, &b);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    dash *d = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) &&
        strcmp(method, MHD_HTTP_METHOD_HEAD))
        return send_text(d, c, MHD_HTTP_METHOD_NOT_ALLOWED,
                         "read-only: GET and HEAD only\n");
    if (*upload_data_size) {
        *upload_data_size = 0; /* a GET with a body: ignore the body */
        return MHD_YES;
    }
    if (d->need_token) {
        if (!token_ok(d, c))
            return send_text(d, c, MHD_HTTP_FORBIDDEN,
                             "forbidden: this dashboard needs its token "
                             "(the \"dashboard\" URL in the scheduler file): "
                             "?token=... or Authorization: Bearer ...\n");
    } else if (!host_is_loopback_name(MHD_lookup_connection_value(
                   c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))) {
        return send_text(d, c, MHD_HTTP_FORBIDDEN,
                         "forbidden: Host is not a loopback name\n");
    }

    dbuf b = {0};
    if (!strcmp(url, "/metrics")) {
        dash_metrics(d, &b);
        return send_dbuf(d, c, "text/plain; version=0.0.4; charset=utf-8", &b);
    }
    if (!strncmp(url, "/api/", 5)) {
        const char *api = url + 5;
        if (!strcmp(api, "workers"))
            dash_json_workers(d, &b);
        else if (!strcmp(api, "tasks"))
            dash_json_tasks(d, &b, arg_u64(c, "since", 0),
                            arg_double(c, "seconds", 0),
                            (size_t)arg_u64(c, "limit", 10000));
        else if (!strcmp(api, "progress"))
            dash_json_progress(d, &b);
        else if (!strcmp(api, "locality"))
            dash_json_locality(d, &b);
        else if (!strcmp(api, "status"))
            dash_json_status(d, &b);
        else
            return send_text(d, c, MHD_HTTP_NOT_FOUND, "no such endpoint\n");
        return send_dbuf(d, c, "application/json", &b);
    }
    dash_file pf;
    if (!dash_page_find(url, &pf))
        return send_text(d, c, MHD_HTTP_NOT_FOUND, "not found\n");
    const dash_file *f = &pf;
    if (!strcmp(f->path, "/index.html"))
        return send_index(d, c, f);
    return reply(d, c, MHD_HTTP_OK, f->type, (void *)f->data, f->len,
                 MHD_RESPMEM_PERSISTENT);
}

/* ---- starting
 * -------------------------------------------------------------------------- */

/* "ADDR:PORT" or "[V6]:PORT" into a socket address; *host gets ADDR. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, char *host,
                        size_t hostlen, int *port)
{
    char buf[300];
    const char *hp, *pp;
    size_t hl;
    if (!s || strlen(s) >= sizeof(buf))
        goto bad;
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (!e || e[1] != ':')
            goto bad;
        hp = s + 1;
        hl = (size_t)(e - hp);
        pp = e + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon)
            goto bad;
        hp = s;
        hl = (size_t)(colon - s);
        pp = colon + 1;
    }
    if (hl == 0 || hl >= hostlen)
        goto bad;
    char *end;
    long p = strtol(pp, &end, 10);
    if (!*pp || *end || p < 0 || p > 65535)
        goto bad;
    snprintf(host, hostlen, "%.*s", (int)hl, hp);
    snprintf(buf, sizeof(buf), "%s", host);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(buf, NULL, &hints, &ai);
    if (g != 0 || !ai)
        return lc_seterr(LOCUS_EINVAL, "dash",
                         "--dashboard %s: cannot "
                         "resolve '%s': %s",
                         s, buf, gai_strerror(g));
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
    *port = (int)p;
    return 0;
bad:
    return lc_seterr(LOCUS_EINVAL, "dash",
                     "--dashboard '%s': expected "
                     "ADDR:PORT or [ADDR]:PORT (e.g. 127.0.0.1:8787)",
                     s ? s : "");
}

static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >>
                24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

static int is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
               htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(
        &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static struct MHD_Daemon *start(dash *d, struct sockaddr_storage *ss)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned idle = d->o.idle_timeout_s > 0 ? (unsigned)d->o.idle_timeout_s : 5;
    unsigned maxc =
        d->o.max_connections > 0 ? (unsigned)d->o.max_connections : 256;
    /* the server's threads take no signals: they belong to the scheduler's
       thread, which waits for them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    struct MHD_Daemon *m = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, d, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)ss, MHD_OPTION_THREAD_POOL_SIZE, 2u,
        MHD_OPTION_CONNECTION_LIMIT, maxc, MHD_OPTION_CONNECTION_TIMEOUT, idle,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 128u, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return m;
}

int dash_http_start(dash *d)
{
    int rc = 0, port = 0;
    char host[256];
    struct sockaddr_storage ss;
    const char *listen =
        d->o.listen && *d->o.listen ? d->o.listen : DEFAULT_LISTEN;
    LC_CHECK_RC(parse_listen(listen, &ss, host, sizeof(host), &port), out, rc);
    LC_CHECK_RC(auth_init(), out, rc);
    d->need_token = d->o.token_required || !is_loopback(&ss);
    if (d->need_token) {
        uint8_t raw[16];
        auth_random(raw, sizeof(raw));
        auth_to_hex(raw, sizeof(raw), d->token);
    }
    d->http = calloc(1, sizeof(*d->http));
    LC_CHECK(d->http, out, rc, LOCUS_ENOMEM, "dash", "dashboard: no memory");
    d->http->mhd = start(d, &ss);
    if (!d->http->mhd && port != 0) {
        /* taken (another scheduler on this host): any free port will do */
        if (ss.ss_family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = 0;
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
        d->http->mhd = start(d, &ss);
        if (d->http->mhd)
            lc_log(LC_LOG_INFO, "dash",
                   "dashboard: %s is taken, using "
                   "another port",
                   listen);
    }
    LC_CHECK(d->http->mhd, out, rc, LOCUS_EIO, "dash",
             "dashboard: cannot "
             "listen on %s (--dashboard ADDR:PORT, or --no-dashboard)",
             listen);
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d->http->mhd, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? info->port : port;
    const char *uhost = is_wildcard(&ss) ? lc_hostname() : host;
    int v6 = strchr(uhost, ':') != NULL;
    snprintf(d->url, sizeof(d->url), "http://%s%s%s:%d/%s%s", v6 ? "[" : "",
             uhost, v6 ? "]" : "", bound, d->need_token ? "?token=" : "",
             d->token);
    /* the token stays out of logs: it is in the scheduler file (0600) */
    lc_log(LC_LOG_INFO, "dash", "dashboard at http://%s%s%s:%d/%s",
           v6 ? "[" : "", uhost, v6 ? "]" : "", bound,
           d->need_token ? " (token in the scheduler file)" : "");
out:
    return rc;
}

void dash_http_stop(dash *d)
{
    if (!d->http)
        return;
    if (d->http->mhd)
        MHD_stop_daemon(d->http->mhd);
    free(d->http);
    d->http = NULL;
}
