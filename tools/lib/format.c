/* SPDX-License-Identifier: MIT */
#include "format.h"

#include <stdio.h>
#include <time.h>

const char *format_bytes(char buf[static 16], uint64_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, 16, "%u B", (unsigned)n);
		return buf;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 16, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

const char *format_duration(char buf[static 16], double seconds)
{
	/* Capped at 999 hours so that it always fits. */
	unsigned s = seconds < 0 ? 0 : seconds > 3599999 ? 3599999 : (unsigned)(seconds + 0.5);

	if (s < 60)
		snprintf(buf, 16, "%us", s);
	else if (s < 3600)
		snprintf(buf, 16, "%u:%02u", s / 60, s % 60);
	else
		snprintf(buf, 16, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
	return buf;
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
