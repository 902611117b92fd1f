/* SPDX-License-Identifier: MIT */
/*
 * img-mount: mount the partitions that img-loop attached under a root
 * directory, in order, and record each mount in the state file.
 *
 * Mount points are resolved inside the image (tools/lib/resolve.h) and the
 * mount is made on the resolved directory through /proc/self/fd, so a
 * symlink in the image cannot send a mount, or a mkdir, outside the root.
 * Where the kernel has no driver for a filesystem, the FUSE driver mounts it.
 */
#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libmount.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "cli.h"
#include "common.h"
#include "log.h"
#include "mounts.h"
#include "resolve.h"
#include "signals.h"
#include "state.h"

#define MOUNTS_MAX 32

struct mount_req {
	int nr;
	const char *path; /* inside the image */
};

static const char *arg_state;
static const char *arg_root;
static struct mount_req arg_mounts[MOUNTS_MAX];
static unsigned arg_n_mounts;
static bool arg_read_only;
/* The image's setuid programs and device nodes mean nothing on the host,
 * where anyone who can reach the root directory could use them: nosuid and
 * nodev unless asked (-o suid, -o dev). */
static bool arg_suid, arg_dev;

static void state_freep(struct state *s)
{
	state_free(s);
}

/* The filesystem type on dev, from libblkid; NULL if none. */
static char *fstype_probe(const char *dev)
{
	blkid_probe pr = blkid_new_probe_from_filename(dev);
	const char *type = NULL;
	char *r = NULL;

	if (!pr)
		return NULL;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "TYPE", &type, NULL) == 0)
		r = strdup(type);
	blkid_free_probe(pr);
	return r;
}

struct top_mount {
	const char *target;
	dev_t devno;
	char source[PATH_MAX];
	bool found;
};

static int find_top(const struct mount_entry *m, void *userdata)
{
	struct top_mount *t = userdata;

	/* Later lines are mounted on top of earlier ones: keep the last. */
	if (strcmp(m->target, t->target) == 0) {
		t->found = true;
		t->devno = m->devno;
		snprintf(t->source, sizeof(t->source), "%s", m->source ? m->source : "");
	}
	return 0;
}

/* 1 if dev is mounted on target already, 0 if nothing is, -EBUSY if
 * something else is. */
static int mounted_already(const char *target, const char *dev)
{
	struct top_mount t = { .target = target };
	struct stat st;

	if (mounts_foreach(find_top, &t) < 0 || !t.found)
		return 0;
	if (strcmp(t.source, dev) == 0 || (stat(dev, &st) == 0 && st.st_rdev == t.devno))
		return 1;
	/* The root directory itself may sit on a mount of the host. */
	return -EBUSY;
}

static int mount_kernel(const char *dev, const char *fstype, const char *target)
{
	struct libmnt_context *cxt = mnt_new_context();
	int r;

	if (!cxt)
		return -ENOMEM;
	mnt_context_set_source(cxt, dev);
	mnt_context_set_target(cxt, target);
	mnt_context_set_fstype(cxt, fstype);
	/* target is /proc/self/fd/N: it must reach mount(2) as it is. */
	mnt_context_disable_canonicalize(cxt, 1);
	mnt_context_disable_helpers(cxt, 1);
	mnt_context_disable_mtab(cxt, 1);
	mnt_context_set_mflags(cxt, (arg_read_only ? MS_RDONLY : 0) | (arg_suid ? 0 : MS_NOSUID) |
					    (arg_dev ? 0 : MS_NODEV));
	r = mnt_context_mount(cxt);
	if (r != 0)
		r = mnt_context_syscall_called(cxt) ? -mnt_context_get_syscall_errno(cxt) : (r < 0 ? r : -EINVAL);
	mnt_free_context(cxt);
	return r;
}

/* Waits (bounded) until dev is mounted on target: the top mount there, and
 * not whatever was there before (the root's own mount, say). */
