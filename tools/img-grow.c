/* SPDX-License-Identifier: MIT */
/*
 * img-grow: make a disk image bigger, grow its last partition to the new end
 * of the disk and the ext2/3/4 filesystem in it to the new end of the
 * partition.
 *
 * Everything that can refuse is checked before the first write: the new
 * size, loop devices using the image, the partition table (read with
 * libfdisk, read-only), the filesystem (libblkid, and its superblock, from
 * which the size resize2fs would give it is worked out). Then the file is
 * extended with ftruncate (a hole, no data written), the table is rewritten
 * by libfdisk, which moves a GPT's backup header and entries to the new end
 * as it opens a disk that grew, and e2fsck and resize2fs run on a temporary
 * loop device that covers just the partition. An image that needs none of
 * this is not written at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libfdisk.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command.h"
#include "cli.h"
#include "common.h"
#include "disklabel.h"
#include "extfs.h"
#include "format.h"
#include "imagefile.h"
#include "log.h"
#include "loop.h"
#include "size.h"

static uint64_t arg_size;
static bool arg_size_relative;
static unsigned arg_partition; /* 0: the last one on disk */
static const char *arg_image;

/* What there is and what it is to become; filled by the checks, so that
 * the writes that follow need not decide anything. */
struct grow {
	const char *path;
	int fd;
	uint64_t size, new_size; /* bytes */

	/* the partition table */
	bool gpt;
	unsigned long sector;            /* bytes */
	size_t partno;                   /* libfdisk's, from 0 */
	unsigned nr;                     /* as the user counts, from 1 */
	uint64_t start, end, new_end;    /* sectors; end is inclusive */
	uint64_t last_lba, alt_lba;      /* GPT: last usable LBA, backup header */
	bool table_changes;

	/* the filesystem in the partition */
	char fstype[32]; /* "" if none was found */
	bool ext;
	struct extfs sb;
	uint64_t fs_target; /* blocks resize2fs will make it */
	bool fs_grows;
};

static uint64_t part_bytes(const struct grow *g, uint64_t end)
{
	return (end - g->start + 1) * g->sector;
}

/* ---- libfdisk ---- */

