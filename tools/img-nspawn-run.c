/* SPDX-License-Identifier: MIT */
/*
 * img-nspawn-run: run a command inside an image's root directory with
 * systemd-nspawn, without interaction, and leave the image as it was.
 *
 * The command's status becomes ours, and ours are 125/126/127 as in env(1).
 * systemd-nspawn exits 1 for its own failures too, so it is given a socket
 * of ours as $NOTIFY_SOCKET: it says READY=1 there when it hands over to the
 * command, and a status that comes without that message is nspawn's own.
 *
 * Foreign programs run through binfmt_misc with qemu-user-static's entry
 * registered with the F flag (the kernel keeps the emulator open), so no
 * emulator is copied into the image. Name resolution comes from the host's
 * resolv.conf, bound read-only where the image's /etc/resolv.conf leads:
 * on Ubuntu that is under /run, a tmpfs of the container's own, so the
 * image's symlink is never replaced.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "aptcache.h"
#include "binfmt.h"
#include "cli.h"
#include "common.h"
#include "log.h"
#include "mounts.h"
#include "resolve.h"
#include "strv.h"
#include "supervise.h"

/* As in env(1): the statuses that are ours rather than the command's. */
enum {
	EXIT_CANCELED = 125,      /* we failed, or systemd-nspawn did, or bad usage */
	EXIT_CANNOT_INVOKE = 126, /* CMD is there but cannot be executed */
	EXIT_ENOENT = 127,        /* CMD is not there */
};

/* systemd-nspawn's PATH in the container, unless --setenv sets one. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define BINDS_MAX 64
#define SETENV_MAX 128

struct bind {
	const char *arg; /* SRC:DST */
	size_t src_len;
	bool read_only;
};

static const char *arg_root;
static struct bind arg_binds[BINDS_MAX];
static unsigned arg_n_binds;
static const char *arg_setenv[SETENV_MAX];
static const char *arg_capability; /* CAP_A,CAP_B: beyond nspawn's default set */
static unsigned arg_n_setenv;
static const char *arg_workdir = "/";
static const char *arg_apt_cache;
static const char *arg_apt_downloads;
static const char *arg_log;
static bool arg_shell;
static char **arg_command;

extern char **environ;

/* True if --setenv sets NAME (NAME=VALUE, or NAME from our environment). */
static bool setenv_given(const char *name)
{
	size_t len = strlen(name);

	for (unsigned i = 0; i < arg_n_setenv; i++)
		if (strncmp(arg_setenv[i], name, len) == 0 && (arg_setenv[i][len] == '=' || !arg_setenv[i][len]))
			return true;
	return false;
}

/* Where apt's cache is shared (--apt-cache): the image sees DIR read-only
 * with this run's downloads on top (an overlay). */
#define APT_ARCHIVES "/var/cache/apt/archives"

/* What run() works out before it starts systemd-nspawn. */
struct plan {
	char *root; /* --root, resolved */
	int rootfd;
	char *src[BINDS_MAX]; /* each bind's SRC, resolved on the host */
	int srcfd[BINDS_MAX]; /* ... and opened: what is bound is what was checked */
	dev_t src_dev[BINDS_MAX];
	ino_t src_ino[BINDS_MAX];
	bool src_dir[BINDS_MAX];
	const char *dst[BINDS_MAX];
	char stage[PATH_MAX]; /* where the binds are staged for nspawn; "" for none */
	/* --apt-cache: the shared directory, the downloads directory and its
	 * upper and work directories; -1 where there is none. */
	int apt_cache, apt_dl, apt_upper, apt_work;
	struct stat apt_cache_st, apt_upper_st, apt_work_st; /* what child_setup must find again */
	bool apt_dl_temp; /* apt_dl is a temporary directory of ours */
	char apt_dl_path[PATH_MAX];
	const char *path; /* PATH in the container */
	const char *shell;
	char resolv_host[PATH_MAX]; /* the host's resolv.conf ... */
	char resolv_place[PATH_MAX]; /* ... bound here in the container; "" for none */
	bool foreign; /* the image's programs run through an emulator */
};

#define PLAN_INIT                                                                                 \
	{ .rootfd = -1, .path = DEFAULT_PATH, .apt_cache = -1, .apt_dl = -1, .apt_upper = -1, .apt_work = -1, \
	  .srcfd = { [0 ... BINDS_MAX - 1] = -1 } }

static void plan_done(struct plan *p)
{
	free(p->root);
	closep(&p->rootfd);
	for (unsigned i = 0; i < arg_n_binds; i++) {
		free(p->src[i]);
		closep(&p->srcfd[i]);
	}
	if (p->stage[0])
		rmdir(p->stage);
	closep(&p->apt_upper);
	closep(&p->apt_work);
	if (p->apt_dl >= 0) {
		/* What the container wrote there is not kept. */
		beneath_remove(p->apt_dl, "upper");
		beneath_remove(p->apt_dl, "work");
		close(p->apt_dl);
		if (p->apt_dl_temp)
			rmdir(p->apt_dl_path);
	}
	closep(&p->apt_cache);
}

