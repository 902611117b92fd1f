/* SPDX-License-Identifier: MIT */
/*
 * img-shrink: make a disk image as small as its last partition's ext2/3/4
 * filesystem allows, plus some headroom: the reverse of img-grow.
 *
 * Checks first (the image is not attached or mounted, the partition is the
 * last one on disk and holds ext2/3/4), then the decision, read-only:
 * resize2fs -P estimates the minimum, and an image whose filesystem is
 * already within that plus the headroom, whose partition ends with the
 * filesystem and whose file ends with the table is not written at all.
 * Otherwise, on a loop device over the partition: e2fsck -f -y,
 * resize2fs -M (which moves the data down), resize2fs up by the headroom,
 * e2fsck -f -n; then the partition is shrunk with libfdisk and the file
 * truncated, and a GPT's backup header and entries move to the new end.
 * Each step leaves an image that is whole: a filesystem smaller than its
 * partition, a partition smaller than the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "command.h"
#include "common.h"
#include "disklabel.h"
#include "extfs.h"
#include "format.h"
#include "imagefile.h"
#include "log.h"
#include "loop.h"
#include "mounts.h"
#include "size.h"

#define MIB_SECTORS 2048 /* the file ends on a MiB boundary */

static uint64_t arg_headroom = 64 << 20;
static unsigned arg_partition;
static const char *arg_image;

struct shrink {
	const char *path;
	int fd;
	uint64_t size;
	bool gpt;
	unsigned long sector;
	size_t partno;
	unsigned nr;
	uint64_t start, end;   /* sectors, end inclusive */
	uint64_t tail;         /* sectors the table needs after the last partition */
	char fstype[32];
	struct extfs sb;
	uint64_t min_blocks, target_blocks; /* what resize2fs -P says, plus headroom */
	uint64_t slack;  /* blocks: this close to the target counts as there */
	bool fs_shrinks;
	uint64_t new_end, new_size; /* the partition's last sector; bytes */
};

static uint64_t bytes_to_sectors(const struct shrink *s, uint64_t bytes)
{
	return (bytes + s->sector - 1) / s->sector;
}

/* The partition ends where the file, rounded up to a MiB, leaves room for
 * the table's tail after it: at least at fs_end, never past its end now. */
static void layout(struct shrink *s, uint64_t fs_end)
{
	uint64_t total = (fs_end + 1 + s->tail + MIB_SECTORS - 1) / MIB_SECTORS * MIB_SECTORS;

	s->new_end = total - 1 - s->tail;
	if (s->new_end > s->end)
		s->new_end = s->end;
	s->new_size = (s->new_end + 1 + s->tail) * s->sector;
	if (s->new_size > s->size)
		s->new_size = s->size;
}

static int table_inspect(struct shrink *s)
{
	_cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
	_cleanup_(fdisk_unref_tablep) struct fdisk_table *tb = NULL;
	_cleanup_(fdisk_free_iterp) struct fdisk_iter *itr = NULL;
	struct fdisk_partition *pa, *pick = NULL, *last = NULL;
	int r;

	r = disklabel_open(s->fd, s->path, true, &cxt);
	if (r < 0)
		return r;
	if (!fdisk_has_label(cxt) || (!fdisk_is_label(cxt, DOS) && !fdisk_is_label(cxt, GPT))) {
		log_error("cannot shrink '%s': it has no MBR or GPT partition table", s->path);
		return -ENOMEDIUM;
	}
	s->gpt = fdisk_is_label(cxt, GPT);
	s->sector = fdisk_get_sector_size(cxt);
	if (s->gpt && disklabel_gpt_tail(cxt, &s->tail) < 0)
		return log_errno(EINVAL, "cannot read the GPT header of '%s'", s->path);
	/* libfdisk's minimized GPT (fdisk_gpt_enable_minimize) keeps one free
	 * sector between the last partition and the backup entries. */
	if (s->gpt)
		s->tail++;

	r = fdisk_get_partitions(cxt, &tb);
	itr = fdisk_new_iter(FDISK_ITER_FORWARD);
	if (r < 0 || !itr || fdisk_table_get_nents(tb) == 0) {
		log_error("cannot shrink '%s': its partition table holds no partitions", s->path);
		return -ENOENT;
	}
	fdisk_table_sort_partitions(tb, fdisk_partition_cmp_start);
	while (fdisk_table_next_partition(tb, itr, &pa) == 0) {
		if (arg_partition && fdisk_partition_get_partno(pa) + 1 == arg_partition)
			pick = pa;
		if (!fdisk_partition_is_container(pa) && !fdisk_partition_is_nested(pa))
			last = pa;
		else if (fdisk_partition_is_nested(pa))
			last = pa; /* a logical partition last: refused below */
	}
	if (!arg_partition)
		pick = last;
	if (!pick) {
		log_error("cannot shrink partition %u of '%s': there is no such partition", arg_partition,
			  s->path);
		return -ENOENT;
	}
	s->partno = fdisk_partition_get_partno(pick);
	s->nr = (unsigned)s->partno + 1;
	s->start = fdisk_partition_get_start(pick);
	s->end = fdisk_partition_get_end(pick);
	if (fdisk_partition_is_container(pick) || fdisk_partition_is_nested(pick)) {
		log_error("cannot shrink partition %u of '%s': it is %s partition; img-shrink shrinks "
			  "primary ones", s->nr, s->path,
			  fdisk_partition_is_container(pick) ? "an extended" : "a logical");
		return -EOPNOTSUPP;
	}
	fdisk_reset_iter(itr, FDISK_ITER_FORWARD);
	while (fdisk_table_next_partition(tb, itr, &pa) == 0)
		if (pa != pick && fdisk_partition_get_start(pa) >= s->start) {
			log_error("cannot shrink partition %u of '%s': it is not the last one, partition "
				  "%zu follows it", s->nr, s->path, fdisk_partition_get_partno(pa) + 1);
			return -EEXIST;
		}
	return 0;
}

