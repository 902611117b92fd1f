/* SPDX-License-Identifier: MIT */
/*
 * img-pack: turn a finished disk image into what gets published: the
 * compressed image, its block map for bmaptool, a SHA256SUMS-style file and
 * an entry for Raspberry Pi Imager, in one pass over the image's data.
 *
 * The image is cut into pieces (xz: the Block size xz -T0 uses). The main
 * thread reads them in order, never reading the holes SEEK_DATA/SEEK_HOLE
 * report; worker threads compress them, each piece on its own, so that a
 * piece of nothing but zeros is compressed once and its result reused;
 * one thread hashes the image and the block map's ranges, in order; one
 * writes the compressed pieces, in order, and hashes them. A ring of slots
 * bounds the memory: a slot is reused once its piece is written and hashed.
 *
 * Every output is written to NAME.part and renamed only when all of them
 * are complete, so a failure leaves nothing under a final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bmap.h"
#include "cli.h"
#include "codec.h"
#include "common.h"
#include "format.h"
#include "hash.h"
#include "jsonout.h"
#include "log.h"
#include "outfile.h"
#include "progress.h"
#include "text.h"

static enum codec_format arg_format = CODEC_XZ;
static int arg_level = -1;
static unsigned arg_threads;
static const char *arg_out_dir;
static const char *arg_os_name;
static const char *arg_description;
static const char *arg_devices = "pi4-64bit";
static const char *arg_init_format;
static const char *arg_image;

enum slot_state { SLOT_FREE, SLOT_READ, SLOT_BUSY, SLOT_DONE };
enum stage { STAGE_READ = 1, STAGE_COMPRESS, STAGE_WRITE };

struct slot {
	uint64_t seq, off;
	size_t len;
	unsigned char *in;   /* piece bytes; unused for a zero piece */
	struct codec_out out;
	bool zero;           /* nothing but zeros: read from p->zeros */
	bool cached;         /* compressed form is p->zero_out */
	bool hashed, written;
	enum slot_state state;
};

struct pack {
	const char *path;
	int fd;
	uint64_t size;
	struct codec codec;
	struct bmap map;
	size_t piece;
	uint64_t npieces;

	struct slot *slots;
	unsigned nslots;
	unsigned char *zeros;       /* one piece of zeros (calloc: shared zero pages) */
	struct codec_out zero_out;  /* its compressed form, once computed */
	enum { ZERO_NONE, ZERO_COMPUTING, ZERO_READY } zero_state;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t next_read, next_compress;
	int err;
	enum stage err_stage;

	struct outfile out;
	bool write_out; /* false: --format none onto the image itself */
	struct sha256 img_sha, out_sha;
	uint64_t out_size;
	struct progress progress;
};

static struct slot *slot_of(struct pack *p, uint64_t seq)
{
	return &p->slots[seq % p->nslots];
}

/* Called with the lock held. The first failure wins; everyone stops. */
static void pack_fail(struct pack *p, int r, enum stage stage)
{
	if (!p->err) {
		p->err = r;
		p->err_stage = stage;
	}
	pthread_cond_broadcast(&p->cond);
}

static void slot_release(struct slot *s)
{
	if (s->hashed && s->written)
		s->state = SLOT_FREE;
}

static int out_alloc(struct codec_out *o, size_t size)
{
	if (o->buf)
		return 0;
	o->buf = malloc(size);
	if (!o->buf)
		return -ENOMEM;
	o->size = size;
	return 0;
}

/* ---- reading (main thread) ---- */

