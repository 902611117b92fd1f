/* SPDX-License-Identifier: MIT */
#include "text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->err = -EINVAL;
			return;
		}
		if (t->s && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
		char *p = realloc(t->s, cap);
		if (!p) {
			t->err = -ENOMEM;
			return;
		}
		t->s = p;
		t->cap = cap;
	}
}

void text_add_json(struct text *t, const char *s)
{
	text_add(t, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			text_add(t, "\\%c", *p);
		else if (*p == '\n')
			text_add(t, "\\n");
		else if (*p == '\t')
			text_add(t, "\\t");
		else if (*p < 0x20)
			text_add(t, "\\u%04x", *p);
		else
			text_add(t, "%c", *p);
	}
	text_add(t, "\"");
}

void text_free(struct text *t)
{
	free(t->s);
	*t = (struct text)TEXT_INIT;
}
