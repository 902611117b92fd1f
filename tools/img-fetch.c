/* SPDX-License-Identifier: MIT */
/*
 * img-fetch: download a file, verified by SHA-256, resumable, with mirrors.
 *
 * The data goes to FILE.part and is hashed as it arrives; on resume the part
 * already on disk is hashed first, so the finished file is never read twice.
 * FILE appears (by rename) only once the hash matches, which makes an
 * existing FILE a valid cache entry.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "format.h"
#include "gpgv.h"
#include "hash.h"
#include "log.h"
#include "outfile.h"
#include "progress.h"
#include "resolve.h"
#include "srclock.h"
#include "strv.h"
#include "sumslist.h"

#define SUMS_MAX (1u << 20)

static const char *arg_output;
/* FILE as messages name it: DIR/FILE with -C. */
static char *arg_shown;
static const char *arg_dir; /* -C */
static char arg_sha256[SHA256_HEX_LEN + 1];
/* Where arg_sha256 came from: it decides what a mismatch names, and
 * whether a download vouches for the hash (trust on first use: none). */
static enum { HASH_NONE, HASH_PINNED, HASH_LIST, HASH_LOCK } hash_from;
#define SUMS_LISTS_MAX 8
/* The checksum lists (a list and its mirrors) and their signatures, in
 * order; arg_sha256sums and arg_sums_sig are the pair being tried. */
static const char *arg_sums_urls[SUMS_LISTS_MAX], *arg_sig_urls[SUMS_LISTS_MAX];
static unsigned arg_n_sums, arg_n_sigs;
static const char *arg_sha256sums;
static const char *arg_sums_sig;
static const char *arg_keyring;
static unsigned arg_retries = 3;
static bool arg_no_verify;
static bool arg_print;
static const char *arg_lock;
static bool arg_locked;
static const char *arg_pick;   /* --pick: the URLs are directories */
static bool arg_update_lock;
static char *arg_picked;       /* the file --pick chose */
static const char *arg_pick_dir; /* the first URL, the directory of the lock's entry */
static char **arg_urls;
static unsigned arg_n_urls;

/* How one attempt at one URL ended. */
enum outcome {
	DONE,
	TRANSIENT, /* worth retrying: timeouts, dropped connections, 5xx */
	PERMANENT, /* this URL will not work: 404, bad host, TLS failure */
	FATAL,     /* no URL will: a local write error */
	NOT_SATISFIABLE, /* 416: the .part may already be complete */
};

struct transfer {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
	char reason[256]; /* why an attempt failed, for one message line */
	int64_t range_start; /* from Content-Range; -1 if none */
	bool failed_locally; /* the write callback aborted */
};

/* ---- the file being downloaded ---- */

struct download {
	struct transfer t;
	const char *part;
	int fd;
	uint64_t have;  /* bytes in .part, all of them hashed */
	uint64_t start; /* have when this attempt began */
	bool started;   /* the first data of this attempt arrived */
	struct sha256 hash;
	struct progress bar;
};

static size_t on_header(char *line, size_t size, size_t n, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * n;
	unsigned long long first;

	/* A new status line (after a redirect) starts a new response. */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
		t->range_start = -1;
	else if (len > 14 && strncasecmp(line, "Content-Range:", 14) == 0 &&
		 sscanf(line + 14, " bytes %llu-", &first) == 1)
		t->range_start = (int64_t)first;
	return len;
}

static bool is_http(CURL *c)
{
	char *scheme = NULL;

	curl_easy_getinfo(c, CURLINFO_SCHEME, &scheme);
	return scheme && strncasecmp(scheme, "http", 4) == 0;
}

