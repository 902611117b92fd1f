/* SPDX-License-Identifier: MIT */
#include "strv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int strv_add(struct strv *s, const char *fmt, ...)
{
	char **v = realloc(s->v, (s->n + 2) * sizeof(*v));
	va_list ap;
	int r;

	if (!v)
		return -ENOMEM;
	s->v = v;
	va_start(ap, fmt);
	r = vasprintf(&v[s->n], fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	v[++s->n] = NULL;
	return 0;
}

void strv_freep(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

const char *strv_join(char **v, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (; *v && n < size; v++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? " " : "", *v);
	return buf;
}