/* The container has a tmpfs of its own on these: what systemd-nspawn
 * makes there never reaches the image. */
static bool path_on_tmpfs(const char *path)
{
	return path_under(path, "/run") || path_under(path, "/tmp");
}

/* Opens path as the container will see it: through the binds (the last
 * one given lies on top), on the container's empty tmpfs, or in the image. */
static int container_open(const struct plan *p, const char *path, int flags)
{
	for (unsigned i = arg_n_binds; i-- > 0;)
		if (path_under(path, p->dst[i])) {
			size_t skip = strcmp(p->dst[i], "/") == 0 ? 0 : strlen(p->dst[i]);
			const char *rest = path + skip + strspn(path + skip, "/");
			int fd = openat(p->srcfd[i], *rest ? rest : ".", flags | O_CLOEXEC);
			return fd < 0 ? -errno : fd;
		}
	if (path_on_tmpfs(path))
		return -ENOENT;
	return resolve_open(p->rootfd, path, flags, 0);
}

/* 0 if path (relative to --workdir) is a file the container can execute,
 * -EACCES if it is there but cannot be executed, -ENOENT if it is not. */
static int program_check(const struct plan *p, const char *path, char out[static PATH_MAX])
{
	_cleanup_(closep) int fd = -1;
	struct stat st;

	if (path[0] == '/')
		snprintf(out, PATH_MAX, "%s", path);
	else
		snprintf(out, PATH_MAX, "%s/%s", strcmp(arg_workdir, "/") == 0 ? "" : arg_workdir, path);
	fd = container_open(p, out, O_PATH);
	if (fd < 0)
		return fd == -EACCES ? -EACCES : -ENOENT;
	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISREG(st.st_mode) && (st.st_mode & 0111) ? 0 : -EACCES;
}

/* CMD looked up as execvp(3) in the container will: a name along PATH. */
static int command_find(const struct plan *p, const char *cmd, char out[static PATH_MAX])
{
	const char *dir = p->path;
	int r = -ENOENT;

	if (!*cmd)
		return -ENOENT;
	if (strchr(cmd, '/'))
		return program_check(p, cmd, out);
	for (;;) {
		size_t len = strcspn(dir, ":");
		char cand[PATH_MAX];
		int q;

		/* An empty entry is the working directory, as for execvp(3). */
		snprintf(cand, sizeof(cand), "%.*s%s%s", (int)len, dir, len ? "/" : "", cmd);
		q = program_check(p, cand, out);
		if (q == 0)
			return 0;
		if (q == -EACCES)
			r = -EACCES;
		if (!dir[len])
			return r;
		dir += len + 1;
	}
}

/* The image's architecture, from its shell (or env, for a root without
 * one), opened inside the image: bin -> usr/bin, or a hostile absolute
 * link, resolve there and not on the host. */
static int image_arch(const struct plan *p, struct elf_arch *a)
{
	static const char *const progs[] = { "/bin/sh", "/usr/bin/env" };
	bool found = false;

	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		_cleanup_(closep) int fd = resolve_open(p->rootfd, progs[i], O_RDONLY, 0);
		if (fd < 0)
			continue;
		found = true;
		if (elf_arch_read(fd, a) == 0)
			return 0;
	}
	if (found)
		log_error("'%s': neither /bin/sh nor /usr/bin/env is an ELF program", p->root);
	else
		log_error("'%s' has no /bin/sh or /usr/bin/env; is it the root directory of an image?", p->root);
	return -ENOEXEC;
}

/* Makes sure this host can run the image's programs. */
static int arch_provide(const struct plan *p, const struct elf_arch *image)
{
	char subject[PATH_MAX + 16];

	snprintf(subject, sizeof(subject), "'%s' holds", p->root);
	return binfmt_provide(image, p->rootfd, subject);
}

/* Where a path of the image leads, as far as it exists: the part that
 * exists resolved inside the image, the rest appended as it is. */
static int image_path_settle(const struct plan *p, const char *path, char out[static PATH_MAX])
{
	char norm[PATH_MAX], prefix[PATH_MAX], real[PATH_MAX];

	path_normalize(path, norm);
	memcpy(prefix, norm, sizeof(prefix));
	for (;;) {
		_cleanup_(closep) int fd = resolve_open(p->rootfd, prefix, O_PATH, 0);
		char *slash;
		if (fd >= 0) {
			int r = resolve_fd_image_path(fd, p->root, real);
			if (r < 0)
				return r;
			snprintf(out, PATH_MAX, "%s%s", strcmp(real, "/") == 0 ? "" : real, norm + strlen(prefix));
			if (!*out)
				snprintf(out, PATH_MAX, "/");
			return 0;
		}
		slash = strrchr(prefix, '/');
		if (!slash || !*prefix)
			return -ENOENT;
		*slash = 0; /* "" is the image's root */
	}
}

