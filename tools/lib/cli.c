/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "log.h"

int cli_option(int c, void (*help)(void))
{
	switch (c) {
	case 'q':
		log_set_level(LOG_NOTICE);
		return 1;
	case 'v':
		log_set_level(LOG_DEBUG);
		return 1;
	case 'h':
		help();
		return 0;
	case 'V':
		printf("%s %s\n", log_program(), VERSION);
		return 0;
	default:
		fprintf(stderr, "Try '%s --help'.\n", log_program());
		return -EINVAL;
	}
}

int cli_partition(const char *s, unsigned *nr)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || end == s || *end || !isdigit((unsigned char)s[0]) || n == 0 || n > 65535) {
		log_error("--partition wants a partition number (1, 2, ...), not '%s'", s);
		return -EINVAL;
	}
	*nr = (unsigned)n;
	return 0;
}

int cli_operand(int argc, char **argv, const char *missing, const char **operand)
{
	if (optind != argc - 1) {
		log_error("%s", optind == argc ? missing : "too many arguments");
		fprintf(stderr, "Try '%s --help'.\n", log_program());
		return -EINVAL;
	}
	*operand = argv[optind];
	return 0;
}

int cli_main(int argc, char **argv, int (*parse_argv)(int argc, char **argv), int (*run)(void),
	     int usage_status)
{
	int r;

	log_setup(argv[0]);
	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? usage_status : EXIT_DONE;
	return run();
}
