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

/* The value of --partition: a number from 1 to 65535, digits only. Returns 0,
 * or -EINVAL after saying what is wrong. */
int cli_partition(const char *s, unsigned *nr);

/* After the getopt loop of a tool that takes one operand: sets *operand to
 * it and returns 0, or says what is wrong (missing, the words "too many
 * arguments") and returns -EINVAL. */
int cli_operand(int argc, char **argv, const char *missing, const char **operand);

/* The whole main() of a tool: log_setup(argv[0]), parse_argv(), then run().
 * parse_argv returns >0 to go on, 0 when it has done all there is to do
 * (help, version: exit 0) and <0 for bad usage, which exits with
 * usage_status (EXIT_USAGE; img-nspawn-run has its own). */
int cli_main(int argc, char **argv, int (*parse_argv)(int argc, char **argv), int (*run)(void),
	     int usage_status);