static bool mount_appeared(const char *target, const char *dev)
{
	for (int i = 0; i < 100; i++) {
		struct top_mount t = { .target = target };
		struct timespec ts = { .tv_nsec = 20 * 1000000L };

		if (mounts_foreach(find_top, &t) == 0 && t.found && strcmp(t.source, dev) == 0)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* The FUSE driver for a type the kernel cannot mount. fusefat needs "rw+"
 * to write (plain "rw" is read-only there), and is run directly because
 * mount.fuse would drop it. The driver gets the resolved path, which holds
 * no symlink, rather than our fd: a daemon holding an fd in the parent
 * filesystem would keep that busy after its own unmount. */
static int mount_fuse(const char *dev, const char *fstype, const char *target)
{
	char opts[PATH_MAX + 64];
	const char *prog;
	int r;

	if (strcmp(fstype, "vfat") == 0) {
		prog = "fusefat";
		snprintf(opts, sizeof(opts), "%s%s%s,fsname=%s", arg_read_only ? "ro" : "rw+",
			 arg_suid ? "" : ",nosuid", arg_dev ? "" : ",nodev", dev);
	} else if (strncmp(fstype, "ext", 3) == 0) {
		prog = "fuse2fs";
		snprintf(opts, sizeof(opts), "%s%s%sfsname=%s", arg_read_only ? "ro," : "", arg_suid ? "" : "nosuid,",
			 arg_dev ? "" : "nodev,", dev);
	} else
		return log_errno(ENODEV, "cannot mount '%s' (%s)", dev, fstype);

	char *argv[] = { (char *)prog, "-o", opts, (char *)dev, (char *)target, NULL };
	/* Both print debugging chatter; a failure is reported below. */
	r = command_run(argv, COMMAND_SILENT | COMMAND_OWN_GROUP);
	if (r == -ENOENT) {
		log_error("the kernel has no %s driver and %s is not installed (Debian package: %s)", fstype,
			  prog, prog);
		return -ENOENT;
	}
	if (r != 0 || !mount_appeared(target, dev)) {
		/* It may have mounted before it failed: a dead FUSE mount. */
		struct top_mount t = { .target = target };
		if (mounts_foreach(find_top, &t) == 0 && t.found && strcmp(t.source, dev) == 0)
			umount2(target, UMOUNT_NOFOLLOW | MNT_DETACH);
		log_error("%s could not mount '%s' on '%s'", prog, dev, target);
		return -EIO;
	}
	log_info("the kernel has no %s driver; mounted '%s' with %s", fstype, dev, prog);
	return 0;
}

/* Mounts one partition; sets *done and fills target once it is mounted. */
static int mount_one(struct state *s, const char *root, const struct mount_req *m, bool *done,
		     char target[static PATH_MAX])
{
	char key[16], record[PATH_MAX + 16];
	_cleanup_(freep) char *fstype = NULL;
	_cleanup_(closep) int rootfd = -1, fd = -1;
	const char *dev;
	size_t n;
	int r;

	*done = false;
	snprintf(key, sizeof(key), "part%d", m->nr);
	dev = state_get(s, key);
	if (!dev) {
		log_error("'%s' has no partition %d", state_get(s, "image"), m->nr);
		return -ENOENT;
	}
	/* Opened anew for each mount: the root partition, once mounted, is
	 * what the later mount points must be resolved in. */
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return log_errno(errno, "cannot open '%s'", root);
	fd = resolve_mkdir_p(rootfd, m->path);
	if (fd == -ENOTDIR || fd == -EEXIST)
		return log_error("cannot mount on '%s' in the image: not a directory", m->path), -ENOTDIR;
	if (fd < 0)
		return log_errno(fd, "cannot make mount point '%s' in '%s'", m->path, root);
	r = resolve_fd_path(fd, root, target);
	if (r < 0)
		return log_errno(r, "mount point '%s' resolves outside '%s'", m->path, root);
	/* The state file holds one value a line: a newline from an image's
	 * symlink would forge a line of its own. */
	if (!state_value_ok(target)) {
		log_error("mount point '%s' resolves to a name with a control character in the image; refused",
			  m->path);
		return -EINVAL;
	}
	/* Only "/" is the root: a link in the image that leads a deeper mount
	 * point back to it would mount the partition over the image. */
	if (strcmp(target, root) == 0 && m->path[strspn(m->path, "/")] != 0) {
		log_error("mount point '%s' resolves to the root of the image; refused", m->path);
		return -EINVAL;
	}

	r = mounted_already(target, dev);
	if (r > 0) {
		log_info("'%s' is already mounted on '%s'", dev, target);
		return 0;
	}
	/* The root mount goes over whatever the host has at DIR; anything
	 * deeper must be a plain directory of the image. */
	if (r < 0 && strcmp(target, root) != 0) {
		log_error("'%s' already has another filesystem mounted", target);
		return -EBUSY;
	}

	fstype = fstype_probe(dev);
	if (!fstype) {
		log_error("no filesystem found on partition %d ('%s')", m->nr, dev);
		return -EINVAL;
	}
	/* Recorded before it is done: an interrupt (held meanwhile) or a crash
	 * never leaves a mount that the state does not name. img-umount takes
	 * a recorded mount that is not there as done. */
	snprintf(record, sizeof(record), "%d:%s", m->nr, target);
	n = s->n;
	r = state_add(s, "mount", record);
	if (r >= 0)
		r = state_write(s);
	if (r < 0) {
		state_truncate(s, n);
		return log_errno(r, "cannot record the mount in '%s'", arg_state);
	}

	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r = mount_kernel(dev, fstype, proc);
	if (r == -ENODEV)
		r = mount_fuse(dev, fstype, target);
	else if (r < 0)
		log_errno(r, "cannot mount '%s' (%s) on '%s'", dev, fstype, target);
	if (r < 0) {
		state_truncate(s, n);
		if (state_write(s) < 0)
			log_error("cannot drop the mount from '%s' again", arg_state);
		return r;
	}
	*done = true;
	/* Shared: a copy of this mount in another mount namespace (a tool's
	 * private namespace made while we are mounted) is then a slave of it
	 * and goes away when we unmount, instead of keeping the filesystem
	 * alive, and writing to it, behind our back. */
	if (mount(NULL, target, NULL, MS_SHARED, NULL) < 0)
		return log_errno(errno, "cannot make '%s' a shared mount", target);
	log_debug("mounted '%s' (%s) on '%s'", dev, fstype, target);
	return 0;
}

/* mkdir -p for DIR itself, which is the user's path on the host. What it
 * makes is for root alone (0700): the mounted image is reached through it. */
static int mkdir_host(const char *path)
{
	_cleanup_(freep) char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

static int run(void)
{
	_cleanup_(signals_release) struct signals_window window = { 0 };
	_cleanup_(state_freep) struct state s = STATE_INIT;
	_cleanup_(freep) char *root = NULL;
	char made[MOUNTS_MAX][PATH_MAX];
	unsigned n_made = 0;
	size_t n_before;
	int r;

	r = state_load(&s, arg_state);
	if (r == -ENOENT) {
		log_error("'%s' does not exist; attach the image with img-loop first", arg_state);
		return EXIT_FAILED;
	}
	if (r < 0)
		return EXIT_FAILED;
	if (!state_get(&s, "loop")) {
		log_error("'%s' records no loop device", arg_state);
		return EXIT_FAILED;
	}
	if (!state_value_ok(arg_root)) {
		log_error("the root directory's name has a control character; refused");
		return EXIT_FAILED;
	}
	r = mkdir_host(arg_root);
	if (r < 0) {
		log_errno(r, "cannot create '%s'", arg_root);
		return EXIT_FAILED;
	}
	root = realpath(arg_root, NULL);
	if (!root) {
		log_errno(errno, "cannot open '%s'", arg_root);
		return EXIT_FAILED;
	}
	if (!state_value_ok(root)) {
		log_error("the root directory's name has a control character; refused");
		return EXIT_FAILED;
	}

	/* img-umount --state unmounts only under the root the state names. */
	if (state_get(&s, "root") && strcmp(state_get(&s, "root"), root) != 0 && state_get(&s, "mount")) {
		log_error("'%s' has mounts under '%s' already; unmount them first (img-umount --state %s)",
			  arg_state, state_get(&s, "root"), arg_state);
		return EXIT_FAILED;
	}
	/* From each mount to its line in the state file, and through the undo
	 * of a failed run, an interrupt waits: it would leave a mount that no
	 * state file names. */
	signals_hold(&window);
	n_before = s.n;
	if (!state_get(&s, "root") || strcmp(state_get(&s, "root"), root) != 0) {
		state_unset(&s, "root");
		n_before = s.n;
		if (state_add(&s, "root", root) < 0) {
			log_error("cannot record the root '%s'", root);
			return EXIT_FAILED;
		}
	}
	for (unsigned i = 0; i < arg_n_mounts; i++) {
		bool done;
		r = mount_one(&s, root, &arg_mounts[i], &done, made[n_made]);
		if (done)
			n_made++;
		if (r < 0)
			goto undo;
	}
	printf("%s\n", root);
	return EXIT_DONE;

undo:
	/* Nothing of a failed run stays mounted: undo this run's mounts, in
	 * reverse, and drop them from the state again. */
	while (n_made > 0) {
		const char *t = made[--n_made];
		if (umount2(t, UMOUNT_NOFOLLOW) < 0) {
			log_errno(errno, "cannot unmount '%s' again", t);
			/* Kept in the state, for img-umount --state. */
			return EXIT_FAILED;
		}
	}
	if (s.n > n_before) {
		state_truncate(&s, n_before);
		r = state_write(&s);
		if (r < 0)
			log_errno(r, "cannot write '%s'", arg_state);
	}
	return EXIT_FAILED;
}

static int parse_mount(const char *arg, struct mount_req *m)
{
	char *end;
	long nr;

	errno = 0;
	nr = strtol(arg, &end, 10);
	if (errno || end == arg || *end != ':' || nr < 1 || nr > 256 || end[1] == 0)
		return -EINVAL;
	m->nr = (int)nr;
	m->path = end + 1;
	return 0;
}

static int parse_options(const char *list)
{
	while (*list) {
		size_t len = strcspn(list, ",");

		if (len == 4 && strncmp(list, "suid", 4) == 0)
			arg_suid = true;
		else if (len == 3 && strncmp(list, "dev", 3) == 0)
			arg_dev = true;
		else if (len == 2 && strncmp(list, "ro", 2) == 0)
			arg_read_only = true;
		else
			return -EINVAL;
		list += len;
		if (*list == ',' && *++list == 0)
			return -EINVAL;
	}
	return 0;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... --state FILE --root DIR --mount N:PATH...\n"
	       "Mount the partitions of an image attached with img-loop under DIR, in\n"
	       "the order given, and record the mounts in FILE. Prints DIR.\n\n"
	       "  -s, --state=FILE    the state file written by img-loop\n"
	       "  -r, --root=DIR      where the image's / goes (created if missing)\n"
	       "  -m, --mount=N:PATH  partition N at DIR/PATH (the root first)\n"
	       "      --read-only     mount read-only\n"
	       "  -o, --options=LIST  suid, dev: allow setuid programs and device nodes\n"
	       "                      (mounted nosuid,nodev by default); ro: --read-only\n"
	       "  -q, --quiet         only errors\n"
	       "  -v, --verbose       say more\n"
	       "  -h, --help          show this help\n"
	       "  -V, --version       show the version\n\n"
	       "Exit status: 0 done (also: already mounted), 1 failed, 2 bad usage.\n",
	       log_program());
}

static int parse_argv(int argc, char **argv)
{
	enum { ARG_READ_ONLY = 0x100 };
	static const struct option options[] = {
		{ "state", required_argument, NULL, 's' },
		{ "root", required_argument, NULL, 'r' },
		{ "mount", required_argument, NULL, 'm' },
		{ "read-only", no_argument, NULL, ARG_READ_ONLY },
		{ "options", required_argument, NULL, 'o' },
		CLI_COMMON_OPTIONS,
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:r:m:o:" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 's':
			arg_state = optarg;
			break;
		case 'r':
			arg_root = optarg;
			break;
		case 'm':
			if (arg_n_mounts == MOUNTS_MAX) {
				log_error("at most %d mounts", MOUNTS_MAX);
				return -EINVAL;
			}
			if (parse_mount(optarg, &arg_mounts[arg_n_mounts]) < 0) {
				log_error("--mount wants N:PATH (e.g. 2:/), not '%s'", optarg);
				return -EINVAL;
			}
			arg_n_mounts++;
			break;
		case ARG_READ_ONLY:
			arg_read_only = true;
			break;
		case 'o':
			if (parse_options(optarg) < 0) {
				log_error("--options takes suid, dev and ro, separated by commas, not '%s'", optarg);
				return -EINVAL;
			}
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
	if (!arg_state || !arg_root || arg_n_mounts == 0) {
		log_error("--state, --root and at least one --mount are needed");
		return -EINVAL;
	}
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
