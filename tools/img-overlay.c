/* SPDX-License-Identifier: MIT */
/*
 * img-overlay: merge directory trees into an image's root, like
 * `rsync -r SRC/ ROOT/` but safe against the image and exact about links,
 * modes, owners and xattrs.
 *
 * Every directory of ROOT is reached through openat2(RESOLVE_IN_ROOT)
 * (tools/lib/resolve.h), so an image whose /etc is a symlink to an absolute
 * path gets the write where that link points inside the image, never on the
 * host. Below that, everything is done relative to directory fds, one name
 * at a time: a file is written to a temporary name and renamed over the old
 * one, which replaces a symlink instead of following it.
 *
 * Each SRC is walked twice: a plan pass that writes nothing (the dry run,
 * and the check for type clashes, so that a clash leaves nothing half-done),
 * then the copy.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "log.h"
#include "resolve.h"
#include "signals.h"

#define PERMS_FILE ".overlay-perms"
#define FUSE_SUPER_MAGIC 0x65735546
#define MSDOS_SUPER_MAGIC 0x4d44
#define EXFAT_SUPER_MAGIC 0x2011BAB0

static bool arg_preserve_owner;
static const char *arg_owner = "0:0";
static bool arg_dry_run;
static char **arg_srcs;
static unsigned arg_n_srcs;
static const char *arg_root;

struct hardlink {
	dev_t dev;
	ino_t ino;
	char *rel; /* where its first copy went, relative to ROOT */
};

/* A line of .overlay-perms. */
struct perm {
	char *rel;
	unsigned line;
	long mode; /* -1: keep */
	bool owner;
	uid_t uid;
	gid_t gid;
};

struct overlay {
	int rootfd;
	const char *src;
	bool apply;  /* false: the plan pass */
	bool owners; /* the directory being filled keeps owners and modes */
	uid_t uid;
	gid_t gid;
	unsigned created, replaced, unchanged, perms, mkdirs;
	unsigned n_changes; /* what the plan pass found to do */
	struct hardlink *links;
	size_t n_links;
	struct perm *perms_v;
	size_t n_perms;
	unsigned long tmp_seq;
};

/* ---- small helpers ---- */

static void say(const struct overlay *o, const char *what, const char *rel)
{
	/* The dry run lists changes on stdout; a real run shows them with -v. */
	if (o->apply)
		log_debug("%s /%s", what, rel);
	else if (arg_dry_run && log_enabled(LOG_DEBUG))
		printf("%s /%s\n", what, rel);
}

static char *path_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
		return NULL;
	return p;
}

/* vfat and FUSE filesystems keep no owners, modes or xattrs: skip those
 * there instead of failing (an overlay may put config.txt on the boot
 * partition). */
static bool fs_has_owners(int dirfd)
{
	struct statfs sfs;

	if (fstatfs(dirfd, &sfs) < 0)
		return true;
	return sfs.f_type != MSDOS_SUPER_MAGIC && sfs.f_type != FUSE_SUPER_MAGIC &&
	       sfs.f_type != EXFAT_SUPER_MAGIC;
}

static const struct perm *perm_find(const struct overlay *o, const char *rel)
{
	for (size_t i = 0; i < o->n_perms; i++)
		if (strcmp(o->perms_v[i].rel, rel) == 0)
			return &o->perms_v[i];
	return NULL;
}

/* The owner and mode rel gets: .overlay-perms first, then the options. */
static void attrs_of(const struct overlay *o, const char *rel, const struct stat *st, uid_t *uid, gid_t *gid,
		     mode_t *mode)
{
	const struct perm *p = perm_find(o, rel);

	*uid = arg_preserve_owner ? st->st_uid : o->uid;
	*gid = arg_preserve_owner ? st->st_gid : o->gid;
	*mode = st->st_mode & 07777;
	if (p && p->owner) {
		*uid = p->uid;
		*gid = p->gid;
	}
	if (p && p->mode >= 0)
		*mode = (mode_t)p->mode;
}

