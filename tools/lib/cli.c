/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <errno.h>
#include <stdio.h>

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