/* resize2fs -P, read-only: on the loop device if there is one, else on
 * the partition at its offset in the file. */
static int fs_min_blocks(struct shrink *s, const char *loopdev, uint64_t *blocks)
{
	char cmd[4096 + 64], *line = NULL;
	size_t n = 0;
	int r = -EIO;

	if (strchr(s->path, '\'')) {
		log_error("cannot shrink '%s': a quote in the file name", s->path);
		return -EINVAL;
	}
	if (loopdev)
		snprintf(cmd, sizeof(cmd), "resize2fs -P '%s' 2>/dev/null", loopdev);
	else
		snprintf(cmd, sizeof(cmd), "resize2fs -P '%s?offset=%" PRIu64 "' 2>/dev/null", s->path,
			 s->start * s->sector);
	FILE *f = popen(cmd, "re");
	if (!f)
		return log_errno(errno, "cannot run resize2fs");
	while (getline(&line, &n, f) > 0)
		if (sscanf(line, "Estimated minimum size of the filesystem: %" SCNu64, blocks) == 1)
			r = 0;
	free(line);
	if (pclose(f) != 0 || r < 0) {
		log_error("cannot shrink the %s filesystem in partition %u of '%s': resize2fs -P "
			  "cannot estimate its minimum size", s->fstype, s->nr, s->path);
		return -EIO;
	}
	return 0;
}

static int fs_inspect(struct shrink *s)
{
	uint64_t bytes = (s->end - s->start + 1) * s->sector, headroom, fs_end;
	int r;

	r = disk_probe_fstype(s->fd, s->start * s->sector, bytes, s->fstype, sizeof(s->fstype));
	if (r < 0)
		return log_errno(r, "cannot probe partition %u of '%s'", s->nr, s->path);
	if (strcmp(s->fstype, "ext2") && strcmp(s->fstype, "ext3") && strcmp(s->fstype, "ext4")) {
		log_error("cannot shrink partition %u of '%s': it holds %s; img-shrink shrinks ext2/3/4",
			  s->nr, s->path, s->fstype[0] ? s->fstype : "no filesystem");
		return -EMEDIUMTYPE;
	}
	r = extfs_read(s->fd, s->start * s->sector, &s->sb);
	if (r < 0)
		return log_errno(r, "cannot read the %s superblock in partition %u of '%s'", s->fstype,
				 s->nr, s->path);
	static const char *const tools[] = { "e2fsck", "resize2fs" };
	for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
		if (!command_exists(tools[i])) {
			log_error("cannot shrink '%s': %s is not installed (e2fsprogs)", s->path, tools[i]);
			return -ENOENT;
		}
	r = fs_min_blocks(s, NULL, &s->min_blocks);
	if (r < 0)
		return r;
	headroom = (arg_headroom + s->sb.block_size - 1) / s->sb.block_size;
	s->target_blocks = s->min_blocks + headroom;
	/* resize2fs -P's estimate moves a little as the layout changes: within
	 * a MiB (or 1/16 of the headroom) above the target counts as done, so
	 * that a second run changes nothing. */
	s->slack = ((arg_headroom / 16 > (1 << 20) ? arg_headroom / 16 : 1 << 20)) / s->sb.block_size;
	s->fs_shrinks = s->sb.blocks > s->target_blocks + s->slack;
	fs_end = s->start + bytes_to_sectors(s, (s->fs_shrinks ? s->target_blocks : s->sb.blocks) *
						     s->sb.block_size) - 1;
	layout(s, fs_end);
	log_debug("%s: %" PRIu64 " blocks, minimum %" PRIu64 ", target %" PRIu64 "; partition %u "
		  "to end at %" PRIu64 " (now %" PRIu64 "), file %" PRIu64 " bytes", s->fstype,
		  s->sb.blocks, s->min_blocks, s->target_blocks, s->nr, s->new_end, s->end, s->new_size);
	return 0;
}

