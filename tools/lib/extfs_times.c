/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "extfs_times.h"

/* True if the inode's extra part holds the 32 bits at offset off. */
static int has_extra(const struct ext2_inode_large *in, size_t inode_size, size_t off)
{
	return inode_size > EXT2_GOOD_OLD_INODE_SIZE &&
	       EXT2_GOOD_OLD_INODE_SIZE + (size_t)in->i_extra_isize >= off + sizeof(__u32);
}

/* Sets *t (and its extra nanoseconds and epoch bits, if there) to epoch;
 * with clamp only if it is later. Returns whether anything changed. */
static int set_time(__u32 *t, __u32 *extra, uint32_t epoch, int clamp)
{
	int later = *t > epoch || (extra && *t == epoch && *extra != 0);

	if (clamp && !later)
		return 0;
	if (*t == epoch && (!extra || *extra == 0))
		return 0;
	*t = epoch;
	if (extra)
		*extra = 0;
	return 1;
}

static errcode_t clamp_all(ext2_filsys fs, uint32_t epoch, long *changed)
{
	size_t isize = EXT2_INODE_SIZE(fs->super);
	struct ext2_inode_large in;
	ext2_inode_scan scan;
	ext2_ino_t ino;
	errcode_t err;

	if (isize > sizeof(in))
		isize = sizeof(in);
	err = ext2fs_open_inode_scan(fs, 0, &scan);
	if (err)
		return err;
	for (;;) {
		int c = 0;

		err = ext2fs_get_next_inode_full(scan, &ino, (struct ext2_inode *)&in, (int)isize);
		if (err || ino == 0)
			break;
		if (in.i_links_count == 0 && in.i_mode == 0)
			continue;
#define EXTRA(f) (has_extra(&in, isize, offsetof(struct ext2_inode_large, f)) ? &in.f : NULL)
		c |= set_time(&in.i_atime, EXTRA(i_atime_extra), epoch, 0);
		c |= set_time(&in.i_ctime, EXTRA(i_ctime_extra), epoch, 0);
		c |= set_time(&in.i_mtime, EXTRA(i_mtime_extra), epoch, 1);
		if (EXTRA(i_crtime))
			c |= set_time(&in.i_crtime, EXTRA(i_crtime_extra), epoch, 0);
#undef EXTRA
		if (!c)
			continue;
		err = ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)&in, (int)isize);
		if (err)
			break;
		(*changed)++;
	}
	ext2fs_close_inode_scan(scan);
	return err;
}

long extfs_clamp_times(const char *path, uint64_t offset, uint32_t epoch)
{
	char opts[40];
	ext2_filsys fs = NULL;
	errcode_t err;
	long changed = 0;

	snprintf(opts, sizeof(opts), "offset=%llu", (unsigned long long)offset);
	err = ext2fs_open2(path, opts, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
	if (err)
		return err == EXT2_ET_BAD_MAGIC || err == EXT2_ET_SB_CSUM_INVALID ? -EINVAL : -EIO;
	/* Its own last write time too, unless E2FSPROGS_FAKE_TIME says. */
	if (!fs->now)
		fs->now = epoch;
	err = clamp_all(fs, epoch, &changed);
	if (err) {
		ext2fs_close_free(&fs);
		return -EIO;
	}
	err = ext2fs_close_free(&fs);
	return err ? -EIO : changed;
}
