/* SPDX-License-Identifier: MIT */
/*
 * Compressing an image in independent pieces, so that several threads can
 * work on it at once and a piece seen before (a run of zeros) costs nothing
 * the second time. Each piece becomes one self-contained unit that the
 * format's plain decompressor reads in sequence: an xz Block (with one
 * Stream header, Index and footer around all of them, as xz -T0 writes), a
 * zstd frame, a gzip member. "none" copies the image.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum codec_format {
	CODEC_NONE,
	CODEC_GZ,
	CODEC_XZ,
	CODEC_ZST,
};

struct codec {
	enum codec_format format;
	int level;
	size_t piece; /* bytes of input per piece */
	void *index;  /* xz: lzma_index of the Blocks written so far */
};

/* A compressed piece. */
struct codec_out {
	unsigned char *buf;
	size_t size;     /* allocated */
	size_t len;      /* used */
	uint64_t unpadded; /* xz: the Block's unpadded size, for the Index */
};

/* "xz" -> CODEC_XZ; -EINVAL for an unknown name. */
int codec_parse(const char *name, enum codec_format *f);
/* "xz", "zst", "gz", "none": the file name extension (without ".img."). */
const char *codec_name(enum codec_format f);
/* The level the format's CLI uses by default, and the range it takes. */
int codec_default_level(enum codec_format f);
void codec_level_range(enum codec_format f, int *min, int *max);

/* Picks the piece size: what the format's CLI uses per thread (xz -T0:
 * three times the dictionary). */
int codec_init(struct codec *c, enum codec_format f, int level);
void codec_free(struct codec *c);
/* The most a piece of len bytes can take compressed. */
size_t codec_bound(const struct codec *c, size_t len);
/* Compresses one piece into out (at least codec_bound() bytes). Safe to
 * call from several threads at once. Not for CODEC_NONE. */
int codec_piece(const struct codec *c, const void *in, size_t len, struct codec_out *out);
/* What goes before the first piece (xz: the Stream header). */
int codec_header(struct codec *c, unsigned char *buf, size_t size, size_t *len);
/* Records a piece as written, in order, len bytes of input (xz: an Index
 * record). */
int codec_piece_written(struct codec *c, const struct codec_out *out, size_t len);
/* What goes after the last piece (xz: Index and Stream footer); *buf is
 * malloc()ed. */
int codec_trailer(struct codec *c, unsigned char **buf, size_t *len);
