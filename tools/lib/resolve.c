/* SPDX-License-Identifier: MIT */
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dirent.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SYMLINK_MAX_DEPTH 40

int resolve_open(int rootfd, const char *path, int flags, unsigned mode)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN); /* a rename raced the lookup */
	return fd < 0 ? -errno : (int)fd;
}

static int mkdir_p(int rootfd, const char *path, int depth)
{
	char prefix[PATH_MAX] = "";
	const char *p = path;

	if (depth > SYMLINK_MAX_DEPTH)
		return -ELOOP;
	for (;;) {
		size_t len;
		char cand[PATH_MAX], target[PATH_MAX], next[PATH_MAX];
		int fd, parent;
		ssize_t n;

		while (*p == '/')
			p++;
		if (!*p)
			return resolve_open(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
		len = strcspn(p, "/");
		if ((size_t)snprintf(cand, sizeof(cand), "%s/%.*s", prefix, (int)len, p) >= sizeof(cand))
			return -ENAMETOOLONG;
		p += len;

		fd = resolve_open(rootfd, cand, O_PATH | O_DIRECTORY, 0);
		if (fd >= 0) {
			close(fd);
			memcpy(prefix, cand, sizeof(prefix));
			continue;
		}
		if (fd != -ENOENT)
			return fd;

		/* The last component is missing, or a symlink to something
		 * missing: follow that inside the root. */
		parent = resolve_open(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
		if (parent < 0)
			return parent;
		const char *name = cand + strlen(prefix) + 1;
		n = readlinkat(parent, name, target, sizeof(target) - 1);
		if (n >= 0) {
			close(parent);
			target[n] = 0;
			if ((size_t)snprintf(next, sizeof(next), "%s/%s/%s", target[0] == '/' ? "" : prefix,
					     target, p) >= sizeof(next))
				return -ENAMETOOLONG;
			return mkdir_p(rootfd, next, depth + 1);
		}
		if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
			int r = -errno;
			close(parent);
			return r;
		}
		close(parent);
		memcpy(prefix, cand, sizeof(prefix));
	}
}

int resolve_mkdir_p(int rootfd, const char *path)
{
	return mkdir_p(rootfd, path, 0);
}

int beneath_open(int dirfd, const char *path, int flags, unsigned mode)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, *path ? path : ".", &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

int beneath_mkdir_p(int dirfd, const char *path)
{
	int cur = beneath_open(dirfd, ".", O_RDONLY | O_DIRECTORY, 0);

	/* One name at a time, each opened in the one before: what was checked
	 * is what the next step stands on. */
	for (const char *p = path; cur >= 0;) {
		char name[NAME_MAX + 1];
		size_t len;
		int next;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		len = strcspn(p, "/");
		if (len > NAME_MAX) {
			close(cur);
			return -ENAMETOOLONG;
		}
		memcpy(name, p, len);
		name[len] = 0;
		p += len;
		next = beneath_open(cur, name, O_RDONLY | O_DIRECTORY, 0);
		if (next == -ENOENT) {
			if (mkdirat(cur, name, 0755) < 0 && errno != EEXIST)
				next = -errno;
			else
				next = beneath_open(cur, name, O_RDONLY | O_DIRECTORY, 0);
		}
		close(cur);
		cur = next;
	}
	return cur;
}

int beneath_remove(int at, const char *name)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int fd, r = 0;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(at, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	fd = beneath_open(at, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while (r == 0 && (errno = 0, e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			r = beneath_remove(dirfd(d), e->d_name);
	closedir(d);
	if (r == 0 && unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

bool path_under(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, len) == 0 && (path[len] == 0 || path[len] == '/');
}

int resolve_fd_path(int fd, const char *root, char out[static PATH_MAX])
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, PATH_MAX - 1);
	if (n < 0)
		return -errno;
	out[n] = 0;
	if (!path_under(out, root))
		return -EXDEV; /* cannot happen with RESOLVE_IN_ROOT; never trust it blindly */
	return 0;
}

int resolve_fd_image_path(int fd, const char *root, char out[static PATH_MAX])
{
	char host[PATH_MAX];
	size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
	int r = resolve_fd_path(fd, root, host);

	if (r < 0)
		return r;
	snprintf(out, PATH_MAX, "%s", host[rl] ? host + rl : "/");
	return 0;
}

bool path_plain(const char *p)
{
	if (p[0] != '/')
		return false;
	for (const char *s = p; (s = strchr(s, '/')); s++)
		if ((s[1] == '.' && (s[2] == 0 || s[2] == '/')) ||
		    (s[1] == '.' && s[2] == '.' && (s[3] == 0 || s[3] == '/')))
			return false;
	return true;
}

void path_normalize(const char *in, char out[static PATH_MAX])
{
	size_t n = 0;

	for (const char *s = in; *s;) {
		size_t len;
		while (*s == '/')
			s++;
		len = strcspn(s, "/");
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else if (len > 0 && !(len == 1 && s[0] == '.') && n + 1 + len < PATH_MAX) {
			out[n++] = '/';
			memcpy(out + n, s, len);
			n += len;
		}
		s += len;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = 0;
}
