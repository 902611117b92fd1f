/* SPDX-License-Identifier: MIT */
/*
 * The block map of an image in bmaptool's format (version 2.0): the ranges
 * of blocks that hold data, each with its SHA-256, so that "bmaptool copy"
 * writes only those and verifies them. The ranges come from the file's own
 * allocation (SEEK_DATA/SEEK_HOLE), as "bmaptool create" finds them.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

#define BMAP_BLOCK 4096

struct bmap_range {
	uint64_t first, last; /* blocks, inclusive */
	char sha256[SHA256_HEX_LEN + 1];
};

struct bmap {
	uint64_t image_size;
	struct bmap_range *ranges;
	size_t n;
	uint64_t mapped; /* blocks */
};

/* Finds the data ranges of fd (size bytes), block-aligned and merged. */
int bmap_scan(struct bmap *m, int fd, uint64_t size);
/* The bytes range r covers: [*start, *end), end clipped to the image. */
void bmap_range_bytes(const struct bmap *m, const struct bmap_range *r, uint64_t *start,
		      uint64_t *end);
/* The XML text, with its own checksum in it; *text is malloc()ed. */
int bmap_format(const struct bmap *m, char **text, size_t *len);
void bmap_free(struct bmap *m);
