/* SPDX-License-Identifier: MIT */
/* A growing string for files written in one piece (bmap, JSON, sums). */
#pragma once

#include <stddef.h>

struct text {
	char *s;
	size_t len, cap;
	int err; /* the first error; later appends do nothing */
};

#define TEXT_INIT { 0 }

void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string, quotes included. */
void text_add_json(struct text *t, const char *s);
void text_free(struct text *t);
