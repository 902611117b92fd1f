/* SPDX-License-Identifier: MIT */
/*
 * img-extract: turn a downloaded vendor image (.img.xz, .img.gz, .zip, ...)
 * into a sparse raw .img.
 *
 * Decoding is split in two layers. A "source" yields the decompressed byte
 * stream: liblzma's multithreaded decoder for .xz (libarchive decodes xz on
 * one core only), libarchive's filters for everything else. The first bytes
 * of that stream tell a container (tar, zip) from a raw disk image; a
 * container is handed to libarchive's format readers, a raw image is written
 * out directly. Output goes through an outfile: sparse, under OUT.part until
 * it is complete.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "format.h"
#include "log.h"
#include "outfile.h"
#include "progress.h"

#define CHUNK (1u << 20)
#define PEEK 512 /* enough to see a tar header's "ustar" at 257 */

static bool arg_force;
static const char *arg_output;
static const char *arg_input;

/* ---- the decompressed stream ---- */

struct source {
	const char *name;
	int fd;
	uint64_t in_size;
	char err[256];

	/* .xz through liblzma */
	bool xz;
	lzma_stream lz;
	bool in_eof;
	uint64_t in_read;
	unsigned char *inbuf, *outbuf;

	/* anything else through libarchive's filters and its raw format */
	struct archive *a;

	/* bytes read ahead to detect the format, handed out first */
	unsigned char *peek;
	size_t peek_len;
	bool peek_pending;
};

/* The most the xz decoder may take. A header can ask for a dictionary of
 * up to 4 GiB per thread; images are made with 8 to 64 MiB (xz -6 to -9),
 * so a larger demand is refused rather than let a hostile file take the
 * machine's memory. Threads are dropped before this is reached. */
#define XZ_MEMLIMIT (UINT64_C(1) << 30)

static const char *lzma_strerror(lzma_ret r)
{
	switch (r) {
	case LZMA_MEM_ERROR:
		return "out of memory";
	case LZMA_FORMAT_ERROR:
		return "not in .xz format";
	case LZMA_OPTIONS_ERROR:
		return "unsupported .xz options";
	case LZMA_DATA_ERROR:
		return "compressed data is corrupt";
	case LZMA_BUF_ERROR:
		return "unexpected end of input (truncated file?)";
	default:
		return "xz decoder error";
	}
}

static int source_open(struct source *s, const char *name, int fd)
{
	static const unsigned char xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
	unsigned char magic[6];
	struct stat st;

	s->name = name;
	s->fd = fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISFIFO(st.st_mode))
		return -EINVAL;
	s->in_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	if (s->in_size == 0 && S_ISREG(st.st_mode)) {
		snprintf(s->err, sizeof(s->err), "file is empty");
		return -EINVAL;
	}

	s->xz = pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
		memcmp(magic, xz_magic, sizeof(magic)) == 0;
	if (s->xz) {
		lzma_mt mt = {
			.flags = LZMA_CONCATENATED,
			.threads = lzma_cputhreads(),
			.memlimit_threading = lzma_physmem() / 4 < XZ_MEMLIMIT ? lzma_physmem() / 4 : XZ_MEMLIMIT,
			.memlimit_stop = XZ_MEMLIMIT,
		};
		lzma_ret r;

		if (mt.threads == 0)
			mt.threads = 1;
		s->lz = (lzma_stream)LZMA_STREAM_INIT;
		r = lzma_stream_decoder_mt(&s->lz, &mt);
		if (r != LZMA_OK) {
			snprintf(s->err, sizeof(s->err), "%s", lzma_strerror(r));
			return -EINVAL;
		}
		s->inbuf = malloc(CHUNK);
		s->outbuf = malloc(CHUNK);
		if (!s->inbuf || !s->outbuf)
			return -ENOMEM;
		log_debug("decoding xz with %u threads", mt.threads);
		return 0;
	}

	s->a = archive_read_new();
	if (!s->a)
		return -ENOMEM;
	archive_read_support_filter_all(s->a);
	archive_read_support_format_raw(s->a);
	if (archive_read_open_fd(s->a, fd, CHUNK) != ARCHIVE_OK) {
		snprintf(s->err, sizeof(s->err), "%s", archive_error_string(s->a));
		return -EINVAL;
	}
	struct archive_entry *e;
	if (archive_read_next_header(s->a, &e) != ARCHIVE_OK) {
		snprintf(s->err, sizeof(s->err), "%s", archive_error_string(s->a));
		return -EINVAL;
	}
	log_debug("decoding with libarchive (%s)", archive_filter_name(s->a, 0));
	return 0;
}

