/* SPDX-License-Identifier: MIT */
/* The options every tool takes: -q, -v, -h and -V. */
#pragma once

#include <getopt.h>

#define CLI_COMMON_OPTIONS                              \
	{ "quiet", no_argument, NULL, 'q' },            \
	{ "verbose", no_argument, NULL, 'v' },          \
	{ "help", no_argument, NULL, 'h' },             \
	{ "version", no_argument, NULL, 'V' }

#define CLI_COMMON_SHORT "qvhV"

/* For the default case of a tool's getopt loop. Returns 1 to go on, 0 when
 * help or the version was printed (exit 0), -EINVAL for an unknown option
 * (getopt has said which). */
int cli_option(int c, void (*help)(void));