/* Reads the table (without writing) and picks the partition. */
static int table_inspect(struct grow *g)
{
	_cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
	_cleanup_(fdisk_unref_tablep) struct fdisk_table *tb = NULL;
	_cleanup_(fdisk_free_iterp) struct fdisk_iter *itr = NULL;
	struct fdisk_partition *pa, *pick = NULL;
	const char *label;
	uint64_t total;
	int r;

	r = disklabel_open(g->fd, g->path, true, &cxt);
	if (r < 0)
		return r;
	if (!fdisk_has_label(cxt)) {
		log_error("cannot grow '%s': it has no partition table", g->path);
		return -ENOMEDIUM;
	}
	label = fdisk_label_get_name(fdisk_get_label(cxt, NULL));
	if (!fdisk_is_label(cxt, DOS) && !fdisk_is_label(cxt, GPT)) {
		log_error("cannot grow '%s': it has a %s partition table; img-grow knows MBR and GPT",
			  g->path, label);
		return -EOPNOTSUPP;
	}
	g->gpt = fdisk_is_label(cxt, GPT);
	g->sector = fdisk_get_sector_size(cxt);
	if (g->gpt) {
		r = disklabel_gpt_item(cxt, GPT_LABELITEM_LASTLBA, &g->last_lba);
		if (r == 0)
			r = disklabel_gpt_item(cxt, GPT_LABELITEM_ALTLBA, &g->alt_lba);
		if (r < 0)
			return log_errno(r, "cannot read the GPT header of '%s'", g->path);
	}

	r = fdisk_get_partitions(cxt, &tb);
	if (r < 0 || fdisk_table_get_nents(tb) == 0) {
		log_error("cannot grow '%s': its partition table holds no partitions", g->path);
		return -ENOENT;
	}
	fdisk_table_sort_partitions(tb, fdisk_partition_cmp_start);

	itr = fdisk_new_iter(FDISK_ITER_FORWARD);
	if (!itr)
		return log_errno(ENOMEM, "cannot read the partition table of '%s'", g->path);
	while (fdisk_table_next_partition(tb, itr, &pa) == 0) {
		if (arg_partition ? fdisk_partition_get_partno(pa) + 1 == arg_partition
				  : !fdisk_partition_is_container(pa))
			pick = pa; /* without a number: the last one on disk */
	}
	if (!pick) {
		if (arg_partition)
			log_error("cannot grow partition %u of '%s': there is no such partition",
				  arg_partition, g->path);
		else
			log_error("cannot grow '%s': its partition table holds no partitions", g->path);
		return -ENOENT;
	}
	g->partno = fdisk_partition_get_partno(pick);
	g->nr = (unsigned)g->partno + 1;
	g->start = fdisk_partition_get_start(pick);
	g->end = fdisk_partition_get_end(pick);

	if (fdisk_partition_is_container(pick) || fdisk_partition_is_nested(pick)) {
		log_error("cannot grow partition %u of '%s': it is %s partition; img-grow grows primary ones",
			  g->nr, g->path, fdisk_partition_is_container(pick) ? "an extended" : "a logical");
		return -EOPNOTSUPP;
	}
	/* Anything starting later would be overwritten. */
	fdisk_reset_iter(itr, FDISK_ITER_FORWARD);
	while (fdisk_table_next_partition(tb, itr, &pa) == 0) {
		if (pa != pick && fdisk_partition_get_start(pa) >= g->start) {
			log_error("cannot grow partition %u of '%s': partition %zu follows it", g->nr,
				  g->path, fdisk_partition_get_partno(pa) + 1);
			return -EEXIST;
		}
	}

	total = g->new_size / g->sector;
	r = disklabel_last_lba(cxt, g->gpt, total, &g->new_end);
	if (r < 0)
		return log_errno(r, "cannot grow '%s' to %" PRIu64 " bytes", g->path, g->new_size);
	if (g->new_end < g->end) {
		log_error("cannot grow partition %u of '%s': it ends beyond the space a %s table leaves",
			  g->nr, g->path, g->gpt ? "GPT" : "MBR");
		return -ERANGE;
	}
	/* An MBR entry counts sectors in 32 bits. */
	if (!g->gpt && (g->new_end > UINT32_MAX || g->new_end - g->start + 1 > UINT32_MAX)) {
		log_error("cannot grow partition %u of '%s' beyond 2 TiB: an MBR partition table cannot "
			  "describe it (use GPT)", g->nr, g->path);
		return -EFBIG;
	}
	g->table_changes = g->new_end != g->end || g->new_size != g->size ||
			   (g->gpt && (g->alt_lba != total - 1 || g->last_lba != g->new_end));
	log_debug("%s partition %u: sectors %" PRIu64 "-%" PRIu64 ", to end at %" PRIu64, label,
		  g->nr, g->start, g->end, g->new_end);
	return 0;
}

/* Extends the table to the (already extended) file and writes it. */
static int table_write(struct grow *g)
{
	_cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
	struct fdisk_partition *pa = NULL, *cur = NULL;
	uint64_t last;
	int r;

	/* Opening the grown disk read-write is what moves the GPT backup
	 * header, its entries and the last usable LBA to the new end
	 * (gpt_probe_label() -> gpt_fix_alternative_lba()). */
	r = disklabel_open(g->fd, g->path, false, &cxt);
	if (r < 0)
		return r;
	last = fdisk_get_last_lba(cxt);
	if (fdisk_get_partition(cxt, g->partno, &cur) < 0 || !cur ||
	    fdisk_partition_get_start(cur) != g->start) {
		fdisk_unref_partition(cur);
		log_error("cannot grow partition %u of '%s': the partition table changed meanwhile",
			  g->nr, g->path);
		return -ESTALE;
	}
	fdisk_unref_partition(cur);
	if (last != g->new_end) {
		/* Not what table_inspect() expected: trust libfdisk, but never
		 * shrink. */
		log_debug("libfdisk puts the last usable sector at %" PRIu64 ", not %" PRIu64, last,
			  g->new_end);
		if (last < g->end) {
			log_error("cannot grow partition %u of '%s': libfdisk leaves it no room", g->nr,
				  g->path);
			return -ERANGE;
		}
		g->new_end = last;
	}

	pa = fdisk_new_partition();
	if (!pa)
		return log_errno(ENOMEM, "cannot grow partition %u of '%s'", g->nr, g->path);
	r = fdisk_partition_set_size(pa, g->new_end - g->start + 1);
	if (r == 0)
		r = fdisk_set_partition(cxt, g->partno, pa);
	fdisk_unref_partition(pa);
	if (r < 0)
		return log_errno(r, "cannot grow partition %u of '%s'", g->nr, g->path);
	r = fdisk_write_disklabel(cxt);
	if (r < 0)
		return log_errno(r, "cannot write the partition table of '%s'", g->path);
	/* fsync, and no global sync() */
	r = fdisk_deassign_device(cxt, 1);
	if (r < 0)
		return log_errno(r, "cannot write the partition table of '%s'", g->path);
	return 0;
}

