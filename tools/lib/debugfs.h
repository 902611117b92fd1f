/* SPDX-License-Identifier: MIT */
/*
 * Files of an ext2/3/4 filesystem inside a disk image, read with e2fsprogs'
 * debugfs on IMAGE?offset=N (its unix I/O option): no loop device, no
 * mount, no root, and the image is only opened for reading.
 */
#pragma once

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct debugfs {
	char spec[PATH_MAX + 32]; /* IMAGE?offset=N */
};

/* -EINVAL if image has a '?' (debugfs would read I/O options from it),
 * -ENAMETOOLONG. */
int debugfs_init(struct debugfs *d, const char *image, uint64_t offset);
/* Runs the debugfs request (e.g. "ls -p /boot") and collects its standard
 * output, up to max bytes, into *out (free it). -ENOENT if debugfs is not
 * installed, -EFBIG, -EIO if it exited with an error. debugfs says nothing
 * on stdout for a path that does not exist. */
int debugfs_request(const struct debugfs *d, const char *request, char **out, size_t max);
/* type: "regular", "symlink", "directory", ...; "" if path does not exist.
 * link: a symlink's target ("" otherwise). */
int debugfs_stat(const struct debugfs *d, const char *path, char type[static 32],
		 char link[static PATH_MAX]);
/* The contents of path (stdout of "cat"). */
int debugfs_cat(const struct debugfs *d, const char *path, char **out, size_t max);
