/* SPDX-License-Identifier: MIT */
#include "extfs.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define SUPERBLOCK_OFFSET 1024
#define SUPERBLOCK_SIZE 1024
#define EXT_MAGIC 0xEF53

#define COMPAT_SPARSE_SUPER2 0x0200
#define INCOMPAT_64BIT 0x0080
#define RO_COMPAT_SPARSE_SUPER 0x0001
#define RO_COMPAT_BIGALLOC 0x0200

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int extfs_read(int fd, uint64_t offset, struct extfs *fs)
{
	unsigned char sb[SUPERBLOCK_SIZE];
	uint32_t log_block, log_cluster, compat, incompat, ro_compat;
	ssize_t n;

	n = pread(fd, sb, sizeof(sb), (off_t)(offset + SUPERBLOCK_OFFSET));
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(sb) || le16(sb + 0x38) != EXT_MAGIC)
		return -EINVAL;

	log_block = le32(sb + 0x18);
	log_cluster = le32(sb + 0x1c);
	compat = le32(sb + 0x5c);
	incompat = le32(sb + 0x60);
	ro_compat = le32(sb + 0x64);
	/* 1 KiB to 64 KiB blocks, as the kernel and e2fsprogs accept. */
	if (log_block > 6)
		return -EINVAL;

	memset(fs, 0, sizeof(*fs));
	fs->block_size = 1024u << log_block;
	fs->is_64bit = incompat & INCOMPAT_64BIT;
	fs->blocks = le32(sb + 0x04);
	if (fs->is_64bit)
		fs->blocks |= (uint64_t)le32(sb + 0x150) << 32;
	fs->first_data_block = le32(sb + 0x14);
	fs->blocks_per_group = le32(sb + 0x20);
	fs->inodes_per_group = le32(sb + 0x28);
	/* Revision 0 has no s_inode_size: its inodes are 128 bytes. */
	fs->inode_size = le32(sb + 0x4c) == 0 ? 128 : le16(sb + 0x58);
	fs->desc_size = fs->is_64bit ? le16(sb + 0xfe) : 32;
	if (fs->desc_size < 32)
		fs->desc_size = 32;
	fs->reserved_gdt_blocks = le16(sb + 0xce);
	fs->compat = compat;
	fs->incompat = incompat;
	fs->ro_compat = ro_compat;
	memcpy(fs->hash_seed, sb + 0xec, sizeof(fs->hash_seed));
	fs->sparse_super = ro_compat & RO_COMPAT_SPARSE_SUPER;
	fs->sparse_super2 = compat & COMPAT_SPARSE_SUPER2;
	fs->backup_bgs[0] = le32(sb + 0x24c);
	fs->backup_bgs[1] = le32(sb + 0x250);
	if ((ro_compat & RO_COMPAT_BIGALLOC) && log_cluster > log_block)
		fs->cluster_bits = log_cluster - log_block;
	if (fs->blocks_per_group == 0 || fs->inodes_per_group == 0 || fs->inode_size == 0 ||
	    fs->desc_size > fs->block_size)
		return -EINVAL;
	return 0;
}

/* filetype, recover, journal_dev, meta_bg, extent, 64bit, mmp, flex_bg,
 * ea_inode, metadata_csum_seed, large_dir, inline_data, encrypt, casefold:
 * not compression or dirdata, which neither knows. */
#define INCOMPAT_PORTABLE 0x3e7deu
/* sparse_super, large_file, huge_file, gdt_csum, dir_nlink, extra_isize,
 * quota, bigalloc, metadata_csum, project, verity, orphan_present: not
 * read-only or shared_blocks, which forbid writing. */
#define RO_COMPAT_PORTABLE 0x1a77bu

bool extfs_features_unportable(const struct extfs *fs, uint32_t *incompat, uint32_t *ro_compat)
{
	*incompat = fs->incompat & ~INCOMPAT_PORTABLE;
	*ro_compat = fs->ro_compat & ~RO_COMPAT_PORTABLE;
	return *incompat || *ro_compat;
}

/* a is a power of b. */
static bool is_power_of(uint32_t a, uint32_t b)
{
	for (;;) {
		if (a < b)
			return false;
		if (a == b)
			return true;
		if (a % b)
			return false;
		a /= b;
	}
}

/* Whether block group g holds a backup superblock (ext2fs_bg_has_super). */
static bool group_has_super(const struct extfs *fs, uint64_t g)
{
	if (g == 0)
		return true;
	if (fs->sparse_super2)
		return g == fs->backup_bgs[0] || g == fs->backup_bgs[1];
	if (g <= 1 || !fs->sparse_super)
		return true;
	if (!(g & 1) || g > UINT32_MAX)
		return false;
	return is_power_of((uint32_t)g, 3) || is_power_of((uint32_t)g, 5) || is_power_of((uint32_t)g, 7);
}

static uint64_t div_ceil(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
}

int extfs_grow_target(const struct extfs *fs, uint64_t dev_bytes, uint64_t *blocks)
{
	uint64_t size = dev_bytes / fs->block_size, start, groups, rem, overhead;
	long page = sysconf(_SC_PAGESIZE);

	/* What resize2fs's main() does to the device size... */
	if (page > 0 && (uint64_t)page > fs->block_size)
		size &= ~((uint64_t)page / fs->block_size - 1);
	if (!fs->is_64bit) {
		if (size == 1ULL << 32)
			size--;
		else if (size > 1ULL << 32)
			return -EFBIG;
	}
	size &= ~((1ULL << fs->cluster_bits) - 1);
	start = size;

	/* ...and then adjust_new_size(): drop a last group that is too small
	 * for its bitmaps, inode table and backups, and one that would make
	 * the inode count overflow. */
	for (;;) {
		if (size <= fs->first_data_block) {
			size = start;
			break;
		}
		groups = div_ceil(size - fs->first_data_block, fs->blocks_per_group);
		overhead = 2 + div_ceil((uint64_t)fs->inodes_per_group * fs->inode_size, fs->block_size);
		if (fs->sparse_super2 ? fs->backup_bgs[groups == 2 ? 0 : 1] != 0
				      : group_has_super(fs, groups - 1))
			overhead += 1 + div_ceil(groups, fs->block_size / fs->desc_size) +
				    fs->reserved_gdt_blocks;
		rem = (size - fs->first_data_block) % fs->blocks_per_group;
		if (groups == 1 && rem && rem < overhead) {
			size = start;
			break;
		}
		if (groups > 1 && rem && rem < overhead + 50) {
			size -= rem;
			continue;
		}
		if ((uint64_t)fs->inodes_per_group * groups > UINT32_MAX) {
			if ((uint64_t)fs->inodes_per_group * (groups - 1) > UINT32_MAX) {
				size = start;
				break;
			}
			size = (uint64_t)fs->blocks_per_group * (groups - 1) + fs->first_data_block;
			continue;
		}
		break;
	}
	*blocks = size;
	return 0;
}
