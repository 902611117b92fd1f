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

static int pkg_add(struct list *l, const struct dpkg_pkg *p)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct dpkg_pkg *q = realloc(l->p, cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		l->p = q;
		l->cap = cap;
	}
	l->p[l->n] = (struct dpkg_pkg){ p->name, p->version ? p->version : "", p->arch ? p->arch : "",
					p->sha256 ? p->sha256 : "", p->source, p->source_version };
	if (!l->p[l->n].source || !*l->p[l->n].source)
		l->p[l->n].source = p->name;
	if (!l->p[l->n].source_version || !*l->p[l->n].source_version)
		l->p[l->n].source_version = l->p[l->n].version;
	l->n++;
	return 0;
}

/* deb822 stanzas, separated by empty lines; field names without regard to
 * case; continuation lines (a multi-line Description, Conffiles) start with
 * a blank and are skipped. keep says which stanzas go into the list. */
static int stanzas_parse(char *text, bool (*keep)(const struct dpkg_pkg *p, const char *status), struct list *l)
{
	struct dpkg_pkg cur = { 0 };
	const char *st = NULL;
	char *line, *next;

	for (line = text;; line = next) {
		bool end = !line;
		size_t len = 0;

		if (!end) {
			next = strchr(line, '\n');
			if (next)
				*next++ = 0;
			if (line[0] == ' ' || line[0] == '\t')
				continue;
			len = strlen(line);
			while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
				line[--len] = 0;
		}
		if (!len) {
			if (cur.name && keep(&cur, st) && pkg_add(l, &cur) < 0)
				return -ENOMEM;
			if (end)
				return 0;
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
		else if (strcasecmp(line, "SHA256") == 0)
			cur.sha256 = v;
		else if (strcasecmp(line, "Source") == 0) {
			/* "NAME" or "NAME (VERSION)" */
			char *paren = strchr(v, '(');
			cur.source = v;
			if (paren) {
				char *close = strchr(paren, ')');
				if (close)
					*close = 0;
				cur.source_version = paren + 1;
				while (paren > v && (paren[-1] == ' ' || paren[-1] == '\t'))
					paren--;
				*paren = 0;
			}
		}
		else if (strcasecmp(line, "Status") == 0)
			st = v;
	}
}

static bool keep_installed(const struct dpkg_pkg *p, const char *status)
{
	(void)p;
	return status && status_installed(status);
}

int dpkg_status_parse(char *status, struct dpkg_pkg **pkgs, size_t *n)
{
	struct list l = { 0 };

	if (stanzas_parse(status, keep_installed, &l) < 0) {
		free(l.p);
		return -ENOMEM;
	}
	if (l.n)
		qsort(l.p, l.n, sizeof(*l.p), pkg_cmp);
	*pkgs = l.p;
	*n = l.n;
	return 0;
}

static bool keep_hashed(const struct dpkg_pkg *p, const char *status)
{
	(void)status;
	return p->sha256 && *p->sha256;
}

int dpkg_packages_parse(char *text, struct dpkg_pkg **pkgs, size_t *n)
{
	struct list l = { 0 };

	if (stanzas_parse(text, keep_hashed, &l) < 0) {
		free(l.p);
		return -ENOMEM;
	}
	*pkgs = l.p;
	*n = l.n;
	return 0;
}

int dpkg_copyright_licenses(const char *text, char **out)
{
	char *list = NULL;
	size_t len = 0;

	*out = NULL;
	if (strncasecmp(text, "Format:", 7) != 0 ||
	    !strstr(text, "copyright-format/1.0"))
		return 0;
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *v, *end;
		size_t n;

		if (strncasecmp(l, "License:", 8) != 0)
			continue;
		v = l + 8 + strspn(l + 8, " \t");
		end = v + strcspn(v, "\r\n");
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		n = (size_t)(end - v);
		if (!n)
			continue;
		/* Once each. */
		bool seen = false;
		for (const char *p = list; p && *p && !seen;) {
			size_t m = strcspn(p, "\n");
			seen = m == n && strncmp(p, v, n) == 0;
			p += m + (p[m] == '\n');
		}
		if (seen)
			continue;
		char *grown = realloc(list, len + n + 2);
		if (!grown) {
			free(list);
			return -ENOMEM;
		}
		list = grown;
		if (len)
			list[len++] = '\n';
		memcpy(list + len, v, n);
		len += n;
		list[len] = 0;
	}
	*out = list;
	return 0;
}