/* Where the host's resolv.conf goes so that the image's /etc/resolv.conf
 * shows it without being touched: over the file it resolves to, or, where
 * it leads to nothing yet (Ubuntu's link to systemd-resolved's stub file),
 * onto that place if it is on the container's own tmpfs. */
static void resolv_plan(struct plan *p)
{
	_cleanup_(closep) int fd = -1, etc = -1;
	char link[PATH_MAX], dir[PATH_MAX], target[2 * PATH_MAX];
	struct stat st;
	ssize_t n;

	p->resolv_place[0] = 0;
	if (!realpath("/etc/resolv.conf", p->resolv_host) || stat(p->resolv_host, &st) < 0 ||
	    !S_ISREG(st.st_mode)) {
		log_info("this host has no /etc/resolv.conf file; names will not resolve inside the image");
		return;
	}
	fd = resolve_open(p->rootfd, "/etc/resolv.conf", O_PATH, 0);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    resolve_fd_image_path(fd, p->root, p->resolv_place) == 0)
			return;
		p->resolv_place[0] = 0;
	} else if ((etc = resolve_open(p->rootfd, "/etc", O_PATH | O_DIRECTORY, 0)) >= 0 &&
		   (n = readlinkat(etc, "resolv.conf", link, sizeof(link) - 1)) > 0 &&
		   resolve_fd_image_path(etc, p->root, dir) == 0) {
		link[n] = 0;
		snprintf(target, sizeof(target), "%s/%s", link[0] == '/' ? "" : dir, link);
		if (image_path_settle(p, target, p->resolv_place) == 0 && path_on_tmpfs(p->resolv_place))
			return;
		p->resolv_place[0] = 0;
	}
	log_info("the image's /etc/resolv.conf leads nowhere the host's can be put without changing the "
		 "image; names will not resolve inside it");
}

/* The binds' SRC resolved on the host; a note where nspawn will make a
 * mount point inside the image. */
static int binds_plan(struct plan *p)
{
	for (unsigned i = 0; i < arg_n_binds; i++) {
		const struct bind *b = &arg_binds[i];
		_cleanup_(freep) char *src = strndup(b->arg, b->src_len);
		bool covered = path_on_tmpfs(b->arg + b->src_len + 1);

		if (!src)
			return log_errno(ENOMEM, "cannot resolve '%s'", b->arg);
		struct stat st;

		/* Opened once: the same inode is staged for nspawn (child_setup),
		 * whatever happens to the name meanwhile. */
		p->srcfd[i] = open(src, O_PATH | O_CLOEXEC);
		if (p->srcfd[i] < 0 || fstat(p->srcfd[i], &st) < 0)
			return log_errno(errno, "cannot bind '%s'", src);
		p->src_dir[i] = S_ISDIR(st.st_mode);
		p->src_dev[i] = st.st_dev;
		p->src_ino[i] = st.st_ino;
		p->src[i] = realpath(src, NULL);
		if (!p->src[i])
			return log_errno(errno, "cannot bind '%s'", src);
		p->dst[i] = b->arg + b->src_len + 1;
		for (unsigned j = 0; j < i && !covered; j++)
			covered = path_under(p->dst[i], p->dst[j]);
		if (!covered) {
			_cleanup_(closep) int fd = resolve_open(p->rootfd, p->dst[i], O_PATH, 0);
			if (fd == -ENOENT)
				log_info("'%s' is not in the image; systemd-nspawn creates it there for the bind",
					 p->dst[i]);
		}
	}
	return 0;
}

/* True if the init system is systemd and the system bus answers: then
 * systemd-nspawn registers the container with systemd-machined. */
