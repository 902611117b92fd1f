/* SPDX-License-Identifier: MIT */
/* Small helpers every tool uses: cleanup attributes and exit codes. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The exit codes of every tool (see the man pages). */
enum {
	EXIT_DONE = 0,   /* done, or already in that state */
	EXIT_FAILED = 1, /* failed */
	EXIT_USAGE = 2,  /* bad command line */
};

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
