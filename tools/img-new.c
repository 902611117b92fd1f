/* SPDX-License-Identifier: MIT */
/*
 * img-new: make an empty disk image: a partition table (MBR or GPT) and a
 * fresh vfat or ext4 filesystem in each partition, as a sparse file, without
 * loop devices or root.
 *
 * The layout is worked out from the command line before anything is
 * created, so a refused run leaves no file at all. Then OUT.part is made
 * (a hole of the full size), libfdisk writes the table into it, mkfs.vfat
 * --offset and mkfs.ext4 -E offset= write the filesystems in place, the
 * zero blocks they wrote are punched out again, and OUT.part is renamed to
 * OUT. Identifiers are chosen here, not by the tools, so that they can be
 * printed, and so that with SOURCE_DATE_EPOCH they are derived from the
 * image's name and that value: two builds give the same bytes.
 *
 * --fill N=DIR writes DIR's files into partition N's new filesystem
 * (mke2fs -d; mtools' mcopy for vfat, a directory at a time in name order).
 * --like OLD takes OLD's size, partition table and every byte outside its
 * partitions, and gives each filled partition a new filesystem with the
 * old one's type, label, UUID (and ext4 hash seed); the others are copied.
 * Written from a tree in name order, with SOURCE_DATE_EPOCH every time in
 * it clamped (extfs_clamp_times, mtools' own use of the variable), the
 * same tree gives the same bytes whatever the history of the filesystem
 * it was read from.
 */
#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libfdisk.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "cli.h"
#include "command.h"
#include "common.h"
#include "disklabel.h"
#include "extfs.h"
#include "extfs_times.h"
#include "fatfill.h"
#include "format.h"
#include "log.h"
#include "outfile.h"
#include "parttable.h"
#include "size.h"
#include "sparse.h"

#define SECTOR 512u
#define GRAIN (1024u * 1024 / SECTOR) /* 1 MiB: libfdisk's default alignment */
#define GPT_TAIL 33u                  /* backup entries (128 x 128 bytes) and header */
#define DOS_MAX 4                     /* primary partitions only */
#define GPT_MAX 128
#define FAT32_MIN (33ull << 20)       /* room for 65525 clusters of 512 bytes */
#define UUID_STR 37

/* The name space of the identifiers derived with SOURCE_DATE_EPOCH. */
static const uuid_t uuid_ns = { 0xa3, 0xb8, 0x9c, 0x4a, 0xc8, 0xc8, 0x4e, 0xf7,
				0xb5, 0x90, 0x33, 0x57, 0x93, 0x1d, 0x64, 0x52 };

enum fs_type { FS_VFAT, FS_EXT4 };

