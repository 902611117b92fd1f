/* SPDX-License-Identifier: MIT */
#include "srclock.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "outfile.h"
#include "readfile.h"

#define SRCLOCK_MAX (1u << 20)

struct srclock {
	char **comments;
	unsigned n_comments;
	char **urls;
	char (*hashes)[SHA256_HEX_LEN + 1];
	unsigned n;
};

static void srclock_free(struct srclock *l)
{
	for (unsigned i = 0; i < l->n_comments; i++)
		free(l->comments[i]);
	for (unsigned i = 0; i < l->n; i++)
		free(l->urls[i]);
	free(l->comments);
	free(l->urls);
	free(l->hashes);
	*l = (struct srclock){ 0 };
}

static bool url_valid(const char *url)
{
	if (!*url)
		return false;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static int srclock_add(struct srclock *l, const char *url, const char *hex)
{
	char **u = realloc(l->urls, (l->n + 1) * sizeof(*u));
	char(*h)[SHA256_HEX_LEN + 1];

	if (!u)
		return -ENOMEM;
	l->urls = u;
	h = realloc(l->hashes, (l->n + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	l->hashes = h;
	if (!(l->urls[l->n] = strdup(url)))
		return -ENOMEM;
	memcpy(l->hashes[l->n], hex, SHA256_HEX_LEN + 1);
	/* Lower case, as sha256sum prints it. */
	for (char *p = l->hashes[l->n]; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	l->n++;
	return 0;
}

static int srclock_find(const struct srclock *l, const char *url)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strcmp(l->urls[i], url) == 0)
			return (int)i;
	return -1;
}

/* Parses the open file fd into l. */
static int srclock_parse(struct srclock *l, int fd, unsigned *bad_line)
{
	_cleanup_(freep) char *text = NULL;
	unsigned nr = 0;
	char *line, *next;
	ssize_t n;

	/* Room for one byte more than SRCLOCK_MAX, to tell a larger file. */
	text = malloc(SRCLOCK_MAX + 2);
	if (!text)
		return -ENOMEM;
	n = fd_read_text(fd, text, SRCLOCK_MAX + 2);
	if (n < 0)
		return (int)n;
	for (line = text; line && *line; line = next) {
		char *url;

		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		nr++;
		if (*line == '#') {
			char **c = realloc(l->comments, (l->n_comments + 1) * sizeof(*c));
			if (!c)
				return -ENOMEM;
			l->comments = c;
			if (!(l->comments[l->n_comments] = strdup(line)))
				return -ENOMEM;
			l->n_comments++;
			continue;
		}
		if (!*line)
			continue;
		url = line + SHA256_HEX_LEN + 2;
		if (strlen(line) < SHA256_HEX_LEN + 3 || line[SHA256_HEX_LEN] != ' ' ||
		    line[SHA256_HEX_LEN + 1] != ' ' || !url_valid(url))
			goto bad;
		line[SHA256_HEX_LEN] = 0;
		if (!sha256_hex_valid(line) || srclock_find(l, url) >= 0)
			goto bad;
		if (srclock_add(l, url, line) < 0)
			return -ENOMEM;
	}
	return 0;
bad:
	if (bad_line)
		*bad_line = nr;
	return -EBADMSG;
}

int srclock_lookup(const char *path, const char *url, char out[static SHA256_HEX_LEN + 1], unsigned *bad_line)
{
	_cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct srclock l = { 0 };
	int r, i;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = srclock_parse(&l, fd, bad_line);
	if (r == 0 && (i = srclock_find(&l, url)) >= 0) {
		memcpy(out, l.hashes[i], SHA256_HEX_LEN + 1);
		r = 1;
	}
	srclock_free(&l);
	return r;
}

static int cmp_url(const void *a, const void *b, void *arg)
{
	char **urls = arg;

	return strcmp(urls[*(const unsigned *)a], urls[*(const unsigned *)b]);
}

/* Writes l to path.part, sorted by URL, and renames it over path. */
static int srclock_write(const struct srclock *l, const char *path)
{
	_cleanup_(freep) char *tmp = NULL;
	_cleanup_(freep) unsigned *order = calloc(l->n + 1, sizeof(*order));
	FILE *f;
	int fd, r = 0;

	if (!order || asprintf(&tmp, "%s.part", path) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < l->n; i++)
		order[i] = i;
	qsort_r(order, l->n, sizeof(*order), cmp_url, l->urls);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	f = fdopen(dup(fd), "w");
	if (!f) {
		r = -errno;
	} else {
		for (unsigned i = 0; i < l->n_comments; i++)
			fprintf(f, "%s\n", l->comments[i]);
		for (unsigned i = 0; i < l->n; i++)
			fprintf(f, "%s  %s\n", l->hashes[order[i]], l->urls[order[i]]);
		if (fclose(f) != 0)
			r = -errno;
	}
	if (r == 0)
		r = file_sync_rename(fd, tmp, path);
	close(fd);
	if (r < 0)
		unlink(tmp);
	return r;
}

/* An entry under dir (a URL ending in '/') whose file name matches glob. */
static bool entry_matches(const char *url, const char *dir, const char *glob)
{
	size_t n = strlen(dir);

	return strncmp(url, dir, n) == 0 && fnmatch(glob, url + n, FNM_PATHNAME) == 0;
}

int srclock_match(const char *path, const char *dir, const char *glob, char **url,
		  char hex[static SHA256_HEX_LEN + 1], unsigned *bad_line)
{
	_cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct srclock l = { 0 };
	int r, found = 0;

	*url = NULL;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = srclock_parse(&l, fd, bad_line);
	for (unsigned i = 0; r == 0 && i < l.n; i++) {
		if (!entry_matches(l.urls[i], dir, glob))
			continue;
		if (found++ == 0) {
			memcpy(hex, l.hashes[i], SHA256_HEX_LEN + 1);
			if (!(*url = strdup(l.urls[i])))
				r = -ENOMEM;
		}
	}
	srclock_free(&l);
	if (r < 0 || found != 1) {
		free(*url);
		*url = NULL;
	}
	return r < 0 ? r : found;
}

/* Adds url (dropping the entries under dir matching glob first, if dir). */
static int srclock_update(const char *path, const char *url, const char *hex, const char *dir, const char *glob,
			  char out[static SHA256_HEX_LEN + 1], unsigned *bad_line)
{
	struct srclock l = { 0 };
	int fd = -1, r, i;

	if (!url_valid(url))
		return -EINVAL;
	/* Lock the file that has the name: after a rename by another writer,
	 * the lock held on the old one means nothing, so try again. */
	for (;;) {
		struct stat a, b;

		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			break;
		close(fd);
	}
	r = srclock_parse(&l, fd, bad_line);
	if (r < 0)
		goto out;
	for (unsigned j = 0; dir && j < l.n;) {
		if (entry_matches(l.urls[j], dir, glob) && strcmp(l.urls[j], url) != 0) {
			free(l.urls[j]);
			l.n--;
			memmove(&l.urls[j], &l.urls[j + 1], (l.n - j) * sizeof(*l.urls));
			memmove(&l.hashes[j], &l.hashes[j + 1], (l.n - j) * sizeof(*l.hashes));
		} else
			j++;
	}
	i = srclock_find(&l, url);
	if (i >= 0 && !dir) {
		memcpy(out, l.hashes[i], SHA256_HEX_LEN + 1);
		r = strcasecmp(l.hashes[i], hex) == 0 ? 0 : -EEXIST;
		goto out;
	}
	if (i >= 0)
		memcpy(l.hashes[i], hex, SHA256_HEX_LEN + 1);
	else
		r = srclock_add(&l, url, hex);
	if (r == 0)
		r = srclock_write(&l, path);
out:
	srclock_free(&l);
	close(fd);
	return r;
}

int srclock_record(const char *path, const char *url, const char *hex, char out[static SHA256_HEX_LEN + 1],
		   unsigned *bad_line)
{
	return srclock_update(path, url, hex, NULL, NULL, out, bad_line);
}

int srclock_replace(const char *path, const char *dir, const char *glob, const char *url, const char *hex,
		    unsigned *bad_line)
{
	char out[SHA256_HEX_LEN + 1];

	return srclock_update(path, url, hex, dir, glob, out, bad_line);
}
