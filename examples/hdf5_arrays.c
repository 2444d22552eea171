/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data on workers: the tutorial's "Load data from file on workers", "Bring
 * the function to the data" and "Integration with Dask" cells, in C.
 *
 *   ls datafile*                          -> four HDF5 files written here
 *   load_file(files[0])                   -> locus_h5_load on a worker
 *   futures = client.map(load_file, files) -> locus_h5_load_files
 *   futures[0].result().shape             -> fetch 80 KB, read the shape
 *   client.submit(lambda a: a.shape, ...) -> send "shape" to the data
 *   da.concatenate(futures)               -> locus_array_from_futures
 *   client.compute(array[:10,:10])        -> locus_array_slice + compute
 *   da.arange(100, chunks=(25,))          -> locus_array_arange
 *
 *   hdf5_arrays SCHEDULER_FILE TASK_LIBRARY [DIR]
 *
 * TASK_LIBRARY is libtasks_arrays.so (the "shape" function); the files go
 * to DIR (default: the current directory), which the workers must see.
 */
#define _XOPEN_SOURCE 700
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <locus.h>

#define NFILES 4
#define T_MS 30000

static int fail(const char *what, int rc)
{
    fprintf(stderr, "hdf5_arrays: %s: %s (%s)\n", what, locus_last_error(),
            locus_strerror(rc));
    return 1;
}

static int col, indent; /* to wrap long rows as numpy does */

static void put(const char *text)
{
    fputs(text, stdout);
    col += (int)strlen(text);
}

/* an element, after ", " or, when the line is full, after ",\n" */
static void put_item(const char *text, int first)
{
    if (!first && col + 2 + (int)strlen(text) > 78) {
        printf(",\n%*s", indent, "");
        col = indent;
    } else if (!first) {
        put(", ");
    }
    put(text);
}

static void put_elem(const locus_ndview *v, size_t i, int first)
{
    char s[64];
    double x = locus_ndview_get_f64(v, i);
    if (v->dtype == LOCUS_FLOAT32 || v->dtype == LOCUS_FLOAT64)
        snprintf(s, sizeof(s), "% .4f", x);
    else
        snprintf(s, sizeof(s), "%lld", (long long)x);
    put_item(s, first);
}

/* numpy's way: at most 3 items at each end of an axis of a big array */
static void print_row(const locus_ndview *v, size_t base, int64_t n, int cut)
{
    put("[");
    for (int64_t j = 0; j < n; j++) {
        if (cut && j == 3 && n > 6) {
            put_item("...", 0);
            j = n - 4;
            continue;
        }
        put_elem(v, base + (size_t)j, j == 0);
    }
    put("]");
}

static void print_array(const void *buf, size_t len)
{
    locus_ndview v;
    if (locus_ndbuf_view(buf, len, &v) != 0 || v.ndim < 1 || v.ndim > 2) {
        printf("(%zu bytes)\n", len);
        return;
    }
    int cut = v.nelems > 1000;
    col = 0;
    indent = v.ndim == 1 ? 7 : 8;
    put("array(");
    if (v.ndim == 1) {
        print_row(&v, 0, v.shape[0], cut);
    } else {
        put("[");
        for (int64_t i = 0; i < v.shape[0]; i++) {
            if (i) {
                printf(",\n       ");
                col = 7;
            }
            if (cut && i == 3 && v.shape[0] > 6) {
                put("...");
                i = v.shape[0] - 4;
                continue;
            }
            print_row(&v, (size_t)(i * v.shape[1]), v.shape[1], cut);
        }
        put("]");
    }
    printf(", dtype=%s)\n", locus_dtype_name(v.dtype));
}