static int xattrs_copy(int in, int out, const char *rel)
{
	char names[4096], value[65536];
	ssize_t len = flistxattr(in, names, sizeof(names));

	if (len < 0)
		return errno == ENOTSUP ? 0 : log_errno(errno, "cannot list the xattrs of '%s'", rel);
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		ssize_t vlen = fgetxattr(in, n, value, sizeof(value));
		if (vlen < 0)
			return log_errno(errno, "cannot read xattr %s of '%s'", n, rel);
		if (fsetxattr(out, n, value, (size_t)vlen, 0) < 0)
			return log_errno(errno, "cannot set xattr %s on '/%s'", n, rel);
	}
	return 0;
}

static int data_copy(int in, int out, off_t size)
{
	char buf[65536];
	off_t done = 0;

	/* In the kernel, no buffer: works across filesystems since 2.6.33. */
	while (done < size) {
		ssize_t n = sendfile(out, in, NULL, (size_t)(size - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EINVAL || errno == ENOSYS))
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0; /* the source shrank: copy what there is */
		done += n;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), w = 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		while (w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k < 0 && errno != EINTR)
				return -errno;
			w += k > 0 ? k : 0;
		}
	}
}

/* ---- the three kinds of entries ---- */

static const struct hardlink *link_find(const struct overlay *o, const struct stat *st)
{
	for (size_t i = 0; i < o->n_links; i++)
		if (o->links[i].dev == st->st_dev && o->links[i].ino == st->st_ino)
			return &o->links[i];
	return NULL;
}

