/* SPDX-License-Identifier: MIT */
/*
 * The times of every inode of an ext2/3/4 filesystem, set to a build's
 * SOURCE_DATE_EPOCH with e2fsprogs' libext2fs: mke2fs -d copies each
 * file's atime and ctime from the tree it reads, and nobody can set a
 * ctime, so a filesystem written from a tree is only reproducible after
 * this pass.
 */
#pragma once

#include <stdint.h>

/* In the filesystem that starts offset bytes into the file at path (not
 * mounted): every inode in use gets atime, ctime and crtime = epoch, and its
 * mtime clamped to epoch (an older one is kept, with its nanoseconds).
 * Returns the number of inodes changed, or -errno (-EINVAL: not ext2/3/4). */
long extfs_clamp_times(const char *path, uint64_t offset, uint32_t epoch);