/* Next piece of the stream: >0 bytes, 0 at the end, <0 on error (s->err). */
static ssize_t source_read_raw(struct source *s, const void **buf)
{
	if (s->xz) {
		lzma_ret r = LZMA_OK;

		s->lz.next_out = s->outbuf;
		s->lz.avail_out = CHUNK;
		while (s->lz.avail_out > 0 && r != LZMA_STREAM_END) {
			if (s->lz.avail_in == 0 && !s->in_eof) {
				ssize_t n = read(s->fd, s->inbuf, CHUNK);
				if (n < 0) {
					if (errno == EINTR)
						continue;
					snprintf(s->err, sizeof(s->err), "read error: %s", strerror(errno));
					return -errno;
				}
				s->in_eof = n == 0;
				s->in_read += (uint64_t)n;
				s->lz.next_in = s->inbuf;
				s->lz.avail_in = (size_t)n;
			}
			r = lzma_code(&s->lz, s->in_eof ? LZMA_FINISH : LZMA_RUN);
			if (r == LZMA_MEMLIMIT_ERROR) {
				char limit[16];
				snprintf(s->err, sizeof(s->err),
					 "decoding needs more memory than the limit of %s (XZ_MEMLIMIT)",
					 format_bytes(limit, XZ_MEMLIMIT));
				return -ENOMEM;
			}
			if (r != LZMA_OK && r != LZMA_STREAM_END) {
				snprintf(s->err, sizeof(s->err), "%s", lzma_strerror(r));
				return -EINVAL;
			}
		}
		*buf = s->outbuf;
		return (ssize_t)(CHUNK - s->lz.avail_out);
	}

	size_t size;
	la_int64_t off;
	int r = archive_read_data_block(s->a, buf, &size, &off);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK) {
		snprintf(s->err, sizeof(s->err), "%s", archive_error_string(s->a));
		return -EINVAL;
	}
	return (ssize_t)size;
}

static ssize_t source_read(struct source *s, const void **buf)
{
	if (s->peek_pending) {
		s->peek_pending = false;
		*buf = s->peek;
		return (ssize_t)s->peek_len;
	}
	return source_read_raw(s, buf);
}

/* Reads ahead at least PEEK bytes (unless the stream is shorter) and keeps
 * them to be handed out again by the next source_read(). */
static int source_peek(struct source *s, const unsigned char **head, size_t *len)
{
	size_t cap = CHUNK;

	s->peek = malloc(cap);
	if (!s->peek)
		return -ENOMEM;
	while (s->peek_len < PEEK) {
		const void *buf;
		ssize_t n = source_read_raw(s, &buf);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		if (s->peek_len + (size_t)n > cap) {
			unsigned char *p = realloc(s->peek, s->peek_len + (size_t)n);
			if (!p)
				return -ENOMEM;
			s->peek = p;
			cap = s->peek_len + (size_t)n;
		}
		memcpy(s->peek + s->peek_len, buf, (size_t)n);
		s->peek_len += (size_t)n;
	}
	s->peek_pending = true;
	*head = s->peek;
	*len = s->peek_len;
	return 0;
}

static uint64_t source_consumed(struct source *s)
{
	return s->xz ? s->in_read : (uint64_t)archive_filter_bytes(s->a, -1);
}

static void source_close(struct source *s)
{
	if (s->xz)
		lzma_end(&s->lz);
	if (s->a)
		archive_read_free(s->a);
	free(s->inbuf);
	free(s->outbuf);
	free(s->peek);
}

/* ---- output ---- */

/* The name of the image inside IN: IN without its compression suffix. */
static char *output_from_input(const char *in)
{
	static const char *const suffixes[] = { ".xz", ".gz", ".bz2", ".zst", ".zstd", ".lz4" };
	size_t len = strlen(in);

	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && strcasecmp(in + len - sl, suffixes[i]) == 0 && in[len - sl - 1] != '/')
			return strndup(in, len - sl);
	}
	return NULL;
}

