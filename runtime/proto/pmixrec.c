/* SPDX-License-Identifier: BSD-3-Clause */
#include "proto/pmixrec.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

/* "pmix:" or "pmix:R": R into *rank (0 when absent) */
static int parse_target(const char *target, unsigned *rank)
{
    if (!pmixrec_is_target(target))
        return lc_seterr(LOCUS_EINVAL, "pmix", "'%s' is not a PMIx target",
                         target ? target : "(null)");
    const char *r = target + 5;
    char *end = NULL;
    errno = 0;
    unsigned long v = *r ? strtoul(r, &end, 10) : 0;
    if ((*r && (*end || *r == '-' || *r == '+')) || errno || v > INT_MAX)
        return lc_seterr(LOCUS_EINVAL, "pmix",
                         "'%s': give pmix: or pmix:R with R the rank that "
                         "runs the scheduler",
                         target);
    *rank = (unsigned)v;
    return 0;
}

int pmixrec_is_target(const char *target)
{
    return target && !strncmp(target, "pmix:", 5);
}

#ifndef LOCUS_HAVE_PMIX

static int no_pmix(const char *what)
{
    return lc_seterr(LOCUS_ENOTSUP, "pmix",
                     "%s: this locus was built without PMIx (configure with "
                     "-DLOCUS_WITH_PMIX=ON; Debian: apt-get install "
                     "libpmix-dev); give --scheduler-file PATH on a shared "
                     "file system instead",
                     what);
}

int pmixrec_publish(const char *target, const char *text)
{
    (void)text;
    return no_pmix(target);
}

int pmixrec_lookup(const char *target, int wait_ms, char **text)
{
    (void)wait_ms;
    *text = NULL;
    return no_pmix(target);
}

void pmixrec_withdraw(const char *target)
{
    (void)target;
}

int pmixrec_self(char *nspace, size_t len, int *local_rank)
{
    (void)nspace;
    (void)len;
    (void)local_rank;
    return LOCUS_ENOTSUP; /* quietly: callers fall back */
}

#else /* LOCUS_HAVE_PMIX */

#include <pmix.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t init_mu = PTHREAD_MUTEX_INITIALIZER;
static int init_state; /* 0 not tried, 1 up, -1 failed */
static pmix_proc_t self;
static char published[PMIX_MAX_KEYLEN + 1]; /* key this process published */
static char committed[PMIX_MAX_KEYLEN + 1]; /* key this process Put */

static void finalize_at_exit(void)
{
    pthread_mutex_lock(&init_mu);
    if (init_state == 1) {
        if (published[0]) {
            char *keys[] = {published, NULL};
            PMIx_Unpublish(keys, NULL, 0);
            published[0] = '\0';
        }
        PMIx_Finalize(NULL, 0);
        init_state = 0;
    }
    pthread_mutex_unlock(&init_mu);
}

/* PMIx up, once; LOCUS_ENOTSUP when no PMIx launcher started us */
static int up(const char *what)
{
    int rc = 0;
    pthread_mutex_lock(&init_mu);
    if (init_state == 0) {
        const char *ns = getenv("PMIX_NAMESPACE");
        if (!ns || !*ns) {
            pthread_mutex_unlock(&init_mu);
            return lc_seterr(
                LOCUS_ENOTSUP, "pmix",
                "%s: this process was not started by a PMIx launcher "
                "(no $PMIX_NAMESPACE: run it under mpirun or srun "
                "--mpi=pmix), or give --scheduler-file PATH",
                what);
        }
        pmix_status_t st = PMIx_Init(&self, NULL, 0);
        if (st == PMIX_SUCCESS) {
            init_state = 1;
            atexit(finalize_at_exit);
        } else {
            init_state = -1;
            lc_log(LC_LOG_WARN, "pmix", "PMIx_Init: %s", PMIx_Error_string(st));
        }
    }
    if (init_state != 1)
        rc = lc_seterr(LOCUS_EIO, "pmix",
                       "%s: cannot reach the launcher's PMIx server "
                       "(PMIx_Init failed; $PMIX_NAMESPACE is %s)",
                       what, getenv("PMIX_NAMESPACE"));
    pthread_mutex_unlock(&init_mu);
    return rc;
}

static void key_of(unsigned rank, char *key)
{
    snprintf(key, PMIX_MAX_KEYLEN + 1, "locus.scheduler.%u", rank);
}