static int tool_run(char *const argv[])
{
	return command_run(argv, log_enabled(LOG_DEBUG) ? COMMAND_STDOUT_TO_STDERR : COMMAND_SILENT);
}

static int fs_step(struct shrink *s, char *const argv[], int worst)
{
	int r = tool_run(argv);

	if (r < 0)
		return log_errno(r, "cannot run %s", argv[0]);
	if (r > worst) {
		log_error("cannot shrink the %s filesystem in partition %u of '%s': %s %s exited with "
			  "status %d%s", s->fstype, s->nr, s->path, argv[0], argv[1], r,
			  log_enabled(LOG_DEBUG) ? "" : " (-v shows its output)");
		return -EIO;
	}
	return 0;
}

/* On an autoclear loop device over the partition, as img-grow does. */
static int fs_shrink(struct shrink *s)
{
	_cleanup_(loop_cleanup) struct loop_device l = LOOP_DEVICE_INIT;
	char blocks[32];
	char *fsck[] = { "e2fsck", "-f", "-y", l.path, NULL };
	char *check[] = { "e2fsck", "-f", "-n", l.path, NULL };
	char *minimum[] = { "resize2fs", "-M", l.path, NULL };
	char *grow[] = { "resize2fs", l.path, blocks, NULL };
	struct extfs after;
	int r;

	r = loop_attach(&l, s->path, s->start * s->sector, (s->end - s->start + 1) * s->sector,
			LOOP_ATTACH_AUTOCLEAR);
	if (r < 0)
		return log_errno(r, "cannot attach partition %u of '%s' to a loop device%s", s->nr,
				 s->path, geteuid() != 0 ? " (run as root)" : "");
	/* With SOURCE_DATE_EPOCH, the times e2fsck and resize2fs write into
	 * the superblock (last check, last write) are that time: the same
	 * image shrinks to the same bytes. */
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde && strspn(sde, "0123456789") == strlen(sde)) {
		setenv("E2FSCK_TIME", sde, 1);
		setenv("E2FSPROGS_FAKE_TIME", sde, 1);
	}
	/* e2fsck: 1 errors fixed, 2 "reboot", which means nothing here. */
	if ((r = fs_step(s, fsck, 2)) < 0)
		return r;
	/* resize2fs -M's minimum counts the metadata of the groups the
	 * filesystem has now: on the smaller one, resize2fs -P finds a smaller
	 * minimum, as it would on the next run. Another pass only while that
	 * is worth it: a resize2fs -M close to the true minimum can fail. */
	after = s->sb;
	for (int pass = 0; pass < 4; pass++) {
		uint64_t est;
		if (pass > 0 && (fs_min_blocks(s, l.path, &est) < 0 || est + s->slack >= after.blocks))
			break;
		if ((r = fs_step(s, minimum, 0)) < 0) {
			/* resize2fs asks for this after an aborted resize. */
			fs_step(s, fsck, 2);
			return r;
		}
		r = extfs_read(s->fd, s->start * s->sector, &after);
		if (r < 0)
			return log_errno(r, "cannot read the superblock in partition %u of '%s'", s->nr,
					 s->path);
		log_debug("resize2fs -M pass %d: %" PRIu64 " blocks", pass + 1, after.blocks);
	}
	s->target_blocks = after.blocks + (arg_headroom + after.block_size - 1) / after.block_size;
	if (s->target_blocks > s->sb.blocks)
		s->target_blocks = s->sb.blocks;
	snprintf(blocks, sizeof(blocks), "%" PRIu64, s->target_blocks);
	if (s->target_blocks > after.blocks && (r = fs_step(s, grow, 0)) < 0) {
		fs_step(s, fsck, 2);
		return r;
	}
	if ((r = fs_step(s, check, 0)) < 0)
		return r;
	r = loop_detach(&l);
	if (r < 0)
		log_debug("detaching %s: %s", l.path, strerror(-r));
	r = extfs_read(s->fd, s->start * s->sector, &s->sb);
	if (r < 0)
		return log_errno(r, "cannot read the superblock in partition %u of '%s'", s->nr, s->path);
	layout(s, s->start + bytes_to_sectors(s, s->sb.blocks * s->sb.block_size) - 1);
	return 0;
}

struct mount_user {
	const char *path;
	const struct stat *st;
	const char *target;
};