/* For a container: the entry's base name, beside IN. */
static char *output_beside_input(const char *in, const char *entry)
{
	_cleanup_(freep) char *dir = strdup(in);
	const char *base = strrchr(entry, '/');
	char *out;

	if (!dir)
		return NULL;
	if (asprintf(&out, "%s/%s", dirname(dir), base ? base + 1 : entry) < 0)
		return NULL;
	return out;
}

static int output_open(struct outfile *o, const char *path)
{
	int r = outfile_open(o, path, arg_force);

	if (r == -EEXIST)
		log_error("'%s' exists; use -f to overwrite it", path);
	else if (r < 0)
		log_errno(r, "cannot create '%s.part'", path);
	return r;
}

struct progress_ctx {
	struct progress bar;
	struct source *src;
};

static int write_raw(struct source *s, struct outfile *o, struct progress_ctx *pc)
{
	for (;;) {
		const void *buf;
		ssize_t n = source_read(s, &buf);
		if (n == 0)
			return 0;
		if (n < 0) {
			log_error("'%s': %s", s->name, s->err);
			return -EINVAL;
		}
		int r = outfile_write(o, buf, (size_t)n);
		if (r < 0)
			return log_errno(r, "cannot write '%s'", o->part);
		progress_update(&pc->bar, source_consumed(s));
	}
}

/* ---- containers ---- */

static la_ssize_t container_read(struct archive *a, void *data, const void **buf)
{
	struct source *s = data;
	ssize_t n = source_read(s, buf);

	if (n < 0) {
		archive_set_error(a, EINVAL, "%s", s->err);
		return -1;
	}
	return n;
}

static bool is_image_name(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && strcasecmp(name + len - 4, ".img") == 0;
}

/* Appends name to a short ", "-separated list for the error message. */
static void list_add(char *list, size_t size, unsigned *count, const char *name)
{
	size_t len = strlen(list);

	(*count)++;
	if (*count <= 8)
		snprintf(list + len, size - len, "%s%s", len ? ", " : "", name);
	else if (*count == 9)
		snprintf(list + len, size - len, ", ...");
}

static int extract_entry(struct archive *a, struct archive_entry *e, struct outfile *o,
			 struct progress_ctx *pc)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF) {
			/* A sparse member (tar -S) whose end is a hole has no data
			 * block there: the member's size says where it ends. */
			if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
			    (uint64_t)archive_entry_size(e) > o->size)
				outfile_skip(o, (uint64_t)archive_entry_size(e) - o->size);
			return 0;
		}
		if (r != ARCHIVE_OK) {
			log_error("'%s': %s", arg_input, archive_error_string(a));
			return -EINVAL;
		}
		r = outfile_pwrite(o, buf, size, (uint64_t)off);
		if (r < 0)
			return log_errno(r, "cannot write '%s'", o->part);
		progress_update(&pc->bar, source_consumed(pc->src));
	}
}

static int write_container(struct source *s, struct outfile *o, struct progress_ctx *pc)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char names[512] = "", images[512] = "";
	unsigned n_names = 0, n_images = 0;
	int r;

	if (!a)
		return log_errno(ENOMEM, "cannot read '%s'", arg_input);
	archive_read_support_format_tar(a);
	archive_read_support_format_zip(a);
	if (archive_read_open(a, s, NULL, container_read, NULL) != ARCHIVE_OK) {
		log_error("'%s': %s", arg_input, archive_error_string(a));
		archive_read_free(a);
		return -EINVAL;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);

		list_add(names, sizeof(names), &n_names, name ? name : "?");
		if (!name || archive_entry_filetype(e) != AE_IFREG || !is_image_name(name))
			continue;
		list_add(images, sizeof(images), &n_images, name);
		if (n_images > 1)
			continue; /* keep listing, for the error below */

		_cleanup_(freep) char *out = arg_output ? strdup(arg_output) : output_beside_input(arg_input, name);
		if (!out)
			r = log_errno(ENOMEM, "cannot read '%s'", arg_input);
		else if ((r = output_open(o, out)) >= 0) {
			log_debug("extracting '%s' to '%s'", name, out);
			r = extract_entry(a, e, o, pc);
		}
		if (r < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		log_error("'%s': %s", arg_input, archive_error_string(a));
		r = -EINVAL;
	} else if (n_images == 0) {
		log_error("'%s' holds no .img file (it holds: %s)", arg_input, n_names ? names : "nothing");
		r = -ENOENT;
	} else if (n_images > 1) {
		log_error("'%s' holds %u .img files, expected one (%s)", arg_input, n_images, images);
		r = -EEXIST;
	} else
		r = 0;