static int pread_all(int fd, unsigned char *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA; /* shorter than when it was measured */
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Reads the data ranges that overlap the slot's piece, zero-filling the
 * gaps between them; a piece without any is not read at all. *range is a
 * cursor into the block map, which pieces visit in order. */
static int piece_read(struct pack *p, struct slot *s, size_t *range)
{
	uint64_t end = s->off + s->len, pos = s->off;
	bool any = false;

	while (*range < p->map.n) {
		uint64_t rs, re, a, b;
		bmap_range_bytes(&p->map, &p->map.ranges[*range], &rs, &re);
		if (rs >= end)
			break;
		a = rs > s->off ? rs : s->off;
		b = re < end ? re : end;
		if (a < b) {
			if (!s->in && !(s->in = malloc(p->piece)))
				return -ENOMEM;
			memset(s->in + (pos - s->off), 0, a - pos);
			int r = pread_all(p->fd, s->in + (a - s->off), b - a, a);
			if (r < 0)
				return r;
			pos = b;
			any = true;
		}
		if (re > end)
			break; /* goes on in the next piece */
		(*range)++;
	}
	if (any)
		memset(s->in + (pos - s->off), 0, end - pos);
	s->zero = !any || mem_is_zero(s->in, s->len);
	return 0;
}

static void read_all(struct pack *p)
{
	size_t range = 0;

	for (uint64_t seq = 0; seq < p->npieces; seq++) {
		struct slot *s = slot_of(p, seq);
		int r;

		pthread_mutex_lock(&p->lock);
		while (!p->err && s->state != SLOT_FREE)
			pthread_cond_wait(&p->cond, &p->lock);
		pthread_mutex_unlock(&p->lock);
		if (p->err)
			return;

		s->seq = seq;
		s->off = seq * p->piece;
		s->len = p->size - s->off < p->piece ? (size_t)(p->size - s->off) : p->piece;
		s->cached = s->hashed = s->written = false;
		r = piece_read(p, s, &range);

		pthread_mutex_lock(&p->lock);
		if (r < 0)
			pack_fail(p, r, STAGE_READ);
		else {
			/* Nothing to compress without a format. */
			s->state = p->codec.format == CODEC_NONE ? SLOT_DONE : SLOT_READ;
			p->next_read = seq + 1;
			pthread_cond_broadcast(&p->cond);
		}
		pthread_mutex_unlock(&p->lock);
		if (r < 0)
			return;
	}
}

/* ---- compressing (workers) ---- */

static void *compress_thread(void *arg)
{
	struct pack *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->err && p->next_compress < p->npieces && p->next_compress >= p->next_read)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->err || p->next_compress >= p->npieces)
			break;
		struct slot *s = slot_of(p, p->next_compress++);
		bool full_zero = s->zero && s->len == p->piece, mine = false;
		s->state = SLOT_BUSY;
		if (full_zero && p->zero_state == ZERO_READY) {
			s->cached = true;
			s->state = SLOT_DONE;
			pthread_cond_broadcast(&p->cond);
			continue;
		}
		if (full_zero && p->zero_state == ZERO_NONE) {
			p->zero_state = ZERO_COMPUTING;
			mine = true;
		}
		pthread_mutex_unlock(&p->lock);

		struct codec_out *o = mine ? &p->zero_out : &s->out;
		int r = out_alloc(o, codec_bound(&p->codec, p->piece));
		if (r == 0)
			r = codec_piece(&p->codec, s->zero ? p->zeros : s->in, s->len, o);

		pthread_mutex_lock(&p->lock);
		if (r < 0) {
			pack_fail(p, r, STAGE_COMPRESS);
			break;
		}
		if (mine) {
			p->zero_state = ZERO_READY;
			s->cached = true;
		}
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- hashing the image and the block map's ranges ---- */

static int hash_range_done(struct bmap_range *rg, struct sha256 *h)
{
	int r = sha256_peek_hex(h, rg->sha256);
	sha256_free(h);
	return r < 0 ? r : sha256_init(h);
}

