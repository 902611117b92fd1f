/* SPDX-License-Identifier: MIT */
#include "fatfill.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "command.h"
#include "common.h"
#include "log.h"
#include "strv.h"

static int skip_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

struct fill {
	const char *spec; /* IMAGE@@OFFSET */
	const char *top, *what;
	bool keep_times;
};

/* Runs an mtools command; its output only with -v, on stderr. */
static int mtools_run(const struct fill *f, struct strv *argv)
{
	char cmd[256];
	int r = command_run(argv->v, log_enabled(LOG_DEBUG) ? COMMAND_STDOUT_TO_STDERR : COMMAND_SILENT);

	if (r == 0)
		return 0;
	if (r < 0)
		return log_errno(r, "cannot fill %s from '%s': cannot run %s (mtools)", f->what, f->top,
				 argv->v[0]);
	log_error("cannot fill %s from '%s': %s failed with status %d%s", f->what, f->top,
		  strv_join(argv->v, cmd, sizeof(cmd)), r,
		  log_enabled(LOG_DEBUG) ? "" : " (-v shows its output)");
	return -EIO;
}

/* The files of dir (rel in the FAT, "" at its root), then its
 * directories, each in name order. mtools stamps what it makes with
 * SOURCE_DATE_EPOCH when that is set: a build that wants it gives every
 * file and directory that time (a FAT's times are nobody's business on a
 * Pi, and a FUSE driver was seen to stamp files a month early, which
 * clamping would keep); keep_times keeps each file's own (mcopy -m). */
static int fat_dir(const struct fill *f, const char *dir, const char *rel)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, skip_dots, alphasort), r = 0;

	if (n < 0)
		return log_errno(errno, "cannot read '%s'", dir);
	/* Pass 0: the files; 1: the directories. */
	for (int pass = 0; pass < 2 && r == 0; pass++) {
		_cleanup_(strv_freep) struct strv argv = { 0 };
		size_t files = 0;

		if (strv_add(&argv, "mcopy") || strv_add(&argv, "-Q") ||
		    (f->keep_times && strv_add(&argv, "-m")) || strv_add(&argv, "-i") ||
		    strv_add(&argv, "%s", f->spec))
			r = log_errno(ENOMEM, "cannot fill %s", f->what);
		for (int k = 0; k < n && r == 0; k++) {
			char path[PATH_MAX], sub[PATH_MAX];
			struct stat st;

			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ents[k]->d_name) >= sizeof(path) ||
			    (size_t)snprintf(sub, sizeof(sub), "%s/%s", rel, ents[k]->d_name) >= sizeof(sub)) {
				r = log_errno(ENAMETOOLONG, "cannot copy '%s/%s'", dir, ents[k]->d_name);
				break;
			}
			if (lstat(path, &st) < 0) {
				r = log_errno(errno, "cannot read '%s'", path);
				break;
			}
			if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
				log_error("cannot put '%s' into %s: FAT holds only files and directories", path,
					  f->what);
				r = -EINVAL;
				break;
			}
			if (pass == 1 && S_ISDIR(st.st_mode)) {
				_cleanup_(strv_freep) struct strv md = { 0 };

				if (strv_add(&md, "mmd") || strv_add(&md, "-i") || strv_add(&md, "%s", f->spec) ||
				    strv_add(&md, "::%s", sub))
					r = log_errno(ENOMEM, "cannot fill %s", f->what);
				else
					r = mtools_run(f, &md);
				if (r == 0)
					r = fat_dir(f, path, sub);
			} else if (pass == 0 && S_ISREG(st.st_mode)) {
				if (strv_add(&argv, "%s", path) < 0)
					r = log_errno(ENOMEM, "cannot fill %s", f->what);
				files++;
			}
		}
		if (r == 0 && files > 0) {
			if (strv_add(&argv, "::%s/", rel) < 0)
				r = log_errno(ENOMEM, "cannot fill %s", f->what);
			if (r == 0)
				r = mtools_run(f, &argv);
		}
	}
	for (int k = 0; k < n; k++)
		free(ents[k]);
	free(ents);
	return r;
}

int fat_fill(const char *image, uint64_t offset, const char *dir, bool keep_times, const char *what)
{
	char spec[PATH_MAX + 32];
	struct fill f = { spec, dir, what, keep_times };

	if ((size_t)snprintf(spec, sizeof(spec), "%s@@%" PRIu64, image, offset) >= sizeof(spec))
		return log_errno(ENAMETOOLONG, "cannot fill %s", what);
	/* mtools checks a disk's geometry, which an image has none of; and
	 * writes FAT's local times in TZ's zone: UTC, as the kernel's vfat
	 * and a Pi without a time zone read them. */
	setenv("MTOOLS_SKIP_CHECK", "1", 1);
	setenv("TZ", "UTC", 1);
	return fat_dir(&f, dir, "");
}