static int link_add(struct overlay *o, const struct stat *st, const char *rel)
{
	struct hardlink *v = realloc(o->links, (o->n_links + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	o->links = v;
	v[o->n_links] = (struct hardlink){ .dev = st->st_dev, .ino = st->st_ino, .rel = strdup(rel) };
	if (!v[o->n_links].rel)
		return -ENOMEM;
	o->n_links++;
	return 0;
}

/* Puts tmp in place of name in tdirfd. */
static int tmp_commit(int tdirfd, const char *tmp, const char *name, const char *rel)
{
	if (renameat(tdirfd, tmp, tdirfd, name) < 0) {
		int r = -errno;
		unlinkat(tdirfd, tmp, 0);
		return log_errno(r, "cannot put '/%s' in place", rel);
	}
	return 0;
}

/* A fresh temporary name in tdirfd, the one an interrupt removes from now
 * until the next: by then this one was renamed or removed. */
static void tmp_name(struct overlay *o, int tdirfd, char buf[static 64])
{
	snprintf(buf, 64, ".img-overlay.%d.%lu", (int)getpid(), o->tmp_seq++);
	signals_tmp_arm(tdirfd, buf);
}

static int file_copy(struct overlay *o, int srcfd, const char *name, const struct stat *st, int tdirfd,
		     const char *rel, const struct stat *old)
{
	const struct hardlink *hl = st->st_nlink > 1 ? link_find(o, st) : NULL;
	char tmp[64];
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int r;

	if (hl) {
		/* A second name of a file copied before: link it there too. */
		_cleanup_(freep) char *dir = strdup(hl->rel);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		const char *base = slash ? slash + 1 : hl->rel;

		if (!dir)
			return -ENOMEM;
		if (slash)
			*slash = 0;
		if (o->apply) {
			_cleanup_(closep) int pfd = resolve_open(o->rootfd, slash ? dir : "", O_PATH | O_DIRECTORY, 0);
			struct stat first;
			if (pfd < 0)
				return log_errno(pfd, "cannot open '/%s'", slash ? dir : "");
			if (old && fstatat(pfd, base, &first, AT_SYMLINK_NOFOLLOW) == 0 &&
			    first.st_ino == old->st_ino && first.st_dev == old->st_dev) {
				o->unchanged++;
				return 0;
			}
			tmp_name(o, tdirfd, tmp);
			if (linkat(pfd, base, tdirfd, tmp, 0) < 0)
				return log_errno(errno, "cannot link '/%s' to '/%s'", rel, hl->rel);
			r = tmp_commit(tdirfd, tmp, name, rel);
			if (r < 0)
				return r;
		}
		say(o, "link", rel);
		old ? o->replaced++ : o->created++;
		return 0;
	}
	if (st->st_nlink > 1 && (r = link_add(o, st, rel)) < 0)
		return log_errno(r, "cannot copy '/%s'", rel);

	attrs_of(o, rel, st, &uid, &gid, &mode);
	bool owners = o->owners;
	if (old && S_ISREG(old->st_mode) && old->st_size == st->st_size &&
	    old->st_mtim.tv_sec == st->st_mtim.tv_sec && old->st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
	    (!owners || ((old->st_mode & 07777) == mode && old->st_uid == uid && old->st_gid == gid))) {
		o->unchanged++;
		return 0;
	}
	say(o, old ? "replace" : "create", rel);
	old ? o->replaced++ : o->created++;
	if (!o->apply)
		return 0;

	_cleanup_(closep) int in = openat(srcfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return log_errno(errno, "cannot open '%s/%s'", o->src, rel);
	tmp_name(o, tdirfd, tmp);
	int out = openat(tdirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return log_errno(errno, "cannot create a file in '/%s'", rel);
	r = data_copy(in, out, st->st_size);
	if (r < 0)
		log_errno(r, "cannot copy '%s/%s'", o->src, rel);
	/* chown first: it clears setuid bits and file capabilities. */
	if (r >= 0 && owners && fchown(out, uid, gid) < 0)
		r = log_errno(errno, "cannot set the owner of '/%s'", rel);
	if (r >= 0 && owners && fchmod(out, mode) < 0)
		r = log_errno(errno, "cannot set the mode of '/%s'", rel);
	if (r >= 0 && owners)
		r = xattrs_copy(in, out, rel);
	if (r >= 0) {
		struct timespec times[2] = { st->st_atim, st->st_mtim };
		if (futimens(out, times) < 0)
			r = log_errno(errno, "cannot set the times of '/%s'", rel);
	}
	if (close(out) < 0 && r >= 0)
		r = log_errno(errno, "cannot write '/%s'", rel);
	if (r < 0) {
		unlinkat(tdirfd, tmp, 0);
		return r;
	}
	return tmp_commit(tdirfd, tmp, name, rel);
}

static int symlink_copy(struct overlay *o, int srcfd, const char *name, const struct stat *st, int tdirfd,
			const char *rel, const struct stat *old)
{
	char target[PATH_MAX], cur[PATH_MAX], tmp[64];
	ssize_t n = readlinkat(srcfd, name, target, sizeof(target) - 1);
	uid_t uid;
	gid_t gid;
	mode_t mode;

	if (n < 0)
		return log_errno(errno, "cannot read link '%s/%s'", o->src, rel);
	target[n] = 0;
	attrs_of(o, rel, st, &uid, &gid, &mode);
	if (old && S_ISLNK(old->st_mode) && old->st_uid == uid && old->st_gid == gid) {
		ssize_t m = readlinkat(tdirfd, name, cur, sizeof(cur) - 1);
		if (m == n && memcmp(cur, target, (size_t)n) == 0) {
			o->unchanged++;
			return 0;
		}
	}
	say(o, old ? "replace" : "create", rel);
	old ? o->replaced++ : o->created++;
	if (!o->apply)
		return 0;

	tmp_name(o, tdirfd, tmp);
	if (symlinkat(target, tdirfd, tmp) < 0)
		return log_errno(errno, "cannot create link '/%s'", rel);
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	if ((o->owners && fchownat(tdirfd, tmp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) ||
	    utimensat(tdirfd, tmp, times, AT_SYMLINK_NOFOLLOW) < 0) {
		int r = -errno;
		unlinkat(tdirfd, tmp, 0);
		return log_errno(r, "cannot set up link '/%s'", rel);
	}
	return tmp_commit(tdirfd, tmp, name, rel);
}

static int walk(struct overlay *o, int srcfd, int tdirfd, const char *rel);

static int dir_copy(struct overlay *o, int srcfd, const char *name, const struct stat *st,
		    const char *rel, const struct stat *old)
{
	_cleanup_(closep) int sub = openat(srcfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_(closep) int tsub = -1;
	bool created = !old;
	int r;

	if (sub < 0)
		return log_errno(errno, "cannot open '%s/%s'", o->src, rel);
	if (old && S_ISLNK(old->st_mode)) {
		/* A link in the image where SRC has a directory: go where it
		 * points inside the image, as the image itself would. */
		int fd = resolve_open(o->rootfd, rel, O_PATH | O_DIRECTORY, 0);
		if (fd == -ENOTDIR || fd == -ELOOP) {
			log_error("type clash at '/%s': a directory in '%s', a link to a non-directory in the image",
				  rel, o->src);
			return -ENOTDIR;
		}
		if (fd >= 0)
			close(fd);
		created = fd == -ENOENT; /* dangling: its target gets made */
	} else if (old && !S_ISDIR(old->st_mode)) {
		log_error("type clash at '/%s': a directory in '%s', a file in the image", rel, o->src);
		return -ENOTDIR;
	}
	if (created) {
		say(o, "mkdir", rel);
		o->mkdirs++;
	}

	if (o->apply || !created) {
		/* In the plan pass a missing directory is not made; its
		 * contents are all "create". */
		tsub = o->apply ? resolve_mkdir_p(o->rootfd, rel) : resolve_open(o->rootfd, rel, O_PATH | O_DIRECTORY, 0);
		if (tsub < 0)
			return log_errno(tsub, "cannot make directory '/%s'", rel);
	}
	r = walk(o, sub, tsub, rel);
	if (r < 0 || !created || !o->apply)
		return r;

	/* A directory the overlay made takes the overlay's metadata, after
	 * its contents (which change its mtime). One that was there keeps
	 * its own: /tmp stays 1777 whatever git says. */
	char proc[64];
	uid_t uid;
	gid_t gid;
	mode_t mode;
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	attrs_of(o, rel, st, &uid, &gid, &mode);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tsub);
	if (fs_has_owners(tsub) && (fchownat(tsub, "", uid, gid, AT_EMPTY_PATH) < 0 || chmod(proc, mode) < 0))
		return log_errno(errno, "cannot set the owner and mode of '/%s'", rel);
	if (utimensat(AT_FDCWD, proc, times, 0) < 0)
		return log_errno(errno, "cannot set the times of '/%s'", rel);
	return 0;
}

static int walk(struct overlay *o, int srcfd, int tdirfd, const char *rel)
{
	int dfd = dup(srcfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	bool owners = o->owners;
	int r = 0;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return log_errno(errno, "cannot read '%s/%s'", o->src, rel);
	}
	/* The dup shares the read position with srcfd, which a previous
	 * pass left at the end. */
	rewinddir(d);
	o->owners = tdirfd < 0 || fs_has_owners(tdirfd);
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		struct stat st, old;
		bool exists;
		_cleanup_(freep) char *sub = NULL;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!*rel && strcmp(de->d_name, PERMS_FILE) == 0)
			continue;
		sub = path_join(rel, de->d_name);
		if (!sub) {
			r = log_errno(ENOMEM, "cannot walk '%s'", o->src);
			break;
		}
		if (fstatat(srcfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = log_errno(errno, "cannot stat '%s/%s'", o->src, sub);
			break;
		}
		exists = tdirfd >= 0 && fstatat(tdirfd, de->d_name, &old, AT_SYMLINK_NOFOLLOW) == 0;
		if (exists && S_ISDIR(old.st_mode) && !S_ISDIR(st.st_mode)) {
			log_error("type clash at '/%s': a file in '%s', a directory in the image", sub, o->src);
			r = -EISDIR;
		} else if (S_ISDIR(st.st_mode))
			r = dir_copy(o, srcfd, de->d_name, &st, sub, exists ? &old : NULL);
		else if (S_ISREG(st.st_mode))
			r = file_copy(o, srcfd, de->d_name, &st, tdirfd, sub, exists ? &old : NULL);
		else if (S_ISLNK(st.st_mode))
			r = symlink_copy(o, srcfd, de->d_name, &st, tdirfd, sub, exists ? &old : NULL);
		else {
			log_error("'%s/%s' is a device, socket or FIFO; overlays hold files, links and directories",
				  o->src, sub);
			r = -EINVAL;
		}
	}
	if (r >= 0 && errno)
		r = log_errno(errno, "cannot read '%s/%s'", o->src, rel);
	closedir(d);
	o->owners = owners;
	return r;
}

/* ---- .overlay-perms ---- */

/* A user or group, by number or by name in the image's /etc/passwd or
 * /etc/group (never the host's). */
static int id_lookup(int rootfd, bool group, const char *name, unsigned *id)
{
	char *end;
	unsigned long n;
	FILE *f;
	int fd, r = -ENOENT;

	errno = 0;
	n = strtoul(name, &end, 10);
	if (*name && !*end && !errno && n < 0xffffffffUL) {
		*id = (unsigned)n;
		return 0;
	}
	fd = resolve_open(rootfd, group ? "etc/group" : "etc/passwd", O_RDONLY, 0);
	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		if (fd >= 0)
			close(fd);
		return -ENOENT;
	}
	if (group) {
		struct group *gr;
		while (r < 0 && (gr = fgetgrent(f)))
			if (strcmp(gr->gr_name, name) == 0) {
				*id = gr->gr_gid;
				r = 0;
			}
	} else {
		struct passwd *pw;
		while (r < 0 && (pw = fgetpwent(f)))
			if (strcmp(pw->pw_name, name) == 0) {
				*id = pw->pw_uid;
				r = 0;
			}
	}
	fclose(f);
	return r;
}

static int owner_parse(int rootfd, const char *spec, uid_t *uid, gid_t *gid)
{
	char user[256], group[256];
	const char *colon = strchr(spec, ':');
	unsigned u, g;

	if (!colon || colon == spec || !colon[1] || (size_t)(colon - spec) >= sizeof(user) ||
	    strlen(colon + 1) >= sizeof(group))
		return -EINVAL;
	snprintf(user, sizeof(user), "%.*s", (int)(colon - spec), spec);
	snprintf(group, sizeof(group), "%s", colon + 1);
	if (id_lookup(rootfd, false, user, &u) < 0 || id_lookup(rootfd, true, group, &g) < 0)
		return -ENOENT;
	*uid = u;
	*gid = g;
	return 0;
}

static void perms_free(struct overlay *o)
{
	for (size_t i = 0; i < o->n_perms; i++)
		free(o->perms_v[i].rel);
	free(o->perms_v);
	o->perms_v = NULL;
	o->n_perms = 0;
}

/* Reads SRC/.overlay-perms: lines of "PATH MODE OWNER:GROUP", where MODE or
 * OWNER:GROUP may be "-" to keep it. Checked whole before anything is
 * copied, and used while copying, so a file gets its declared mode at once. */
static int perms_load(struct overlay *o, int srcfd)
{
	_cleanup_(closep) int fd = openat(srcfd, PERMS_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char line[PATH_MAX + 128];
	unsigned lineno = 0;
	FILE *f;
	int r = 0;

	perms_free(o);
	if (fd < 0)
		return errno == ENOENT ? 0 : log_errno(errno, "cannot open '%s/%s'", o->src, PERMS_FILE);
	f = fdopen(fd, "r");
	if (!f)
		return log_errno(errno, "cannot read '%s/%s'", o->src, PERMS_FILE);
	fd = -1; /* the FILE owns it now */
	while (r >= 0 && fgets(line, sizeof(line), f)) {
		char path[PATH_MAX], mode_s[32], owner_s[256], extra[2], *end;
		struct perm p = { .line = ++lineno, .mode = -1 };
		struct perm *v;
		int n = sscanf(line, "%4095s %31s %255s %1s", path, mode_s, owner_s, extra);

		if (n <= 0 || path[0] == '#')
			continue;
		if (n != 3) {
			log_error("%s/%s:%u: want 'PATH MODE OWNER:GROUP'", o->src, PERMS_FILE, lineno);
			r = -EINVAL;
			break;
		}
		if (strcmp(mode_s, "-") != 0) {
			p.mode = strtol(mode_s, &end, 8);
			if (*end || p.mode < 0 || p.mode > 07777) {
				log_error("%s/%s:%u: bad mode '%s'", o->src, PERMS_FILE, lineno, mode_s);
				r = -EINVAL;
				break;
			}
		}
		if (strcmp(owner_s, "-") != 0) {
			if (owner_parse(o->rootfd, owner_s, &p.uid, &p.gid) < 0) {
				log_error("%s/%s:%u: unknown owner '%s' (not a number, nor in the image's "
					  "/etc/passwd and /etc/group)", o->src, PERMS_FILE, lineno, owner_s);
				r = -EINVAL;
				break;
			}
			p.owner = true;
		}
		p.rel = strdup(path + strspn(path, "/"));
		v = realloc(o->perms_v, (o->n_perms + 1) * sizeof(*v));
		if (!p.rel || !v) {
			free(p.rel);
			r = log_errno(ENOMEM, "cannot read '%s/%s'", o->src, PERMS_FILE);
			break;
		}
		o->perms_v = v;
		v[o->n_perms++] = p;
	}
	fclose(f);
	return r;
}

/* After the copy: every declared path, also those the image had before. */
static int perms_apply(struct overlay *o)
{
	for (size_t i = 0; i < o->n_perms; i++) {
		const struct perm *p = &o->perms_v[i];
		char proc[64];
		struct stat st;

		say(o, "perms", p->rel);
		o->perms++;
		if (!o->apply)
			continue;
		_cleanup_(closep) int fd = resolve_open(o->rootfd, p->rel, O_PATH | O_NOFOLLOW, 0);
		if (fd < 0 || fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
			log_error("%s/%s:%u: '/%s' is %s", o->src, PERMS_FILE, p->line, p->rel,
				  fd >= 0 ? "a symlink" : "not in the image");
			return -ENOENT;
		}
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (p->owner && (st.st_uid != p->uid || st.st_gid != p->gid) &&
		    fchownat(fd, "", p->uid, p->gid, AT_EMPTY_PATH) < 0)
			return log_errno(errno, "cannot set the owner of '/%s'", p->rel);
		/* Also after a chown, which clears setuid bits. */
		if (chmod(proc, p->mode >= 0 ? (mode_t)p->mode : st.st_mode & 07777) < 0)
			return log_errno(errno, "cannot set the mode of '/%s'", p->rel);
	}
	return 0;
}

/* ---- main ---- */

static int overlay_one(struct overlay *o, const char *src)
{
	_cleanup_(closep) int srcfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_(closep) int tfd = -1;
	int r;

	if (srcfd < 0)
		return log_errno(errno, "cannot open '%s'", src);
	tfd = resolve_open(o->rootfd, "", O_PATH | O_DIRECTORY, 0);
	if (tfd < 0)
		return log_errno(tfd, "cannot open '%s'", arg_root);
	o->src = src;

	/* Pass 0 plans (and is the whole dry run), pass 1 copies. */
	for (int pass = 0; pass < (arg_dry_run ? 1 : 2); pass++) {
		o->apply = pass == 1;
		o->n_changes = o->created + o->replaced + o->mkdirs;
		if (o->apply && o->n_changes == 0)
			o->created = o->replaced = o->perms = 0; /* keep "unchanged" */
		else
			o->created = o->replaced = o->unchanged = o->perms = o->mkdirs = 0;
		for (size_t i = 0; i < o->n_links; i++)
			free(o->links[i].rel);
		o->n_links = 0;
		r = perms_load(o, srcfd);
		/* When the plan found nothing to copy, the copy is just the perms. */
		if (r >= 0 && !(o->apply && o->n_changes == 0))
			r = walk(o, srcfd, tfd, "");
		if (r >= 0)
			r = perms_apply(o);
		if (r < 0)
			break;
	}
	perms_free(o);
	if (r < 0)
		return r;
	log_notice("%s: %s%u created, %u replaced, %u unchanged, %u perms", src, arg_dry_run ? "would be " : "",
		   o->created, o->replaced, o->unchanged, o->perms);
	return 0;
}

static int run(void)
{
	struct overlay o = { .rootfd = -1 };
	int r = 0;

	o.rootfd = open(arg_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (o.rootfd < 0) {
		log_errno(errno, "cannot open '%s'", arg_root);
		return EXIT_FAILED;
	}
	if (!arg_preserve_owner && owner_parse(o.rootfd, arg_owner, &o.uid, &o.gid) < 0) {
		log_error("unknown owner '%s' (not a number, nor in the image's /etc/passwd and /etc/group)", arg_owner);
		close(o.rootfd);
		return EXIT_USAGE;
	}
	r = signals_tmp_install();
	if (r < 0) {
		log_errno(r, "cannot set up signal handlers");
		close(o.rootfd);
		return EXIT_FAILED;
	}
	for (unsigned i = 0; i < arg_n_srcs && r >= 0; i++)
		r = overlay_one(&o, arg_srcs[i]);
	signals_tmp_disarm();
	for (size_t i = 0; i < o.n_links; i++)
		free(o.links[i].rel);
	free(o.links);
	close(o.rootfd);
	return r < 0 ? EXIT_FAILED : EXIT_DONE;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... SRC... ROOT\n"
	       "Merge the directory trees SRC into the image root ROOT, in order (later\n"
	       "ones win), with every path resolved inside ROOT.\n\n"
	       "      --owner=USER:GROUP  owner of what is copied (default 0:0); names are\n"
	       "                          looked up in the image\n"
	       "      --preserve-owner    keep the owners of SRC\n"
	       "  -n, --dry-run           change nothing; with -v, list what would change\n"
	       "  -q, --quiet             only errors\n"
	       "  -v, --verbose           list each change\n"
	       "  -h, --help              show this help\n"
	       "  -V, --version           show the version\n\n"
	       "A file SRC/" PERMS_FILE " of lines 'PATH MODE OWNER:GROUP' is applied after\n"
	       "the copy of its SRC, and is not copied.\n\n"
	       "Exit status: 0 done, 1 failed, 2 bad usage.\n",
	       log_program());
}

static int parse_argv(int argc, char **argv)
{
	enum { ARG_OWNER = 0x100, ARG_PRESERVE_OWNER };
	static const struct option options[] = {
		{ "owner", required_argument, NULL, ARG_OWNER },
		{ "preserve-owner", no_argument, NULL, ARG_PRESERVE_OWNER },
		{ "dry-run", no_argument, NULL, 'n' },
		CLI_COMMON_OPTIONS,
		{}
	};
	bool owner_given = false;
	int c;

	while ((c = getopt_long(argc, argv, "n" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case ARG_OWNER:
			arg_owner = optarg;
			owner_given = true;
			break;
		case ARG_PRESERVE_OWNER:
			arg_preserve_owner = true;
			break;
		case 'n':
			arg_dry_run = true;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (owner_given && arg_preserve_owner) {
		log_error("--owner and --preserve-owner exclude each other");
		return -EINVAL;
	}
	if (argc - optind < 2) {
		log_error("want at least one SRC and the ROOT");
		return -EINVAL;
	}
	arg_srcs = argv + optind;
	arg_n_srcs = (unsigned)(argc - optind - 1);
	arg_root = argv[argc - 1];
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
