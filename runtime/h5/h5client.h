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

#endif
