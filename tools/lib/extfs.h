/* SPDX-License-Identifier: MIT */
/*
 * The superblock of an ext2/3/4 filesystem, read straight from the image,
 * and the size resize2fs gives it on a bigger device. Knowing that size up
 * front lets a tool tell "already grown" from "needs resize2fs" without
 * running e2fsck, which writes even when it finds nothing to fix.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct extfs {
	uint64_t blocks;      /* s_blocks_count, both halves */
	uint32_t block_size;  /* bytes */
	uint32_t first_data_block;
	uint32_t blocks_per_group;
	uint32_t inodes_per_group;
	uint32_t inode_size;
	uint32_t desc_size;   /* bytes per group descriptor */
	uint32_t reserved_gdt_blocks;
	uint32_t cluster_bits; /* log2(blocks per cluster), bigalloc */
	uint32_t backup_bgs[2]; /* sparse_super2 */
	bool sparse_super, sparse_super2, is_64bit;
	uint32_t compat, incompat, ro_compat; /* feature bits */
	uint8_t hash_seed[16]; /* s_hash_seed: the directory index's */
};

/* Reads the superblock of the filesystem that starts offset bytes into fd.
 * -EINVAL if there is no ext2/3/4 superblock there. */
int extfs_read(int fd, uint64_t offset, struct extfs *fs);

/* The block count resize2fs (e2fsprogs 1.47) grows fs to when its device
 * is dev_bytes long and no size is asked for: the device's whole blocks,
 * rounded down to a page and a cluster, less a last block group too small
 * to hold its own metadata. -EFBIG if that needs the 64bit feature. */
int extfs_grow_target(const struct extfs *fs, uint64_t dev_bytes, uint64_t *blocks);

/* The incompat and ro_compat feature bits of fs that e2fsprogs 1.47.0 (the
 * oldest e2fsck a made image must pass) or Linux 6.1 cannot both read and
 * write; false if there are none. Compat features are safe by definition. */
bool extfs_features_unportable(const struct extfs *fs, uint32_t *incompat, uint32_t *ro_compat);
