/* SPDX-License-Identifier: MIT */
/*
 * img-loop: attach a disk image to a loop device, with a usable block device
 * for each partition, and record it all in a state file.
 *
 * Partition devices: the kernel makes loopNpM itself when it can parse the
 * table (partscan). When it cannot (no partition parser built in), the
 * partitions are added with BLKPG from the table libblkid reads, which works
 * on any kernel. Nodes in /dev are waited for with a bound, and made from
 * sysfs where nobody manages /dev (a container without udev).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/blkpg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "cli.h"
#include "common.h"
#include "log.h"
#include "loop.h"
#include "mounts.h"
#include "parttable.h"
#include "signals.h"
#include "state.h"

static const char *arg_state;
static const char *arg_image;
static bool arg_detach;

static void state_freep(struct state *s)
{
	state_free(s);
}

/* "dev:ino" of the image, which identifies it across renames. */
static void image_id(const struct stat *st, char buf[static 64])
{
	snprintf(buf, 64, "%ju:%ju", (uintmax_t)st->st_dev, (uintmax_t)st->st_ino);
}

/* True if every partition device the state names is a block device. */
static bool state_parts_present(const struct state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct stat st;
		if (strncmp(s->items[i].key, "part", 4) == 0 &&
		    (stat(s->items[i].value, &st) < 0 || !S_ISBLK(st.st_mode)))
			return false;
	}
	return true;
}

static int part_add(struct loop_device *l, const struct part *p)
{
	struct blkpg_partition bp = {
		.start = (long long)p->start,
		.length = (long long)p->size,
		.pno = p->nr,
	};
	struct blkpg_ioctl_arg arg = {
		.op = BLKPG_ADD_PARTITION,
		.datalen = sizeof(bp),
		.data = &bp,
	};

	return ioctl(l->fd, BLKPG, &arg) < 0 && errno != EBUSY ? -errno : 0;
}

/* Makes sure /dev/loopNpM exists for each partition; fills the state. */
static int parts_provide(struct loop_device *l, const char *image, struct state *s)
{
	struct part parts[PARTTABLE_MAX];
	int n = parttable_read(image, parts);

	if (n == -ENOMEDIUM) {
		log_info("'%s' has no partition table; attached as a whole", image);
		return 0;
	}
	if (n < 0)
		return log_errno(n, "cannot read the partition table of '%s'", image);

	for (int i = 0; i < n; i++) {
		char name[48], sys[96], key[16], path[64];
		struct stat st;
		int r;

		snprintf(name, sizeof(name), "loop%dp%d", l->nr, parts[i].nr);
		snprintf(sys, sizeof(sys), "/sys/class/block/%s", name);
		if (stat(sys, &st) < 0) {
			log_debug("the kernel made no %s; adding it with BLKPG", name);
			r = part_add(l, &parts[i]);
			if (r < 0)
				return log_errno(r, "cannot add partition %d to %s", parts[i].nr, l->path);
		}
		r = loop_devnode(name, path);
		if (r < 0)
			return log_errno(r, "no device node for %s", name);
		snprintf(key, sizeof(key), "part%d", parts[i].nr);
		if (state_set(s, key, path) < 0)
			return log_errno(ENOMEM, "cannot record %s", path);
	}
	return 0;
}

static int attach(void)
{
	_cleanup_(signals_release) struct signals_window window = { 0 };
	_cleanup_(freep) char *image = realpath(arg_image, NULL);
	_cleanup_(state_freep) struct state old = STATE_INIT;
	_cleanup_(state_freep) struct state s = STATE_INIT;
	_cleanup_(loop_cleanup) struct loop_device l = LOOP_DEVICE_INIT;
	char id[64], created[32], uuid[37];
	struct stat st;
	uuid_t u;
	time_t now = time(NULL);
	int r;

	if (!image || stat(image, &st) < 0) {
		log_errno(errno, "cannot open '%s'", arg_image);
		return EXIT_FAILED;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("'%s' is not a regular file", arg_image);
		return EXIT_FAILED;
	}
	image_id(&st, id);

	r = state_load(&old, arg_state);
	if (r == 0 && state_attached(&old)) {
		const char *old_id = state_get(&old, "image_id");
		if (strcmp(old_id, id) != 0) {
			log_error("'%s' records '%s', still attached as %s; detach it first", arg_state,
				  state_get(&old, "image"), state_get(&old, "loop"));
			return EXIT_FAILED;
		}
		if (state_parts_present(&old)) {
			log_info("'%s' is already attached as %s", image, state_get(&old, "loop"));
			printf("%s\n", state_get(&old, "loop"));
			return EXIT_DONE;
		}
		log_error("%s is attached to '%s' but its partition devices are gone; run img-umount first",
			  state_get(&old, "loop"), image);
		return EXIT_FAILED;
	}
	if (r == 0)
		log_info("'%s' is stale; attaching again", arg_state);
	else if (r != -ENOENT)
		return EXIT_FAILED;

	/* From attach to record, an interrupt waits: it would leave a device
	 * that no state file names. On failure the handle detaches it. */
	signals_hold(&window);
	r = loop_attach(&l, image, 0, 0, LOOP_ATTACH_PARTSCAN);
	if (r < 0) {
		log_errno(r, "cannot attach '%s' to a loop device", image);
		return EXIT_FAILED;
	}
	log_debug("attached '%s' as %s", image, l.path);

	uuid_generate_random(u);
	uuid_unparse_lower(u, uuid);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	s.path = strdup(arg_state);
	if (!s.path || state_set(&s, "id", uuid) < 0 || state_set(&s, "image", image) < 0 ||
	    state_set(&s, "image_id", id) < 0 || state_set(&s, "created", created) < 0 ||
	    state_set(&s, "loop", l.path) < 0) {
		log_errno(ENOMEM, "cannot record the state");
		return EXIT_FAILED;
	}
	if (parts_provide(&l, image, &s) < 0)
		return EXIT_FAILED;
	r = state_write(&s);
	if (r < 0) {
		log_errno(r, "cannot write '%s'", arg_state);
		return EXIT_FAILED;
	}
	/* Everything is in place: from here on the device outlives us. */
	loop_relinquish(&l);
	printf("%s\n", l.path);
	fflush(stdout);
	signals_release(&window);
	return EXIT_DONE;
}

