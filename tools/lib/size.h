/* SPDX-License-Identifier: MIT */
/* Sizes on the command line: 512, 64K, 4G, 1.5T (1024-based). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Parses "NUMBER[K|M|G|T][iB|B]"; a leading '+' sets *relative (if given,
 * else it is an error). Returns 0 or -EINVAL / -ERANGE. */
int size_parse(const char *s, uint64_t *bytes, bool *relative);
