/* SPDX-License-Identifier: MIT */
/* A growing string for files written in one piece (bmap, JSON, sums). JSON
 * itself is jansson's (jsonout.h). */
#pragma once

#include <stddef.h>

struct text {
	char *s;
	size_t len, cap;
	int err; /* the first error; later appends do nothing */
};

#define TEXT_INIT { 0 }

void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void text_free(struct text *t);
