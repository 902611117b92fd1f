/* SPDX-License-Identifier: MIT */
#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int size_parse(const char *s, uint64_t *bytes, bool *relative)
{
	static const char units[] = "KMGTPE";
	double mult = 1, v;
	char *end;

	if (relative)
		*relative = false;
	if (*s == '+') {
		if (!relative)
			return -EINVAL;
		*relative = true;
		s++;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));
		if (!u)
			return -EINVAL;
		for (const char *q = units; q <= u; q++)
			mult *= 1024;
		end++;
		if (strcasecmp(end, "iB") != 0 && strcasecmp(end, "B") != 0 && *end)
			return -EINVAL;
	}
	v *= mult;
	if (v >= 18446744073709551616.0)
		return -ERANGE;
	*bytes = (uint64_t)v;
	return 0;
}
