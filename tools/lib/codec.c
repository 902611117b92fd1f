/* SPDX-License-Identifier: MIT */
#include "codec.h"

#include <errno.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define XZ_CHECK LZMA_CHECK_CRC64 /* xz's default */

int codec_parse(const char *name, enum codec_format *f)
{
	static const struct {
		const char *name;
		enum codec_format f;
	} names[] = {
		{ "xz", CODEC_XZ }, { "zst", CODEC_ZST }, { "zstd", CODEC_ZST },
		{ "gz", CODEC_GZ }, { "gzip", CODEC_GZ }, { "none", CODEC_NONE },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0) {
			*f = names[i].f;
			return 0;
		}
	return -EINVAL;
}

const char *codec_name(enum codec_format f)
{
	switch (f) {
	case CODEC_GZ:
		return "gz";
	case CODEC_XZ:
		return "xz";
	case CODEC_ZST:
		return "zst";
	default:
		return "none";
	}
}

int codec_default_level(enum codec_format f)
{
	switch (f) {
	case CODEC_GZ:
		return 6;
	case CODEC_XZ:
		return 6;
	case CODEC_ZST:
		return 3;
	default:
		return 0;
	}
}

void codec_level_range(enum codec_format f, int *min, int *max)
{
	*min = f == CODEC_XZ ? 0 : f == CODEC_NONE ? 0 : 1;
	*max = f == CODEC_ZST ? 19 : f == CODEC_NONE ? 0 : 9;
}

int codec_init(struct codec *c, enum codec_format f, int level)
{
	lzma_options_lzma lz;

	*c = (struct codec){ .format = f, .level = level, .piece = 32 << 20 };
	if (f == CODEC_XZ) {
		if (lzma_lzma_preset(&lz, (uint32_t)level))
			return -EINVAL;
		/* As xz -T0: three times the dictionary, at least 1 MiB. */
		c->piece = (size_t)lz.dict_size * 3;
		if (c->piece < (1 << 20))
			c->piece = 1 << 20;
		c->index = lzma_index_init(NULL);
		if (!c->index)
			return -ENOMEM;
	} else if (f == CODEC_GZ)
		c->piece = 16 << 20;
	return 0;
}

void codec_free(struct codec *c)
{
	if (c->index)
		lzma_index_end(c->index, NULL);
	c->index = NULL;
}

size_t codec_bound(const struct codec *c, size_t len)
{
	switch (c->format) {
	case CODEC_XZ:
		return lzma_block_buffer_bound(len);
	case CODEC_ZST:
		return ZSTD_compressBound(len);
	case CODEC_GZ:
		/* deflateBound() without a stream: zlib's documented worst case
		 * plus the gzip header and trailer. */
		return len + (len >> 12) + (len >> 14) + (len >> 25) + 13 + 6 + 18;
	default:
		return len;
	}
}

static int xz_piece(const struct codec *c, const void *in, size_t len, struct codec_out *out)
{
	lzma_options_lzma lz;
	lzma_filter filters[2];
	lzma_block block = { 0 };
	lzma_ret ret;
	size_t pos = 0;

	if (lzma_lzma_preset(&lz, (uint32_t)c->level))
		return -EINVAL;
	filters[0] = (lzma_filter){ .id = LZMA_FILTER_LZMA2, .options = &lz };
	filters[1] = (lzma_filter){ .id = LZMA_VLI_UNKNOWN };
	block.version = 1;
	block.check = XZ_CHECK;
	block.filters = filters;
	ret = lzma_block_buffer_encode(&block, NULL, in, len, out->buf, &pos, out->size);
	if (ret == LZMA_MEM_ERROR)
		return -ENOMEM;
	if (ret != LZMA_OK)
		return -EIO;
	out->len = pos;
	out->unpadded = lzma_block_unpadded_size(&block);
	return 0;
}

static int zst_piece(const struct codec *c, const void *in, size_t len, struct codec_out *out)
{
	ZSTD_CCtx *cx = ZSTD_createCCtx();
	size_t n;

	if (!cx)
		return -ENOMEM;
	/* As the zstd CLI: a checksum, and the size in the frame header. */
	n = ZSTD_CCtx_setParameter(cx, ZSTD_c_compressionLevel, c->level);
	if (!ZSTD_isError(n))
		n = ZSTD_CCtx_setParameter(cx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(n))
		n = ZSTD_compress2(cx, out->buf, out->size, in, len);
	ZSTD_freeCCtx(cx);
	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
	out->len = n;
	return 0;
}

static int gz_piece(const struct codec *c, const void *in, size_t len, struct codec_out *out)
{
	z_stream z = { 0 };
	int r;

	/* 16 + 15: a gzip member with a 32 KiB window, as gzip writes. */
	r = deflateInit2(&z, c->level, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
	if (r != Z_OK)
		return r == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	z.next_out = out->buf;
	z.avail_out = (uInt)out->size;
	/* avail_in is 32 bits: feed big pieces in parts. */
	z.next_in = (unsigned char *)(uintptr_t)in;
	size_t left = len;
	do {
		uInt take = left > (1u << 30) ? 1u << 30 : (uInt)left;
		z.avail_in = take;
		left -= take;
		r = deflate(&z, left ? Z_NO_FLUSH : Z_FINISH);
	} while (left && r == Z_OK);
	out->len = (size_t)z.total_out;
	deflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -EIO;
}

int codec_piece(const struct codec *c, const void *in, size_t len, struct codec_out *out)
{
	switch (c->format) {
	case CODEC_XZ:
		return xz_piece(c, in, len, out);
	case CODEC_ZST:
		return zst_piece(c, in, len, out);
	case CODEC_GZ:
		return gz_piece(c, in, len, out);
	default:
		return -EINVAL;
	}
}

int codec_header(struct codec *c, unsigned char *buf, size_t size, size_t *len)
{
	lzma_stream_flags flags = { .version = 0, .check = XZ_CHECK };

	*len = 0;
	if (c->format != CODEC_XZ)
		return 0;
	if (size < LZMA_STREAM_HEADER_SIZE || lzma_stream_header_encode(&flags, buf) != LZMA_OK)
		return -EINVAL;
	*len = LZMA_STREAM_HEADER_SIZE;
	return 0;
}

int codec_piece_written(struct codec *c, const struct codec_out *out, size_t len)
{
	lzma_ret ret;

	if (c->format != CODEC_XZ)
		return 0;
	ret = lzma_index_append(c->index, NULL, out->unpadded, len);
	return ret == LZMA_OK ? 0 : ret == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
}

int codec_trailer(struct codec *c, unsigned char **buf, size_t *len)
{
	lzma_stream_flags flags = { .version = 0, .check = XZ_CHECK };
	size_t isize, pos = 0;
	unsigned char *b;

	*buf = NULL;
	*len = 0;
	if (c->format != CODEC_XZ)
		return 0;
	isize = (size_t)lzma_index_size(c->index);
	b = malloc(isize + LZMA_STREAM_HEADER_SIZE);
	if (!b)
		return -ENOMEM;
	if (lzma_index_buffer_encode(c->index, b, &pos, isize) != LZMA_OK) {
		free(b);
		return -EIO;
	}
	flags.backward_size = lzma_index_size(c->index);
	if (lzma_stream_footer_encode(&flags, b + pos) != LZMA_OK) {
		free(b);
		return -EIO;
	}
	*buf = b;
	*len = pos + LZMA_STREAM_HEADER_SIZE;
	return 0;
}