/* The old GPT backup (entries and header, after the old last usable LBA)
 * sits inside the grown partition now, where tools that search for lost
 * tables would find it. It was outside every partition, so nothing lives
 * there: punch it out (no data written). */
static void gpt_old_backup_discard(struct grow *g)
{
	off_t off, len;

	if (!g->gpt || g->alt_lba >= g->new_size / g->sector - 1 || g->last_lba >= g->alt_lba ||
	    g->alt_lba > g->new_end)
		return;
	off = (off_t)((g->last_lba + 1) * g->sector);
	len = (off_t)((g->alt_lba - g->last_lba) * g->sector);
	if (fallocate(g->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0) {
		log_debug("discarded the old GPT backup at sectors %" PRIu64 "-%" PRIu64,
			  g->last_lba + 1, g->alt_lba);
		return;
	}
	/* A filesystem without holes: clearing the header's signature is
	 * what matters. */
	static const char zero[512];
	if (pwrite(g->fd, zero, sizeof(zero), (off_t)(g->alt_lba * g->sector)) != (ssize_t)sizeof(zero))
		log_debug("cannot clear the old GPT backup header: %s", strerror(errno));
}

/* ---- the filesystem ---- */

static int fs_inspect(struct grow *g)
{
	int r;

	r = disk_probe_fstype(g->fd, g->start * g->sector, part_bytes(g, g->end), g->fstype,
			      sizeof(g->fstype));
	if (r == -ENOTUNIQ) {
		log_error("cannot grow partition %u of '%s': it holds signatures of several "
			  "filesystems (see wipefs)", g->nr, g->path);
		return r;
	}
	if (r < 0)
		return log_errno(r == -ENOMEM ? r : EIO, "cannot probe partition %u of '%s'", g->nr, g->path);

	g->ext = strcmp(g->fstype, "ext2") == 0 || strcmp(g->fstype, "ext3") == 0 ||
		 strcmp(g->fstype, "ext4") == 0;
	if (!g->ext) {
		log_debug("partition %u holds %s", g->nr, g->fstype[0] ? g->fstype : "no filesystem");
		return 0;
	}
	r = extfs_read(g->fd, g->start * g->sector, &g->sb);
	if (r < 0)
		return log_errno(r, "cannot read the %s superblock in partition %u of '%s'", g->fstype,
				 g->nr, g->path);
	r = extfs_grow_target(&g->sb, part_bytes(g, g->new_end), &g->fs_target);
	if (r == -EFBIG) {
		log_error("cannot grow the %s filesystem in partition %u of '%s' beyond 2^32 blocks: "
			  "it lacks the 64bit feature", g->fstype, g->nr, g->path);
		return r;
	}
	/* Never shrink: a filesystem a little larger than resize2fs would
	 * make it (mke2fs rounds differently) is left as it is. */
	g->fs_grows = g->fs_target > g->sb.blocks;
	log_debug("%s in partition %u: %" PRIu64 " blocks of %" PRIu32 " bytes, resize2fs would make "
		  "it %" PRIu64, g->fstype, g->nr, g->sb.blocks, g->sb.block_size, g->fs_target);
	return 0;
}

/* Growing the filesystem needs a loop device and e2fsprogs: make sure of
 * both before anything is written, so that "cannot" leaves no half-grown
 * image. */
static int fs_preflight(struct grow *g)
{
	static const char *const tools[] = { "e2fsck", "resize2fs" };
	int fd;

	for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
		if (!command_exists(tools[i])) {
			log_error("cannot grow the %s filesystem in partition %u of '%s': %s is not "
				  "installed (e2fsprogs)", g->fstype, g->nr, g->path, tools[i]);
			return -ENOENT;
		}
	fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		log_error("cannot grow the %s filesystem in partition %u of '%s': no loop device "
			  "(/dev/loop-control: %s)%s", g->fstype, g->nr, g->path, strerror(-r),
			  geteuid() != 0 ? "; run as root" : "");
		return r;
	}
	close(fd);
	return 0;
}

/* With -v the tools' output is shown, on stderr: stdout is for results. */
static int tool_run(char *const argv[])
{
	return command_run(argv, log_enabled(LOG_DEBUG) ? COMMAND_STDOUT_TO_STDERR : COMMAND_SILENT);
}

