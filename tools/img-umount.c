/* SPDX-License-Identifier: MIT */
/*
 * img-umount: undo img-mount and img-loop.
 *
 * --state FILE unmounts what FILE records, newest first, then detaches its
 * loop device. --all DIR is the recovery tool: it needs no state file and
 * takes everything from the kernel's own tables, every mount at or under DIR
 * (/proc/self/mountinfo, deepest first) and every loop device whose backing
 * file lies under DIR (/sys/block/loop*), and nothing else. A busy mount is
 * not detached behind the user's back: the processes using it are named,
 * and only --lazy detaches it anyway.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "log.h"
#include "loop.h"
#include "mounts.h"
#include "resolve.h"
#include "state.h"

static const char *arg_state;
static const char *arg_all;
static bool arg_lazy;

/* ---- who uses a mount (as fuser -m does) ---- */

/* What a process may be using: a file on filesystem dev, or (block) the
 * block device dev itself, open. */
struct use {
	dev_t dev;
	bool block;
	/* For a mount: its mount point. A file is on it when it is on its
	 * device and its path is the mount point or under it (a bind mount
	 * of a directory shares the device with the rest of its filesystem). */
	const char *target;
};

static bool proc_link_on(int pid, const char *what, const struct use *u)
{
	char path[400], link[PATH_MAX];
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	if (stat(path, &st) < 0)
		return false;
	if (u->block)
		return S_ISBLK(st.st_mode) && st.st_rdev == u->dev;
	if (st.st_dev != u->dev)
		return false;
	if (!u->target)
		return true;
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return path_under(link, u->target);
}

static bool proc_uses(int pid, const struct use *u)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	bool found = false;

	if (!u->block && (proc_link_on(pid, "cwd", u) || proc_link_on(pid, "root", u) || proc_link_on(pid, "exe", u)))
		return true;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char fd[300];
		if (de->d_name[0] == '.')
			continue;
		snprintf(fd, sizeof(fd), "fd/%s", de->d_name);
		found = proc_link_on(pid, fd, u);
	}
	closedir(d);
	return found;
}

/* "123 (sleep), 456 (bash)" for the processes using u. */
static void users_describe(const struct use *u, char *buf, size_t size)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	unsigned n = 0;

	buf[0] = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char comm[64] = "?", path[64];
		int pid;
		size_t len = strlen(buf);

		if (!isdigit((unsigned char)de->d_name[0]) || (pid = atoi(de->d_name)) == getpid())
			continue;
		if (!proc_uses(pid, u))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		FILE *f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
		if (++n <= 8)
			snprintf(buf + len, size - len, "%s%d (%s)", len ? ", " : "", pid, comm);
	}
	closedir(d);
}

/* ---- unmounting a tree ---- */

struct mnt {
	int id;
	unsigned depth;
	dev_t devno;
	bool ours;
	char *target;
};

struct devset;

struct tree {
	const char *top;
	const struct devset *only; /* NULL: everything; else only its mounts */
	struct mnt *v;
	size_t n;
};

static bool devset_has(const struct devset *d, const struct mount_entry *m);

static int collect(const struct mount_entry *m, void *userdata)
{
	struct tree *t = userdata;
	struct mnt *v;
	unsigned depth = 0;

	if (!path_under(m->target, t->top))
		return 0;
	v = realloc(t->v, (t->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->v = v;
	for (const char *p = m->target; *p; p++)
		depth += *p == '/';
	v[t->n] = (struct mnt){ .id = m->id,
				.depth = depth,
				.devno = m->devno,
				.ours = !t->only || devset_has(t->only, m),
				.target = strdup(m->target) };
	if (!v[t->n].target)
		return -ENOMEM;
	t->n++;
	return 0;
}

/* Deepest first; on one target, the one mounted last first. */
static int mnt_cmp(const void *a, const void *b)
{
	const struct mnt *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	return y->id - x->id;
}

/* True if a mount that is not ours lies at or under target. */
static bool tree_foreign_under(const struct tree *t, const char *target)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].ours && path_under(t->v[i].target, target))
			return true;
	return false;
}

/* Unmounts everything at or under top, or with only, only the mounts of
 * those devices: any other is named and left alone, and so are the mounts
 * it sits on. Stops at the first mount that will not go. */
