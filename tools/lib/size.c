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
	const char *p, *u;
	double mult = 1, v;

	if (relative)
		*relative = false;
	if (*s == '+') {
		if (!relative)
			return -EINVAL;
		*relative = true;
		s++;
	}
	/* Digits with an optional fraction, nothing else: strtod alone would
	 * also take hex, exponents, "inf" and "nan". */
	p = s;
	while (isdigit((unsigned char)*p))
		p++;
	if (p == s)
		return -EINVAL;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p))
			p++;
	}
	v = strtod(s, NULL);
	if (*p) {
		u = strchr(units, toupper((unsigned char)*p));
		if (!u || !*u)
			return -EINVAL;
		for (const char *q = units; q <= u; q++)
			mult *= 1024;
		p++;
		if (*p && strcasecmp(p, "iB") != 0 && strcasecmp(p, "B") != 0)
			return -EINVAL;
	}
	v *= mult;
	if (v >= 18446744073709551616.0)
		return -ERANGE;
	*bytes = (uint64_t)v;
	return 0;
}
