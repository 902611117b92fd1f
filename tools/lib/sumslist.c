/* SPDX-License-Identifier: MIT */
#include "sumslist.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The next line of *p that is "HEX  NAME": its hash into hex, its name
 * (up to the line's end) returned with its length in *len. */
static const char *next_entry(const char **p, char hex[static SHA256_HEX_LEN + 1], size_t *len)
{
	while (**p) {
		const char *line = *p, *end = line + strcspn(line, "\r\n"), *file = line + SHA256_HEX_LEN + 2;

		*p = end + strspn(end, "\r\n");
		if (end - line < SHA256_HEX_LEN + 3 || line[SHA256_HEX_LEN] != ' ' ||
		    (line[SHA256_HEX_LEN + 1] != ' ' && line[SHA256_HEX_LEN + 1] != '*'))
			continue;
		memcpy(hex, line, SHA256_HEX_LEN);
		hex[SHA256_HEX_LEN] = 0;
		if (!sha256_hex_valid(hex))
			continue;
		if (strncmp(file, "./", 2) == 0)
			file += 2;
		*len = (size_t)(end - file);
		return file;
	}
	return NULL;
}

bool sums_lookup(const char *text, const char *name, char out[static SHA256_HEX_LEN + 1])
{
	char hex[SHA256_HEX_LEN + 1];
	const char *file;
	size_t len;

	while ((file = next_entry(&text, hex, &len)))
		if (len == strlen(name) && memcmp(file, name, len) == 0) {
			memcpy(out, hex, sizeof(hex));
			return true;
		}
	return false;
}

int sums_pick(const char *text, const char *glob, char **name, char out[static SHA256_HEX_LEN + 1], char **all)
{
	char hex[SHA256_HEX_LEN + 1];
	const char *file;
	size_t len, all_len = 0;
	int n = 0;

	*name = *all = NULL;
	while ((file = next_entry(&text, hex, &len))) {
		char *f = strndup(file, len), *a;

		if (!f)
			goto oom;
		if (fnmatch(glob, f, FNM_PATHNAME) != 0) {
			free(f);
			continue;
		}
		a = realloc(*all, all_len + len + 3);
		if (!a) {
			free(f);
			goto oom;
		}
		*all = a;
		all_len += (size_t)sprintf(a + all_len, "%s%s", n ? ", " : "", f);
		if (n++ == 0) {
			*name = f;
			memcpy(out, hex, sizeof(hex));
		} else
			free(f);
	}
	return n;
oom:
	free(*name);
	free(*all);
	*name = *all = NULL;
	return -ENOMEM;
}