static void *hash_thread(void *arg)
{
	struct pack *p = arg;
	struct sha256 rh;
	size_t range = 0;
	int r = sha256_init(&rh);

	for (uint64_t seq = 0; r == 0 && seq < p->npieces; seq++) {
		struct slot *s = slot_of(p, seq);

		pthread_mutex_lock(&p->lock);
		while (!p->err && seq >= p->next_read)
			pthread_cond_wait(&p->cond, &p->lock);
		pthread_mutex_unlock(&p->lock);
		if (p->err)
			break;

		const unsigned char *data = s->zero ? p->zeros : s->in;
		uint64_t end = s->off + s->len;
		sha256_update(&p->img_sha, data, s->len);
		while (r == 0 && range < p->map.n) {
			struct bmap_range *rg = &p->map.ranges[range];
			uint64_t rs, re, a, b;
			bmap_range_bytes(&p->map, rg, &rs, &re);
			if (rs >= end)
				break;
			a = rs > s->off ? rs : s->off;
			b = re < end ? re : end;
			if (a < b)
				sha256_update(&rh, data + (a - s->off), b - a);
			if (re > end)
				break;
			r = hash_range_done(rg, &rh);
			range++;
		}

		pthread_mutex_lock(&p->lock);
		if (r < 0)
			pack_fail(p, r, STAGE_READ);
		s->hashed = true;
		slot_release(s);
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	sha256_free(&rh);
	return NULL;
}

/* ---- writing, in order ---- */

static int out_write(struct pack *p, const void *buf, size_t len)
{
	if (!p->write_out)
		return 0;
	sha256_update(&p->out_sha, buf, len);
	p->out_size += len;
	return outfile_write(&p->out, buf, len);
}

static int piece_write(struct pack *p, struct slot *s)
{
	const struct codec_out *o;
	int r;

	if (p->codec.format == CODEC_NONE) {
		if (!p->write_out)
			return 0;
		if (!s->zero)
			return outfile_write(&p->out, s->in, s->len);
		outfile_skip(&p->out, s->len);
		return 0;
	}
	o = s->cached ? &p->zero_out : &s->out;
	r = out_write(p, o->buf, o->len);
	return r < 0 ? r : codec_piece_written(&p->codec, o, s->len);
}

static void *write_thread(void *arg)
{
	struct pack *p = arg;
	unsigned char head[64];
	size_t len;
	int r;

	r = codec_header(&p->codec, head, sizeof(head), &len);
	if (r == 0)
		r = out_write(p, head, len);
	for (uint64_t seq = 0; r == 0 && seq < p->npieces; seq++) {
		struct slot *s = slot_of(p, seq);

		pthread_mutex_lock(&p->lock);
		while (!p->err && !(seq < p->next_read && s->state == SLOT_DONE))
			pthread_cond_wait(&p->cond, &p->lock);
		pthread_mutex_unlock(&p->lock);
		if (p->err)
			return NULL;

		r = piece_write(p, s);
		progress_update(&p->progress, s->off + s->len);

		pthread_mutex_lock(&p->lock);
		s->written = true;
		slot_release(s);
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	if (r < 0) {
		pthread_mutex_lock(&p->lock);
		pack_fail(p, r, r == -ENOMEM ? STAGE_COMPRESS : STAGE_WRITE);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* ---- the small files ---- */

static int text_write(struct outfile *o, const struct text *t)
{
	return t->err ? t->err : outfile_write(o, t->s, t->len);
}

/* Raspberry Pi Imager's os_list entry, written with jansson (jsonout.h). */
static int json_entry(struct text *t, const char *name, const char *url, uint64_t size,
		      const char *sha, uint64_t dl_size, const char *dl_sha)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	json_t *os, *devices;
	char date[16];
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t when = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	devices = json_array();
	for (const char *d = arg_devices; devices && *d;) {
		size_t n = strcspn(d, ",");
		char dev[128];
		snprintf(dev, sizeof(dev), "%.*s", (int)(n < sizeof(dev) ? n : sizeof(dev) - 1), d);
		json_array_append_new(devices, json_str(dev));
		d += n + (d[n] == ',');
	}
	os = json_pack("{s:o, s:o, s:o, s:I, s:s, s:I, s:s, s:s, s:o}",
		       "name", json_str(arg_os_name ? arg_os_name : name),
		       "description", json_str(arg_description ? arg_description : name),
		       "url", json_str(url), "extract_size", (json_int_t)size, "extract_sha256", sha,
		       "image_download_size", (json_int_t)dl_size, "image_download_sha256", dl_sha,
		       "release_date", date, "devices", devices);
	/* What Imager's settings dialog writes for the image (user, Wi-Fi...). */
	if (os && arg_init_format && json_object_set_new(os, "init_format", json_str(arg_init_format)) < 0) {
		json_decref(os);
		os = NULL;
	}
	root = os ? json_pack("{s:[o]}", "os_list", os) : NULL;
	return root ? json_text(root, t) : -ENOMEM;
}

/* ---- the image ---- */

static uint64_t le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	while (bytes--)
		v = v << 8 | p[bytes];
	return v;
}

/* Refuses what cannot be a whole disk image: empty, not whole sectors, no
 * partition table, or one that reaches past the end of the file (an MBR
 * partition, a GPT's backup header). Read by hand: libblkid does not see a
 * GPT whose backup is cut off at all, which would make "truncated" read as
 * "no partition table". */
static int image_check(struct pack *p)
{
	unsigned char b[1024];
	uint64_t sectors = p->size / 512;
	int r;

	if (p->size == 0) {
		log_error("cannot pack '%s': it is empty", p->path);
		return -EINVAL;
	}
	if (p->size % 512 || p->size < sizeof(b)) {
		log_error("cannot pack '%s': it is truncated (%" PRIu64 " bytes%s)", p->path, p->size,
			  p->size % 512 ? ", not whole 512-byte sectors" : "");
		return -EINVAL;
	}
	r = pread_all(p->fd, b, sizeof(b), 0);
	if (r < 0)
		return log_errno(r, "cannot read '%s'", p->path);
	if (b[510] != 0x55 || b[511] != 0xaa) {
		log_error("cannot pack '%s': it has no partition table", p->path);
		return -ENOMEDIUM;
	}
	if (memcmp(b + 512, "EFI PART", 8) == 0) {
		uint64_t alt = le(b + 512 + 32, 8);
		if (alt >= sectors) {
			log_error("cannot pack '%s': it is truncated (the GPT backup header is at sector %"
				  PRIu64 ", the file ends at sector %" PRIu64 ")", p->path, alt, sectors);
			return -EINVAL;
		}
		return 0;
	}
	for (int i = 0; i < 4; i++) {
		const unsigned char *e = b + 446 + 16 * i;
		uint64_t end = le(e + 8, 4) + le(e + 12, 4);
		if (e[4] != 0 && end > sectors) {
			log_error("cannot pack '%s': it is truncated (partition %d ends at sector %" PRIu64
				  ", the file at sector %" PRIu64 ")", p->path, i + 1, end, sectors);
			return -EINVAL;
		}
	}
	return 0;
}

static int pack_run(struct pack *p, pthread_t *threads, unsigned nthreads)
{
	unsigned started = 0;
	int r = 0;

	for (unsigned i = 0; i < nthreads; i++) {
		void *(*fn)(void *) = i == 0 ? write_thread : i == 1 ? hash_thread : compress_thread;
		r = -pthread_create(&threads[i], NULL, fn, p);
		if (r < 0) {
			pthread_mutex_lock(&p->lock);
			pack_fail(p, r, STAGE_COMPRESS);
			pthread_mutex_unlock(&p->lock);
			break;
		}
		started++;
	}
	if (r == 0)
		read_all(p);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	return p->err;
}

struct outputs {
	char *name; /* NAME, from NAME.img */
	char *packed, *bmap, *sums, *json; /* paths */
	const char *packed_base;           /* file name, for the sums and the JSON */
	struct outfile bmap_o, sums_o, json_o;
};

static int run(void)
{
	_cleanup_(closep) int fd = -1;
	struct pack p = { .path = arg_image, .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER,
			  .cond = PTHREAD_COND_INITIALIZER, .out = OUTFILE_INIT };
	struct outputs o = { .bmap_o = OUTFILE_INIT, .sums_o = OUTFILE_INIT, .json_o = OUTFILE_INIT };
	char img_hex[SHA256_HEX_LEN + 1], out_hex[SHA256_HEX_LEN + 1], b1[16], b2[16];
	struct text bmap_text = TEXT_INIT, sums = TEXT_INIT, json = TEXT_INIT;
	pthread_t *threads = NULL;
	struct stat st, ost;
	int r, ret = EXIT_FAILED;
	char *dup = NULL, *dir;
	const char *base;
	size_t len;

	fd = open(arg_image, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_errno(errno, "cannot open '%s'", arg_image);
		return EXIT_FAILED;
	}
	if (fstat(fd, &st) < 0) {
		log_errno(errno, "cannot stat '%s'", arg_image);
		return EXIT_FAILED;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("cannot pack '%s': not a regular file", arg_image);
		return EXIT_FAILED;
	}
	p.fd = fd;
	p.size = (uint64_t)st.st_size;
	if (image_check(&p) < 0)
		return EXIT_FAILED;

	/* Names: DIR/NAME.img -> OUTDIR/NAME.img.FORMAT and so on. */
	dup = strdup(arg_image);
	if (!dup)
		goto oom;
	base = strrchr(arg_image, '/') ? strrchr(arg_image, '/') + 1 : arg_image;
	len = strlen(base);
	if (len > 4 && strcmp(base + len - 4, ".img") == 0)
		len -= 4;
	dir = arg_out_dir ? (char *)arg_out_dir : dirname(dup);
	if (asprintf(&o.name, "%.*s", (int)len, base) < 0)
		goto oom;
	if (arg_format == CODEC_NONE)
		r = asprintf(&o.packed, "%s/%s.img", dir, o.name);
	else
		r = asprintf(&o.packed, "%s/%s.img.%s", dir, o.name, codec_name(arg_format));
	if (r < 0 || asprintf(&o.bmap, "%s/%s.img.bmap", dir, o.name) < 0 ||
	    asprintf(&o.sums, "%s/%s.sha256", dir, o.name) < 0 ||
	    asprintf(&o.json, "%s/%s.rpi-imager.json", dir, o.name) < 0)
		goto oom;
	o.packed_base = strrchr(o.packed, '/') + 1;

	r = codec_init(&p.codec, arg_format, arg_level);
	if (r < 0) {
		log_errno(r, "cannot set up %s compression", codec_name(arg_format));
		goto out;
	}
	r = bmap_scan(&p.map, fd, p.size);
	if (r < 0) {
		log_errno(r, "cannot read the block map of '%s'", arg_image);
		goto out;
	}
	p.piece = p.codec.piece;
	p.npieces = (p.size + p.piece - 1) / p.piece;
	p.nslots = arg_threads + 2;
	p.slots = calloc(p.nslots, sizeof(*p.slots));
	p.zeros = calloc(1, p.piece);
	threads = calloc(arg_threads + 2, sizeof(*threads));
	if (!p.slots || !p.zeros || !threads || sha256_init(&p.img_sha) < 0 ||
	    sha256_init(&p.out_sha) < 0)
		goto oom;

	/* --format none into the image's own directory: the image is its own
	 * packed form. */
	p.write_out = !(stat(o.packed, &ost) == 0 && ost.st_dev == st.st_dev && ost.st_ino == st.st_ino);
	if (p.write_out && (r = outfile_open(&p.out, o.packed, true)) < 0) {
		log_errno(r, "cannot create '%s'", o.packed);
		goto out;
	}
	if ((r = outfile_open(&o.bmap_o, o.bmap, true)) < 0 ||
	    (r = outfile_open(&o.sums_o, o.sums, true)) < 0 ||
	    (r = outfile_open(&o.json_o, o.json, true)) < 0) {
		log_errno(r, "cannot create files in '%s'", dir);
		goto out;
	}

	log_debug("%s: %s, %zu pieces of %s, %zu data ranges, %u threads", arg_image,
		  format_bytes(b1, p.size), (size_t)p.npieces, format_bytes(b2, p.piece), p.map.n,
		  arg_threads);
	progress_start(&p.progress, o.packed_base, p.size, 0);
	r = pack_run(&p, threads, arg_format == CODEC_NONE ? 2 : arg_threads + 2);
	progress_end(&p.progress);
	if (r < 0) {
		if (p.err_stage == STAGE_READ)
			log_errno(r, "cannot read '%s'", arg_image);
		else if (p.err_stage == STAGE_WRITE)
			log_errno(r, "cannot write '%s'", o.packed);
		else
			log_errno(r, "cannot compress '%s'", arg_image);
		goto out;
	}

	unsigned char *trailer;
	r = codec_trailer(&p.codec, &trailer, &len);
	if (r == 0) {
		r = out_write(&p, trailer, len);
		free(trailer);
	}
	if (r < 0) {
		log_errno(r, "cannot write '%s'", o.packed);
		goto out;
	}
	if (sha256_peek_hex(&p.img_sha, img_hex) < 0 || sha256_peek_hex(&p.out_sha, out_hex) < 0)
		goto oom;
	if (arg_format == CODEC_NONE) {
		memcpy(out_hex, img_hex, sizeof(out_hex));
		p.out_size = p.size;
	}

	r = bmap_format(&p.map, &bmap_text.s, &bmap_text.len);
	if (r < 0)
		goto oom;
	text_add(&sums, "%s  %s.img\n", img_hex, o.name);
	if (arg_format != CODEC_NONE)
		text_add(&sums, "%s  %s\n", out_hex, o.packed_base);
	if (json_entry(&json, o.name, o.packed_base, p.size, img_hex, p.out_size, out_hex) < 0)
		goto oom;
	if ((r = text_write(&o.bmap_o, &bmap_text)) < 0 || (r = text_write(&o.sums_o, &sums)) < 0 ||
	    (r = text_write(&o.json_o, &json)) < 0) {
		log_errno(r, "cannot write files in '%s'", dir);
		goto out;
	}
	/* All written: now the renames. */
	if ((p.write_out && (r = outfile_commit(&p.out)) < 0) || (r = outfile_commit(&o.bmap_o)) < 0 ||
	    (r = outfile_commit(&o.sums_o)) < 0 || (r = outfile_commit(&o.json_o)) < 0) {
		log_errno(r, "cannot write files in '%s'", dir);
		goto out;
	}
	log_notice("%s: %s, %s in %s (%.1f%%), %zu ranges in the block map", arg_image,
		   format_bytes(b1, p.size), codec_name(arg_format), format_bytes(b2, p.out_size),
		   100.0 * (double)p.out_size / (double)p.size, p.map.n);
	ret = EXIT_DONE;
	goto out;
oom:
	log_errno(ENOMEM, "cannot pack '%s'", arg_image);
out:
	outfile_abort(&p.out);
	outfile_abort(&o.bmap_o);
	outfile_abort(&o.sums_o);
	outfile_abort(&o.json_o);
	for (unsigned i = 0; p.slots && i < p.nslots; i++) {
		free(p.slots[i].in);
		free(p.slots[i].out.buf);
	}
	free(p.slots);
	free(p.zeros);
	free(p.zero_out.buf);
	free(threads);
	if (p.img_sha.ctx)
		sha256_free(&p.img_sha);
	if (p.out_sha.ctx)
		sha256_free(&p.out_sha);
	bmap_free(&p.map);
	codec_free(&p.codec);
	text_free(&bmap_text);
	text_free(&sums);
	text_free(&json);
	free(o.name);
	free(o.packed);
	free(o.bmap);
	free(o.sums);
	free(o.json);
	free(dup);
	return ret;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... IMAGE\n"
	       "Compress the disk image IMAGE (NAME.img) and write, beside it or in DIR,\n"
	       "NAME.img.FORMAT, its block map NAME.img.bmap, NAME.sha256 and\n"
	       "NAME.rpi-imager.json, in one pass over the image's data.\n\n"
	       "  -f, --format=FORMAT    xz (default), zst, gz or none\n"
	       "  -l, --level=N          compression level (default: the tool's own:\n"
	       "                         xz 6, zstd 3, gzip 6)\n"
	       "  -T, --threads=N        compressing threads (default: one per CPU)\n"
	       "  -o, --out-dir=DIR      where to write (default: IMAGE's directory)\n"
	       "      --os-name=TEXT     the name in the Imager entry (default: NAME)\n"
	       "      --description=TEXT its description (default: NAME)\n"
	       "      --devices=LIST     its devices, comma-separated (default: pi4-64bit)\n"
	       "      --init-format=F    how Imager may customise it: none, systemd,\n"
	       "                         cloudinit, cloudinit-rpi (default: not said)\n"
	       "  -q, --quiet            only the summary and errors\n"
	       "  -v, --verbose          say more\n"
	       "  -h, --help             show this help\n"
	       "  -V, --version          show the version\n\n"
	       "Exit status: 0 done, 1 failed, 2 bad usage.\n",
	       log_program());
}

static int parse_number(const char *opt, const char *s, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	if (errno || end == s || *end || *v < min || *v > max) {
		log_error("%s wants a number from %ld to %ld, not '%s'", opt, min, max, s);
		return -EINVAL;
	}
	return 0;
}

static int parse_argv(int argc, char **argv)
{
	enum { OPT_OS_NAME = 0x100, OPT_DESCRIPTION, OPT_DEVICES, OPT_INIT_FORMAT };
	static const struct option options[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "level", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 'T' },
		{ "out-dir", required_argument, NULL, 'o' },
		{ "os-name", required_argument, NULL, OPT_OS_NAME },
		{ "description", required_argument, NULL, OPT_DESCRIPTION },
		{ "devices", required_argument, NULL, OPT_DEVICES },
		{ "init-format", required_argument, NULL, OPT_INIT_FORMAT },
		CLI_COMMON_OPTIONS,
		{}
	};
	const char *level = NULL;
	long v;
	int c, min, max;

	while ((c = getopt_long(argc, argv, "f:l:T:o:" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 'f':
			if (codec_parse(optarg, &arg_format) < 0) {
				log_error("unknown format '%s': want xz, zst, gz or none", optarg);
				return -EINVAL;
			}
			break;
		case 'l':
			level = optarg;
			break;
		case 'T':
			if (parse_number("--threads", optarg, 1, 256, &v) < 0)
				return -EINVAL;
			arg_threads = (unsigned)v;
			break;
		case 'o':
			arg_out_dir = optarg;
			break;
		case OPT_OS_NAME:
			arg_os_name = optarg;
			break;
		case OPT_DESCRIPTION:
			arg_description = optarg;
			break;
		case OPT_DEVICES:
			arg_devices = optarg;
			break;
		case OPT_INIT_FORMAT:
			if (strcmp(optarg, "none") != 0 && strcmp(optarg, "systemd") != 0 &&
			    strcmp(optarg, "cloudinit") != 0 && strcmp(optarg, "cloudinit-rpi") != 0) {
				log_error("--init-format wants none, systemd, cloudinit or cloudinit-rpi, not '%s'",
					  optarg);
				return -EINVAL;
			}
			arg_init_format = optarg;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	codec_level_range(arg_format, &min, &max);
	if (level) {
		char opt[32];
		snprintf(opt, sizeof(opt), "--level for %s", codec_name(arg_format));
		if (parse_number(opt, level, min, max, &v) < 0)
			return -EINVAL;
		arg_level = (int)v;
	} else
		arg_level = codec_default_level(arg_format);
	if (!arg_threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		arg_threads = n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
	}
	if (cli_operand(argc, argv, "no image given", &arg_image) < 0)
		return -EINVAL;
	return 1;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
