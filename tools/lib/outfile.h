/* SPDX-License-Identifier: MIT */
/*
 * An output file that appears under its final name only when complete:
 * data goes to NAME.part, all-zero blocks become holes, and commit renames
 * it into place. Anything else (an error, a forgotten commit) removes the
 * .part again, so a failure never leaves a half-written NAME.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OUTFILE_BLOCK 4096
#define OUTFILE_FLUSH_STEP (32u << 20)

struct outfile {
	char *path; /* final name */
	char *part; /* NAME.part */
	int fd;
	uint64_t size;      /* logical size: the end of the furthest write */
	uint64_t allocated; /* bytes actually written (not holes) */
	uint64_t flushed;   /* writeback started up to here */
};

#define OUTFILE_INIT { .fd = -1 }

/* -EEXIST if path exists and !overwrite. */
int outfile_open(struct outfile *o, const char *path, bool overwrite);
/* Writes at off; whole zero blocks are skipped and stay holes. */
int outfile_pwrite(struct outfile *o, const void *buf, size_t len, uint64_t off);
static inline int outfile_write(struct outfile *o, const void *buf, size_t len)
{
	return outfile_pwrite(o, buf, len, o->size);
}
/* Copies [off, off + len) of the file open at fd to the same place in o:
 * its holes are not read, and its zero blocks stay holes. -errno on a read
 * or write error (-EIO: fd ends before off + len). */
int outfile_copy_range(struct outfile *o, int fd, uint64_t off, uint64_t len);
/* Adds len bytes of hole at the end. */
static inline void outfile_skip(struct outfile *o, uint64_t len)
{
	o->size += len;
}
/* fsync(fd), rename from to to, fsync to's directory: after a power cut,
 * to is either absent or whole. */
int file_sync_rename(int fd, const char *from, const char *to);
/* The same with from and to relative to dirfd (opened O_RDONLY). */
int file_sync_renameat(int fd, int dirfd, const char *from, const char *to);

/* Sets the final size (trailing holes), flushes data and directory entry
 * (file_sync_rename), closes. */
int outfile_commit(struct outfile *o);
/* Removes the .part; safe to call on a committed or unopened outfile. */
void outfile_abort(struct outfile *o);
static inline void outfile_abortp(struct outfile *o)
{
	outfile_abort(o);
}

/* True if the whole buffer is zero. */
bool mem_is_zero(const void *buf, size_t len);
