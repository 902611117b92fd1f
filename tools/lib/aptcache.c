/* SPDX-License-Identifier: MIT */
#include "aptcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "dpkg.h"
#include "hash.h"
#include "log.h"
#include "resolve.h"

/* A Packages list bigger than this is not one (Debian's main for one
 * architecture is about 60 MB). */
#define LIST_MAX (512u << 20)
#define LISTS_DIR "/var/lib/apt/lists"

/* One .deb that the lists vouch for: its hash and the name apt gives it. */
struct vouched {
	char sha256[SHA256_HEX_LEN + 1];
	char *name;
};

struct lists {
	struct vouched *v;
	size_t n, cap;
	bool loaded;
};

static void lists_free(struct lists *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
}

/* apt's file name for a version in /var/cache/apt/archives:
 * PACKAGE_VERSION_ARCH.deb, the version quoted as apt's QuoteString(v, "_:")
 * does (lower-case %xx for those, '%', blanks and what is not printable). */
static char *deb_name(const struct dpkg_pkg *p)
{
	size_t len = strlen(p->name) + 3 * strlen(p->version) + strlen(p->arch) + 8;
	char *s = malloc(len), *o;

	if (!s)
		return NULL;
	o = s + sprintf(s, "%s_", p->name);
	for (const unsigned char *c = (const unsigned char *)p->version; *c; c++)
		if (*c == '_' || *c == ':' || *c == '%' || *c <= 0x20 || *c >= 0x7f)
			o += sprintf(o, "%%%02x", *c);
		else
			*o++ = (char)*c;
	sprintf(o, "_%s.deb", p->arch);
	return s;
}

static int vouched_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vouched *)a)->sha256, ((const struct vouched *)b)->sha256);
}

static int list_add(struct lists *l, int dirfd, const char *name)
{
	_cleanup_(closep) int fd = beneath_open(dirfd, name, O_RDONLY | O_NONBLOCK, 0);
	_cleanup_(freep) char *text = NULL;
	_cleanup_(freep) struct dpkg_pkg *pkgs = NULL;
	size_t n = 0, have = 0;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > LIST_MAX)
		return 0; /* not a list of apt's: it vouches for nothing */
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return -ENOMEM;
	while (have < (size_t)st.st_size) {
		ssize_t k = pread(fd, text + have, (size_t)st.st_size - have, (off_t)have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		have += (size_t)k;
	}
	text[have] = 0;
	if (dpkg_packages_parse(text, &pkgs, &n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!sha256_hex_valid(pkgs[i].sha256) || !*pkgs[i].version || !*pkgs[i].arch)
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 4096;
			struct vouched *v = realloc(l->v, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			l->v = v;
			l->cap = cap;
		}
		struct vouched *v = &l->v[l->n];
		for (size_t k = 0; k <= SHA256_HEX_LEN; k++)
			v->sha256[k] = (char)(pkgs[i].sha256[k] >= 'A' && pkgs[i].sha256[k] <= 'F'
						      ? pkgs[i].sha256[k] - 'A' + 'a'
						      : pkgs[i].sha256[k]);
		v->name = deb_name(&pkgs[i]);
		if (!v->name)
			return -ENOMEM;
		l->n++;
	}
	return 0;
}

/* Every Packages list of the image, read only once there is something to
 * check. */
static int lists_load(struct lists *l, int rootfd)
{
	_cleanup_(closep) int fd = resolve_open(rootfd, LISTS_DIR, O_RDONLY | O_DIRECTORY, 0);
	DIR *d;
	struct dirent *e;
	int r = 0;

	l->loaded = true;
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d)
		return log_errno(errno, "cannot read the image's %s", LISTS_DIR);
	fd = -1;
	while (r == 0 && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 9 && strcmp(e->d_name + len - 9, "_Packages") == 0)
			r = list_add(l, dirfd(d), e->d_name);
	}
	closedir(d);
	if (r < 0)
		return log_errno(r, "cannot read the image's apt lists");
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), vouched_cmp);
	return 0;
}

