/* SPDX-License-Identifier: MIT */
/* One self-updating progress line on a terminal; nothing in logs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct progress {
	const char *label;
	uint64_t total; /* 0: unknown */
	uint64_t base;  /* bytes done before this run (a resume), left out of the rate */
	double start;
	double last_draw;
	bool enabled;
	bool drawn;
};

/* Enabled only when stderr is a terminal and the log level shows info. */
void progress_start(struct progress *p, const char *label, uint64_t total, uint64_t base);
void progress_update(struct progress *p, uint64_t done);
/* Erases the line, so that the summary that follows stands alone. */
void progress_end(struct progress *p);
