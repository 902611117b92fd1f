/* SPDX-License-Identifier: MIT */
/* Sizes on the command line: 512, 512B, 64K, 4G, 4GiB, 1.5T (1024-based). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Parses "DIGITS[.DIGITS][B | K|M|G|T[iB]]", exactly, in integers (the
 * unit letter in either case); a leading '+' sets *relative (if given, else
 * it is an error). A fraction must make whole bytes (1.5G, not 1.3).
 * Returns 0, or -EINVAL (not a size), -EDOM (not a whole number of bytes),
 * -ERANGE (beyond 2^64 - 1). */
int size_parse(const char *s, uint64_t *bytes, bool *relative);
