/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set once at start-up from main(); the only state of this module. */
static const char *program = "img";
static enum log_level max_level = LOG_INFO;

void log_setup(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');

	program = slash ? slash + 1 : argv0;
}

const char *log_program(void)
{
	return program;
}

void log_set_level(enum log_level level)
{
	max_level = level;
}

bool log_enabled(enum log_level level)
{
	return level <= max_level;
}

static void log_va(const char *fmt, va_list ap, const char *suffix)
{
	/* One fprintf per line so concurrent tools do not interleave words. */
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s: %s%s%s\n", program, msg, suffix ? ": " : "", suffix ? suffix : "");
}

void log_at(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_va(fmt, ap, NULL);
	va_end(ap);
}

int log_errno(int err, const char *fmt, ...)
{
	va_list ap;

	err = abs(err);
	va_start(ap, fmt);
	log_va(fmt, ap, strerror(err));
	va_end(ap);
	return -err;
}
