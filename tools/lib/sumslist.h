/* SPDX-License-Identifier: MIT */
/*
 * A checksum list in GNU sha256sum's format ("HEX  NAME" or "HEX *NAME" per
 * line; a leading "./" of NAME is ignored), as distributions publish beside
 * their images (SHA256SUMS).
 */
#pragma once

#include <stdbool.h>

#include "hash.h"

/* The hash that text lists for name, into out. */
bool sums_lookup(const char *text, const char *name, char out[static SHA256_HEX_LEN + 1]);

/* The names that text lists matching the shell pattern glob (no '/' is
 * matched by a wildcard): their number; the first one's name in *name (to
 * be freed) and hash in out; all of them, separated by ", ", in *all (to be
 * freed; NULL when there is none). -ENOMEM if memory runs out. */
int sums_pick(const char *text, const char *glob, char **name, char out[static SHA256_HEX_LEN + 1], char **all);
