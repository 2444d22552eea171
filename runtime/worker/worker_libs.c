/* SPDX-License-Identifier: BSD-3-Clause */
/* Task libraries (dlopen), and their symbols through the one registry. */
#include "worker/worker_int.h"

/* One place resolves names: the task registry (worker/task.c), where the
   built-ins and the tables task libraries register live.  A name found
   instead among the symbols of a task library is registered there too, so
   the next lookup is one map probe and every later name resolves the
   same way.  The entry outlives the process's registry (it is never
   freed; the registry points at it). */
locus_task_fn worker_resolve(worker *w, const char *name)
{
    locus_task_fn fn = locus_task_lookup(name);
    if (fn)
        return fn;
    for (int i = 0; i < w->nlibs; i++) {
        void *sym = dlsym(w->libs[i], name);
        if (!sym)
            continue;
        memcpy(&fn, &sym, sizeof(sym));
        locus_task_def *d = malloc(sizeof(*d));
        char *n = strdup(name);
        if (d && n) {
            *d = (locus_task_def){n, fn};
            if (locus_task_register(d, 1) == 0)
                return fn;
        }
        /* not remembered (no memory, or a library registered the name
           with another function meanwhile): the registry wins */
        free(d);
        free(n);
        locus_task_fn r = locus_task_lookup(name);
        return r ? r : fn;
    }
    return NULL;
}

static int load_lib(worker *w, const char *path, char *msg, size_t len)
{
    for (int i = 0; i < w->nlibs; i++)
        if (!strcmp(w->libpaths[i], path))
            return 0;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(msg, len, "dlopen: %s", e ? e : "unknown error");
        return LOCUS_ELIB;
    }
    void **nl = realloc(w->libs, (size_t)(w->nlibs + 1) * sizeof(void *));
    char **np =
        nl ? realloc(w->libpaths, (size_t)(w->nlibs + 1) * sizeof(char *))
           : NULL;
    if (nl)
        w->libs = nl;
    if (np)
        w->libpaths = np;
    if (!nl || !np) {
        dlclose(h);
        snprintf(msg, len, "out of memory");
        return LOCUS_ENOMEM;
    }
    w->libs[w->nlibs] = h;
    w->libpaths[w->nlibs] = strdup(path);
    w->nlibs++;
    lc_log(LC_LOG_INFO, "worker", "loaded task library %s", path);
    return 0;
}

void worker_on_load_lib(worker *w, wire_rd *r)
{
    char path[1024], msg[1024] = "";
    uint64_t req = wire_get_u64(r);
    wire_get_str(r, path, sizeof(path));
    if (!wire_rd_ok(r))
        return;
    int rc = load_lib(w, path, msg, sizeof(msg));
    if (rc)
        lc_log(LC_LOG_WARN, "worker", "task library %s: %s", path, msg);
    if (req == 0)
        return; /* replayed at join: nobody waits */
    wire_wr *o = to_sched(w);
    wire_rec_begin(o, REC_LIB_LOADED);
    wire_put_u64(o, req);
    wire_put_i32(o, rc);
    wire_put_str(o, msg);
    wire_rec_end(o);
}

/* ---- tasks
 * -------------------------------------------------------------------- */
