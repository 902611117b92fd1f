/* SPDX-License-Identifier: MIT */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "format.h"
#include "log.h"

void progress_start(struct progress *p, const char *label, uint64_t total, uint64_t base)
{
	*p = (struct progress){
		.label = label,
		.total = total,
		.base = base,
		.start = now_seconds(),
		.enabled = isatty(STDERR_FILENO) && log_enabled(LOG_INFO),
	};
}

void progress_update(struct progress *p, uint64_t done)
{
	char b[16], t[16], r[16], e[16];
	double now, rate;

	if (!p->enabled)
		return;
	now = now_seconds();
	if (now - p->last_draw < 0.25 && !(p->total && done >= p->total))
		return;
	p->last_draw = now;
	rate = done > p->base && now > p->start ? (double)(done - p->base) / (now - p->start) : 0;

	if (p->total)
		fprintf(stderr, "\r%s: %s / %s %3u%%  %s/s  ETA %s\033[K", p->label,
			format_bytes(b, done), format_bytes(t, p->total),
			(unsigned)(done * 100 / p->total), format_bytes(r, (uint64_t)rate),
			rate > 0 && done < p->total ? format_duration(e, (double)(p->total - done) / rate) : "-");
	else
		fprintf(stderr, "\r%s: %s  %s/s\033[K", p->label, format_bytes(b, done),
			format_bytes(r, (uint64_t)rate));
	p->drawn = true;
}

void progress_end(struct progress *p)
{
	if (p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}
