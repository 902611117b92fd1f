/* SPDX-License-Identifier: MIT */
/*
 * A lock file of downloads that publish no checksum (sources.lock): one
 * "SHA256  URL" line per download, sorted by URL; lines starting with '#'
 * are comments, kept at the top. The first download records the hash, the
 * later ones are checked against it.
 */
#pragma once

#include "hash.h"

/* 1 and the hash in out if path has a line for url; 0 if it has none or
 * does not exist; -EBADMSG for a line that is neither a comment nor
 * "HEX  URL" (its number in *bad_line), or for a URL listed twice; other
 * -errno when it cannot be read. */
int srclock_lookup(const char *path, const char *url, char out[static SHA256_HEX_LEN + 1], unsigned *bad_line);

/* Adds "hex  url" to path (created if missing), under an exclusive flock,
 * rewritten whole and renamed into place. 0 if added or already there with
 * that hash; -EEXIST (the recorded hash in out) if another process recorded
 * another one meanwhile; -EINVAL for a URL with blanks or control
 * characters; -EBADMSG as above. */
int srclock_record(const char *path, const char *url, const char *hex, char out[static SHA256_HEX_LEN + 1],
		   unsigned *bad_line);

/* The entries under dir (a URL ending in '/') whose file name matches the
 * shell pattern glob: their number (0 also when path does not exist); if
 * exactly one, its URL in *url (to be freed) and its hash in hex. Errors as
 * srclock_lookup. */
int srclock_match(const char *path, const char *dir, const char *glob, char **url,
		  char hex[static SHA256_HEX_LEN + 1], unsigned *bad_line);

/* As srclock_record, but the entries under dir matching glob make way for
 * "hex  url" (an entry for url itself takes the new hash). */
int srclock_replace(const char *path, const char *dir, const char *glob, const char *url, const char *hex,
		    unsigned *bad_line);
