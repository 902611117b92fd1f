/* SPDX-License-Identifier: MIT */
#include "sparse.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"
#include "outfile.h"

#define CHUNK (1u << 20)
#define EXTENTS 64

struct punch {
	int fd;
	unsigned char *buf;
	bool unsupported; /* the filesystem cannot punch: stop quietly */
};

static uint64_t block_up(uint64_t v)
{
	return (v + SPARSE_BLOCK - 1) / SPARSE_BLOCK * SPARSE_BLOCK;
}

static uint64_t block_down(uint64_t v)
{
	return v / SPARSE_BLOCK * SPARSE_BLOCK;
}

static void punch_range(struct punch *p, uint64_t start, uint64_t end)
{
	start = block_up(start);
	end = block_down(end);
	if (p->unsupported || end <= start)
		return;
	if (fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)start,
		      (off_t)(end - start)) < 0)
		p->unsupported = true;
}

/* Reads [start, end) and punches its whole zero blocks. */
static int punch_zeros(struct punch *p, uint64_t start, uint64_t end)
{
	uint64_t zero_from = UINT64_MAX, pos = block_up(start);

	while (pos < end && !p->unsupported) {
		size_t n = end - pos < CHUNK ? (size_t)(end - pos) : CHUNK;
		ssize_t got = pread(p->fd, p->buf, n, (off_t)pos);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			break; /* the file ends here */
		for (size_t i = 0; i < (size_t)got; i += SPARSE_BLOCK) {
			size_t b = (size_t)got - i < SPARSE_BLOCK ? (size_t)got - i : SPARSE_BLOCK;
			bool zero = b == SPARSE_BLOCK && mem_is_zero(p->buf + i, b);
			if (zero && zero_from == UINT64_MAX)
				zero_from = pos + i;
			else if (!zero && zero_from != UINT64_MAX) {
				punch_range(p, zero_from, pos + i);
				zero_from = UINT64_MAX;
			}
		}
		pos += (uint64_t)got;
	}
	if (zero_from != UINT64_MAX)
		punch_range(p, zero_from, pos);
	return 0;
}

/* With FIEMAP: unwritten (preallocated) extents read as zeros by
 * definition and go without reading; SEEK_DATA would skip them. */
static int walk_fiemap(struct punch *p, uint64_t off, uint64_t end)
{
	_cleanup_(freep) struct fiemap *fm = NULL;

	fm = calloc(1, sizeof(*fm) + EXTENTS * sizeof(struct fiemap_extent));
	if (!fm)
		return -ENOMEM;
	while (off < end && !p->unsupported) {
		bool last = false;

		fm->fm_start = off;
		fm->fm_length = end - off;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = EXTENTS;
		fm->fm_mapped_extents = 0;
		if (ioctl(p->fd, FS_IOC_FIEMAP, fm) < 0)
			return -errno;
		if (fm->fm_mapped_extents == 0)
			break;
		for (unsigned i = 0; i < fm->fm_mapped_extents; i++) {
			const struct fiemap_extent *e = &fm->fm_extents[i];
			uint64_t s = e->fe_logical > off ? e->fe_logical : off;
			uint64_t t = e->fe_logical + e->fe_length < end ? e->fe_logical + e->fe_length : end;
			int r;

			if (e->fe_flags & FIEMAP_EXTENT_UNWRITTEN)
				punch_range(p, s, t);
			else if ((r = punch_zeros(p, s, t)) < 0)
				return r;
			off = e->fe_logical + e->fe_length;
			last = last || (e->fe_flags & FIEMAP_EXTENT_LAST);
		}
		if (last)
			break;
	}
	return 0;
}

/* Without FIEMAP (tmpfs, for one): the data extents, as lseek sees them. */
static int walk_seek(struct punch *p, uint64_t off, uint64_t end)
{
	while (off < end && !p->unsupported) {
		off_t d = lseek(p->fd, (off_t)off, SEEK_DATA), h;
		int r;

		if (d < 0)
			return errno == ENXIO ? 0 : -errno; /* ENXIO: only holes follow */
		if ((uint64_t)d >= end)
			break;
		h = lseek(p->fd, d, SEEK_HOLE);
		if (h < 0)
			return -errno;
		off = (uint64_t)h < end ? (uint64_t)h : end;
		r = punch_zeros(p, (uint64_t)d, off);
		if (r < 0)
			return r;
	}
	return 0;
}

int sparse_punch_zeros(int fd, uint64_t off, uint64_t len)
{
	_cleanup_(freep) unsigned char *buf = malloc(CHUNK);
	struct punch p = { .fd = fd, .buf = buf };
	int r;

	if (!buf)
		return -ENOMEM;
	r = walk_fiemap(&p, off, off + len);
	if (r == -EOPNOTSUPP || r == -ENOTTY)
		r = walk_seek(&p, off, off + len);
	return r;
}
