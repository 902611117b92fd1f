/* SPDX-License-Identifier: MIT */
#include "jsonout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int json_text(const json_t *root, struct text *t)
{
	char *s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));

	if (!s)
		return -ENOMEM;
	text_add(t, "%s\n", s);
	free(s);
	return t->err;
}

json_t *json_str(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *copy;

	if (j || !s)
		return j;
	/* Not UTF-8: what is ASCII stays, the rest is '?'. */
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (unsigned char *p = (unsigned char *)copy; *p; p++)
		if (*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}
