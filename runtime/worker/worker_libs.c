/* SPDX-License-Identifier: BSD-3-Clause */
/* Task libraries (dlopen) and function lookup by name. */
#include "worker/worker_int.h"

static unsigned strhash(const char *s)
{
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h & 255;
}

locus_task_fn worker_resolve(worker *w, const char *name)
{
    locus_task_fn f = worker_builtin(name);
    if (f)
        return f;
    unsigned h = strhash(name);
    for (fnent *e = w->fns[h]; e; e = e->next)
        if (!strcmp(e->name, name))
            return e->fn;
    for (int i = 0; i < w->nlibs; i++) {
        void *sym = dlsym(w->libs[i], name);
        if (sym) {
            fnent *e = malloc(sizeof(*e));
            if (e) {
                e->name = strdup(name);
                memcpy(&e->fn, &sym, sizeof(sym));
                e->next = w->fns[h];
                w->fns[h] = e;
                if (!e->name) {
                    w->fns[h] = e->next;
                    free(e);
                }
            }
            locus_task_fn fn;
            memcpy(&fn, &sym, sizeof(sym));
            return fn;
        }
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