/* A FUSE mount (fuse2fs IMG?offset=N) names the image as its source. */
static int mount_user_find(const struct mount_entry *m, void *userdata)
{
	struct mount_user *u = userdata;
	struct stat st;
	char src[4096];

	if (!m->source || m->source[0] != '/')
		return 0;
	snprintf(src, sizeof(src), "%.*s", (int)strcspn(m->source, "?"), m->source);
	if (stat(src, &st) == 0 && st.st_dev == u->st->st_dev && st.st_ino == u->st->st_ino) {
		u->target = m->target;
		return 1;
	}
	return 0;
}

static int image_busy(const char *path, const struct stat *st)
{
	struct mount_user u = { .path = path, .st = st };
	int nr = loop_find_user(st);

	if (nr >= 0) {
		log_error("cannot shrink '%s': /dev/loop%d is using it", path, nr);
		return -EBUSY;
	}
	if (mounts_foreach(mount_user_find, &u) > 0) {
		log_error("cannot shrink '%s': it is mounted on '%s'", path, u.target);
		return -EBUSY;
	}
	return 0;
}

static int run(void)
{
	_cleanup_(closep) int fd = -1;
	struct shrink s = { .path = arg_image };
	struct stat st;
	char b1[16], b2[16];
	int r;

	fd = image_open_exclusive(arg_image, "shrink", "", &st);
	if (fd < 0)
		return EXIT_FAILED;
	s.fd = fd;
	s.size = (uint64_t)st.st_size;

	/* ---- checks and the decision: nothing is written yet ---- */
	if (image_busy(arg_image, &st) < 0 || table_inspect(&s) < 0 || fs_inspect(&s) < 0)
		return EXIT_FAILED;
	if (!s.fs_shrinks && s.new_end == s.end && s.new_size == s.size) {
		log_notice("%s: already %s, partition %u's %s within %s of its minimum", arg_image,
			   format_bytes(b1, s.size), s.nr, s.fstype, format_bytes(b2, arg_headroom));
		return EXIT_DONE;
	}

	/* ---- writes ---- */
	if (s.fs_shrinks && fs_shrink(&s) < 0)
		return EXIT_FAILED;
	if (s.new_end < s.end || (s.gpt && s.new_size < s.size)) {
		r = disklabel_set_size(fd, arg_image, s.partno, s.start, s.new_end - s.start + 1,
				       DISKLABEL_GPT_MINIMIZE);
		if (r < 0) {
			log_errno(r, "cannot shrink partition %u of '%s'", s.nr, arg_image);
			return EXIT_FAILED;
		}
	}
	if (s.new_size < s.size) {
		if (ftruncate(fd, (off_t)s.new_size) < 0) {
			log_errno(errno, "cannot truncate '%s'", arg_image);
			return EXIT_FAILED;
		}
		/* The GPT backup is at the new end already; writing the table
		 * again corrects the size in the protective MBR. */
		if (s.gpt && (r = disklabel_set_size(fd, arg_image, s.partno, s.start,
						     s.new_end - s.start + 1, 0)) < 0) {
			log_errno(r, "cannot write the GPT backup of '%s'", arg_image);
			return EXIT_FAILED;
		}
	}
	if (fsync(fd) < 0) {
		log_errno(errno, "cannot write '%s'", arg_image);
		return EXIT_FAILED;
	}
	log_notice("%s: %s, was %s; partition %u and its %s shrunk to %s", arg_image,
		   format_bytes(b1, s.new_size), format_bytes(b2, s.size), s.nr, s.fstype,
		   format_bytes((char[16]){ 0 }, (s.new_end - s.start + 1) * s.sector));
	return EXIT_DONE;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... IMG\n"
	       "Shrink the disk image IMG: its last partition's ext2/3/4 filesystem to its\n"
	       "minimum plus headroom, the partition to match, and the file.\n\n"
	       "  -H, --headroom=SIZE   free space to leave in the filesystem (default 64M;\n"
	       "                        K, M, G suffixes, 1024-based)\n"
	       "  -p, --partition=N     partition N, which must be the last one on disk\n"
	       "  -q, --quiet           only the summary and errors\n"
	       "  -v, --verbose         say more, and show e2fsck's and resize2fs's output\n"
	       "  -h, --help            show this help\n"
	       "  -V, --version         show the version\n\n"
	       "Needs root, for a loop device. Exit status: 0 done (also: already as small\n"
	       "as that), 1 failed, 2 bad usage.\n",
	       log_program());
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "headroom", required_argument, NULL, 'H' },
		{ "partition", required_argument, NULL, 'p' },
		CLI_COMMON_OPTIONS,
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "H:p:" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 'H':
			if (size_parse(optarg, &arg_headroom, NULL) < 0) {
				log_error("invalid headroom '%s': want a size with an optional K, M, G or "
					  "T suffix", optarg);
				return -EINVAL;
			}
			break;
		case 'p':
			if (cli_partition(optarg, &arg_partition) < 0)
				return -EINVAL;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (cli_operand(argc, argv, "no image given", &arg_image) < 0)
		return -EINVAL;
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
