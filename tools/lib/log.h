/* SPDX-License-Identifier: MIT */
/* Messages on stderr, prefixed with the program name. */
#pragma once

#include <stdbool.h>

enum log_level {
	LOG_ERR,    /* always shown */
	LOG_NOTICE, /* one-line summaries: shown even with -q */
	LOG_INFO,   /* what a step is doing: hidden by -q */
	LOG_DEBUG,  /* -v */
};

void log_setup(const char *argv0);
const char *log_program(void);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

void log_at(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Logs "prog: MESSAGE: strerror(err)" and returns -abs(err), so that
 * "return log_errno(r, ...)" both reports and propagates. */
int log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_at(LOG_ERR, __VA_ARGS__)
#define log_notice(...) log_at(LOG_NOTICE, __VA_ARGS__)
/* Something refused or repaired that the user should know of: shown even
 * with -q, and picked out of a build's log by its "warning: ". */
#define log_warning(fmt, ...) log_at(LOG_NOTICE, "warning: " fmt, ##__VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