out:
	archive_read_free(a);
	return r;
}

static bool is_container(const unsigned char *head, size_t len)
{
	if (len >= 4 && memcmp(head, "PK\3\4", 4) == 0)
		return true;
	return len >= 262 && memcmp(head + 257, "ustar", 5) == 0;
}

/* ---- main ---- */

static int run(void)
{
	_cleanup_(closep) int fd = -1;
	_cleanup_(outfile_abortp) struct outfile out = OUTFILE_INIT;
	struct source src = { .fd = -1 };
	struct progress_ctx pc = { .src = &src };
	const unsigned char *head = NULL;
	size_t head_len = 0;
	double t0 = now_seconds();
	char b1[16], b2[16], b3[16];
	int r;

	/* Said again by output_open(), but here before any decoding starts
	 * (an archive's member name is known only later). */
	if (arg_output && !arg_force && access(arg_output, F_OK) == 0) {
		log_error("'%s' exists; use -f to overwrite it", arg_output);
		return EXIT_FAILED;
	}
	fd = open(arg_input, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_errno(errno, "cannot open '%s'", arg_input);
		return EXIT_FAILED;
	}
	r = source_open(&src, arg_input, fd);
	if (r >= 0)
		r = source_peek(&src, &head, &head_len);
	if (r < 0) {
		if (src.err[0])
			log_error("'%s': %s", arg_input, src.err);
		else
			log_errno(r, "cannot read '%s'", arg_input);
		source_close(&src);
		return EXIT_FAILED;
	}

	progress_start(&pc.bar, arg_input, src.in_size, 0);
	if (is_container(head, head_len)) {
		log_debug("'%s' is an archive", arg_input);
		r = write_container(&src, &out, &pc);
	} else {
		_cleanup_(freep) char *name = arg_output ? strdup(arg_output) : output_from_input(arg_input);
		if (!name) {
			log_error("cannot name the image inside '%s'; give one with -o", arg_input);
			source_close(&src);
			return EXIT_USAGE;
		}
		r = output_open(&out, name);
		if (r >= 0)
			r = write_raw(&src, &out, &pc);
	}
	progress_end(&pc.bar);
	source_close(&src);
	if (r < 0)
		return EXIT_FAILED;

	uint64_t size = out.size, allocated = out.allocated;
	_cleanup_(freep) char *name = strdup(out.path);
	r = outfile_commit(&out);
	if (r < 0) {
		log_errno(r, "cannot rename '%s' into place", out.part);
		return EXIT_FAILED;
	}
	double dt = now_seconds() - t0;
	log_notice("%s: %s (%s allocated) in %.1fs, %s/s", name ? name : "done",
		   format_bytes(b1, size), format_bytes(b2, allocated), dt,
		   format_bytes(b3, dt > 0 ? (uint64_t)((double)size / dt) : 0));
	return EXIT_DONE;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... IN\n"
	       "Decompress a vendor disk image into a sparse raw image.\n\n"
	       "IN is a raw image compressed with xz, gzip, bzip2, zstd or lz4, a zip or\n"
	       "tar archive holding exactly one .img, or a plain .img to copy.\n\n"
	       "  -o, --output=OUT  write OUT (default: IN without its compression suffix,\n"
	       "                    or the archive member's name, beside IN)\n"
	       "  -f, --force       overwrite OUT if it exists\n"
	       "  -q, --quiet       no progress, only the summary and errors\n"
	       "  -v, --verbose     say more\n"
	       "  -h, --help        show this help\n"
	       "  -V, --version     show the version\n\n"
	       "Exit status: 0 done, 1 failed, 2 bad usage.\n",
	       log_program());
}

static int parse_argv(int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		CLI_COMMON_OPTIONS,
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "o:f" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 'o':
			arg_output = optarg;
			break;
		case 'f':
			arg_force = true;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (cli_operand(argc, argv, "no input given", &arg_input) < 0)
		return -EINVAL;
	if (arg_output && !*arg_output) {
		log_error("empty output name");
		return -EINVAL;
	}
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
