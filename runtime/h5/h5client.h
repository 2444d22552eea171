/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the HDF5 client files share (private).
 */
#ifndef LC_H5CLIENT_H
#define LC_H5CLIENT_H

/* LOCUS_EINVAL naming what unless file and dataset are non-empty strings
 * shorter than 4096 bytes and flags has no bit outside allowed. */
int h5_check_names(const char *file, const char *dataset, unsigned flags,
                   unsigned allowed, const char *what);

/* file as the workers must see it: a relative path is made absolute
 * against this process's working directory (the workers run elsewhere),
 * as locus_require does; not resolved further (the file may not exist
 * yet, or only on the workers' hosts).  Returns file or buf (H5_PATH_MAX
 * bytes); NULL with LOCUS_EINVAL set when it does not fit or getcwd
 * fails. */
#define H5_PATH_MAX 4096
const char *h5_abs_path(const char *file, char *buf, const char *what);

#endif