static void print_shape(const int64_t *s, size_t n)
{
    printf("(");
    for (size_t i = 0; i < n; i++)
        printf("%s%lld", i ? ", " : "", (long long)s[i]);
    printf(n == 1 ? ",)" : ")");
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: hdf5_arrays SCHEDULER_FILE TASK_LIBRARY "
                        "[DIR]\n");
        return 2;
    }
    char dir[PATH_MAX];
    if (!realpath(argc == 4 ? argv[3] : ".", dir)) {
        perror("hdf5_arrays: DIR");
        return 1;
    }
    locus_client *c;
    int rc = locus_connect(argv[1], NULL, &c);
    if (rc)
        return fail("connect", rc);
    if ((rc = locus_require(c, argv[2], T_MS)))
        return fail("require", rc);

    /* ls datafile*: four 100x100 arrays of doubles, each made and written
       by a worker (absolute paths: the workers run elsewhere) */
    char paths[NFILES][PATH_MAX + 32];
    const char *files[NFILES];
    int64_t shape[2] = {100, 100};
    for (int i = 0; i < NFILES; i++) {
        snprintf(paths[i], sizeof(paths[i]), "%s/datafile%d.hdf5", dir, i);
        files[i] = paths[i];
        locus_array *r;
        if ((rc = locus_array_random_normal(c, (uint64_t)i, 0.0, 1.0, 2, shape,
                                            NULL, &r)) ||
            (rc = locus_array_store_hdf5(r, files[i], "/data",
                                         LOCUS_H5_TRUNCATE, T_MS)))
            return fail("writing the data files", rc);
        locus_array_free(r);
    }
    printf("files = [");
    for (int i = 0; i < NFILES; i++)
        printf("%s'%s'", i ? ",\n         " : "", files[i]);
    printf("]\n\n");

    /* load_file(files[0]) */
    locus_future *one;
    const void *buf;
    size_t len;
    if ((rc = locus_h5_load(c, files[0], "/data", NULL, 0, NULL, &one)) ||
        (rc = locus_result(one, T_MS, &buf, &len)))
        return fail("load_file(files[0])", rc);
    printf(">>> load_file(files[0])\n");
    print_array(buf, len);
    locus_release(one);

    /* futures = client.map(load_file, files) */
    locus_future *futures[NFILES];
    if ((rc = locus_h5_load_files(c, files, NFILES, "/data", 0, futures)) ||
        (rc = locus_wait(futures, NFILES, T_MS)))
        return fail("map(load_file, files)", rc);
    printf("\n>>> futures = client.map(load_file, files)\n[");
    for (int i = 0; i < NFILES; i++) {
        int w = -1;
        size_t n;
        locus_who_has(futures[i], &w, 1, &n);
        printf("%s<Future: %s, key: %s, on worker %d>", i ? ",\n " : "",
               locus_future_status(futures[i]) ? "error" : "finished",
               locus_future_key(futures[i]), w);
    }
    printf("]\n");

    /* slow: the whole array comes to the client for its shape */
    if ((rc = locus_result(futures[0], T_MS, &buf, &len)))
        return fail("futures[0].result()", rc);
    locus_ndview v;
    locus_ndbuf_view(buf, len, &v);
    printf("\n>>> futures[0].result().shape       # slow: %zu bytes moved\n",
           len);
    print_shape(v.shape, (size_t)v.ndim);
    printf("\n");

    /* fast: the function goes to the data, 16 bytes come back */
    locus_arg a = locus_arg_future(futures[0]);
    locus_future *sh;
    if ((rc = locus_submit(c, "shape", &a, 1, NULL, &sh)) ||
        (rc = locus_result(sh, T_MS, &buf, &len)))
        return fail("submit(shape, futures[0])", rc);
    int64_t dims[8];
    memcpy(dims, buf, len < sizeof(dims) ? len : sizeof(dims));
    printf("\n>>> client.submit(lambda a: a.shape, futures[0]).result()"
           "   # fast: %zu bytes moved\n",
           len);
    print_shape(dims, len / 8);
    printf("\n");
    locus_release(sh);

    /* array = da.concatenate(futures): the chunks stay on their workers */
    locus_array *array, *corner, *y;
    if ((rc = locus_array_from_futures(c, futures, NFILES, 0, T_MS, &array)))
        return fail("concatenate", rc);
    for (int i = 0; i < NFILES; i++)
        locus_release(futures[i]);
    char desc[512];
    locus_array_describe(array, desc, sizeof(desc));
    printf("\n>>> array = da.concatenate(futures)\n%s\n", desc);

    /* client.compute(array[:10,:10]).result() */
    locus_slice s[2] = {locus_slice_of(LOCUS_NONE, 10, 1),
                        locus_slice_of(LOCUS_NONE, 10, 1)};
    void *out;
    if ((rc = locus_array_slice(array, s, 2, &corner)) ||
        (rc = locus_array_compute(corner, T_MS, &out, &len)))
        return fail("array[:10,:10]", rc);
    printf("\n>>> client.compute(array[:10,:10]).result()\n");
    print_array(out, len);
    free(out);

    /* the whole array's mean, computed where the chunks are */
    locus_array *mean;
    double m;
    if ((rc = locus_array_reduce(array, LOCUS_MEAN, -1, &mean)) ||
        (rc = locus_array_compute_f64(mean, T_MS, &m)))
        return fail("array.mean()", rc);
    printf("\n>>> array.mean().compute()\n%.6f\n", m);

    /* y = da.arange(100, chunks=(25,)); client.compute(y).result() */
    if ((rc = locus_array_arange(c, 100, 25, &y)))
        return fail("arange", rc);
    locus_array_describe(y, desc, sizeof(desc));
    printf("\n>>> y = da.arange(100, chunks=(25,))\n%s\n", desc);
    if ((rc = locus_array_compute(y, T_MS, &out, &len)))
        return fail("compute(y)", rc);
    printf("\n>>> client.compute(y).result()\n");
    print_array(out, len);
    free(out);

    locus_array_free(mean);
    locus_array_free(corner);
    locus_array_free(array);
    locus_array_free(y);
    return locus_disconnect(c) ? 1 : 0;
}