/* Called when the first data of an attempt arrives: settles where it goes. */
static int download_begin(struct download *d)
{
	long code = 0;
	curl_off_t len = -1;

	curl_easy_getinfo(d->t.curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(d->t.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	if (d->start > 0 && is_http(d->t.curl)) {
		if (code != 206) {
			/* The server ignored our Range and sends everything. */
			log_info("the server ignores Range; starting over from byte 0");
			if (ftruncate(d->fd, 0) < 0)
				return -errno;
			sha256_free(&d->hash);
			if (sha256_init(&d->hash) < 0)
				return -ENOMEM;
			d->have = d->start = 0;
		} else if (d->t.range_start != (int64_t)d->start) {
			snprintf(d->t.reason, sizeof(d->t.reason),
				 "the server sent a range starting at %" PRId64 ", not %" PRIu64,
				 d->t.range_start, d->start);
			return -EPROTO;
		}
	}
	progress_start(&d->bar, arg_shown, len >= 0 ? d->start + (uint64_t)len : 0, d->start);
	d->started = true;
	return 0;
}

static size_t on_data(char *buf, size_t size, size_t n, void *userdata)
{
	struct download *d = userdata;
	size_t len = size * n, done = 0;
	int r;

	if (!d->started && (r = download_begin(d)) < 0) {
		if (!d->t.reason[0])
			snprintf(d->t.reason, sizeof(d->t.reason), "cannot write '%s': %s", d->part, strerror(-r));
		d->t.failed_locally = r != -EPROTO;
		return 0;
	}
	while (done < len) {
		ssize_t w = pwrite(d->fd, buf + done, len - done, (off_t)(d->have + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(d->t.reason, sizeof(d->t.reason), "cannot write '%s': %s", d->part, strerror(errno));
			d->t.failed_locally = true;
			return 0;
		}
		done += (size_t)w;
	}
	sha256_update(&d->hash, buf, len);
	d->have += len;
	progress_update(&d->bar, d->have);
	return len;
}

/* ---- one attempt, classified ---- */

static bool url_is_https(const char *url)
{
	return strncasecmp(url, "https://", 8) == 0;
}

static enum outcome transfer_run(struct transfer *t, const char *url)
{
	CURLcode res;
	long code = 0;

	t->errbuf[0] = t->reason[0] = 0;
	t->range_start = -1;
	t->failed_locally = false;
	curl_easy_setopt(t->curl, CURLOPT_URL, url);
	/* What came over https stays on https: a redirect to plain http
	 * would hand the rest to whoever is on the path. */
	curl_easy_setopt(t->curl, CURLOPT_REDIR_PROTOCOLS_STR, url_is_https(url) ? "https" : "http,https");
	res = curl_easy_perform(t->curl);
	if (res == CURLE_OK)
		return DONE;
	if (res == CURLE_UNSUPPORTED_PROTOCOL && url_is_https(url)) {
		snprintf(t->reason, sizeof(t->reason), "redirected from https to a plain http URL; refused");
		return PERMANENT;
	}
	if (res == CURLE_WRITE_ERROR && t->reason[0])
		return t->failed_locally ? FATAL : PERMANENT;

	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
	if (res == CURLE_HTTP_RETURNED_ERROR) {
		snprintf(t->reason, sizeof(t->reason), "HTTP error %ld", code);
		if (code == 416)
			return NOT_SATISFIABLE;
		return code == 408 || code == 429 || code >= 500 ? TRANSIENT : PERMANENT;
	}
	snprintf(t->reason, sizeof(t->reason), "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(res));
	switch (res) {
	case CURLE_BAD_DOWNLOAD_RESUME: /* file:// asked to resume at its end */
		return NOT_SATISFIABLE;
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return TRANSIENT;
	default:
		return PERMANENT;
	}
}

static int transfer_init(struct transfer *t, curl_write_callback on_write, void *userdata)
{
	CURL *c = curl_easy_init();

	if (!c)
		return -ENOMEM;
	t->curl = c;
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "img-fetch/" VERSION);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A stalled transfer is a transient error, not a hang. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, userdata);
	return 0;
}

static void backoff(unsigned attempt)
{
	unsigned s = attempt < 5 ? 1u << attempt : 30;
	struct timespec ts = { .tv_sec = s > 30 ? 30 : s };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- the SHA256SUMS file ---- */

struct membuf {
	struct transfer t;
	char *data;
	size_t len;
};

static size_t on_sums_data(char *buf, size_t size, size_t n, void *userdata)
{
	struct membuf *m = userdata;
	size_t len = size * n;
	char *p;

	if (m->len + len > SUMS_MAX) {
		snprintf(m->t.reason, sizeof(m->t.reason), "larger than %u bytes; not a checksum list", SUMS_MAX);
		return 0;
	}
	p = realloc(m->data, m->len + len + 1);
	if (!p) {
		snprintf(m->t.reason, sizeof(m->t.reason), "out of memory");
		return 0;
	}
	m->data = p;
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	m->data[m->len] = 0;
	return len;
}

/* The last path component of a URL, without query or fragment. */
static char *url_basename(const char *url)
{
	const char *path = strstr(url, "://");
	const char *p, *end;

	path = path ? strchr(path + 3, '/') : url;
	if (!path)
		return NULL;
	end = path + strcspn(path, "?#");
	for (p = end; p > path && p[-1] != '/'; p--)
		;
	return p < end ? strndup(p, (size_t)(end - p)) : NULL;
}

/* A small file (a checksum list, its signature) into m, with retries. */
static int small_fetch(struct membuf *m, const char *url)
{
	enum outcome o = PERMANENT;

	if (transfer_init(&m->t, on_sums_data, m) < 0)
		return log_errno(ENOMEM, "cannot set up a transfer");
	for (unsigned attempt = 0; attempt <= arg_retries; attempt++) {
		free(m->data);
		m->data = NULL;
		m->len = 0;
		o = transfer_run(&m->t, url);
		if (o != TRANSIENT)
			break;
		if (attempt < arg_retries) {
			log_info("%s: %s; retrying", url, m->t.reason);
			backoff(attempt);
		}
	}
	curl_easy_cleanup(m->t.curl);
	m->t.curl = NULL;
	if (o != DONE)
		return log_error("%s: %s", url, m->t.reason), -EIO;
	if (!m->data)
		return log_error("%s is empty", url), -EIO;
	return 0;
}

/* One list: 0 done, -EAGAIN worth trying the next list (it could not be
 * fetched, or has no line for the file), -EIO not. */
static int sums_fetch_one(const char *name)
{
	struct membuf m = { 0 }, sig = { 0 };
	char hex[SHA256_HEX_LEN + 1];
	int r = -EIO;

	if (small_fetch(&m, arg_sha256sums) < 0) {
		r = -EAGAIN;
		goto out;
	}
	/* Checked before any line of it is read. */
	if (arg_sums_sig) {
		if (small_fetch(&sig, arg_sums_sig) < 0) {
			r = -EAGAIN;
			goto out;
		}
		r = gpgv_verify(arg_keyring, m.data, m.len, sig.data, sig.len);
		if (r == -ENOENT && access(arg_keyring, F_OK) == 0)
			log_error("gpgv is not installed (Debian package: gpgv); cannot check %s", arg_sums_sig);
		else if (r == -EBADMSG)
			log_error("%s is not a good signature of %s by a key in '%s'", arg_sums_sig, arg_sha256sums,
				  arg_keyring);
		else if (r < 0)
			log_errno(r, "cannot check %s with keyring '%s'", arg_sums_sig, arg_keyring);
		if (r < 0) {
			r = -EIO;
			goto out;
		}
		r = -EIO;
		log_debug("%s: good signature by a key in '%s'", arg_sha256sums, arg_keyring);
	}
	if (arg_pick) {
		_cleanup_(freep) char *all = NULL;
		int n = sums_pick(m.data, arg_pick, &arg_picked, hex, &all);

		if (n < 0)
			log_errno(-n, "cannot read %s", arg_sha256sums);
		else if (n == 0) {
			log_error("%s lists no file matching '%s'", arg_sha256sums, arg_pick);
			r = -EAGAIN;
		} else if (n > 1) {
			log_error("%s lists %d files matching '%s' (%s): the pattern must match one", arg_sha256sums, n,
				  arg_pick, all);
			free(arg_picked);
			arg_picked = NULL;
		} else {
			memcpy(arg_sha256, hex, sizeof(hex));
			hash_from = HASH_LIST;
			log_debug("%s: '%s' matches '%s', sha256 %s", arg_sha256sums, arg_picked, arg_pick, hex);
			r = 0;
		}
	} else if (!sums_lookup(m.data, name, hex)) {
		log_error("%s has no line for '%s'", arg_sha256sums, name);
		r = -EAGAIN;
	} else if (arg_sha256[0] && strcasecmp(hex, arg_sha256) != 0)
		log_error("%s says sha256 %s for '%s', not the pinned %s", arg_sha256sums, hex, name, arg_sha256);
	else {
		memcpy(arg_sha256, hex, sizeof(hex));
		if (hash_from != HASH_PINNED)
			hash_from = HASH_LIST;
		log_debug("%s: sha256 of '%s' is %s", arg_sha256sums, name, arg_sha256);
		r = 0;
	}
out:
	free(m.data);
	free(sig.data);
	return r;
}

/* The lists in order until one gives the hash; a bad signature or a hash
 * that contradicts the pinned one ends the search. */
static int sums_fetch(const char *name)
{
	int r = -EAGAIN;

	for (unsigned i = 0; i < arg_n_sums && r == -EAGAIN; i++) {
		arg_sha256sums = arg_sums_urls[i];
		arg_sums_sig = arg_n_sigs ? arg_sig_urls[i] : NULL;
		r = sums_fetch_one(name);
	}
	if (r == -EAGAIN && arg_n_sums > 1)
		log_error("none of the %u checksum lists gives the hash of '%s'", arg_n_sums, arg_pick ? arg_pick : name);
	return r < 0 ? -EIO : 0;
}

/* ---- the download ---- */

/* Fills got with the hash so far; true if it is the expected one (or none
 * is expected). */
static bool hash_matches(struct sha256 *h, char got[static SHA256_HEX_LEN + 1])
{
	return sha256_peek_hex(h, got) == 0 && (!arg_sha256[0] || strcasecmp(got, arg_sha256) == 0);
}

/* Where FILE goes: its directory, opened once, and the names in it. Every
 * name is opened in that directory without following a symlink: the cache
 * may hold what an earlier run (or anyone with write access) left there. */
struct place {
	int dirfd;
	const char *base;  /* FILE's name in dirfd */
	char *part, *lock; /* FILE.part, FILE.lock, in dirfd */
	char *part_path, *lock_path; /* the same as FILE is given, for messages */
};

/* Opens name in the place's directory (O_NOFOLLOW), as a regular file with
 * no other link: anything else found under that name (a symlink, a hard
 * link to a file elsewhere, a FIFO) is removed first, and said so. */
static int place_open(const struct place *pl, const char *name, const char *shown, int flags)
{
	for (int tries = 0; tries < 2; tries++) {
		struct stat st;
		int fd = beneath_open(pl->dirfd, name, flags | O_NOCTTY | O_NONBLOCK, 0644);

		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
			return fd;
		}
		if (fd < 0 && fd != -ELOOP && fd != -ENXIO && fd != -EISDIR)
			return fd;
		if (fd >= 0)
			close(fd);
		if (unlinkat(pl->dirfd, name, 0) < 0)
			return log_errno(errno, "'%s' is not a regular file of ours and cannot be removed", shown),
			       -EPERM;
		log_warning("'%s' was not a regular file of ours (a symlink, a hard link or a special file): "
			    "removed, not followed",
			    shown);
	}
	return -ELOOP;
}

/* What FILE.lock remembers of the last FILE verified: its hash and its
 * identity (device, inode, size, mtime, ctime: a file written or replaced
 * since has another). A cache hit on the same file then needs no reading. */
static void verified_line(const struct stat *st, const char *hex, char out[static 160])
{
	snprintf(out, 160, "sha256 %s %ju:%ju:%jd:%jd.%09ld:%jd.%09ld\n", hex, (uintmax_t)st->st_dev,
		 (uintmax_t)st->st_ino, (intmax_t)st->st_size, (intmax_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		 (intmax_t)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

static void verified_record(int lockfd, int fd, const char *hex)
{
	char line[160];
	struct stat st;

	if (lockfd < 0 || fstat(fd, &st) < 0)
		return;
	verified_line(&st, hex, line);
	/* Only a speed-up: a record that cannot be written costs a hash next time. */
	if (ftruncate(lockfd, 0) == 0 && pwrite(lockfd, line, strlen(line), 0) < 0)
		log_debug("cannot write '%s'", arg_shown);
}

/* 1 if FILE exists and has the expected hash: the same file FILE.lock
 * vouches for, or hashed now. FILE as a symlink is not looked at: it is
 * replaced by the download. */
static int cache_check(const struct place *pl, int lockfd)
{
	_cleanup_(closep) int fd = beneath_open(pl->dirfd, pl->base, O_RDONLY | O_NONBLOCK, 0);
	struct sha256 h;
	struct stat st;
	char got[SHA256_HEX_LEN + 1], line[160], rec[160];
	ssize_t n;
	bool ok;

	if (fd == -ELOOP)
		log_warning("'%s' is a symlink: not followed; downloading the file in its place", arg_shown);
	if (fd < 0 || !arg_sha256[0])
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || sha256_init(&h) < 0)
		return 0;
	verified_line(&st, arg_sha256, line);
	n = pread(lockfd, rec, sizeof(rec) - 1, 0);
	if (n > 0) {
		rec[n] = 0;
		if (strcasecmp(rec, line) == 0) {
			sha256_free(&h);
			log_debug("'%s' is the file verified before", arg_shown);
			return 1;
		}
	}
	ok = sha256_add_fd(&h, fd, (uint64_t)st.st_size) == 0 && hash_matches(&h, got);
	sha256_free(&h);
	if (!ok)
		log_info("'%s' exists but does not match; downloading it again", arg_shown);
	else
		verified_record(lockfd, fd, got);
	return ok;
}

/* Opens FILE's directory: with -C, DIR as given and the rest below it
 * without symlinks (created as needed); else FILE's directory as given. */
static int place_init(struct place *pl)
{
	_cleanup_(freep) char *dir = strdup(arg_output);
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	pl->base = slash ? arg_output + (slash - dir) + 1 : arg_output;
	if (!*pl->base)
		return log_error("'%s' names a directory, not a file", arg_shown), -EISDIR;
	if (slash)
		slash == dir ? (void)(slash[1] = 0) : (void)(*slash = 0);
	if (arg_dir) {
		_cleanup_(closep) int top = open(arg_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (top < 0)
			return log_errno(errno, "cannot open the directory '%s'", arg_dir);
		pl->dirfd = slash ? beneath_mkdir_p(top, dir) : beneath_open(top, ".", O_RDONLY | O_DIRECTORY, 0);
		if (pl->dirfd == -ELOOP || pl->dirfd == -EXDEV)
			return log_error("'%s' leads through a symlink or out of '%s'; refused", arg_output,
					 arg_dir),
			       pl->dirfd;
	} else
		pl->dirfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pl->dirfd < 0)
		return log_errno(pl->dirfd == -1 ? errno : -pl->dirfd, "cannot open the directory of '%s'",
				 arg_shown),
		       -EIO;
	if (asprintf(&pl->part, "%s.part", pl->base) < 0 || asprintf(&pl->lock, "%s.lock", pl->base) < 0 ||
	    asprintf(&pl->part_path, "%s.part", arg_shown) < 0 || asprintf(&pl->lock_path, "%s.lock", arg_shown) < 0)
		return log_errno(ENOMEM, "cannot download"), -ENOMEM;
	return 0;
}

static void place_done(struct place *pl)
{
	closep(&pl->dirfd);
	free(pl->part);
	free(pl->lock);
	free(pl->part_path);
	free(pl->lock_path);
}

/* One img-fetch at a time per FILE: the others wait here, then find it in
 * the cache. */
static int place_lock(const struct place *pl)
{
	int fd = place_open(pl, pl->lock, pl->lock_path, O_RDWR | O_CREAT);

	if (fd < 0)
		return fd == -EPERM ? fd : log_errno(-fd, "cannot open '%s'", pl->lock_path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_info("'%s' is being downloaded by another process; waiting", arg_shown);
		while (flock(fd, LOCK_EX) < 0)
			if (errno != EINTR) {
				int r = -errno;
				close(fd);
				return log_errno(-r, "cannot lock '%s'", pl->lock_path);
			}
	}
	return fd;
}

/* Tries every URL in turn; returns 0 once one delivered the whole file. */
static int download_from_urls(struct download *d)
{
	enum outcome o = PERMANENT;

	for (unsigned u = 0; u < arg_n_urls; u++) {
		const char *url = arg_urls[u];

		for (unsigned attempt = 0; attempt <= arg_retries; attempt++) {
			char range[32];

			d->start = d->have;
			d->started = false;
			snprintf(range, sizeof(range), "%" PRIu64 "-", d->have);
			curl_easy_setopt(d->t.curl, CURLOPT_RANGE, d->have ? range : NULL);
			if (d->have)
				log_info("resuming '%s' at %" PRIu64 " bytes from %s", d->part, d->have, url);
			else
				log_debug("downloading %s", url);

			o = transfer_run(&d->t, url);
			progress_end(&d->bar);
			if (o == NOT_SATISFIABLE && d->have > 0) {
				char got[SHA256_HEX_LEN + 1];
				/* The .part holds all there is; keep it if it is right. */
				if (arg_sha256[0] && hash_matches(&d->hash, got))
					return 0;
				log_info("'%s' is longer than the file on the server; starting over", d->part);
				if (ftruncate(d->fd, 0) < 0)
					return log_errno(errno, "cannot truncate '%s'", d->part);
				sha256_free(&d->hash);
				if (sha256_init(&d->hash) < 0)
					return log_errno(ENOMEM, "cannot hash");
				d->have = 0;
				continue;
			}
			if (o == DONE)
				return 0;
			if (o == FATAL) {
				log_error("%s", d->t.reason);
				return -EIO;
			}
			if (o != TRANSIENT || attempt == arg_retries)
				break;
			log_info("%s: %s; retry %u of %u", url, d->t.reason, attempt + 1, arg_retries);
			backoff(attempt);
		}
		log_error("%s: %s", url, d->t.reason);
	}
	if (arg_n_urls > 1)
		log_error("could not download '%s' from any of %u URLs", arg_shown, arg_n_urls);
	return -EIO;
}

/* ---- the lock file ---- */

/* 1: the lock has the URL's hash (now in arg_sha256); 0: it has none, so
 * the download is recorded; -1: an error, reported. */
static int lock_lookup(void)
{
	unsigned line = 0;
	int r = srclock_lookup(arg_lock, arg_urls[0], arg_sha256, &line);

	if (r == -EBADMSG)
		log_error("%s:%u: not a 'SHA256  URL' line, or a URL listed twice", arg_lock, line);
	else if (r == -EFBIG)
		log_error("'%s' is larger than 1 MiB; not a lock file", arg_lock);
	else if (r < 0)
		log_errno(r, "cannot read '%s'", arg_lock);
	else if (r == 0 && arg_locked)
		log_error("%s has no entry in '%s' and no pinned hash; refused (--locked): "
			  "build once without LOCKED=1 to record it, and commit the file", arg_urls[0], arg_lock);
	else if (r > 0) {
		hash_from = HASH_LOCK;
		log_debug("%s: sha256 of %s is %s", arg_lock, arg_urls[0], arg_sha256);
	}
	else
		log_debug("%s: no entry for %s; its hash will be recorded", arg_lock, arg_urls[0]);
	return r < 0 || (r == 0 && arg_locked) ? -1 : r;
}

static int lock_record(const char *got)
{
	char had[SHA256_HEX_LEN + 1];
	unsigned line = 0;
	int r = arg_pick ? srclock_replace(arg_lock, arg_pick_dir, arg_pick, arg_urls[0], got, &line)
			 : srclock_record(arg_lock, arg_urls[0], got, had, &line);

	if (r == -EEXIST)
		log_error("'%s' meanwhile records sha256 %s for %s, not %s (what came now); refused", arg_lock,
			  had, arg_urls[0], got);
	else if (r == -EINVAL)
		log_error("cannot record '%s' in '%s': a URL with blanks or control characters", arg_urls[0],
			  arg_lock);
	else if (r == -EBADMSG)
		log_error("%s:%u: not a 'SHA256  URL' line, or a URL listed twice", arg_lock, line);
	else if (r < 0)
		log_errno(r, "cannot record the hash in '%s'", arg_lock);
	return r < 0 ? -1 : 0;
}

/* ---- --pick ---- */

/* What the pattern's one '*' matched in name, when the pattern is
 * PREFIX*SUFFIX (and nothing else is a wildcard); NULL otherwise. */
static char *star_text(const char *glob, const char *name)
{
	const char *star = strchr(glob, '*');
	size_t pre, suf, len = strlen(name);

	if (!star || strpbrk(star + 1, "*?[\\") || strcspn(glob, "?[\\") < (size_t)(star - glob))
		return NULL;
	pre = (size_t)(star - glob);
	suf = strlen(star + 1);
	if (len < pre + suf || strncmp(name, glob, pre) != 0 || strcmp(name + len - suf, star + 1) != 0)
		return NULL;
	return strndup(name + pre, len - pre - suf);
}

/* The file's URLs: each directory's, or, for a URL with '*' in it, the URL
 * with the '*' standing for what the pattern's '*' matched in the name (and
 * the name after it if it ends in '/'). */
static int pick_urls(const char *name)
{
	_cleanup_(freep) char *star = star_text(arg_pick, name);
	_cleanup_(strv_freep) struct strv urls = { 0 };

	for (unsigned i = 0; i < arg_n_urls; i++) {
		const char *u = arg_urls[i], *st = strchr(u, '*');
		int r;

		if (st && !star)
			return log_error("'%s' has a '*' but '%s' does not make '%s' one part of a PREFIX*SUFFIX "
					 "pattern", u, name, arg_pick), -EINVAL;
		r = st ? strv_add(&urls, "%.*s%s%s%s", (int)(st - u), u, star, st + 1,
				  u[strlen(u) - 1] == '/' ? name : "")
		       : strv_add(&urls, "%s%s", u, name);
		if (r < 0)
			return log_errno(ENOMEM, "cannot pick");
	}
	arg_urls = urls.v; /* lives as long as the process */
	urls = (struct strv){ 0 };
	return 0;
}

/* The file the directory's checksum list names by the pattern, or the
 * lock's entry for it; 1 when the hash is to be recorded in the lock. */
static int pick(void)
{
	_cleanup_(freep) char *locked_url = NULL;
	char hex[SHA256_HEX_LEN + 1];
	unsigned line = 0;
	int n = 0;

	arg_pick_dir = arg_urls[0];
	if (arg_lock && !arg_update_lock) {
		n = srclock_match(arg_lock, arg_pick_dir, arg_pick, &locked_url, hex, &line);
		if (n == -EBADMSG)
			return log_error("%s:%u: not a 'SHA256  URL' line, or a URL listed twice", arg_lock, line), -1;
		if (n < 0)
			return log_errno(-n, "cannot read '%s'", arg_lock), -1;
		if (n > 1)
			return log_error("'%s' has %d entries for '%s' under %s; keep one", arg_lock, n, arg_pick,
					 arg_pick_dir), -1;
		if (n == 0 && arg_locked)
			return log_error("'%s' has no entry for '%s' under %s; refused (--locked): build once "
					 "without LOCKED=1 to record it, and commit the file", arg_lock, arg_pick,
					 arg_pick_dir), -1;
	}
	if (n == 1) {
		const char *name = locked_url + strlen(arg_pick_dir);

		/* Built as locked; the list only tells whether there is a newer file. */
		log_debug("%s: %s, sha256 %s", arg_lock, locked_url, hex);
		if (sums_fetch(NULL) == 0 && strcmp(arg_picked, name) != 0)
			log_notice("%s now lists '%s'; '%s' keeps '%s' until its entry is updated", arg_sha256sums,
				   arg_picked, arg_lock, name);
		else if (!arg_picked)
			log_notice("could not tell whether %s lists a newer file than '%s' (above); building that one",
				   arg_pick_dir, name);
		free(arg_picked);
		if (!(arg_picked = strdup(name)))
			return log_errno(ENOMEM, "cannot pick"), -1;
		memcpy(arg_sha256, hex, sizeof(hex));
		hash_from = HASH_LOCK;
	} else if (sums_fetch(NULL) < 0)
		return -1;
	if (pick_urls(arg_picked) < 0)
		return -1;
	return arg_lock && n == 0;
}

static int fetch(void)
{
	_cleanup_(freep) char *name = url_basename(arg_urls[0]);
	_cleanup_(place_done) struct place pl = { .dirfd = -1 };
	_cleanup_(closep) int lockfd = -1;
	struct download d = { .fd = -1 };
	char got[SHA256_HEX_LEN + 1], b1[16], b2[16];
	double t0 = now_seconds();
	struct stat st;
	bool recording = false;
	int r, ret = EXIT_FAILED;

	if (arg_pick) {
		r = pick();
		if (r < 0)
			return EXIT_FAILED;
		recording = r > 0;
		free(name);
		name = strdup(arg_picked);
	}
	if (!arg_output)
		arg_output = name;
	if (!arg_output || !*arg_output) {
		log_error("cannot name the file from '%s'; give one with -o", arg_urls[0]);
		return EXIT_USAGE;
	}
	if (arg_dir) {
		size_t n = strlen(arg_dir);
		r = asprintf(&arg_shown, "%.*s/%s", (int)(n > 1 && arg_dir[n - 1] == '/' ? n - 1 : n), arg_dir,
			     arg_output);
	} else
		r = (arg_shown = strdup(arg_output)) ? 0 : -1;
	if (r < 0) {
		arg_shown = NULL;
		log_errno(ENOMEM, "cannot download");
		return EXIT_FAILED;
	}
	if (arg_n_sums && !arg_pick && sums_fetch(name ? name : arg_output) < 0)
		return EXIT_FAILED;
	if (arg_lock && !arg_sha256[0]) {
		r = lock_lookup();
		if (r < 0)
			return EXIT_FAILED;
		recording = r == 0;
	}
	if (place_init(&pl) < 0)
		return EXIT_FAILED;
	lockfd = place_lock(&pl);
	if (lockfd < 0)
		return EXIT_FAILED;
	if (cache_check(&pl, lockfd) > 0) {
		log_notice("%s: up to date (sha256 %s)", arg_shown, arg_sha256);
		if (arg_print)
			printf("%s  %s\n", arg_sha256, arg_shown);
		return EXIT_DONE;
	}

	d.part = pl.part_path;
	d.fd = place_open(&pl, pl.part, pl.part_path, O_RDWR | O_CREAT);
	if (d.fd < 0) {
		if (d.fd != -EPERM)
			log_errno(-d.fd, "cannot open '%s'", pl.part_path);
		return EXIT_FAILED;
	}
	if (fstat(d.fd, &st) < 0) {
		log_errno(errno, "cannot stat '%s'", pl.part_path);
		goto out;
	}
	/* A hash about to be recorded that no list or pin gave vouches for
	 * what the server sends now: not for a .part left by an earlier run,
	 * or by anyone else. */
	if (recording && hash_from == HASH_NONE && st.st_size > 0) {
		log_info("'%s' is left from an earlier download; the hash to be recorded must come whole "
			 "from the server: starting over",
			 pl.part_path);
		if (ftruncate(d.fd, 0) < 0) {
			log_errno(errno, "cannot truncate '%s'", pl.part_path);
			goto out;
		}
		st.st_size = 0;
	}
	if (sha256_init(&d.hash) < 0 || transfer_init(&d.t, on_data, &d) < 0) {
		log_errno(ENOMEM, "cannot set up the download");
		goto out;
	}
	d.have = (uint64_t)st.st_size;
	if (d.have > 0 && (r = sha256_add_fd(&d.hash, d.fd, d.have)) < 0) {
		log_errno(r, "cannot read '%s'", pl.part_path);
		goto out;
	}

	if (download_from_urls(&d) < 0)
		goto out; /* the .part stays, to be resumed */

	if (!hash_matches(&d.hash, got)) {
		if (hash_from == HASH_LOCK)
			log_error("'%s' does not match its entry in '%s': expected sha256 %s, got %s; removed '%s'",
				  arg_shown, arg_lock, arg_sha256, got, pl.part_path);
		else
			log_error("'%s' does not match: expected sha256 %s, got %s; removed '%s'", arg_shown,
				  arg_sha256, got, pl.part_path);
		unlinkat(pl.dirfd, pl.part, 0);
		goto out;
	}
	/* Recorded before FILE appears: a FILE is always one the lock vouches for. */
	if (recording && lock_record(got) < 0) {
		unlinkat(pl.dirfd, pl.part, 0);
		goto out;
	}
	r = file_sync_renameat(d.fd, pl.dirfd, pl.part, pl.base);
	if (r < 0) {
		log_errno(r, "cannot put '%s' in place as '%s'", pl.part_path, arg_shown);
		goto out;
	}
	/* After the rename, which changes the file's ctime. */
	if (!arg_no_verify)
		verified_record(lockfd, d.fd, got);
	double dt = now_seconds() - t0;
	log_notice("%s: %s in %.1fs (%s/s), sha256 %s", arg_shown, format_bytes(b1, d.have), dt,
		   format_bytes(b2, dt > 0 ? (uint64_t)((double)d.have / dt) : 0),
		   arg_no_verify ? "not verified" : recording ? "recorded" : "verified");
	if (recording)
		log_notice("recorded sha256 %s of %s in '%s'; commit %s", got, arg_urls[0], arg_lock,
			   strrchr(arg_lock, '/') ? strrchr(arg_lock, '/') + 1 : arg_lock);
	if (arg_no_verify || arg_print)
		printf("%s  %s\n", got, arg_shown);
	ret = EXIT_DONE;
out:
	if (d.t.curl)
		curl_easy_cleanup(d.t.curl);
	if (d.hash.ctx)
		sha256_free(&d.hash);
	close(d.fd);
	return ret;
}

static void help(void)
{
	printf("Usage: %s [OPTION]... URL [MIRROR_URL]...\n"
	       "Download URL to FILE, verified by its SHA-256, resuming FILE.part if there is\n"
	       "one. The URLs are tried in order. An existing FILE with the right hash is used\n"
	       "as it is, without network.\n\n"
	       "  -o, --output=FILE      write FILE (default: the URL's last path component)\n"
	       "  -C, --directory=DIR    FILE is relative to DIR; the directories below DIR\n"
	       "                         are made as needed, and no symlink below DIR is\n"
	       "                         followed\n"
	       "      --sha256=HEX       the expected SHA-256\n"
	       "      --sha256sums=URL   take it from the line for the file's name in URL,\n"
	       "                         a SHA256SUMS file (over plain http: only with\n"
	       "                         --sha256 too, or a signature); again for mirrors\n"
	       "                         of the list, tried in order\n"
	       "      --sha256sums-sig=URL  a detached signature of the SHA256SUMS file,\n"
	       "                         checked with gpgv before it is used (one per list)\n"
	       "      --keyring=FILE     the keys that may sign it (with --sha256sums-sig)\n"
	       "      --lock=FILE        with neither of those: check the hash that FILE\n"
	       "                         (\"SHA256  URL\" lines) has for URL, or record it there\n"
	       "      --locked           refuse to record: a URL with no --sha256, no\n"
	       "                         --sha256sums and no entry in the lock file fails\n"
	       "      --pick=PATTERN     URL and the mirrors are directories (ending in '/'):\n"
	       "                         the file is the one whose name matches the shell\n"
	       "                         PATTERN in the --sha256sums list; with --lock, the\n"
	       "                         lock's entry under URL matching PATTERN wins (the\n"
	       "                         list then only tells of a newer file), and the one\n"
	       "                         picked is recorded there. A mirror with '*' in it\n"
	       "                         takes what PATTERN's '*' matched in the name\n"
	       "      --update-lock      with --pick and --lock: replace the lock's entry\n"
	       "                         with what the list names now\n"
	       "      --no-verify        accept any content; print its SHA-256 to pin it\n"
	       "      --print-sha256     print \"SHA256  FILE\" once FILE is verified\n"
	       "      --retries=N        retry transient errors N times per URL (default 3)\n"
	       "  -q, --quiet            no progress, only the summary and errors\n"
	       "  -v, --verbose          say more\n"
	       "  -h, --help             show this help\n"
	       "  -V, --version          show the version\n\n"
	       "Exit status: 0 done, 1 failed, 2 bad usage.\n",
	       log_program());
}

static int parse_argv(int argc, char **argv)
{
	enum { ARG_SHA256 = 0x100, ARG_SUMS, ARG_SUMS_SIG, ARG_KEYRING, ARG_NO_VERIFY, ARG_RETRIES, ARG_LOCK, ARG_LOCKED,
	       ARG_PRINT, ARG_PICK, ARG_UPDATE_LOCK };
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "directory", required_argument, NULL, 'C' },
		{ "sha256", required_argument, NULL, ARG_SHA256 },
		{ "sha256sums", required_argument, NULL, ARG_SUMS },
		{ "sha256sums-sig", required_argument, NULL, ARG_SUMS_SIG },
		{ "keyring", required_argument, NULL, ARG_KEYRING },
		{ "no-verify", no_argument, NULL, ARG_NO_VERIFY },
		{ "print-sha256", no_argument, NULL, ARG_PRINT },
		{ "retries", required_argument, NULL, ARG_RETRIES },
		{ "lock", required_argument, NULL, ARG_LOCK },
		{ "locked", no_argument, NULL, ARG_LOCKED },
		{ "pick", required_argument, NULL, ARG_PICK },
		{ "update-lock", no_argument, NULL, ARG_UPDATE_LOCK },
		CLI_COMMON_OPTIONS,
		{}
	};
	char *end;
	unsigned long n;
	int c;

	while ((c = getopt_long(argc, argv, "o:C:" CLI_COMMON_SHORT, options, NULL)) >= 0) {
		switch (c) {
		case 'o':
			arg_output = optarg;
			break;
		case 'C':
			if (!*optarg) {
				log_error("--directory wants a directory");
				return -EINVAL;
			}
			arg_dir = optarg;
			break;
		case ARG_SHA256:
			if (!sha256_hex_valid(optarg)) {
				log_error("--sha256 wants 64 hex digits, not '%s'", optarg);
				return -EINVAL;
			}
			memcpy(arg_sha256, optarg, SHA256_HEX_LEN + 1);
			hash_from = HASH_PINNED;
			break;
		case ARG_SUMS:
		case ARG_SUMS_SIG:
			if ((c == ARG_SUMS ? arg_n_sums : arg_n_sigs) == SUMS_LISTS_MAX) {
				log_error("at most %d checksum lists and signatures", SUMS_LISTS_MAX);
				return -EINVAL;
			}
			if (c == ARG_SUMS)
				arg_sums_urls[arg_n_sums++] = arg_sha256sums = optarg;
			else
				arg_sig_urls[arg_n_sigs++] = arg_sums_sig = optarg;
			break;
		case ARG_KEYRING:
			arg_keyring = optarg;
			break;
		case ARG_NO_VERIFY:
			arg_no_verify = true;
			break;
		case ARG_PRINT:
			arg_print = true;
			break;
		case ARG_LOCK:
			if (!*optarg) {
				log_error("--lock wants a file name");
				return -EINVAL;
			}
			arg_lock = optarg;
			break;
		case ARG_LOCKED:
			arg_locked = true;
			break;
		case ARG_PICK:
			if (!*optarg || strchr(optarg, '/')) {
				log_error("--pick wants a file name pattern, not '%s'", optarg);
				return -EINVAL;
			}
			arg_pick = optarg;
			break;
		case ARG_UPDATE_LOCK:
			arg_update_lock = true;
			break;
		case ARG_RETRIES:
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || n > 100 || optarg[0] == '-') {
				log_error("--retries wants a number from 0 to 100, not '%s'", optarg);
				return -EINVAL;
			}
			arg_retries = (unsigned)n;
			break;
		default:
			if ((c = cli_option(c, help)) <= 0)
				return c;
		}
	}
	if (optind >= argc) {
		log_error("no URL given");
		return -EINVAL;
	}
	if (arg_pick && (!arg_n_sums || arg_sha256[0] || arg_no_verify)) {
		log_error("--pick takes the hash from a --sha256sums list: not with --sha256 or --no-verify");
		return -EINVAL;
	}
	if (arg_update_lock && (!arg_pick || !arg_lock || arg_locked)) {
		log_error("--update-lock goes with --pick and --lock, not with --locked");
		return -EINVAL;
	}
	for (int i = optind; arg_pick && i < argc; i++) {
		size_t len = strlen(argv[i]);
		if ((len == 0 || argv[i][len - 1] != '/') && (i == optind || !strchr(argv[i], '*'))) {
			log_error("with --pick, '%s' must be a directory's URL, ending in '/'%s", argv[i],
				  i == optind ? "" : " (or a mirror's URL with a '*')");
			return -EINVAL;
		}
	}
	if (!!arg_sums_sig != !!arg_keyring || (arg_sums_sig && !arg_sha256sums)) {
		log_error("--sha256sums-sig and --keyring go together, with --sha256sums");
		return -EINVAL;
	}
	if (arg_n_sigs && arg_n_sigs != arg_n_sums) {
		log_error("%u --sha256sums but %u --sha256sums-sig: one signature per list", arg_n_sums, arg_n_sigs);
		return -EINVAL;
	}
	/* Over plain http anyone on the path can rewrite the list. */
	for (unsigned i = 0; i < arg_n_sums; i++)
		if (strncasecmp(arg_sums_urls[i], "http://", 7) == 0 && !arg_sha256[0] && !arg_sums_sig) {
			log_error("--sha256sums over plain http can be forged on the way; use https, "
				  "pin the hash with --sha256 too, or check a signature with --sha256sums-sig");
			return -EINVAL;
		}
	if (arg_no_verify && (arg_sha256[0] || arg_sha256sums || arg_lock || arg_locked)) {
		log_error("--no-verify contradicts --sha256, --sha256sums, --lock and --locked");
		return -EINVAL;
	}
	if (!arg_no_verify && !arg_sha256[0] && !arg_sha256sums && !arg_lock) {
		log_error("no checksum: give --sha256 HEX, --sha256sums URL or --lock FILE (or --no-verify)");
		return -EINVAL;
	}
	if (arg_output && !*arg_output) {
		log_error("empty output name");
		return -EINVAL;
	}
	if (arg_dir && arg_output && arg_output[0] == '/') {
		log_error("with --directory, FILE is relative to it, not '%s'", arg_output);
		return -EINVAL;
	}
	arg_urls = argv + optind;
	arg_n_urls = (unsigned)(argc - optind);
	return 1;
}

/* libcurl set up around the whole run, once the command line is good. */
static int run(void)
{
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		return EXIT_FAILED;
	}
	r = fetch();
	curl_global_cleanup();
	free(arg_shown);
	return r;
}

int main(int argc, char **argv)
{
	return cli_main(argc, argv, parse_argv, run, EXIT_USAGE);
}
