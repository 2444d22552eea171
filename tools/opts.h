/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Number options of the tools: the whole string must be a number in range,
 * or the tool says which option, what it got and what it accepts.  atoi()
 * made "-n abc" mean 0 ("one per NUMA node") without a word.
 */
#ifndef LC_TOOLS_OPTS_H
#define LC_TOOLS_OPTS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* Parse s as a decimal integer in [lo, hi] into *out.  On error, print
 * "prog: option 's' ..." to stderr and return -1 (exit status 2 is the
 * caller's). */
static inline int opt_long(const char *prog, const char *opt, const char *s,
                           long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = s && *s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end != '\0') {
        fprintf(stderr,
                "%s: %s '%s' is not a number; give an integer from "
                "%ld to %ld\n",
                prog, opt, s ? s : "", lo, hi);
        return -1;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr,
                "%s: %s %s is out of range; give an integer from %ld "
                "to %ld\n",
                prog, opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static inline int opt_int(const char *prog, const char *opt, const char *s,
                          int lo, int hi, int *out)
{
    long v;
    if (opt_long(prog, opt, s, lo, hi, &v))
        return -1;
    *out = (int)v;
    return 0;
}

/*
 * The scheduler file a daemon was given (--scheduler-file, else
 * $LOCUS_SCHEDULER_FILE) and no stray arguments: 0 with *file set, or 2
 * after saying what is wrong (the caller prints its usage and exits 2).
 */
static inline int opt_sched_file(const char *prog, const char **file,
                                 int optind, int argc, char **argv)
{
    if (!*file)
        *file = getenv("LOCUS_SCHEDULER_FILE");
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        return 2;
    }
    if (!*file || !**file) {
        fprintf(stderr,
                "%s: no --scheduler-file given (nor "
                "$LOCUS_SCHEDULER_FILE)\n",
                prog);
        return 2;
    }
    return 0;
}

#endif
