/* SPDX-License-Identifier: MIT */
#include "debugfs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "common.h"

int debugfs_init(struct debugfs *d, const char *image, uint64_t offset)
{
	if (strchr(image, '?'))
		return -EINVAL;
	if (snprintf(d->spec, sizeof(d->spec), "%s?offset=%" PRIu64, image, offset) >=
	    (int)sizeof(d->spec))
		return -ENAMETOOLONG;
	return 0;
}

int debugfs_request(const struct debugfs *d, const char *request, char **out, size_t max)
{
	char *argv[] = { "debugfs", "-R", (char *)request, (char *)d->spec, NULL };
	int r;

	/* stat pages on a terminal otherwise */
	setenv("DEBUGFS_PAGER", "__none__", 1);
	r = command_capture(argv, COMMAND_SILENT, out, max);
	if (r == 0)
		return 0;
	free(*out);
	*out = NULL;
	return r < 0 ? r : -EIO;
}

int debugfs_stat(const struct debugfs *d, const char *path, char type[static 32],
		 char link[static PATH_MAX])
{
	_cleanup_(freep) char *out = NULL;
	char req[PATH_MAX + 16];
	const char *p;
	int r;

	type[0] = link[0] = 0;
	snprintf(req, sizeof(req), "stat \"%s\"", path);
	r = debugfs_request(d, req, &out, 1 << 20);
	if (r < 0)
		return r;
	if (strncmp(out, "Inode:", 6) != 0 || !(p = strstr(out, "Type: ")))
		return 0;
	snprintf(type, 32, "%.*s", (int)strcspn(p + 6, " \t\n"), p + 6);
	if (strcmp(type, "symlink") != 0)
		return 0;
	if ((p = strstr(out, "Fast link dest: \""))) {
		p += 17;
		snprintf(link, PATH_MAX, "%.*s", (int)strcspn(p, "\"\n"), p);
		return 0;
	}
	/* A slow symlink: the target is in a data block, which cat shows. */
	free(out);
	out = NULL;
	r = debugfs_cat(d, path, &out, PATH_MAX);
	if (r < 0)
		return r;
	snprintf(link, PATH_MAX, "%s", out);
	return 0;
}

int debugfs_cat(const struct debugfs *d, const char *path, char **out, size_t max)
{
	char req[PATH_MAX + 16];

	snprintf(req, sizeof(req), "cat \"%s\"", path);
	return debugfs_request(d, req, out, max);
}