/* The temporary loop device is set to autoclear: if img-grow dies while
 * e2fsck runs, the kernel detaches the device as soon as the last user
 * closes it, so nothing outlives the tool, not even a kill -9 that the
 * cleanup handlers never see. */
static int fs_grow(struct grow *g)
{
	_cleanup_(loop_cleanup) struct loop_device l = LOOP_DEVICE_INIT;
	uint64_t bytes = part_bytes(g, g->new_end);
	char *e2fsck[] = { "e2fsck", "-f", "-y", l.path, NULL };
	char *resize2fs[] = { "resize2fs", l.path, NULL };
	const char *hint = log_enabled(LOG_DEBUG) ? "" : " (-v shows its output)";
	int r;

	r = loop_attach(&l, g->path, g->start * g->sector, bytes, LOOP_ATTACH_AUTOCLEAR);
	if (r < 0)
		return log_errno(r, "cannot attach partition %u of '%s' to a loop device", g->nr,
				 g->path);
	log_debug("partition %u is %s; running e2fsck -f -y", g->nr, l.path);

	/* 1: errors fixed, 2: "reboot", which means nothing for an image. */
	r = tool_run(e2fsck);
	if (r < 0)
		return log_errno(r, "cannot run e2fsck");
	if (r >= 4) {
		log_error("cannot grow the %s filesystem in partition %u of '%s': e2fsck -f -y exited "
			  "with status %d%s", g->fstype, g->nr, g->path, r, hint);
		return -EIO;
	}
	log_debug("e2fsck exited with status %d; running resize2fs", r);
	/* New inode tables are left for the kernel to zero on first mount, as
	 * mke2fs does, even where this host's /sys does not say it can: else
	 * resize2fs writes them all, and the cost grows with the size. */
	if (!getenv("RESIZE2FS_FORCE_ITABLE_INIT"))
		setenv("RESIZE2FS_FORCE_LAZY_ITABLE_INIT", "1", 0);
	r = tool_run(resize2fs);
	if (r < 0)
		return log_errno(r, "cannot run resize2fs");
	if (r != 0) {
		log_error("cannot grow the %s filesystem in partition %u of '%s': resize2fs exited "
			  "with status %d%s", g->fstype, g->nr, g->path, r, hint);
		return -EIO;
	}
	r = loop_detach(&l);
	if (r < 0)
		log_debug("detaching %s: %s", l.path, strerror(-r));

	struct extfs after;
	if (extfs_read(g->fd, g->start * g->sector, &after) == 0) {
		log_debug("%s is now %" PRIu64 " blocks", g->fstype, after.blocks);
		g->sb = after;
	}
	return 0;
}

/* ---- the image ---- */

static void summary(const struct grow *g, bool part_grew, bool fs_grew)
{
	char b1[16], b2[16], part[64], fs[128];

	format_bytes(b1, g->new_size);
	if (!part_grew && !fs_grew && !g->table_changes) {
		if (g->ext)
			log_notice("%s: already %s, partition %u and its %s filesystem fill it", g->path,
				   b1, g->nr, g->fstype);
		else
			log_notice("%s: already %s, partition %u fills it", g->path, b1, g->nr);
		return;
	}
	if (part_grew)
		snprintf(part, sizeof(part), "partition %u grown to %s", g->nr,
			 format_bytes(b2, part_bytes(g, g->new_end)));
	else
		snprintf(part, sizeof(part), "partition %u already fills it", g->nr);
	if (g->ext)
		snprintf(fs, sizeof(fs), ", %s %s", g->fstype, fs_grew ? "resized" : "already fills it");
	else if (g->fstype[0])
		snprintf(fs, sizeof(fs), "; its %s filesystem did not grow (img-grow grows ext2/3/4)",
			 g->fstype);
	else
		snprintf(fs, sizeof(fs), "; it holds no filesystem to grow");
	log_notice("%s: %s, %s%s", g->path, b1, part, fs);
}