static int tree_unmount(const char *top, const struct devset *only, const char *owner)
{
	struct tree t = { .top = top, .only = only };
	int r = mounts_foreach(collect, &t);

	if (r < 0) {
		log_errno(r, "cannot read the mount table");
		goto out;
	}
	if (t.n > 0) /* qsort wants a non-null array even for none */
		qsort(t.v, t.n, sizeof(*t.v), mnt_cmp);
	for (size_t i = 0; i < t.n; i++) {
		const char *target = t.v[i].target;

		if (!t.v[i].ours) {
			log_error("'%s' is not a mount of %s; leaving it alone", target, owner);
			r = -EPERM;
			continue;
		}
		if (r == -EPERM && tree_foreign_under(&t, target))
			continue; /* it holds one that is not ours */
		if (umount2(target, UMOUNT_NOFOLLOW) == 0) {
			log_debug("unmounted '%s'", target);
			continue;
		}
		if (errno == EINVAL || errno == ENOENT)
			continue; /* gone meanwhile */
		if (errno != EBUSY) {
			r = log_errno(errno, "cannot unmount '%s'", target);
			goto out;
		}
		char users[512];
		struct use u = { .dev = t.v[i].devno, .target = target };
		users_describe(&u, users, sizeof(users));
		if (!arg_lazy) {
			if (users[0])
				log_error("cannot unmount '%s': in use by %s; stop them, or use --lazy", target, users);
			else
				log_error("cannot unmount '%s': busy; use --lazy to detach it anyway", target);
			r = -EBUSY;
			goto out;
		}
		if (umount2(target, UMOUNT_NOFOLLOW | MNT_DETACH) < 0) {
			r = log_errno(errno, "cannot detach '%s'", target);
			goto out;
		}
		log_info("detached '%s' lazily%s%s", target, users[0] ? "; still in use by " : "", users);
	}
out:
	for (size_t i = 0; i < t.n; i++)
		free(t.v[i].target);
	free(t.v);
	return r;
}

/* ---- loop devices ---- */

struct devset {
	int nr;
	dev_t devs[130];
	size_t n;
	char where[PATH_MAX];
};

