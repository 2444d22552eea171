/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The --json document of locus-bench and locus-pingpong
 * (tools/bench/report.c): one JSON object on stdout with every figure the
 * text tables print, so that a program can compare runs.  Units are in the
 * field names (median_us, msgs_per_s); a figure that was not measured is
 * null.  Every helper does nothing when given a NULL parent, so that a
 * section fills its part of the document unconditionally and text-only
 * runs cost nothing.
 */
#ifndef LC_BENCH_REPORT_H
#define LC_BENCH_REPORT_H

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>

/* A new document naming the tool, locus's version, the host, its cores,
 * the date (UTC, ISO 8601) and the provider; NULL when out of memory. */
json_object *bench_report_new(const char *tool, const char *provider);
/* Print doc on out (pretty, one document, a final newline) and free it;
 * 0 or -1 when it could not be written. */
int bench_report_print(json_object *doc, FILE *out);

/* key = v, or null when !ok or v is not finite */
void bench_jnum(json_object *o, const char *key, int ok, double v);
void bench_jint(json_object *o, const char *key, int64_t v);
void bench_jbool(json_object *o, const char *key, int v);
/* key = s, or null when s is NULL */
void bench_jstr(json_object *o, const char *key, const char *s);
/* A new object or array under key of o (appended when o is an array and
 * key is NULL); NULL when o is NULL. */
json_object *bench_jobj(json_object *o, const char *key);
json_object *bench_jarr(json_object *o, const char *key);
/* Append v (a number, null when !ok) to the array a. */
void bench_jpush_num(json_object *a, int ok, double v);

#endif