/* True if the lists give this hash for a package that apt names name. */
static bool vouched_for(const struct lists *l, const char *sha256, const char *name)
{
	struct vouched key = { .name = NULL };
	const struct vouched *hit;

	memcpy(key.sha256, sha256, sizeof(key.sha256));
	hit = l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), vouched_cmp) : NULL;
	if (!hit)
		return false;
	/* The same .deb may be listed by several suites: look at them all. */
	while (hit > l->v && strcmp(hit[-1].sha256, sha256) == 0)
		hit--;
	for (; hit < l->v + l->n && strcmp(hit->sha256, sha256) == 0; hit++)
		if (strcmp(hit->name, name) == 0)
			return true;
	return false;
}

static int file_sha256(int fd, uint64_t size, char out[static SHA256_HEX_LEN + 1])
{
	struct sha256 h;
	int r;

	if (sha256_init(&h) < 0)
		return -ENOMEM;
	r = sha256_add_fd(&h, fd, size);
	if (r == 0)
		r = sha256_peek_hex(&h, out);
	sha256_free(&h);
	return r;
}

/* Into the shared directory under its name: a rename on the same
 * filesystem, else a copy under NAME.part, then a rename. */
static int deb_adopt(int cachefd, int upperfd, const char *name, int fd)
{
	char part[NAME_MAX + 8];
	int out, r = 0;
	char buf[1 << 16];
	off_t off = 0;
	ssize_t n;

	if (renameat(upperfd, name, cachefd, name) == 0)
		return 0;
	if (errno != EXDEV)
		return -errno;
	snprintf(part, sizeof(part), "%s.part", name);
	unlinkat(cachefd, part, 0);
	out = beneath_open(cachefd, part, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (out < 0)
		return out;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			r = -EIO;
			break;
		}
		off += n;
	}
	if (n < 0)
		r = -errno;
	if (r == 0 && (fsync(out) < 0 || renameat(cachefd, part, cachefd, name) < 0))
		r = -errno;
	close(out);
	if (r < 0)
		unlinkat(cachefd, part, 0);
	return r;
}

static void note_dropped(struct aptcache_result *res, const char *name)
{
	size_t len = strlen(res->dropped_names);

	res->dropped++;
	if (res->dropped <= 3)
		snprintf(res->dropped_names + len, sizeof(res->dropped_names) - len, "%s'%.60s'", len ? ", " : "",
			 name);
	else if (res->dropped == 4)
		snprintf(res->dropped_names + len, sizeof(res->dropped_names) - len, ", ...");
}

int aptcache_collect(int cachefd, int upperfd, int rootfd, struct aptcache_result *res)
{
	_cleanup_(lists_free) struct lists l = { 0 };
	int dfd = dup(upperfd), r = 0;
	struct dirent *e;
	DIR *d;

	*res = (struct aptcache_result){ 0 };
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return log_errno(errno, "cannot read apt's downloads");
	}
	rewinddir(d);
	while (r == 0 && (e = readdir(d))) {
		const char *name = e->d_name;
		size_t len = strlen(name);
		char sha[SHA256_HEX_LEN + 1];
		struct stat st;
		int fd;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "lock") == 0)
			continue;
		if (fstatat(upperfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* apt's own: its partial downloads, and the whiteouts that
		 * stand for what it deleted (apt-get clean). */
		if ((S_ISDIR(st.st_mode) && strcmp(name, "partial") == 0) ||
		    (S_ISCHR(st.st_mode) && st.st_rdev == 0))
			continue;
		if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || len < 5 || strcmp(name + len - 4, ".deb") != 0) {
			note_dropped(res, name);
			continue;
		}
		if (!l.loaded && (r = lists_load(&l, rootfd)) < 0)
			break;
		if (l.n == 0) {
			res->no_lists = true;
			note_dropped(res, name);
			continue;
		}
		fd = beneath_open(upperfd, name, O_RDONLY | O_NONBLOCK, 0);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
		    file_sha256(fd, (uint64_t)st.st_size, sha) < 0 || !vouched_for(&l, sha, name)) {
			if (fd >= 0)
				close(fd);
			note_dropped(res, name);
			continue;
		}
		r = deb_adopt(cachefd, upperfd, name, fd);
		close(fd);
		if (r < 0)
			log_errno(r, "cannot move '%s' into the shared apt cache", name);
		else
			res->kept++;
	}
	closedir(d);
	return r;
}