int pmixrec_publish(const char *target, const char *text)
{
    unsigned rank;
    char key[PMIX_MAX_KEYLEN + 1];
    int rc = parse_target(target, &rank);
    if (rc || (rc = up(target)) != 0)
        return rc;
    if (self.rank != rank)
        return lc_seterr(LOCUS_EINVAL, "pmix",
                         "%s names rank %u as the scheduler, but this "
                         "scheduler is rank %u of namespace %s: give "
                         "pmix:%u (locus-launch --scheduler-rank)",
                         target, rank, self.rank, self.nspace, self.rank);
    key_of(rank, key);
    /* Put + Commit for PMIx_Get from rank R: every launcher has it */
    pmix_value_t v;
    v.type = PMIX_STRING;
    v.data.string = (char *)text;
    pmix_status_t st = PMIx_Put(PMIX_GLOBAL, key, &v);
    if (st == PMIX_SUCCESS)
        st = PMIx_Commit();
    if (st != PMIX_SUCCESS)
        return lc_seterr(LOCUS_EIO, "pmix", "%s: PMIx_Put/Commit: %s", target,
                         PMIx_Error_string(st));
    pthread_mutex_lock(&init_mu);
    snprintf(committed, sizeof(committed), "%s", key);
    pthread_mutex_unlock(&init_mu);
    /* Publish for PMIx_Lookup: waits for the scheduler, and serves every
       process of the rank, not only its first */
    pmix_info_t info;
    PMIX_INFO_LOAD(&info, key, text, PMIX_STRING);
    st = PMIx_Publish(&info, 1);
    PMIX_INFO_DESTRUCT(&info);
    if (st == PMIX_ERR_DUPLICATE_KEY)
        return lc_seterr(LOCUS_EBUSY, "pmix",
                         "%s: a scheduler of this launcher's session "
                         "published it already: stop it first, or run this "
                         "one at another rank",
                         target);
    if (st == PMIX_SUCCESS) {
        pthread_mutex_lock(&init_mu);
        snprintf(published, sizeof(published), "%s", key);
        pthread_mutex_unlock(&init_mu);
    } else {
        lc_log(LC_LOG_INFO, "pmix",
               "%s: PMIx_Publish: %s; readers use PMIx_Get from rank %u",
               target, PMIx_Error_string(st), rank);
    }
    lc_log(LC_LOG_INFO, "pmix",
           "scheduler record published as %s (%s, rank %u)", target,
           self.nspace, rank);
    return 0;
}

void pmixrec_withdraw(const char *target)
{
    unsigned rank;
    char key[PMIX_MAX_KEYLEN + 1];
    if (parse_target(target, &rank) != 0) {
        lc_clearerr();
        return;
    }
    key_of(rank, key);
    pthread_mutex_lock(&init_mu);
    if (init_state == 1 && !strcmp(published, key)) {
        char *keys[] = {published, NULL};
        PMIx_Unpublish(keys, NULL, 0);
        published[0] = '\0';
    }
    pthread_mutex_unlock(&init_mu);
}

/*
 * A non-blocking PMIx call waited for with our own deadline: the launcher
 * is asked to time out first (PMIX_TIMEOUT), and should it not, we stop
 * waiting anyway and the callback, when it comes, frees what is left.
 */
typedef struct pending {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, refs;
    pmix_status_t st;
    char *text;
} pending;

static pending *pending_new(void)
{
    pending *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->refs = 2; /* the waiter and the callback */
    return p;
}

static void pending_put(pending *p)
{
    pthread_mutex_lock(&p->mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (last) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p->text);
        free(p);
    }
}

static void pending_finish(pending *p, pmix_status_t st, const char *s)
{
    pthread_mutex_lock(&p->mu);
    p->st = st;
    if (st == PMIX_SUCCESS) {
        p->text = s ? strdup(s) : NULL;
        if (!p->text)
            p->st = PMIX_ERR_NOMEM;
    }
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pending_put(p);
}

static void lookup_cb(pmix_status_t st, pmix_pdata_t data[], size_t n,
                      void *cbdata)
{
    const char *s = NULL;
    if (st == PMIX_SUCCESS && n >= 1 && data[0].value.type == PMIX_STRING)
        s = data[0].value.data.string;
    else if (st == PMIX_SUCCESS)
        st = PMIX_ERR_BAD_PARAM;
    pending_finish(cbdata, st, s);
}

/* The value PMIx_Get_nb hands over is the callback's to release (OpenPMIx
   4.2 does not free it on return: LeakSanitizer showed it under srun
   --mpi=pmix, where Get is the only way to the record); pending_finish
   keeps a copy of the text. */
static void get_cb(pmix_status_t st, pmix_value_t *kv, void *cbdata)
{
    const char *s = NULL;
    if (st == PMIX_SUCCESS && kv && kv->type == PMIX_STRING)
        s = kv->data.string;
    else if (st == PMIX_SUCCESS)
        st = PMIX_ERR_BAD_PARAM;
    pending_finish(cbdata, st, s);
    if (kv)
        PMIX_VALUE_RELEASE(kv);
}

