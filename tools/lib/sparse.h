/* SPDX-License-Identifier: MIT */
/*
 * Holes in files written by other programs. mkfs.vfat writes its FATs in
 * full, zeros included, and mke2fs preallocates its journal: blocks that
 * read as zeros but take space. Punching them out leaves a file that reads
 * the same and holds only its real data.
 */
#pragma once

#include <stdint.h>

/* Punches every whole, aligned all-zero block of SPARSE_BLOCK bytes in
 * [off, off + len) of fd out of the file (FALLOC_FL_PUNCH_HOLE): the
 * preallocated (unwritten) extents without reading them, the written ones
 * after reading them; holes are not visited (FIEMAP, or SEEK_DATA where
 * the filesystem has no FIEMAP). 0 also when the filesystem cannot punch
 * holes (nothing changes then); -errno on a read error. */
int sparse_punch_zeros(int fd, uint64_t off, uint64_t len);

#define SPARSE_BLOCK 4096