static int run(void)
{
	_cleanup_(closep) int fd = -1;
	struct grow g = { .path = arg_image };
	struct stat st;
	char b1[16], b2[16];
	bool part_grew;
	int r;

	/* Two img-grows on one image would each extend and write the table. */
	fd = image_open_exclusive(arg_image, "grow", " (img-grow grows image files)", &st);
	if (fd < 0)
		return EXIT_FAILED;
	g.fd = fd;
	g.size = (uint64_t)st.st_size;

	/* ---- checks: nothing is written until all of them passed ---- */

	if (arg_size_relative) {
		if (arg_size > (uint64_t)INT64_MAX - g.size) {
			log_error("cannot grow '%s' by %s: too large", arg_image, format_bytes(b1, arg_size));
			return EXIT_FAILED;
		}
		g.new_size = g.size + arg_size;
	} else
		g.new_size = arg_size;
	if (g.new_size > (uint64_t)INT64_MAX) {
		log_error("cannot grow '%s' to %" PRIu64 " bytes: too large", arg_image, g.new_size);
		return EXIT_FAILED;
	}
	if (g.new_size < g.size) {
		log_error("cannot shrink '%s' from %s to %s: img-grow only grows", arg_image,
			  format_bytes(b1, g.size), format_bytes(b2, g.new_size));
		return EXIT_FAILED;
	}

	r = loop_find_user(&st);
	if (r >= 0) {
		log_error("cannot grow '%s': /dev/loop%d is using it", arg_image, r);
		return EXIT_FAILED;
	}

	if (table_inspect(&g) < 0 || fs_inspect(&g) < 0)
		return EXIT_FAILED;
	if (!g.table_changes && !g.fs_grows) {
		summary(&g, false, false);
		return EXIT_DONE;
	}
	if (g.fs_grows && fs_preflight(&g) < 0)
		return EXIT_FAILED;

	/* ---- writes ---- */

	part_grew = g.new_end != g.end;
	if (g.new_size > g.size && ftruncate(fd, (off_t)g.new_size) < 0) {
		log_errno(errno, "cannot extend '%s' to %s", arg_image, format_bytes(b1, g.new_size));
		return EXIT_FAILED;
	}
	if (g.table_changes) {
		r = table_write(&g);
		if (r < 0) {
			/* Whatever failed before libfdisk wrote: undo the extension,
			 * which holds no data. */
			if (g.new_size > g.size && ftruncate(fd, (off_t)g.size) < 0)
				log_errno(errno, "cannot truncate '%s' back to %s", arg_image,
					  format_bytes(b1, g.size));
			return EXIT_FAILED;
		}
		part_grew = g.new_end != g.end;
		gpt_old_backup_discard(&g);
	}
	if (g.ext && g.fs_grows && fs_grow(&g) < 0)
		return EXIT_FAILED;
	if (fsync(fd) < 0) {
		log_errno(errno, "cannot write '%s'", arg_image);
		return EXIT_FAILED;
	}
	summary(&g, part_grew, g.fs_grows);
	return EXIT_DONE;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... --size SIZE IMG\n"
	       "Grow the disk image IMG to SIZE, its last partition to the new end of the\n"
	       "disk, and the ext2/3/4 filesystem in it to the new end of the partition.\n\n"
	       "  -s, --size=SIZE       the new size of IMG: a number of bytes with an optional\n"
	       "                        K, M, G or T suffix (1024-based), or +SIZE to add SIZE\n"
	       "  -p, --partition=N     grow partition N, which must be the last one on disk\n"
	       "                        (default: the last one on disk)\n"
	       "  -q, --quiet           only the summary and errors\n"
	       "  -v, --verbose         say more, and show e2fsck's and resize2fs's output\n"
	       "  -h, --help            show this help\n"
	       "  -V, --version         show the version\n\n"
	       "MBR and GPT partition tables are supported. Growing an ext2/3/4 filesystem\n"
	       "needs root, for a loop device.\n\n"
	       "Exit status: 0 done (also: already that size), 1 failed, 2 bad usage.\n",
	       log_program());
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "size", required_argument, NULL, 's' },
		{ "partition", required_argument, NULL, 'p' },
		CLI_COMMON_OPTIONS,
		{}
	};
	const char *size = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:p:" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 's':
			size = optarg;
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
	if (!size) {
		log_error("no size given: use --size SIZE");
		return -EINVAL;
	}
	r = size_parse(size, &arg_size, &arg_size_relative);
	if (r == -ERANGE) {
		log_error("size '%s' is too large", size);
		return r;
	}
	if (r == -EDOM) {
		log_error("size '%s' is not a whole number of bytes", size);
		return r;
	}
	if (r < 0) {
		log_error("invalid size '%s': want a number with an optional K, M, G or T suffix, "
			  "or +SIZE", size);
		return r;
	}
	if (arg_size % 512) {
		log_error("size '%s' is not a whole number of 512-byte sectors", size);
		return -EINVAL;
	}
	if (cli_operand(argc, argv, "no image given", &arg_image) < 0)
		return -EINVAL;
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