/* Wait for p until deadline; 1 when it completed (status in p->st). */
static int pending_wait(pending *p, uint64_t deadline)
{
    pthread_mutex_lock(&p->mu);
    while (!p->done) {
        uint64_t now = lc_now_ns();
        if (now >= deadline)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t left = deadline - now;
        ts.tv_sec += (time_t)(left / 1000000000ull);
        ts.tv_nsec += (long)(left % 1000000000ull);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    int done = p->done;
    pthread_mutex_unlock(&p->mu);
    return done;
}

/* Lookup (wait 1) or Get from rank; the status, text in *text */
static pmix_status_t ask(int lookup, const char *key, unsigned rank,
                         int wait_ms, char **text)
{
    pending *p = pending_new();
    if (!p)
        return PMIX_ERR_NOMEM;
    pmix_info_t info[2];
    size_t ninfo = 0;
    bool wait = wait_ms > 0;
    int secs = wait_ms > 0 ? (wait_ms + 999) / 1000 : 0;
    if (lookup && wait)
        PMIX_INFO_LOAD(&info[ninfo++], PMIX_WAIT, &wait, PMIX_BOOL);
    if (wait)
        PMIX_INFO_LOAD(&info[ninfo++], PMIX_TIMEOUT, &secs, PMIX_INT);
    pmix_status_t st;
    if (lookup) {
        char *keys[] = {(char *)key, NULL};
        st = PMIx_Lookup_nb(keys, info, ninfo, lookup_cb, p);
    } else {
        pmix_proc_t proc;
        PMIX_LOAD_PROCID(&proc, self.nspace, rank);
        if (!wait) {
            bool imm = true;
            PMIX_INFO_LOAD(&info[ninfo++], PMIX_IMMEDIATE, &imm, PMIX_BOOL);
        }
        st = PMIx_Get_nb(&proc, key, info, ninfo, get_cb, p);
    }
    for (size_t i = 0; i < ninfo; i++)
        PMIX_INFO_DESTRUCT(&info[i]);
    if (st != PMIX_SUCCESS) {
        pending_put(p); /* the callback will not run */
        pending_put(p);
        return st;
    }
    /* the launcher's own timeout first; ours two seconds later */
    if (!pending_wait(p, lc_deadline_ms(wait_ms + 2000))) {
        pending_put(p); /* the late callback frees it */
        return PMIX_ERR_TIMEOUT;
    }
    st = p->st;
    if (st == PMIX_SUCCESS) {
        *text = p->text;
        p->text = NULL;
    }
    pending_put(p);
    return st;
}

int pmixrec_lookup(const char *target, int wait_ms, char **text)
{
    unsigned rank;
    char key[PMIX_MAX_KEYLEN + 1];
    *text = NULL;
    int rc = parse_target(target, &rank);
    if (rc || (rc = up(target)) != 0)
        return rc;
    key_of(rank, key);
    if (wait_ms < 0)
        wait_ms = 0;
    pthread_mutex_lock(&init_mu);
    int mine = self.rank == rank && strcmp(committed, key) != 0;
    pthread_mutex_unlock(&init_mu);
    if (mine) /* the scheduler asking before it published: nobody will */
        return lc_seterr(LOCUS_ENOENT, "pmix",
                         "%s: this process is rank %u and has not "
                         "published it",
                         target, rank);
    pmix_status_t st = ask(1, key, rank, wait_ms, text);
    if (st == PMIX_ERR_NOT_SUPPORTED) {
        /* no data server (Slurm): Put/Get, from the scheduler's rank */
        lc_log(LC_LOG_INFO, "pmix",
               "%s: no PMIx_Lookup here; PMIx_Get from rank %u", target, rank);
        st = ask(0, key, rank, wait_ms, text);
    }
    switch (st) {
    case PMIX_SUCCESS:
        return 0;
    case PMIX_ERR_NOT_FOUND:
    case PMIX_ERR_PROC_ENTRY_NOT_FOUND:
        if (wait_ms == 0)
            return lc_seterr(LOCUS_ENOENT, "pmix",
                             "%s: no scheduler has published its record in "
                             "namespace %s yet",
                             target, self.nspace);
        /* a launcher that answers "not found" on timeout */
        /* fall through */
    case PMIX_ERR_TIMEOUT:
        return lc_seterr(LOCUS_ETIMEDOUT, "pmix",
                         "%s: no scheduler published its record as rank %u "
                         "of namespace %s within %d ms: does rank %u run "
                         "locus-scheduler (locus-launch --scheduler-rank)? "
                         "see its output, or wait longer (--wait-ms)",
                         target, rank, self.nspace, wait_ms, rank);
    default:
        return lc_seterr(LOCUS_EIO, "pmix", "%s: PMIx lookup failed: %s",
                         target, PMIx_Error_string(st));
    }
}

int pmixrec_self(char *nspace, size_t len, int *local_rank)
{
    if (!getenv("PMIX_NAMESPACE") || up("PMIx") != 0) {
        lc_clearerr();
        return LOCUS_ENOTSUP;
    }
    if (nspace)
        snprintf(nspace, len, "%s", self.nspace);
    if (local_rank) {
        pmix_value_t *v = NULL;
        pmix_status_t st = PMIx_Get(&self, PMIX_LOCAL_RANK, NULL, 0, &v);
        if (st != PMIX_SUCCESS || !v)
            return LOCUS_ENOENT;
        int ok = v->type == PMIX_UINT16;
        *local_rank = ok ? (int)v->data.uint16 : -1;
        PMIX_VALUE_RELEASE(v);
        if (!ok)
            return LOCUS_ENOENT;
    }
    return 0;
}

#endif /* LOCUS_HAVE_PMIX */
