/* SPDX-License-Identifier: MIT */
#include "dpkg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int pkg_cmp(const void *a, const void *b)
{
	const struct dpkg_pkg *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->arch, y->arch);
}

/* Held packages are installed too. */
static bool status_installed(const char *s)
{
	return strcmp(s, "install ok installed") == 0 || strcmp(s, "hold ok installed") == 0;
}

struct list {
	struct dpkg_pkg *p;
	size_t n, cap;
};

static int pkg_add(struct list *l, const struct dpkg_pkg *p, const char *status)
{
	if (!p->name || !status || !status_installed(status))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct dpkg_pkg *q = realloc(l->p, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		l->p = q;
		l->cap = cap;
	}
	l->p[l->n++] = (struct dpkg_pkg){ p->name, p->version ? p->version : "",
					  p->arch ? p->arch : "" };
	return 0;
}

/* deb822 stanzas, separated by empty lines; field names without regard to
 * case; continuation lines (a multi-line Description, Conffiles) start with
 * a blank and are skipped. */
int dpkg_status_parse(char *status, struct dpkg_pkg **pkgs, size_t *n)
{
	struct list l = { 0 };
	struct dpkg_pkg cur = { 0 };
	const char *st = NULL;
	char *line, *next;

	for (line = status; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (line[0] == ' ' || line[0] == '\t')
			continue;
		size_t len = strlen(line);
		while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (!len) {
			if (pkg_add(&l, &cur, st) < 0)
				goto oom;
			cur = (struct dpkg_pkg){ 0 };
			st = NULL;
			continue;
		}
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		char *v = colon + 1 + strspn(colon + 1, " \t");
		if (strcasecmp(line, "Package") == 0)
			cur.name = v;
		else if (strcasecmp(line, "Version") == 0)
			cur.version = v;
		else if (strcasecmp(line, "Architecture") == 0)
			cur.arch = v;
		else if (strcasecmp(line, "Status") == 0)
			st = v;
	}
	if (pkg_add(&l, &cur, st) < 0)
		goto oom;
	if (l.n)
		qsort(l.p, l.n, sizeof(*l.p), pkg_cmp);
	*pkgs = l.p;
	*n = l.n;
	return 0;
oom:
	free(l.p);
	return -ENOMEM;
}
