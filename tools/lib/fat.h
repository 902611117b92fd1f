/* SPDX-License-Identifier: MIT */
/*
 * Files in a FAT filesystem inside a disk image, read with mtools
 * (mdir, mcopy -i IMAGE@@OFFSET): no loop device, no mount, no root, and the
 * image is only ever opened for reading.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAT_NAMES_MAX 1024

struct fat {
	char spec[4200];    /* IMAGE@@OFFSET, as mtools' -i wants it */
	char *listing;      /* mdir -b of the root directory */
	char *names[FAT_NAMES_MAX]; /* into listing */
	unsigned n_names;
};

#define FAT_INIT { .listing = NULL }

/* Lists the root directory of the filesystem at offset bytes into image.
 * -ENOENT if mtools is not installed, -EIO if mdir fails (not FAT). */
int fat_open(struct fat *f, const char *image, uint64_t offset);
void fat_close(struct fat *f);
static inline void fat_closep(struct fat *f)
{
	fat_close(f);
}
/* The name in the root directory that matches name without regard to case
 * (FAT's rule), or NULL. */
const char *fat_find(const struct fat *f, const char *name);
/* Copies the file name of the root directory, or a path such as
 * current/vmlinuz, to dest (a new file).
 * -ENOENT if there is no such file, -EIO if mcopy fails. */
int fat_copy(const struct fat *f, const char *name, const char *dest);
/* Reads the file name (as for fat_copy) with mtype into *out (free it),
 * NUL-terminated, at most max bytes. -ENOENT if there is no such file,
 * -EFBIG if it is larger, -EIO if mtype fails. */
int fat_read(const struct fat *f, const char *name, char **out, size_t max);