/* Is m a mount of loopN or of one of its partitions? */
static bool devset_has(const struct devset *d, const struct mount_entry *m)
{
	char name[32];
	size_t len;

	if (d->n == 0)
		return false;
	for (size_t i = 0; i < d->n; i++)
		if (m->devno == d->devs[i])
			return true;
	/* A FUSE mount names its device only as its source. */
	snprintf(name, sizeof(name), "/dev/loop%d", d->nr);
	len = strlen(name);
	if (!m->fstype || strncmp(m->fstype, "fuse", 4) != 0 || !m->source || strncmp(m->source, name, len) != 0)
		return false;
	if (m->source[len] == 0)
		return true;
	if (m->source[len] != 'p' || !m->source[len + 1])
		return false;
	for (const char *p = m->source + len + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

/* Is loopN, or one of its partitions, mounted anywhere? */
static int find_use(const struct mount_entry *m, void *userdata)
{
	struct devset *d = userdata;

	if (!devset_has(d, m))
		return 0;
	snprintf(d->where, sizeof(d->where), "%s", m->target);
	return 1;
}

static void devset_fill(struct devset *d, int nr)
{
	char path[300], dev[32];
	unsigned maj, min;
	struct dirent *de;
	DIR *dir;

	d->nr = nr;
	d->devs[d->n++] = makedev(7, (unsigned)nr);
	snprintf(path, sizeof(path), "/sys/block/loop%d", nr);
	dir = opendir(path);
	if (!dir)
		return;
	while ((de = readdir(dir)) && d->n < ARRAY_SIZE(d->devs)) {
		FILE *f;
		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/loop%d/%s/dev", nr, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(dev, sizeof(dev), f) && sscanf(dev, "%u:%u", &maj, &min) == 2)
			d->devs[d->n++] = makedev(maj, min);
		fclose(f);
	}
	closedir(dir);
}

static bool loop_attached(int nr)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/block/loop%d/loop/backing_file", nr);
	return access(path, F_OK) == 0;
}

static int detach_nr(int nr)
{
	struct devset d = { 0 };
	int r;

	devset_fill(&d, nr);
	if (mounts_foreach(find_use, &d) > 0) {
		log_error("/dev/loop%d is still mounted on '%s'; not detaching it", nr, d.where);
		return -EBUSY;
	}
	r = loop_detach_nr(nr);
	if (r < 0 && r != -ENXIO)
		return log_errno(r, "cannot detach /dev/loop%d", nr);
	/* Still open somewhere, the kernel only marks the device to go on its
	 * last close. A FUSE daemon closes it a moment after its unmount:
	 * wait for that, with a bound, rather than return with the device
	 * still attached. */
	for (int i = 0; i < (arg_lazy ? 25 : 250) && loop_attached(nr); i++) {
		struct timespec ts = { .tv_nsec = 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (loop_attached(nr) && arg_lazy) {
		/* What --lazy asked for: it goes with the last user. */
		log_info("/dev/loop%d is still in use; it detaches when released", nr);
		return 0;
	}
	if (loop_attached(nr)) {
		char users[512] = "";
		for (size_t i = 0; i < d.n && !users[0]; i++) {
			struct use u = { .dev = d.devs[i], .block = true };
			users_describe(&u, users, sizeof(users));
		}
		log_error("/dev/loop%d is still held open%s%s; it detaches when they let go", nr,
			  users[0] ? " by " : " (from another mount namespace?)", users);
		return -EBUSY;
	}
	log_debug("detached /dev/loop%d", nr);
	return 0;
}

struct under {
	const char *top;
	int failed;
};

static int detach_under(int nr, const char *backing, void *userdata)
{
	struct under *u = userdata;

	if (path_under(backing, u->top) && detach_nr(nr) < 0)
		u->failed++;
	return 0;
}

/* ---- the two modes ---- */

static int all(void)
{
	_cleanup_(freep) char *top = realpath(arg_all, NULL);
	struct under u = { 0 };
	int r;

	if (!top) {
		if (errno != ENOENT) {
			log_errno(errno, "cannot open '%s'", arg_all);
			return EXIT_FAILED;
		}
		/* Nothing can be mounted there; a loop device's backing file
		 * may still have been there (and been deleted). */
		top = strdup(arg_all);
		if (!top) {
			log_errno(ENOMEM, "cannot clean up '%s'", arg_all);
			return EXIT_FAILED;
		}
	} else if (strcmp(top, "/") == 0) {
		log_error("'%s' is the root directory; --all wants a build directory", arg_all);
		return EXIT_USAGE;
	} else if ((r = tree_unmount(top, NULL, NULL)) < 0)
		return EXIT_FAILED;
	u.top = top;
	r = loop_foreach(detach_under, &u);
	if (r < 0) {
		log_errno(r, "cannot list loop devices");
		return EXIT_FAILED;
	}
	return u.failed ? EXIT_FAILED : EXIT_DONE;
}

static void state_freep(struct state *s)
{
	state_free(s);
}

static int from_state(void)
{
	_cleanup_(state_freep) struct state s = STATE_INIT;
	struct devset d = { .nr = -1 };
	const char *loop, *root;
	int r = state_load(&s, arg_state), nr = -1;

	if (r == -ENOENT) {
		log_info("nothing to undo: '%s' does not exist", arg_state);
		return EXIT_DONE;
	}
	if (r < 0)
		return EXIT_FAILED;
	loop = state_get(&s, "loop");
	root = state_get(&s, "root");
	if (!loop || sscanf(loop, "/dev/loop%d", &nr) != 1 || nr < 0) {
		log_error("'%s' records no loop device", arg_state);
		return EXIT_FAILED;
	}
	if (state_get(&s, "mount") && (!root || root[0] != '/')) {
		log_error("'%s' records mounts but no root directory; not guessing", arg_state);
		return EXIT_FAILED;
	}
	/* Ours are the mounts of the device that still backs our image, from
	 * the kernel's tables: after a reboot the number may be someone
	 * else's, and then nothing is ours. */
	if (state_attached(&s))
		devset_fill(&d, nr);
	else
		d.nr = nr;
	for (size_t i = s.n; i-- > 0;) {
		const char *target;
		if (strcmp(s.items[i].key, "mount") != 0)
			continue;
		target = strchr(s.items[i].value, ':');
		if (!target || target[1] != '/') {
			log_error("'%s': bad mount line '%s'", arg_state, s.items[i].value);
			return EXIT_FAILED;
		}
		target++;
		if (!path_under(target, root)) {
			log_error("'%s' records a mount on '%s', outside its root '%s'; leaving it alone", arg_state,
				  target, root);
			return EXIT_FAILED;
		}
		if (tree_unmount(target, &d, loop) < 0)
			return EXIT_FAILED;
	}
	state_unset(&s, "mount");

	/* Only if it still backs our image: the number may have been reused
	 * by someone else since. */
	if (d.n > 0 && detach_nr(nr) < 0)
		return EXIT_FAILED;
	r = state_remove(&s);
	if (r < 0) {
		log_errno(r, "cannot remove '%s'", arg_state);
		return EXIT_FAILED;
	}
	return EXIT_DONE;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... --state FILE\n"
	       "       %s [OPTION]... --all DIR\n"
	       "Unmount and detach what img-mount and img-loop set up.\n\n"
	       "  -s, --state=FILE  unmount the mounts FILE records (newest first, with\n"
	       "                    anything mounted below them), detach its loop\n"
	       "                    device, and remove FILE\n"
	       "  -a, --all=DIR     unmount everything at or under DIR, deepest first,\n"
	       "                    and detach every loop device whose backing file is\n"
	       "                    under DIR; needs no state file\n"
	       "  -l, --lazy        detach busy mounts lazily instead of failing\n"
	       "  -q, --quiet       only errors\n"
	       "  -v, --verbose     say more\n"
	       "  -h, --help        show this help\n"
	       "  -V, --version     show the version\n\n"
	       "Exit status: 0 done (also: nothing to do), 1 failed, 2 bad usage.\n",
	       log_program(), log_program());
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "state", required_argument, NULL, 's' },
		{ "all", required_argument, NULL, 'a' },
		{ "lazy", no_argument, NULL, 'l' },
		CLI_COMMON_OPTIONS,
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:a:l" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 's':
			arg_state = optarg;
			break;
		case 'a':
			arg_all = optarg;
			break;
		case 'l':
			arg_lazy = true;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!!arg_state == !!arg_all) {
		log_error("give one of --state FILE and --all DIR");
		return -EINVAL;
	}
	if (arg_all && (!*arg_all || strcmp(arg_all, "/") == 0)) {
		log_error("--all wants a build directory, not '%s'", arg_all);
		return -EINVAL;
	}
	return 1;
}

static int run(void)
{
	return arg_all ? all() : from_state();
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