static bool system_bus_reachable(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/dbus/system_bus_socket" };
	_cleanup_(closep) int fd = -1;
	struct stat st;

	if (stat("/run/systemd/system", &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

/* systemd-nspawn keeps a directory per container under /run/systemd/nspawn
 * and refuses to remove it from a disk filesystem (with an error line
 * after every run), as on a host without systemd where /run is no tmpfs. */
static bool nspawn_state_on_disk(void)
{
	struct statfs sf;

	return statfs("/run", &sf) == 0 && sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC;
}

/* A path for systemd-nspawn's --bind, which takes '\' escapes. */
static char *bind_escape(const char *s)
{
	char *r = malloc(2 * strlen(s) + 1), *o = r;

	if (!r)
		return NULL;
	for (; *s; s++) {
		if (*s == ':' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o = 0;
	return r;
}

static int nspawn_argv(const struct plan *p, bool registered, struct strv *a)
{
	int r = 0;

	r |= strv_add(a, "systemd-nspawn");
	r |= strv_add(a, "--quiet");
	r |= strv_add(a, "--settings=no");
	if (!registered) {
		r |= strv_add(a, "--register=no");
		r |= strv_add(a, "--keep-unit");
	}
	r |= strv_add(a, "--machine=img-nspawn-run-%d", (int)getpid());
	r |= strv_add(a, "--directory=%s", p->root);
	r |= strv_add(a, "--as-pid2");
	r |= strv_add(a, "--console=%s", arg_shell ? "interactive" : "pipe");
	r |= strv_add(a, "--resolv-conf=off");
	r |= strv_add(a, "--timezone=off");
	r |= strv_add(a, "--link-journal=no");
	if (p->resolv_place[0]) {
		_cleanup_(freep) char *s = bind_escape(p->resolv_host), *d = bind_escape(p->resolv_place);
		r |= s && d ? strv_add(a, "--bind-ro=%s:%s", s, d) : -ENOMEM;
	}
	for (unsigned i = 0; i < arg_n_binds; i++) {
		char staged[PATH_MAX + 16];
		snprintf(staged, sizeof(staged), "%s/%u", p->stage, i);
		_cleanup_(freep) char *s = bind_escape(staged), *d = bind_escape(p->dst[i]);
		r |= s && d ? strv_add(a, "--bind%s=%s:%s", arg_binds[i].read_only ? "-ro" : "", s, d) : -ENOMEM;
	}
	if (p->apt_upper >= 0) {
		_cleanup_(freep) char *s = NULL;
		r |= asprintf(&s, "%s/apt", p->stage) < 0 ? -ENOMEM : 0;
		_cleanup_(freep) char *e = s ? bind_escape(s) : NULL;
		r |= e ? strv_add(a, "--bind=%s:" APT_ARCHIVES, e) : -ENOMEM;
	}
	/* NAME alone: nspawn takes the value from its environment, ours, so
	 * that no value (a password) is on a command line that anyone can read
	 * in /proc. */
	for (unsigned i = 0; i < arg_n_setenv; i++)
		if (strchr(arg_setenv[i], '=') || getenv(arg_setenv[i]))
			r |= strv_add(a, "--setenv=%s", arg_setenv[i]);
	/* qemu-user reads its CPU model from the environment of every program
	 * it starts: the caller's choice goes into the container with them. */
	if (p->foreign && getenv("QEMU_CPU") && *getenv("QEMU_CPU") && !setenv_given("QEMU_CPU"))
		r |= strv_add(a, "--setenv=QEMU_CPU=%s", getenv("QEMU_CPU"));
	if (arg_capability)
		r |= strv_add(a, "--capability=%s", arg_capability);
	r |= strv_add(a, "--chdir=%s", arg_workdir);
	r |= strv_add(a, "--");
	if (arg_shell)
		r |= strv_add(a, "%s", p->shell);
	else
		for (char **c = arg_command; *c; c++)
			r |= strv_add(a, "%s", *c);
	return r < 0 ? -ENOMEM : 0;
}

/* Our environment for systemd-nspawn, with our socket for its READY=1. */
static int nspawn_env(const char *notify, struct strv *env)
{
	int r = 0;

	for (char **e = environ; *e; e++)
		/* That one would put /tmp back on the image. */
		if (strncmp(*e, "NOTIFY_SOCKET=", 14) != 0 && strncmp(*e, "SYSTEMD_NSPAWN_TMPFS_TMP=", 25) != 0)
			r |= strv_add(env, "%s", *e);
	r |= strv_add(env, "NOTIFY_SOCKET=%s", notify);
	return r < 0 ? -ENOMEM : 0;
}

/* Mounts of loop devices (other disk images), kernel or FUSE, that have
 * nothing to do with this run: neither on the way to the root nor in it,
 * nor on the way to or in a bind source. */
struct others {
	const char *root;
	struct strv *v;
};

static int other_image(const struct mount_entry *m, void *userdata)
{
	struct others *o = userdata;

	if (!m->source || strncmp(m->source, "/dev/loop", 9) != 0)
		return 0;
	if (path_under(m->target, o->root) || path_under(o->root, m->target))
		return 0;
	for (size_t i = 0; i < arg_n_binds; i++) {
		char src[PATH_MAX];
		snprintf(src, sizeof(src), "%.*s", (int)arg_binds[i].src_len, arg_binds[i].arg);
		if (path_under(m->target, src) || path_under(src, m->target))
			return 0;
	}
	return strv_add(o->v, "%s", m->target) < 0 ? -ENOMEM : 0;
}

/* What the child does before it becomes systemd-nspawn. */
struct child_setup {
	bool private_state; /* a tmpfs of its own for nspawn's state */
	const struct strv *others; /* deepest first */
	const struct plan *plan;
};

/* The image is mounted nosuid on the host (img-mount), where its setuid
 * programs would be anyone's; in the container they are the image's own
 * again. Only in this namespace: the host's mount keeps its flags. */
static void root_suid_allow(const char *root)
{
	struct statvfs sv;

	if (statvfs(root, &sv) < 0 || !(sv.f_flag & ST_NOSUID))
		return;
	/* The ST_ flags are the MS_ ones; a bind remount changes this mount's
	 * flags alone, and must repeat the ones it keeps. */
	if (mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | (sv.f_flag & ~(unsigned long)ST_NOSUID), NULL) < 0)
		log_debug("'%s' stays nosuid in the container: %s", root, strerror(errno));
}

/* path opened once more in this namespace (a mount, or an overlay's layer,
 * can only come from here), which must be the file run() opened and
 * checked: dev and ino. What is then used is this descriptor, so nothing
 * can change it in between. An fd, or -1 with errno set. */
static int reopen_same(const char *path, int flags, dev_t dev, ino_t ino)
{
	int fd = open(path, flags | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino) {
		close(fd);
		log_error("'%s' was replaced while it was being bound; refused", path);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

/* The binds' sources on a tmpfs of this namespace, where systemd-nspawn
 * takes them from. */
static int binds_stage(const struct plan *p)
{
	char path[PATH_MAX + 16], src[64];

	if (mount("tmpfs", p->stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
		return -1;
	for (unsigned i = 0; i < arg_n_binds; i++) {
		_cleanup_(closep) int fd = reopen_same(p->src[i], O_PATH, p->src_dev[i], p->src_ino[i]);

		if (fd < 0)
			return -1;
		snprintf(path, sizeof(path), "%s/%u", p->stage, i);
		snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
		if (p->src_dir[i] ? mkdir(path, 0700) < 0 : mknod(path, S_IFREG | 0600, 0) < 0)
			return -1;
		if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -1;
	}
	return 0;
}

/* --apt-cache: the shared directory below, this run's downloads on top.
 * Where the kernel cannot (no overlayfs, or not on these filesystems), apt
 * gets the downloads directory alone and downloads what it needs. */
static int apt_stage(const struct plan *p)
{
	char path[PATH_MAX + 8], opts[256], sub[PATH_MAX + 8];
	_cleanup_(closep) int lower = -1, upper = -1, work = -1;

	lower = reopen_same(arg_apt_cache, O_RDONLY | O_DIRECTORY, p->apt_cache_st.st_dev, p->apt_cache_st.st_ino);
	snprintf(sub, sizeof(sub), "%s/upper", p->apt_dl_path);
	upper = reopen_same(sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, p->apt_upper_st.st_dev, p->apt_upper_st.st_ino);
	snprintf(sub, sizeof(sub), "%s/work", p->apt_dl_path);
	work = reopen_same(sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, p->apt_work_st.st_dev, p->apt_work_st.st_ino);
	snprintf(path, sizeof(path), "%s/apt", p->stage);
	if (lower < 0 || upper < 0 || work < 0 || mkdir(path, 0755) < 0)
		return -1;
	snprintf(opts, sizeof(opts), "lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d,workdir=/proc/self/fd/%d",
		 lower, upper, work);
	if (mount("overlay", path, "overlay", MS_NOSUID | MS_NODEV, opts) == 0)
		return 0;
	log_info("overlayfs cannot show '%s' under this run's downloads (%s): apt in the image downloads "
		 "what it needs afresh",
		 arg_apt_cache, strerror(errno));
	snprintf(opts, sizeof(opts), "/proc/self/fd/%d", upper);
	return mount(opts, path, NULL, MS_BIND, NULL);
}

static int child_setup(void *userdata)
{
	const struct child_setup *c = userdata;

	/* A mount namespace of its own, a slave of ours: what we mount there
	 * stays there, and an unmount on the host reaches it. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return -1;
	root_suid_allow(c->plan->root);
	if (binds_stage(c->plan) < 0 || (c->plan->apt_upper >= 0 && apt_stage(c->plan) < 0))
		return -1;
	/* Without the other images mounted on the host right now: a copy of
	 * their mounts here (and so in the container's namespace) would keep
	 * their filesystems alive until this run ends, after the build that
	 * owns them has unmounted and finished them. */
	for (size_t i = 0; i < c->others->n; i++)
		umount2(c->others->v[i], MNT_DETACH | UMOUNT_NOFOLLOW);
	if (c->private_state &&
	    (((mkdir("/run/systemd", 0755) < 0 && errno != EEXIST) ||
	      (mkdir("/run/systemd/nspawn", 0755) < 0 && errno != EEXIST) ||
	      mount("tmpfs", "/run/systemd/nspawn", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") < 0)))
		return -1;
	return 0;
}

/* The other images' mount points, deepest first: mountinfo lists a mount
 * after the one it sits on. */
static int others_find(const char *root, struct strv *others)
{
	struct others ot = { .root = root, .v = others };

	if (mounts_foreach(other_image, &ot) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < others->n / 2; i++) {
		char *t = others->v[i];
		others->v[i] = others->v[others->n - 1 - i];
		others->v[others->n - 1 - i] = t;
	}
	return 0;
}

/* Runs CMD through systemd-nspawn: passes signals on and, with --log, the
 * output through, and returns the status to exit with. systemd-nspawn
 * says READY=1 as it hands over to CMD: a failure without it is its own. */
static int nspawn_run(const struct plan *p)
{
	_cleanup_(strv_freep) struct strv argv = { 0 }, envp = { 0 }, others = { 0 };
	_cleanup_(supervise_done) struct supervise s = SUPERVISE_INIT;
	bool registered = system_bus_reachable();
	struct child_setup cs = { .private_state = !registered && nspawn_state_on_disk(), .others = &others, .plan = p };
	char line[8192];
	int status;

	s.name = "systemd-nspawn";
	s.package = "systemd-container";
	s.own_group = s.stdin_null = !arg_shell;
	s.setup = child_setup;
	s.userdata = &cs;
	log_debug("%s", registered ? "systemd and the system bus are there: the container is registered"
				   : "no system bus: running with --register=no --keep-unit");
	if (supervise_notify_open(&s) < 0)
		return EXIT_CANCELED;
	if (nspawn_argv(p, registered, &argv) < 0 || nspawn_env(s.notify_name, &envp) < 0) {
		log_errno(ENOMEM, "cannot start systemd-nspawn");
		return EXIT_CANCELED;
	}
	s.argv = argv.v;
	s.envp = envp.v;
	log_debug("%s", strv_join(argv.v, line, sizeof(line)));
	if (supervise_log_open(&s, arg_log) < 0) {
		supervise_log_close(&s, EXIT_CANCELED);
		return EXIT_CANCELED;
	}
	supervise_note(&s, "in '%s': %s", p->root, strv_join(arg_command, line, sizeof(line)));
	if (others_find(p->root, &others) < 0) {
		log_errno(ENOMEM, "cannot read the mount table");
		status = EXIT_CANCELED;
	} else {
		status = supervise_run(&s);
		if (status < 0)
			status = EXIT_CANCELED;
		else if (status != 0 && !s.signaled && !s.ready)
			status = EXIT_CANCELED; /* systemd-nspawn's own failure: it said why */
	}
	/* A build whose log is lost has not fully succeeded. */
	if (supervise_log_close(&s, status) < 0 && status == 0)
		status = EXIT_CANCELED;
	return status;
}

/* An empty directory of ours that child_setup covers with its tmpfs. */
static int stage_plan(struct plan *p)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(p->stage, sizeof(p->stage), "%s/img-nspawn-run.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(p->stage)) {
		p->stage[0] = 0;
		return log_errno(errno, "cannot make a directory in '%s'", tmp && *tmp ? tmp : "/tmp");
	}
	return 0;
}

/* --apt-cache DIR: DIR opened; the downloads directory (--apt-downloads,
 * else a temporary one) with a new, empty upper and work directory. */
static int apt_plan(struct plan *p)
{
	_cleanup_(closep) int fd = -1;
	const char *tmp = getenv("TMPDIR");

	if (!arg_apt_cache)
		return 0;
	fd = resolve_open(p->rootfd, APT_ARCHIVES, O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		log_info("'%s' has no " APT_ARCHIVES ": no apt cache to share", p->root);
		return 0;
	}
	p->apt_cache = open(arg_apt_cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->apt_cache < 0)
		return log_errno(errno, "cannot open the apt cache '%s'", arg_apt_cache);
	if (arg_apt_downloads) {
		snprintf(p->apt_dl_path, sizeof(p->apt_dl_path), "%s", arg_apt_downloads);
		if (mkdir(p->apt_dl_path, 0700) < 0 && errno != EEXIST)
			return log_errno(errno, "cannot make '%s'", p->apt_dl_path);
	} else {
		snprintf(p->apt_dl_path, sizeof(p->apt_dl_path), "%s/img-nspawn-run-apt.XXXXXX",
			 tmp && *tmp ? tmp : "/var/tmp");
		if (!mkdtemp(p->apt_dl_path))
			return log_errno(errno, "cannot make a directory for apt's downloads");
		p->apt_dl_temp = true;
	}
	p->apt_dl = open(p->apt_dl_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->apt_dl < 0)
		return log_errno(errno, "cannot open '%s'", p->apt_dl_path);
	/* Whatever an earlier run left there (it was the container's). */
	if (beneath_remove(p->apt_dl, "upper") < 0 || beneath_remove(p->apt_dl, "work") < 0 ||
	    mkdirat(p->apt_dl, "upper", 0755) < 0 || mkdirat(p->apt_dl, "work", 0700) < 0)
		return log_errno(errno, "cannot prepare '%s' for apt's downloads", p->apt_dl_path);
	p->apt_upper = beneath_open(p->apt_dl, "upper", O_RDONLY | O_DIRECTORY, 0);
	p->apt_work = beneath_open(p->apt_dl, "work", O_RDONLY | O_DIRECTORY, 0);
	if (p->apt_upper < 0 || p->apt_work < 0)
		return log_errno(p->apt_upper < 0 ? p->apt_upper : p->apt_work, "cannot open '%s'", p->apt_dl_path);
	if (fstat(p->apt_cache, &p->apt_cache_st) < 0 || fstat(p->apt_upper, &p->apt_upper_st) < 0 ||
	    fstat(p->apt_work, &p->apt_work_st) < 0)
		return log_errno(errno, "cannot stat '%s'", p->apt_dl_path);
	return 0;
}

/* After the run: what apt downloaded, checked, into the shared cache. */
static int apt_collect(const struct plan *p)
{
	struct aptcache_result res;
	int r;

	if (p->apt_upper < 0)
		return 0;
	r = aptcache_collect(p->apt_cache, p->apt_upper, p->rootfd, &res);
	if (res.kept)
		log_info("kept %u new .deb file%s in the apt cache '%s'", res.kept, res.kept == 1 ? "" : "s",
			 arg_apt_cache);
	if (res.dropped && res.no_lists)
		log_warning("not kept in the apt cache '%s': %u downloaded file%s (%s); the image has no apt lists "
			    "left to check them against",
			    arg_apt_cache, res.dropped, res.dropped == 1 ? "" : "s", res.dropped_names);
	else if (res.dropped)
		log_warning("not kept in the apt cache '%s': %u file%s that the image's apt lists do not vouch "
			    "for (%s)",
			    arg_apt_cache, res.dropped, res.dropped == 1 ? "" : "s", res.dropped_names);
	return r;
}

static int run(void)
{
	_cleanup_(plan_done) struct plan p = PLAN_INIT;
	struct elf_arch arch;
	char found[PATH_MAX];
	int r;

	if (arg_shell && !isatty(STDIN_FILENO)) {
		log_error("--shell needs a terminal on standard input");
		return EXIT_CANCELED;
	}
	p.root = realpath(arg_root, NULL);
	if (!p.root) {
		log_errno(errno, "cannot open '%s'", arg_root);
		return EXIT_CANCELED;
	}
	p.rootfd = open(p.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (p.rootfd < 0) {
		log_errno(errno, "cannot open '%s'", p.root);
		return EXIT_CANCELED;
	}
	for (unsigned i = 0; i < arg_n_setenv; i++)
		if (strncmp(arg_setenv[i], "PATH=", 5) == 0)
			p.path = arg_setenv[i] + 5;
		else if (strcmp(arg_setenv[i], "PATH") == 0 && getenv("PATH"))
			p.path = getenv("PATH");

	if (image_arch(&p, &arch) < 0 || binds_plan(&p) < 0)
		return EXIT_CANCELED;
	r = container_open(&p, arg_workdir, O_PATH | O_DIRECTORY);
	if (r < 0) {
		log_error("--workdir '%s' is not a directory in the image", arg_workdir);
		return EXIT_CANCELED;
	}
	close(r);

	if (arg_shell)
		p.shell = program_check(&p, "/bin/bash", found) == 0 ? "/bin/bash" : "/bin/sh";
	else {
		r = command_find(&p, arg_command[0], found);
		if (r == -EACCES) {
			log_error("'%s': not an executable file in '%s'", arg_command[0], p.root);
			return EXIT_CANNOT_INVOKE;
		}
		if (r < 0) {
			log_error("'%s': command not found in '%s'", arg_command[0], p.root);
			return EXIT_ENOENT;
		}
		log_debug("'%s' is '%s' in the container", arg_command[0], found);
	}
	if (arch_provide(&p, &arch) < 0)
		return EXIT_CANCELED;
	{
		struct elf_arch host;
		p.foreign = elf_arch_host(&host) == 0 && !elf_arch_native(&host, &arch);
	}
	resolv_plan(&p);
	if (stage_plan(&p) < 0 || apt_plan(&p) < 0)
		return EXIT_CANCELED;
	if (arg_shell)
		log_info("a shell in '%s'; 'exit' leaves it", p.root);
	r = nspawn_run(&p);
	if (apt_collect(&p) < 0 && r == 0)
		r = EXIT_CANCELED;
	return r;
}

static bool env_name_valid(const char *s, size_t len)
{
	if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static int parse_bind(const char *arg, bool read_only)
{
	const char *colon = strchr(arg, ':');

	if (arg_n_binds == BINDS_MAX) {
		log_error("at most %d binds", BINDS_MAX);
		return -EINVAL;
	}
	if (!colon || colon == arg || !path_plain(colon + 1) || strchr(colon + 1, ':')) {
		log_error("--bind%s wants SRC:DST with an absolute DST, not '%s'", read_only ? "-ro" : "", arg);
		return -EINVAL;
	}
	arg_binds[arg_n_binds++] =
		(struct bind){ .arg = arg, .src_len = (size_t)(colon - arg), .read_only = read_only };
	return 0;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... --root DIR [--] CMD [ARG]...\n"
	       "       %s [OPTION]... --root DIR --shell\n"
	       "Run CMD inside the image whose root directory is DIR, with systemd-nspawn,\n"
	       "without interaction, and leave the image as it was. A foreign architecture\n"
	       "runs through qemu-user-static's binfmt_misc entry.\n\n"
	       "  -r, --root=DIR          the image's root directory\n"
	       "  -b, --bind=SRC:DST      bind host path SRC to DST in the container\n"
	       "      --bind-ro=SRC:DST   the same, read-only\n"
	       "  -E, --setenv=NAME=VALUE set a variable for CMD; NAME alone: its value here\n"
	       "      --apt-cache=DIR     apt in the image sees DIR's .deb files, read-only;\n"
	       "                          the new ones its apt lists vouch for go into DIR\n"
	       "      --apt-downloads=DIR where apt's downloads go meanwhile (emptied)\n"
	       "  -w, --workdir=PATH      run CMD in PATH (default: /)\n"
	       "      --capability=CAP[,CAP]...  capabilities beyond systemd-nspawn's default\n"
	       "                          set (CAP_IPC_LOCK for cyclictest -m)\n"
	       "      --log=FILE          also append the output to FILE, with timestamps\n"
	       "      --shell             an interactive shell in the image instead\n"
	       "  -q, --quiet             only errors\n"
	       "  -v, --verbose           say more\n"
	       "  -h, --help              show this help\n"
	       "  -V, --version           show the version\n\n"
	       "Exit status: CMD's own; 125 if %s or systemd-nspawn failed (also\n"
	       "bad usage), 126 if CMD cannot be executed, 127 if it is not found.\n",
	       log_program(), log_program(), log_program());
}

static int parse_argv(int argc, char **argv)
{
	enum { ARG_BIND_RO = 0x100, ARG_LOG, ARG_SHELL, ARG_APT_CACHE, ARG_APT_DOWNLOADS, ARG_CAPABILITY };
	static const struct option options[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "bind", required_argument, NULL, 'b' },
		{ "bind-ro", required_argument, NULL, ARG_BIND_RO },
		{ "setenv", required_argument, NULL, 'E' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "log", required_argument, NULL, ARG_LOG },
		{ "shell", no_argument, NULL, ARG_SHELL },
		{ "apt-cache", required_argument, NULL, ARG_APT_CACHE },
		{ "apt-downloads", required_argument, NULL, ARG_APT_DOWNLOADS },
		{ "capability", required_argument, NULL, ARG_CAPABILITY },
		CLI_COMMON_OPTIONS,
		{}
	};
	int c;

	/* '+': the first word that is no option is CMD; its options are its own. */
	while ((c = getopt_long(argc, argv, "+r:b:E:w:" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 'r':
			arg_root = optarg;
			break;
		case 'b':
		case ARG_BIND_RO:
			if (parse_bind(optarg, c == ARG_BIND_RO) < 0)
				return -EINVAL;
			break;
		case 'E': {
			const char *eq = strchr(optarg, '=');
			if (!env_name_valid(optarg, eq ? (size_t)(eq - optarg) : strlen(optarg))) {
				log_error("--setenv wants NAME=VALUE or NAME, NAME of letters, digits and '_', not '%s'",
					  optarg);
				return -EINVAL;
			}
			if (arg_n_setenv == SETENV_MAX) {
				log_error("at most %d --setenv", SETENV_MAX);
				return -EINVAL;
			}
			arg_setenv[arg_n_setenv++] = optarg;
			break;
		}
		case 'w':
			if (!path_plain(optarg)) {
				log_error("--workdir wants an absolute path without '.' or '..', not '%s'", optarg);
				return -EINVAL;
			}
			arg_workdir = optarg;
			break;
		case ARG_LOG:
			arg_log = optarg;
			break;
		case ARG_CAPABILITY:
			/* CAP_NAME[,CAP_NAME]...: nspawn's own form. */
			for (const char *t = optarg; ; t++) {
				size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
				if (strncmp(t, "CAP_", 4) != 0 || n <= 4 || (t[n] && t[n] != ',')) {
					log_error("--capability wants CAP_NAME[,CAP_NAME]..., not '%s'", optarg);
					return -EINVAL;
				}
				t += n;
				if (!*t)
					break;
			}
			arg_capability = optarg;
			break;
		case ARG_SHELL:
			arg_shell = true;
			break;
		case ARG_APT_CACHE:
		case ARG_APT_DOWNLOADS:
			if (!*optarg) {
				log_error("--%s wants a directory", c == ARG_APT_CACHE ? "apt-cache" : "apt-downloads");
				return -EINVAL;
			}
			*(c == ARG_APT_CACHE ? &arg_apt_cache : &arg_apt_downloads) = optarg;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (!arg_root || !*arg_root) {
		log_error("no root directory given (--root DIR)");
		return -EINVAL;
	}
	if (arg_shell && optind < argc) {
		log_error("--shell takes no command");
		return -EINVAL;
	}
	if (arg_shell && arg_log) {
		log_error("--log is for commands, not --shell");
		return -EINVAL;
	}
	if (arg_apt_downloads && !arg_apt_cache) {
		log_error("--apt-downloads goes with --apt-cache");
		return -EINVAL;
	}
	if (!arg_shell && optind == argc) {
		log_error("no command given (or --shell)");
		return -EINVAL;
	}
	arg_command = argv + optind;
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_CANCELED);
}
