/* SPDX-License-Identifier: MIT */
#include "bmap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "text.h"

static int range_add(struct bmap *m, uint64_t first, uint64_t last)
{
	if (m->n && m->ranges[m->n - 1].last + 1 >= first) {
		/* Touches the previous range (they met in a shared block). */
		if (last > m->ranges[m->n - 1].last) {
			m->mapped += last - m->ranges[m->n - 1].last;
			m->ranges[m->n - 1].last = last;
		}
		return 0;
	}
	if ((m->n & (m->n - 1)) == 0) { /* 0, 1, 2, 4, ...: double */
		size_t cap = m->n ? m->n * 2 : 16;
		struct bmap_range *p = realloc(m->ranges, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		m->ranges = p;
	}
	m->ranges[m->n++] = (struct bmap_range){ .first = first, .last = last };
	m->mapped += last - first + 1;
	return 0;
}

int bmap_scan(struct bmap *m, int fd, uint64_t size)
{
	off_t data = 0, hole;
	int r;

	*m = (struct bmap){ .image_size = size };
	while ((uint64_t)data < size) {
		data = lseek(fd, data, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO) /* only holes from here on */
				break;
			if (errno != EINVAL)
				return -errno;
			/* A filesystem without SEEK_DATA: all of it is data. */
			data = 0;
			hole = (off_t)size;
		} else {
			hole = lseek(fd, data, SEEK_HOLE);
			if (hole < 0)
				return -errno;
		}
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		if (hole <= data)
			break;
		r = range_add(m, (uint64_t)data / BMAP_BLOCK, ((uint64_t)hole - 1) / BMAP_BLOCK);
		if (r < 0)
			return r;
		data = hole;
	}
	return 0;
}

void bmap_range_bytes(const struct bmap *m, const struct bmap_range *r, uint64_t *start,
		      uint64_t *end)
{
	*start = r->first * BMAP_BLOCK;
	*end = (r->last + 1) * BMAP_BLOCK;
	if (*end > m->image_size)
		*end = m->image_size;
}

int bmap_format(const struct bmap *m, char **text, size_t *len)
{
	struct text t = TEXT_INIT;
	uint64_t blocks = (m->image_size + BMAP_BLOCK - 1) / BMAP_BLOCK;
	char size[16], sum[SHA256_HEX_LEN + 1];
	size_t sum_at;
	struct sha256 h;
	int r;

	format_bytes(size, m->image_size);
	text_add(&t,
		 "<?xml version=\"1.0\" ?>\n"
		 "<!-- The block map of an image: the ranges of blocks that hold data, each\n"
		 "     with its checksum. Blocks not listed are holes; \"bmaptool copy\" skips\n"
		 "     them. -->\n"
		 "<bmap version=\"2.0\">\n"
		 "    <!-- Image size in bytes: %s -->\n"
		 "    <ImageSize> %" PRIu64 " </ImageSize>\n\n"
		 "    <!-- Size of a block in bytes -->\n"
		 "    <BlockSize> %u </BlockSize>\n\n"
		 "    <!-- Count of blocks in the image file -->\n"
		 "    <BlocksCount> %" PRIu64 " </BlocksCount>\n\n"
		 "    <!-- Count of mapped blocks: %.1f%% of the image -->\n"
		 "    <MappedBlocksCount> %" PRIu64 " </MappedBlocksCount>\n\n"
		 "    <!-- Type of checksum used in this file -->\n"
		 "    <ChecksumType> sha256 </ChecksumType>\n\n"
		 "    <!-- The checksum of this bmap file, computed with this value all\n"
		 "         ASCII \"0\" -->\n"
		 "    <BmapFileChecksum> ",
		 size, m->image_size, BMAP_BLOCK, blocks, blocks ? 100.0 * (double)m->mapped / (double)blocks : 0.0,
		 m->mapped);
	sum_at = t.len;
	text_add(&t, "%0*d </BmapFileChecksum>\n\n    <BlockMap>\n", SHA256_HEX_LEN, 0);
	for (size_t i = 0; i < m->n; i++) {
		const struct bmap_range *rg = &m->ranges[i];
		if (rg->first == rg->last)
			text_add(&t, "        <Range chksum=\"%s\"> %" PRIu64 " </Range>\n", rg->sha256,
				 rg->first);
		else
			text_add(&t, "        <Range chksum=\"%s\"> %" PRIu64 "-%" PRIu64 " </Range>\n",
				 rg->sha256, rg->first, rg->last);
	}
	text_add(&t, "    </BlockMap>\n</bmap>\n");
	if (t.err) {
		free(t.s);
		return t.err;
	}
	r = sha256_init(&h);
	if (r < 0) {
		free(t.s);
		return r;
	}
	sha256_update(&h, t.s, t.len);
	r = sha256_peek_hex(&h, sum);
	sha256_free(&h);
	if (r < 0) {
		free(t.s);
		return r;
	}
	memcpy(t.s + sum_at, sum, SHA256_HEX_LEN);
	*text = t.s;
	*len = t.len;
	return 0;
}

void bmap_free(struct bmap *m)
{
	free(m->ranges);
	m->ranges = NULL;
	m->n = 0;
}
