/* SPDX-License-Identifier: BSD-3-Clause */
/* The --json document of locus-bench and locus-pingpong (report.h). */
#include "bench/report.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "locus.h"

json_object *bench_report_new(const char *tool, const char *provider)
{
    /* enough digits for any figure printed, none of binary noise */
    json_c_set_serialization_double_format("%.10g", JSON_C_OPTION_GLOBAL);
    json_object *doc = json_object_new_object();
    if (!doc)
        return NULL;
    time_t now = time(NULL);
    char utc[32], local[32];
    struct tm tm;
    strftime(utc, sizeof(utc), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    strftime(local, sizeof(local), "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
    bench_jstr(doc, "tool", tool);
    bench_jstr(doc, "version", locus_version());
    bench_jstr(doc, "host", lc_hostname());
    bench_jint(doc, "cores", sysconf(_SC_NPROCESSORS_ONLN));
    bench_jstr(doc, "date", utc);
    bench_jstr(doc, "date_local", local);
    bench_jint(doc, "unix_time", (int64_t)now);
    bench_jstr(doc, "provider", provider);
    return doc;
}

int bench_report_print(json_object *doc, FILE *out)
{
    if (!doc)
        return 0;
    const char *s = json_object_to_json_string_ext(
        doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = s && fprintf(out, "%s\n", s) >= 0 && fflush(out) == 0 ? 0 : -1;
    json_object_put(doc);
    return rc;
}

static void put(json_object *o, const char *key, json_object *v)
{
    if (json_object_is_type(o, json_type_array) && !key)
        json_object_array_add(o, v);
    else
        json_object_object_add(o, key, v);
}

void bench_jnum(json_object *o, const char *key, int ok, double v)
{
    if (o)
        put(o, key, ok && isfinite(v) ? json_object_new_double(v) : NULL);
}

void bench_jint(json_object *o, const char *key, int64_t v)
{
    if (o)
        put(o, key, json_object_new_int64(v));
}

void bench_jbool(json_object *o, const char *key, int v)
{
    if (o)
        put(o, key, json_object_new_boolean(v != 0));
}

void bench_jstr(json_object *o, const char *key, const char *s)
{
    if (o)
        put(o, key, s ? json_object_new_string(s) : NULL);
}

json_object *bench_jobj(json_object *o, const char *key)
{
    if (!o)
        return NULL;
    json_object *v = json_object_new_object();
    put(o, key, v);
    return v;
}

json_object *bench_jarr(json_object *o, const char *key)
{
    if (!o)
        return NULL;
    json_object *v = json_object_new_array();
    put(o, key, v);
    return v;
}

void bench_jpush_num(json_object *a, int ok, double v)
{
    bench_jnum(a, NULL, ok, v);
}
