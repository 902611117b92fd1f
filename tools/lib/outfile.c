/* SPDX-License-Identifier: MIT */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

bool mem_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	static const unsigned char zero[16];

	/* Check a head, then compare the buffer with itself shifted by 16:
	 * memcmp is vectorised, a byte loop is not. */
	if (len <= 16)
		return memcmp(p, zero, len) == 0;
	return memcmp(p, zero, 16) == 0 && memcmp(p, p + 16, len - 16) == 0;
}

int outfile_open(struct outfile *o, const char *path, bool overwrite)
{
	struct stat st;

	*o = (struct outfile)OUTFILE_INIT;
	if (!overwrite && lstat(path, &st) == 0)
		return -EEXIST;
	o->path = strdup(path);
	if (!o->path || asprintf(&o->part, "%s.part", path) < 0) {
		o->part = NULL;
		outfile_abort(o);
		return -ENOMEM;
	}
	/* Read-write: some writers (libfdisk) read back what they wrote. */
	o->fd = open(o->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o->fd < 0) {
		int r = -errno;
		free(o->part);
		o->part = NULL; /* nothing of ours to remove */
		outfile_abort(o);
		return r;
	}
	return 0;
}

static int pwrite_all(int fd, const unsigned char *p, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int outfile_pwrite(struct outfile *o, const void *buf, size_t len, uint64_t off)
{
	const unsigned char *p = buf;
	size_t i = 0, run = 0; /* pending data run: [i - run, i) */

	/* Walk blocks aligned to the file offset; coalesce non-zero blocks into
	 * one write, skip zero ones. The file is new, so skipped blocks read back
	 * as zeros. */
	while (i < len) {
		size_t blk = OUTFILE_BLOCK - (size_t)((off + i) % OUTFILE_BLOCK);
		if (blk > len - i)
			blk = len - i;
		if (mem_is_zero(p + i, blk)) {
			if (run) {
				int r = pwrite_all(o->fd, p + i - run, run, off + i - run);
				if (r < 0)
					return r;
				o->allocated += run;
				run = 0;
			}
		} else
			run += blk;
		i += blk;
	}
	if (run) {
		int r = pwrite_all(o->fd, p + len - run, run, off + len - run);
		if (r < 0)
			return r;
		o->allocated += run;
	}
	if (off + len > o->size)
		o->size = off + len;
	/* Writeback started as the data comes (outputs are written in order),
	 * not all at the commit's fsync: the disk works while we decompress. */
	if (o->size >= o->flushed + OUTFILE_FLUSH_STEP) {
		sync_file_range(o->fd, (off_t)o->flushed, (off_t)(o->size - o->flushed), SYNC_FILE_RANGE_WRITE);
		o->flushed = o->size;
	}
	return 0;
}

int outfile_copy_range(struct outfile *o, int fd, uint64_t off, uint64_t len)
{
	const size_t chunk = 1u << 20;
	unsigned char *buf = malloc(chunk);
	uint64_t end = off + len;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (off < end && r == 0) {
		off_t data = lseek(fd, (off_t)off, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break; /* a hole to the end of the file */
		if (data < 0) {
			data = (off_t)off; /* no SEEK_DATA here: all of it is data */
			hole = (off_t)end;
		} else {
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0)
				hole = (off_t)end;
		}
		if ((uint64_t)data >= end)
			break;
		if ((uint64_t)hole > end)
			hole = (off_t)end;
		for (off = (uint64_t)data; off < (uint64_t)hole && r == 0;) {
			size_t want = (uint64_t)hole - off < chunk ? (size_t)((uint64_t)hole - off) : chunk;
			ssize_t n = pread(fd, buf, want, (off_t)off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				r = n < 0 ? -errno : -EIO;
			else {
				r = outfile_pwrite(o, buf, (size_t)n, off);
				off += (uint64_t)n;
			}
		}
	}
	free(buf);
	return r;
}

/* fsync(fd), rename from to to (relative to at), fsync dirfd: the
 * directory that holds them. */
static int sync_rename(int fd, int at, const char *from, const char *to, int dirfd)
{
	/* The data first, so that the name never points at blocks a power
	 * cut could still lose; then the directory entry. */
	if (fsync(fd) < 0)
		return -errno;
	if (renameat(at, from, at, to) < 0)
		return -errno;
	return fsync(dirfd) < 0 ? -errno : 0;
}

int file_sync_renameat(int fd, int dirfd, const char *from, const char *to)
{
	return sync_rename(fd, dirfd, from, to, dirfd);
}

int file_sync_rename(int fd, const char *from, const char *to)
{
	_cleanup_(freep) char *dir = strdup(to);
	_cleanup_(closep) int dfd = -1;
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash)
		slash == dir ? (void)(slash[1] = 0) : (void)(*slash = 0);
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	return sync_rename(fd, AT_FDCWD, from, to, dfd);
}

int outfile_commit(struct outfile *o)
{
	int fd = o->fd, r;

	if (ftruncate(fd, (off_t)o->size) < 0)
		return -errno;
	r = file_sync_rename(fd, o->part, o->path);
	if (r < 0)
		return r;
	o->fd = -1;
	if (close(fd) < 0)
		return -errno;
	free(o->part);
	o->part = NULL;
	outfile_abort(o); /* frees the rest; nothing left to remove */
	return 0;
}

void outfile_abort(struct outfile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->part)
		unlink(o->part);
	free(o->part);
	free(o->path);
	o->part = o->path = NULL;
}