struct busy {
	const struct state *s;
	dev_t devs[PARTTABLE_MAX + 1];
	size_t n;
	char source[256], target[4096];
};

static int find_mount(const struct mount_entry *m, void *userdata)
{
	struct busy *b = userdata;

	for (size_t i = 0; i < b->n; i++)
		if (m->devno == b->devs[i])
			goto found;
	for (size_t i = 0; i < b->s->n; i++)
		if ((strcmp(b->s->items[i].key, "loop") == 0 || strncmp(b->s->items[i].key, "part", 4) == 0) &&
		    m->source && strcmp(m->source, b->s->items[i].value) == 0)
			goto found;
	return 0;
found:
	/* Copied: the table goes away when mounts_foreach returns. */
	snprintf(b->source, sizeof(b->source), "%s", m->source ? m->source : "?");
	snprintf(b->target, sizeof(b->target), "%s", m->target);
	return 1;
}

static int detach(void)
{
	_cleanup_(state_freep) struct state s = STATE_INIT;
	struct busy b = { .s = &s };
	int r = state_load(&s, arg_state), nr;

	if (r == -ENOENT) {
		log_info("nothing to detach: '%s' does not exist", arg_state);
		return EXIT_DONE;
	}
	if (r < 0)
		return EXIT_FAILED;
	if (!state_attached(&s)) {
		log_info("%s is already detached", state_get(&s, "image") ? state_get(&s, "image") : arg_state);
		state_remove(&s);
		return EXIT_DONE;
	}
	/* A mounted partition keeps the device busy; the kernel would only
	 * detach it lazily, behind the user's back. Refuse instead. */
	for (size_t i = 0; i < s.n && b.n < ARRAY_SIZE(b.devs); i++) {
		struct stat st;
		if ((strcmp(s.items[i].key, "loop") == 0 || strncmp(s.items[i].key, "part", 4) == 0) &&
		    stat(s.items[i].value, &st) == 0 && S_ISBLK(st.st_mode))
			b.devs[b.n++] = st.st_rdev;
	}
	if (mounts_foreach(find_mount, &b) > 0) {
		log_error("'%s' is mounted on '%s'; unmount it first (img-umount --state %s)", b.source,
			  b.target, arg_state);
		return EXIT_FAILED;
	}
	if (sscanf(state_get(&s, "loop"), "/dev/loop%d", &nr) != 1) {
		log_error("'%s': bad loop device '%s'", arg_state, state_get(&s, "loop"));
		return EXIT_FAILED;
	}
	r = loop_detach_nr(nr);
	if (r < 0 && r != -ENXIO) {
		log_errno(r, "cannot detach %s", state_get(&s, "loop"));
		return EXIT_FAILED;
	}
	r = state_remove(&s);
	if (r < 0) {
		log_errno(r, "cannot remove '%s'", arg_state);
		return EXIT_FAILED;
	}
	log_debug("detached %s", state_get(&s, "loop"));
	return EXIT_DONE;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... --state FILE IMG\n"
	       "       %s [OPTION]... --detach --state FILE\n"
	       "Attach a disk image to a loop device, with a block device for each\n"
	       "partition, and record them in FILE. Prints the whole-disk device.\n\n"
	       "  -s, --state=FILE  the state file (key=value lines)\n"
	       "  -d, --detach      detach what FILE records, and remove FILE\n"
	       "  -q, --quiet       only errors\n"
	       "  -v, --verbose     say more\n"
	       "  -h, --help        show this help\n"
	       "  -V, --version     show the version\n\n"
	       "Exit status: 0 done (also: already attached or detached), 1 failed,\n"
	       "2 bad usage.\n",
	       log_program(), log_program());
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "state", required_argument, NULL, 's' },
		{ "detach", no_argument, NULL, 'd' },
		CLI_COMMON_OPTIONS,
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:d" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 's':
			arg_state = optarg;
			break;
		case 'd':
			arg_detach = true;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (!arg_state || !*arg_state) {
		log_error("no state file given (--state FILE)");
		return -EINVAL;
	}
	if (arg_detach && optind != argc) {
		log_error("--detach takes no image");
		return -EINVAL;
	}
	if (!arg_detach) {
		if (optind != argc - 1) {
			log_error(optind == argc ? "no image given" : "too many arguments");
			return -EINVAL;
		}
		arg_image = argv[optind];
	}
	return 1;
}

static int run(void)
{
	return arg_detach ? detach() : attach();
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