static const struct fs_info {
	const char *name;
	size_t label_max;
	const char *mkfs;
	const char *package;
	unsigned char dos_type;
	const char *gpt_type;
} fs_info[] = {
	[FS_VFAT] = { "vfat", 11, "mkfs.vfat", "dosfstools", 0x0c, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" },
	[FS_EXT4] = { "ext4", 16, "mkfs.ext4", "e2fsprogs", 0x83, "0FC63DAF-8483-4772-8E79-3D69D8477DE4" },
};

struct part_spec {
	enum fs_type type;
	uint64_t size; /* bytes; 0 with rest */
	bool rest;
	char label[17]; /* "" for none */
	const char *arg;
	int nr;           /* its number in the table */
	const char *fill; /* --fill: the tree to write into it, or NULL */
	bool copy;        /* --like without --fill: OLD's bytes as they are */
	int fat_bits;     /* --like: 32 or 16 as OLD's; 0: chosen by size */
	bool old_seed;    /* --like: hash_seed is OLD's */
	/* --like: OLD's ext4 block size, inode size and inode count, which the
	 * new one keeps (a tree that fitted fits) */
	uint32_t block_size, inode_size;
	uint64_t inodes;
	uint8_t hash_seed[16];

	/* the layout, in sectors */
	uint64_t start, sectors;
	/* identifiers */
	char partuuid[UUID_STR]; /* GPT: the entry's GUID; MBR: DISKID-NN */
	char fsuuid[UUID_STR];   /* as blkid shows it */
	uuid_t fs_uuid;          /* ext4 */
	uint32_t vfat_id;
};

static bool arg_gpt;
static uint64_t arg_size;
static struct part_spec arg_parts[GPT_MAX];
static size_t arg_nparts;
static const char *arg_out;
static bool arg_reproducible;
static unsigned long long arg_epoch;
static const char *arg_like;
static const char *arg_seed; /* what identifiers derive from; NULL: OUT's file name */
#define FILL_MAX GPT_MAX
static struct {
	unsigned nr;
	const char *dir;
} arg_fills[FILL_MAX];
static size_t arg_nfills;

struct image {
	const char *path;
	struct outfile out;
	uint32_t disk_id;      /* MBR */
	char disk_guid[UUID_STR]; /* GPT */
};

static void image_abort(struct image *img)
{
	outfile_abort(&img->out);
}

/* ---- identifiers ---- */

/* A name-based UUID (SHA-1) from --seed (else OUT's file name),
 * SOURCE_DATE_EPOCH and what it names; a random one without
 * SOURCE_DATE_EPOCH. The directory is left out, so where the build runs
 * does not change the image. */
static void id_make(uuid_t u, const char *what)
{
	char name[4096];
	const char *base;
	int n;

	if (!arg_reproducible) {
		uuid_generate_random(u);
		return;
	}
	base = strrchr(arg_out, '/');
	base = arg_seed ? arg_seed : base ? base + 1 : arg_out;
	n = snprintf(name, sizeof(name), "%s\n%llu\n%s", base, arg_epoch, what);
	uuid_generate_sha1(u, uuid_ns, name, (size_t)n < sizeof(name) ? (size_t)n : sizeof(name) - 1);
}

static uint32_t id_u32(const uuid_t u)
{
	uint32_t v = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
	return v ? v : 1; /* 0 means "no identifier" in an MBR and to the kernel */
}

static void ids_assign(struct image *img)
{
	uuid_t u;
	char what[32];

	id_make(u, "disk");
	img->disk_id = id_u32(u);
	uuid_unparse_upper(u, img->disk_guid);
	for (size_t i = 0; i < arg_nparts; i++) {
		struct part_spec *p = &arg_parts[i];

		snprintf(what, sizeof(what), "partition %zu", i + 1);
		id_make(u, what);
		if (arg_gpt)
			uuid_unparse_lower(u, p->partuuid);
		else
			snprintf(p->partuuid, sizeof(p->partuuid), "%08" PRIx32 "-%02zx", img->disk_id, i + 1);
		snprintf(what, sizeof(what), "filesystem %zu", i + 1);
		id_make(p->fs_uuid, what);
		if (p->type == FS_VFAT) {
			p->vfat_id = id_u32(p->fs_uuid);
			snprintf(p->fsuuid, sizeof(p->fsuuid), "%04" PRIX32 "-%04" PRIX32,
				 p->vfat_id >> 16, p->vfat_id & 0xffff);
		} else
			uuid_unparse_lower(p->fs_uuid, p->fsuuid);
	}
}

/* ---- the layout ---- */

/* Places the partitions one after the other from 1 MiB on, each start
 * aligned to 1 MiB, as libfdisk would; refuses what does not fit. */
static int layout_plan(void)
{
	uint64_t total = arg_size / SECTOR, last, next = GRAIN;
	char b1[16], b2[16];

	last = arg_gpt ? (total > GPT_TAIL + 1 ? total - GPT_TAIL - 1 : 0) : total - 1;
	for (size_t i = 0; i < arg_nparts; i++) {
		struct part_spec *p = &arg_parts[i];
		uint64_t start = (next + GRAIN - 1) / GRAIN * GRAIN;

		if (start > last || (!p->rest && p->size / SECTOR > last - start + 1)) {
			log_error("partition %zu (%s) does not fit in %s: %s left from %s on", i + 1,
				  p->arg, format_bytes(b1, arg_size),
				  format_bytes(b2, start > last ? 0 : (last - start + 1) * SECTOR),
				  format_bytes((char[16]){ 0 }, start * SECTOR));
			return -ENOSPC;
		}
		p->start = start;
		p->sectors = p->rest ? last - start + 1 : p->size / SECTOR;
		if (!arg_gpt && (p->start + p->sectors > UINT32_MAX)) {
			log_error("partition %zu (%s) ends beyond 2 TiB, which an MBR partition table "
				  "cannot describe (use --table gpt)", i + 1, p->arg);
			return -EFBIG;
		}
		next = start + p->sectors;
		log_debug("partition %zu: sectors %" PRIu64 "-%" PRIu64, i + 1, p->start,
			  p->start + p->sectors - 1);
	}
	return 0;
}

/* ---- the partition table ---- */

static int table_add(struct fdisk_context *cxt, size_t i)
{
	struct part_spec *p = &arg_parts[i];
	const struct fs_info *fi = &fs_info[p->type];
	struct fdisk_label *lb = fdisk_get_label(cxt, NULL);
	struct fdisk_parttype *t;
	struct fdisk_partition *pa = fdisk_new_partition(), *got = NULL;
	int r;

	if (!pa)
		return -ENOMEM;
	t = arg_gpt ? fdisk_label_get_parttype_from_string(lb, fi->gpt_type)
		    : fdisk_label_get_parttype_from_code(lb, fi->dos_type);
	r = t ? 0 : -EINVAL;
	if (r == 0)
		r = fdisk_partition_set_type(pa, t);
	if (r == 0)
		r = fdisk_partition_set_partno(pa, i);
	if (r == 0)
		r = fdisk_partition_set_start(pa, p->start);
	/* Sizes are whole MiB; libfdisk would align the end of the rest
	 * down to one as well, unless it follows its default. */
	if (r == 0)
		r = p->rest ? fdisk_partition_end_follow_default(pa, 1)
			    : fdisk_partition_set_size(pa, p->sectors);
	if (r == 0 && arg_gpt) {
		r = fdisk_partition_set_uuid(pa, p->partuuid);
		if (r == 0 && p->label[0])
			r = fdisk_partition_set_name(pa, p->label);
	}
	if (r == 0)
		r = fdisk_add_partition(cxt, pa, NULL);
	fdisk_unref_partition(pa);
	if (r < 0)
		return r;
	/* The firmware boots from the active partition's FAT. */
	if (!arg_gpt && p->type == FS_VFAT) {
		bool first = true;
		for (size_t j = 0; j < i; j++)
			first = first && arg_parts[j].type != FS_VFAT;
		if (first && (r = fdisk_toggle_partition_flag(cxt, i, DOS_FLAG_ACTIVE)) < 0)
			return r;
	}
	/* What libfdisk made of it must be what was planned, for mkfs
	 * follows the plan; but the rest ends where libfdisk ends it, on a
	 * 1 MiB boundary where there is one. */
	r = fdisk_get_partition(cxt, i, &got);
	if (r == 0 && p->rest && fdisk_partition_get_start(got) == p->start &&
	    fdisk_partition_get_size(got) > 0 && fdisk_partition_get_size(got) <= p->sectors)
		p->sectors = fdisk_partition_get_size(got);
	if (r == 0 && (fdisk_partition_get_start(got) != p->start ||
		       fdisk_partition_get_size(got) != p->sectors)) {
		log_debug("libfdisk placed partition %zu at %ju+%ju, not %" PRIu64 "+%" PRIu64, i + 1,
			  (uintmax_t)fdisk_partition_get_start(got),
			  (uintmax_t)fdisk_partition_get_size(got), p->start, p->sectors);
		r = -ERANGE;
	}
	fdisk_unref_partition(got);
	return r;
}

static int table_write(struct image *img)
{
	_cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = fdisk_new_context();
	char id[UUID_STR];
	int r;

	if (!cxt)
		return log_errno(ENOMEM, "cannot write the partition table");
	fdisk_set_ask(cxt, disklabel_ask, NULL);
	r = fdisk_assign_device_by_fd(cxt, img->out.fd, img->out.part, 0);
	if (r == 0)
		r = fdisk_create_disklabel(cxt, arg_gpt ? "gpt" : "dos");
	if (r < 0)
		return log_errno(r, "cannot create a %s partition table in '%s'",
				 arg_gpt ? "GPT" : "MBR", img->out.part);
	if (fdisk_get_sector_size(cxt) != SECTOR || fdisk_get_grain_size(cxt) != GRAIN * SECTOR ||
	    fdisk_get_last_lba(cxt) + 1 < arg_parts[arg_nparts - 1].start + arg_parts[arg_nparts - 1].sectors) {
		log_error("cannot lay out '%s': libfdisk uses %lu-byte sectors, a %lu-byte grain and "
			  "ends at sector %ju", img->out.part, fdisk_get_sector_size(cxt),
			  fdisk_get_grain_size(cxt), (uintmax_t)fdisk_get_last_lba(cxt));
		return -ERANGE;
	}
	if (arg_gpt)
		snprintf(id, sizeof(id), "%s", img->disk_guid);
	else
		snprintf(id, sizeof(id), "0x%08" PRIx32, img->disk_id);
	r = fdisk_set_disklabel_id_from_string(cxt, id);
	if (r < 0)
		return log_errno(r, "cannot set the disk identifier of '%s'", img->out.part);
	for (size_t i = 0; i < arg_nparts; i++) {
		r = table_add(cxt, i);
		if (r < 0)
			return log_errno(r, "cannot add partition %zu (%s) to '%s'", i + 1,
					 arg_parts[i].arg, img->out.part);
	}
	r = fdisk_write_disklabel(cxt);
	if (r == 0)
		r = fdisk_deassign_device(cxt, 1); /* fsync, and no global sync() */
	if (r < 0)
		return log_errno(r, "cannot write the partition table of '%s'", img->out.part);
	return 0;
}

/* ---- the filesystems ---- */

/* With -v the tools' output is shown, on stderr: stdout is for results.
 * Without, nothing: mkfs.vfat warns that the partition is smaller than the
 * file, which is the point of --offset. */
static int tool_run(char *const argv[])
{
	return command_run(argv, log_enabled(LOG_DEBUG) ? COMMAND_STDOUT_TO_STDERR : COMMAND_SILENT);
}

static int fs_make(struct image *img, size_t i)
{
	struct part_spec *p = &arg_parts[i];
	const char *mkfs = fs_info[p->type].mkfs;
	char *argv[32];
	char label[24], volid[16], start[24], kib[32], ext_opts[128], uuid[UUID_STR], epoch[24], spc[8];
	char bsize[16], isize[16], inodes[24];
	size_t n = 0;
	int r;

	argv[n++] = (char *)mkfs;
	snprintf(kib, sizeof(kib), "%" PRIu64, p->sectors * SECTOR / 1024);
	if (p->type == FS_VFAT) {
		/* Before -i: --invariant also sets a volume id. */
		if (arg_reproducible)
			argv[n++] = "--invariant";
		if (p->fat_bits == 16) {
			argv[n++] = "-F16";
		} else if (p->fat_bits == 32 || (p->fat_bits == 0 && p->sectors * SECTOR >= FAT32_MIN)) {
			argv[n++] = "-F32";
			/* mkfs.vfat sizes clusters by the whole file, not by the
			 * partition: 4 KiB clusters would leave a small partition
			 * under FAT32's 65525 clusters, which readers then take
			 * for FAT16. The largest cluster up to 4 KiB that keeps
			 * it FAT32, with room for the FATs. */
			unsigned s = 8;
			while (s > 1 && p->sectors / s < 65525 + 4096)
				s /= 2;
			snprintf(spc, sizeof(spc), "%u", s);
			argv[n++] = "-s";
			argv[n++] = spc;
		}
		snprintf(volid, sizeof(volid), "%08" PRIX32, p->vfat_id);
		argv[n++] = "-i";
		argv[n++] = volid;
		snprintf(start, sizeof(start), "%" PRIu64, p->start);
		argv[n++] = "-h"; /* hidden sectors: where the partition starts */
		argv[n++] = start;
		snprintf(label, sizeof(label), "--offset=%" PRIu64, p->start);
		argv[n++] = label;
		if (p->label[0]) {
			argv[n++] = "-n";
			argv[n++] = p->label;
		}
		argv[n++] = img->out.part;
		argv[n++] = kib;
	} else {
		uuid_unparse_lower(p->fs_uuid, uuid);
		argv[n++] = "-F";
		argv[n++] = "-q";
		argv[n++] = "-U";
		argv[n++] = uuid;
		if (p->block_size) {
			snprintf(bsize, sizeof(bsize), "%" PRIu32, p->block_size);
			snprintf(isize, sizeof(isize), "%" PRIu32, p->inode_size);
			snprintf(inodes, sizeof(inodes), "%" PRIu64, p->inodes);
			argv[n++] = "-b";
			argv[n++] = bsize;
			argv[n++] = "-I";
			argv[n++] = isize;
			argv[n++] = "-N";
			argv[n++] = inodes;
		}
		/* The directory index's seed: OLD's, or derived like the UUID. */
		snprintf(ext_opts, sizeof(ext_opts), "offset=%" PRIu64 ",nodiscard", p->start * SECTOR);
		if (p->old_seed || arg_reproducible) {
			char seed[UUID_STR];
			uuid_unparse_lower(p->old_seed ? p->hash_seed : p->fs_uuid, seed);
			snprintf(ext_opts + strlen(ext_opts), sizeof(ext_opts) - strlen(ext_opts),
				 ",hash_seed=%s", seed);
		}
		if (arg_reproducible) {
			snprintf(epoch, sizeof(epoch), "%llu", arg_epoch);
			setenv("E2FSPROGS_FAKE_TIME", epoch, 1);
		}
		argv[n++] = "-E";
		argv[n++] = ext_opts;
		/* Written from the tree in name order, its files' times kept
		 * (clamped afterwards with SOURCE_DATE_EPOCH). */
		if (p->fill) {
			argv[n++] = "-d";
			argv[n++] = (char *)p->fill;
		}
		if (p->label[0]) {
			argv[n++] = "-L";
			argv[n++] = p->label;
		}
		argv[n++] = img->out.part;
		snprintf(kib + strlen(kib), sizeof(kib) - strlen(kib), "k");
		argv[n++] = kib;
	}
	argv[n] = NULL;

	log_info("partition %d: %s%s%s%s%s", p->nr, fs_info[p->type].name, p->label[0] ? " " : "",
		 p->label, p->fill ? " from " : "", p->fill ? p->fill : "");
	r = tool_run(argv);
	if (r < 0)
		return log_errno(r, "cannot run %s", mkfs);
	if (r != 0) {
		if (p->fill)
			log_error("cannot write '%s' into partition %d (%s of %s): %s exited with status "
				  "%d%s", p->fill, p->nr, fs_info[p->type].name,
				  format_bytes((char[16]){ 0 }, p->sectors * SECTOR), mkfs, r,
				  log_enabled(LOG_DEBUG) ? "" : " (too small? -v shows its output)");
		else
			log_error("cannot make the %s filesystem of partition %d: %s exited with status %d%s",
				  fs_info[p->type].name, p->nr, mkfs, r,
				  log_enabled(LOG_DEBUG) ? "" : " (-v shows its output)");
		return -EIO;
	}
	return 0;
}

/* ---- the filesystems' content (--fill) ---- */

static int fs_fill(struct image *img, size_t i)
{
	struct part_spec *p = &arg_parts[i];
	long r;

	if (!p->fill)
		return 0;
	if (p->type == FS_VFAT) {
		char what[64];

		snprintf(what, sizeof(what), "the vfat filesystem of partition %d", p->nr);
		return fat_fill(img->out.part, p->start * SECTOR, p->fill, !arg_reproducible, what);
	}
	if (!arg_reproducible)
		return 0;
	r = extfs_clamp_times(img->out.part, p->start * SECTOR, (uint32_t)arg_epoch);
	if (r < 0)
		return log_errno((int)r, "cannot set the times in partition %d of '%s'", p->nr,
				 img->out.part);
	log_debug("partition %d: %ld inodes' times set to SOURCE_DATE_EPOCH", p->nr, r);
	return 0;
}

/* Reads back what mkfs made: the type, identifier and label that will be
 * printed, and, for ext4, features that an older e2fsck (Debian 12's
 * 1.47.0) or kernel would refuse. */
static int fs_verify(struct image *img, size_t i)
{
	struct part_spec *p = &arg_parts[i];
	blkid_probe pr = blkid_new_probe();
	const char *type = "", *uuid = "", *label = "";
	char msg[160] = "";
	int r;

	if (!pr)
		return log_errno(ENOMEM, "cannot probe partition %d", p->nr);
	r = blkid_probe_set_device(pr, img->out.fd, (blkid_loff_t)(p->start * SECTOR),
				   (blkid_loff_t)(p->sectors * SECTOR));
	if (r == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
							      BLKID_SUBLKS_LABEL);
		r = blkid_do_safeprobe(pr);
	}
	if (r == 0) {
		blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
		blkid_probe_lookup_value(pr, "UUID", &uuid, NULL);
		blkid_probe_lookup_value(pr, "LABEL", &label, NULL);
		if (strcmp(type, fs_info[p->type].name) != 0 || strcmp(uuid, p->fsuuid) != 0 ||
		    strcmp(label, p->label) != 0)
			snprintf(msg, sizeof(msg), "found %s UUID=%s LABEL=%s", type, uuid, label);
	} else
		snprintf(msg, sizeof(msg), "no single filesystem found");
	blkid_free_probe(pr);
	if (msg[0]) {
		log_error("partition %d of '%s' is not the filesystem made: %s", p->nr,
			  img->out.part, msg);
		return -EIO;
	}
	if (p->type == FS_EXT4) {
		struct extfs sb;
		uint32_t inc, ro;

		r = extfs_read(img->out.fd, p->start * SECTOR, &sb);
		if (r < 0)
			return log_errno(r, "cannot read the ext4 superblock of partition %d", p->nr);
		if (extfs_features_unportable(&sb, &inc, &ro)) {
			log_error("mkfs.ext4 made partition %d with features e2fsprogs 1.47.0 or "
				  "Linux 6.1 cannot use (incompat 0x%" PRIx32 ", ro_compat 0x%" PRIx32
				  "); see mke2fs.conf", p->nr, inc, ro);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* ---- --like: another image's layout and identifiers ---- */

/* "ABCD-1234" as blkid shows a FAT volume id. */
static int vfat_id_parse(const char *s, uint32_t *id)
{
	unsigned hi, lo;
	char end;

	if (sscanf(s, "%4x-%4x%c", &hi, &lo, &end) != 2 || strlen(s) != 9)
		return -EINVAL;
	*id = (uint32_t)hi << 16 | lo;
	return 0;
}

/* The layout of OLD: its size and partitions; for each with a vfat or ext4
 * filesystem, its type, label, UUID and (ext4) hash seed. A partition with
 * any other content is copied as it is, and so may not be filled. */
static int like_read(void)
{
	struct part parts[PARTTABLE_MAX];
	struct stat st;
	int fd, n, r = 0;

	fd = open(arg_like, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = log_errno(errno, "cannot read '%s'", arg_like);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size % SECTOR) {
		log_error("cannot take the layout of '%s': not a disk image file", arg_like);
		r = -EINVAL;
		goto out;
	}
	n = parttable_read(arg_like, parts);
	if (n <= 0) {
		log_error("cannot take the layout of '%s': %s", arg_like,
			  n == -ENOMEDIUM || n == 0 ? "it has no partition table" : strerror(-n));
		r = -EINVAL;
		goto out;
	}
	arg_size = (uint64_t)st.st_size;
	arg_nparts = (size_t)n;
	for (int i = 0; i < n; i++) {
		struct part_spec *p = &arg_parts[i];
		struct part_fs fs;
		struct extfs sb;

		*p = (struct part_spec){ .nr = parts[i].nr, .arg = arg_like, .copy = true,
					 .start = parts[i].start / SECTOR,
					 .sectors = parts[i].size / SECTOR };
		if (parts[i].start % SECTOR || parts[i].size % SECTOR ||
		    parts[i].start + parts[i].size > arg_size) {
			log_error("cannot take the layout of '%s': partition %d lies outside it",
				  arg_like, p->nr);
			r = -EINVAL;
			goto out;
		}
		if (part_probe(fd, &parts[i], &fs) < 0)
			continue;
		snprintf(p->label, sizeof(p->label), "%.16s", fs.label);
		snprintf(p->fsuuid, sizeof(p->fsuuid), "%.36s", fs.uuid);
		if (strlen(fs.label) >= sizeof(p->label) || strlen(fs.uuid) >= sizeof(p->fsuuid))
			p->fat_bits = -1; /* not one this tool makes: only copied */
		else if (strcmp(fs.type, "vfat") == 0 && vfat_id_parse(fs.uuid, &p->vfat_id) == 0 &&
		    strlen(fs.label) <= fs_info[FS_VFAT].label_max) {
			p->type = FS_VFAT;
			p->fat_bits = strcmp(fs.version, "FAT32") == 0 ? 32 : 16;
		} else if (strcmp(fs.type, "ext4") == 0 && uuid_parse(fs.uuid, p->fs_uuid) == 0 &&
			   extfs_read(fd, parts[i].start, &sb) == 0) {
			p->type = FS_EXT4;
			memcpy(p->hash_seed, sb.hash_seed, sizeof(p->hash_seed));
			p->old_seed = true;
			p->block_size = sb.block_size;
			p->inode_size = sb.inode_size;
			if (sb.blocks_per_group)
				p->inodes = (uint64_t)sb.inodes_per_group *
					    ((sb.blocks - sb.first_data_block + sb.blocks_per_group - 1) /
					     sb.blocks_per_group);
		} else
			p->fat_bits = -1; /* neither: only copied */
	}
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* --fill N=DIR onto the partitions: N must be one, DIR a directory; in
 * --like mode a partition filled is made new, the others are copied. */
static int fills_assign(void)
{
	for (size_t k = 0; k < arg_nfills; k++) {
		struct part_spec *p = NULL;
		struct stat st;

		for (size_t i = 0; i < arg_nparts && !p; i++)
			if ((unsigned)arg_parts[i].nr == arg_fills[k].nr)
				p = &arg_parts[i];
		if (!p) {
			log_error("invalid fill '%u=%s': there is no partition %u", arg_fills[k].nr,
				  arg_fills[k].dir, arg_fills[k].nr);
			return -EINVAL;
		}
		if (p->fill) {
			log_error("invalid fill '%u=%s': partition %u is filled twice", arg_fills[k].nr,
				  arg_fills[k].dir, arg_fills[k].nr);
			return -EINVAL;
		}
		if (p->fat_bits < 0) {
			log_error("cannot fill partition %u of '%s': it holds no vfat or ext4 filesystem",
				  arg_fills[k].nr, arg_like);
			return -EINVAL;
		}
		if (stat(arg_fills[k].dir, &st) < 0) {
			log_error("cannot fill partition %u from '%s': %s", arg_fills[k].nr, arg_fills[k].dir,
				  strerror(errno));
			return -EINVAL;
		}
		if (!S_ISDIR(st.st_mode)) {
			log_error("cannot fill partition %u from '%s': not a directory", arg_fills[k].nr,
				  arg_fills[k].dir);
			return -EINVAL;
		}
		p->fill = arg_fills[k].dir;
		p->copy = false;
	}
	return 0;
}

/* What OLD has outside the partitions made new (the partition table, a
 * boot loader, the gaps, GPT's backup) and the partitions not filled. */
static int like_copy(struct image *img)
{
	uint64_t from = 0;
	int fd = open(arg_like, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return log_errno(errno, "cannot read '%s'", arg_like);
	for (size_t i = 0; i <= arg_nparts && r == 0; i++) {
		const struct part_spec *p = i < arg_nparts ? &arg_parts[i] : NULL;
		uint64_t to = p ? p->start * SECTOR : arg_size;

		if (p && p->copy)
			continue;
		if (to > from)
			r = outfile_copy_range(&img->out, fd, from, to - from);
		if (p && (p->start + p->sectors) * SECTOR > from)
			from = (p->start + p->sectors) * SECTOR;
	}
	close(fd);
	if (r < 0)
		return log_errno(r, "cannot copy '%s' into '%s'", arg_like, img->out.part);
	return 0;
}

/* ---- the image ---- */

static int run(void)
{
	_cleanup_(image_abort) struct image img = { .path = arg_out, .out = OUTFILE_INIT };
	char b1[16], b2[16];
	struct stat st;
	int r;

	/* ---- checks: nothing is created until all of them passed ---- */
	if (arg_like ? like_read() < 0 : layout_plan() < 0)
		return EXIT_FAILED;
	if (fills_assign() < 0)
		return EXIT_FAILED;
	if (lstat(arg_out, &st) == 0) {
		log_error("cannot create '%s': it exists", arg_out);
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < arg_nparts; i++) {
		const struct fs_info *fi = &fs_info[arg_parts[i].type];
		if (arg_parts[i].copy)
			continue;
		if (!command_exists(fi->mkfs)) {
			log_error("cannot make the %s filesystem of partition %d: %s is not installed (%s)",
				  fi->name, arg_parts[i].nr, fi->mkfs, fi->package);
			return EXIT_FAILED;
		}
		if (arg_parts[i].fill && arg_parts[i].type == FS_VFAT &&
		    (!command_exists("mcopy") || !command_exists("mmd"))) {
			log_error("cannot fill the vfat filesystem of partition %d: mcopy is not "
				  "installed (mtools)", arg_parts[i].nr);
			return EXIT_FAILED;
		}
	}
	if (!arg_like)
		ids_assign(&img);

	/* ---- writes, into OUT.part, removed again on any failure ---- */
	r = outfile_open(&img.out, arg_out, false);
	if (r < 0) {
		log_errno(r, r == -EEXIST ? "cannot create '%s'" : "cannot create '%s.part'", arg_out);
		return EXIT_FAILED;
	}
	if (ftruncate(img.out.fd, (off_t)arg_size) < 0) {
		log_errno(errno, "cannot make '%s' %s long", img.out.part, format_bytes(b1, arg_size));
		return EXIT_FAILED;
	}
	img.out.size = arg_size;
	if (arg_like ? like_copy(&img) < 0 : table_write(&img) < 0)
		return EXIT_FAILED;
	for (size_t i = 0; i < arg_nparts; i++)
		if (!arg_parts[i].copy &&
		    (fs_make(&img, i) < 0 || fs_verify(&img, i) < 0 || fs_fill(&img, i) < 0))
			return EXIT_FAILED;
	r = sparse_punch_zeros(img.out.fd, 0, arg_size);
	if (r < 0) {
		log_errno(r, "cannot read '%s'", img.out.part);
		return EXIT_FAILED;
	}
	if (fsync(img.out.fd) < 0 || fstat(img.out.fd, &st) < 0) {
		log_errno(errno, "cannot write '%s'", img.out.part);
		return EXIT_FAILED;
	}
	r = outfile_commit(&img.out);
	if (r < 0) {
		log_errno(r, "cannot rename '%s.part' to '%s'", arg_out, arg_out);
		return EXIT_FAILED;
	}

	for (size_t i = 0; i < arg_nparts; i++) {
		const struct part_spec *p = &arg_parts[i];
		if (arg_like)
			printf("%d %s %s UUID=%s\n", p->nr, p->copy ? "copied" : fs_info[p->type].name,
			       p->label[0] ? p->label : "-", p->fsuuid[0] ? p->fsuuid : "-");
		else
			printf("%d %s %s PARTUUID=%s UUID=%s\n", p->nr, fs_info[p->type].name,
			       p->label[0] ? p->label : "-", p->partuuid, p->fsuuid);
	}
	if (fflush(stdout) != 0) {
		log_errno(errno, "cannot write to stdout");
		return EXIT_FAILED;
	}
	log_notice("%s: %s, %s, %zu partition%s, %s allocated", arg_out, format_bytes(b1, arg_size),
		   arg_like ? "laid out as its model" : arg_gpt ? "GPT" : "MBR", arg_nparts, arg_nparts == 1 ? "" : "s",
		   format_bytes(b2, (uint64_t)st.st_blocks * 512));
	return EXIT_DONE;
}

/* ---- the command line ---- */

static bool label_char_ok(char c, enum fs_type t)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       (t == FS_EXT4 && c >= 'a' && c <= 'z');
}

/* TYPE:SIZE[:LABEL] */
static int part_parse(const char *arg)
{
	struct part_spec *p;
	const char *colon, *size_s, *label;
	char size[64];
	size_t tlen, slen;
	int r;

	if (arg_nparts == GPT_MAX) {
		log_error("too many partitions: at most %d", GPT_MAX);
		return -EINVAL;
	}
	p = &arg_parts[arg_nparts];
	p->arg = arg;
	p->nr = (int)arg_nparts + 1;
	colon = strchr(arg, ':');
	if (!colon) {
		log_error("invalid partition '%s': want TYPE:SIZE[:LABEL]", arg);
		return -EINVAL;
	}
	tlen = (size_t)(colon - arg);
	if (tlen == 4 && strncmp(arg, "vfat", 4) == 0)
		p->type = FS_VFAT;
	else if (tlen == 4 && strncmp(arg, "ext4", 4) == 0)
		p->type = FS_EXT4;
	else {
		log_error("invalid partition '%s': unknown type '%.*s' (vfat or ext4)", arg, (int)tlen, arg);
		return -EINVAL;
	}
	size_s = colon + 1;
	label = strchr(size_s, ':');
	slen = label ? (size_t)(label - size_s) : strlen(size_s);
	snprintf(size, sizeof(size), "%.*s", (int)(slen < sizeof(size) ? slen : sizeof(size) - 1), size_s);
	if (strcmp(size, "rest") == 0)
		p->rest = true;
	else {
		r = slen < sizeof(size) ? size_parse(size, &p->size, NULL) : -EINVAL;
		if (r < 0 || p->size == 0 || p->size % (GRAIN * SECTOR)) {
			log_error("invalid partition '%s': size '%s' is not 'rest' or a whole number of "
				  "MiB (512M, 1G, ...)", arg, size);
			return -EINVAL;
		}
	}
	if (label) {
		label++;
		if (strlen(label) > fs_info[p->type].label_max) {
			log_error("invalid partition '%s': %s labels hold at most %zu characters", arg,
				  fs_info[p->type].name, fs_info[p->type].label_max);
			return -EINVAL;
		}
		for (const char *c = label; *c; c++)
			if (!label_char_ok(*c, p->type) || (c == label && (*c == '-' || *c == '_'))) {
				log_error("invalid partition '%s': %s labels are made of %s, digits, '-' "
					  "and '_', and start with a letter or digit", arg,
					  fs_info[p->type].name,
					  p->type == FS_VFAT ? "capital letters" : "letters");
				return -EINVAL;
			}
		snprintf(p->label, sizeof(p->label), "%s", label);
	}
	arg_nparts++;
	return 0;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... --size SIZE --part TYPE:SIZE[:LABEL]... OUT\n"
	       "  or:  %s [OPTION]... --like OLD --fill N=DIR... OUT\n"
	       "Create the disk image OUT: a partition table and a new filesystem in each\n"
	       "partition, empty or filled from a directory, as a sparse file. Prints one\n"
	       "line per partition:\n"
	       "  N TYPE LABEL PARTUUID=... UUID=...\n\n"
	       "  -t, --table=dos|gpt   the partition table (default: dos)\n"
	       "  -s, --size=SIZE       the size of OUT: a number of bytes with an optional\n"
	       "                        K, M, G or T suffix (1024-based)\n"
	       "  -p, --part=TYPE:SIZE[:LABEL]\n"
	       "                        add a partition, in order: TYPE vfat or ext4, SIZE\n"
	       "                        as above or 'rest' (the last one only), LABEL up to\n"
	       "                        11 (vfat) or 16 (ext4) characters\n"
	       "  -f, --fill=N=DIR      write DIR's files into partition N's new filesystem\n"
	       "  -S, --seed=STRING     with SOURCE_DATE_EPOCH, identifiers derive from STRING\n"
	       "                        instead of OUT's file name\n"
	       "  -l, --like=OLD        OLD's size, partition table and bytes outside its\n"
	       "                        partitions; each filled partition made new with the\n"
	       "                        old filesystem's type, label and UUID, the others\n"
	       "                        copied. Prints N TYPE|copied LABEL UUID=...\n"
	       "  -q, --quiet           only the summary and errors\n"
	       "  -v, --verbose         say more, and show the mkfs tools' output\n"
	       "  -h, --help            show this help\n"
	       "  -V, --version         show the version\n\n"
	       "Partitions start on 1 MiB boundaries. With SOURCE_DATE_EPOCH set, the image\n"
	       "is reproducible: identifiers derive from OUT's name and that value, and the\n"
	       "times of filled files are clamped to it.\n\n"
	       "Exit status: 0 done, 1 failed, 2 bad usage.\n",
	       log_program(), log_program());
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "table", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "part", required_argument, NULL, 'p' },
		{ "like", required_argument, NULL, 'l' },
		{ "fill", required_argument, NULL, 'f' },
		{ "seed", required_argument, NULL, 'S' },
		CLI_COMMON_OPTIONS,
		{}
	};
	const char *size = NULL, *table = NULL, *sde;
	char *end;
	int c, r;

	while ((c = getopt_long(argc, argv, "t:s:p:l:f:S:" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 'l':
			arg_like = optarg;
			break;
		case 'S':
			if (!*optarg) {
				log_error("--seed wants a string, not nothing");
				return -EINVAL;
			}
			arg_seed = optarg;
			break;
		case 'f': {
			const char *eq = strchr(optarg, '=');
			char nr[8];
			unsigned n;

			snprintf(nr, sizeof(nr), "%.*s", eq ? (int)(eq - optarg) : 0, optarg);
			if (!eq || !eq[1] || eq - optarg >= (ptrdiff_t)sizeof(nr) ||
			    cli_partition(nr, &n) < 0) {
				if (eq && eq[1])
					return -EINVAL; /* cli_partition has said why */
				log_error("invalid fill '%s': want N=DIR", optarg);
				return -EINVAL;
			}
			if (arg_nfills == FILL_MAX) {
				log_error("too many fills: at most %d", FILL_MAX);
				return -EINVAL;
			}
			arg_fills[arg_nfills].nr = n;
			arg_fills[arg_nfills++].dir = eq + 1;
			break;
		}
		case 't':
			table = optarg;
			if (strcmp(optarg, "dos") == 0 || strcmp(optarg, "mbr") == 0)
				arg_gpt = false;
			else if (strcmp(optarg, "gpt") == 0)
				arg_gpt = true;
			else {
				log_error("invalid table '%s': want dos or gpt", optarg);
				return -EINVAL;
			}
			break;
		case 's':
			size = optarg;
			break;
		case 'p':
			if (part_parse(optarg) < 0)
				return -EINVAL;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (arg_like) {
		if (size || table || arg_nparts) {
			log_error("--like takes the size, table and partitions from '%s': --%s does not "
				  "go with it", arg_like, size ? "size" : table ? "table" : "part");
			return -EINVAL;
		}
		goto operand;
	}
	if (!size) {
		log_error("no size given: use --size SIZE");
		return -EINVAL;
	}
	r = size_parse(size, &arg_size, NULL);
	if (r == -ERANGE || (r == 0 && arg_size > (uint64_t)INT64_MAX)) {
		log_error("size '%s' is too large", size);
		return -ERANGE;
	}
	if (r < 0 || arg_size == 0) {
		log_error("invalid size '%s': want a number with an optional K, M, G or T suffix", size);
		return -EINVAL;
	}
	if (arg_size % SECTOR) {
		log_error("size '%s' is not a whole number of 512-byte sectors", size);
		return -EINVAL;
	}
	if (arg_nparts == 0) {
		log_error("no partition given: use --part TYPE:SIZE[:LABEL]");
		return -EINVAL;
	}
	for (size_t i = 0; i + 1 < arg_nparts; i++)
		if (arg_parts[i].rest) {
			log_error("invalid partition '%s': only the last partition can take the rest",
				  arg_parts[i].arg);
			return -EINVAL;
		}
	if (!arg_gpt && arg_nparts > DOS_MAX) {
		log_error("too many partitions: an MBR partition table holds %d (use --table gpt)",
			  DOS_MAX);
		return -EINVAL;
	}
operand:
	if (cli_operand(argc, argv, "no output file given", &arg_out) < 0)
		return -EINVAL;
	sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde) {
		errno = 0;
		arg_epoch = strtoull(sde, &end, 10);
		if (errno || *end || sde[0] < '0' || sde[0] > '9') {
			log_error("SOURCE_DATE_EPOCH='%s' is not a number of seconds", sde);
			return -EINVAL;
		}
		arg_reproducible = true;
	}
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
