/* SPDX-License-Identifier: MIT */
#include "cli.h"

#include <errno.h>
#include <stdio.h>

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
