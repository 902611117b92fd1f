/* SPDX-License-Identifier: MIT */
#include "fat.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command.h"
#include "log.h"

/* mtools checks that the FAT's geometry matches a floppy's or a disk's;
 * an image's partition need not. */
static void mtools_env(void)
{
	setenv("MTOOLS_SKIP_CHECK", "1", 0);
}

/* Their warnings ("block count mismatch") mean nothing here: -v shows them. */
static unsigned mtools_flags(void)
{
	return log_enabled(LOG_DEBUG) ? 0 : COMMAND_SILENT;
}

int fat_open(struct fat *f, const char *image, uint64_t offset)
{
	char *argv[] = { "mdir", "-b", "-i", f->spec, "::/", NULL };
	char *line, *save = NULL;
	int r;

	*f = (struct fat)FAT_INIT;
	if (snprintf(f->spec, sizeof(f->spec), "%s@@%" PRIu64, image, offset) >= (int)sizeof(f->spec))
		return -ENAMETOOLONG;
	mtools_env();
	r = command_capture(argv, mtools_flags(), &f->listing, 1 << 20);
	if (r < 0)
		return r;
	if (r != 0) {
		fat_close(f);
		return -EIO;
	}
	for (line = strtok_r(f->listing, "\n", &save); line && f->n_names < FAT_NAMES_MAX;
	     line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = 0;
		if (strncmp(line, "::/", 3) == 0 && line[3])
			f->names[f->n_names++] = line + 3;
	}
	return 0;
}

void fat_close(struct fat *f)
{
	free(f->listing);
	f->listing = NULL;
	f->n_names = 0;
}

const char *fat_find(const struct fat *f, const char *name)
{
	for (unsigned i = 0; i < f->n_names; i++)
		if (strcasecmp(f->names[i], name) == 0)
			return f->names[i];
	return NULL;
}

/* The mtools name of the file name (any case) in src, ready for a command;
 * -ENOENT if there is none. A name in a directory (current/vmlinuz) is
 * looked up with mdir, which matches without regard to case too. */
static int fat_source(const struct fat *f, const char *name, char src[static 4200])
{
	const char *real = strchr(name, '/') ? name : fat_find(f, name);
	char *argv[] = { "mdir", "-b", "-i", (char *)f->spec, src, NULL };

	if (!real)
		return -ENOENT;
	if (snprintf(src, 4200, "::/%s", real) >= 4200)
		return -ENAMETOOLONG;
	mtools_env();
	if (real == name && command_run(argv, COMMAND_SILENT) != 0)
		return -ENOENT;
	return 0;
}

int fat_copy(const struct fat *f, const char *name, const char *dest)
{
	char src[4200];
	char *argv[] = { "mcopy", "-n", "-i", (char *)f->spec, src, (char *)dest, NULL };
	int r;

	if (fat_source(f, name, src) < 0)
		return -ENOENT;
	r = command_run(argv, mtools_flags());
	if (r < 0)
		return r;
	return r == 0 ? 0 : -EIO;
}

int fat_read(const struct fat *f, const char *name, char **out, size_t max)
{
	char src[4200];
	char *argv[] = { "mtype", "-i", (char *)f->spec, src, NULL };
	int r;

	*out = NULL;
	if (fat_source(f, name, src) < 0)
		return -ENOENT;
	r = command_capture(argv, mtools_flags(), out, max);
	if (r == 0)
		return 0;
	free(*out);
	*out = NULL;
	return r < 0 ? r : -EIO;
}
