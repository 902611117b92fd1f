/* SPDX-License-Identifier: MIT */
#include "size.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

/* Digits only: no sign, no space, no hex, no exponent. The digit string is
 * kept in 128 bits, with room for a unit (2^40) on top, so that a value
 * past 2^64 is -ERANGE, never a wrap. */
static int digits_parse(const char **p, unsigned __int128 *v, unsigned *n)
{
	*v = 0;
	*n = 0;
	while (**p >= '0' && **p <= '9') {
		if (*v > ((unsigned __int128)1 << 80))
			return -ERANGE;
		*v = *v * 10 + (unsigned)(**p - '0');
		(*n)++;
		(*p)++;
	}
	return 0;
}

int size_parse(const char *s, uint64_t *bytes, bool *relative)
{
	static const char units[] = "KMGT";
	unsigned __int128 whole, frac, scale = 1, mult = 1, v;
	unsigned n_whole, n_frac = 0;
	const char *p = s, *u;
	int r;

	if (relative)
		*relative = false;
	if (*p == '+') {
		if (!relative)
			return -EINVAL;
		*relative = true;
		p++;
	}
	r = digits_parse(&p, &whole, &n_whole);
	if (r < 0)
		return r;
	if (n_whole == 0)
		return -EINVAL;
	frac = 0;
	if (*p == '.') {
		p++;
		r = digits_parse(&p, &frac, &n_frac);
		if (r < 0 || n_frac > 20)
			return -EINVAL;
		if (n_frac == 0)
			return -EINVAL;
		for (unsigned i = 0; i < n_frac; i++)
			scale *= 10;
	}
	/* The unit: none, B, or K/M/G/T with an optional "iB"; 1024-based.
	 * "KB" and the like are refused: they mean 1000 to some. */
	if (*p && strcasecmp(p, "B") != 0) {
		u = *p ? strchr(units, *p >= 'a' ? *p - 'a' + 'A' : *p) : NULL;
		if (!u)
			return -EINVAL;
		for (const char *q = units; q <= u; q++)
			mult *= 1024;
		p++;
		if (*p && strcasecmp(p, "iB") != 0)
			return -EINVAL;
	}
	/* A fraction must come out as whole bytes: 1.5K is 1536, 1.3 is not. */
	if ((frac * mult) % scale != 0)
		return -EDOM;
	if (whole > UINT64_MAX)
		return -ERANGE;
	v = whole * mult + frac * mult / scale;
	if (v > UINT64_MAX)
		return -ERANGE;
	*bytes = (uint64_t)v;
	return 0;
}
