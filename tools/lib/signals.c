/* SPDX-License-Identifier: MIT */
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const int interrupts[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void interrupts_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < ARRAY_SIZE(interrupts); i++)
		sigaddset(set, interrupts[i]);
}

void signals_hold(struct signals_window *w)
{
	sigset_t set;

	if (w->held)
		return;
	interrupts_set(&set);
	sigprocmask(SIG_BLOCK, &set, &w->saved);
	w->held = true;
}

void signals_release(struct signals_window *w)
{
	if (!w->held)
		return;
	w->held = false;
	sigprocmask(SIG_SETMASK, &w->saved, NULL);
}

/* What the handler removes: written only while tmp_armed is 0. */
static volatile sig_atomic_t tmp_armed;
static int tmp_dirfd = -1;
static char tmp_name[256];

static void on_interrupt(int sig)
{
	int saved = errno;

	if (tmp_armed)
		unlinkat(tmp_dirfd, tmp_name, 0);
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

int signals_tmp_install(void)
{
	struct sigaction sa = { .sa_handler = on_interrupt };

	/* The others wait while one handler runs. */
	interrupts_set(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(interrupts); i++) {
		struct sigaction old;
		/* An interrupt ignored by whoever started us stays ignored. */
		if (sigaction(interrupts[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		if (sigaction(interrupts[i], &sa, NULL) < 0)
			return -errno;
	}
	return 0;
}

void signals_tmp_arm(int dirfd, const char *name)
{
	tmp_armed = 0;
	tmp_dirfd = dirfd;
	snprintf(tmp_name, sizeof(tmp_name), "%s", name);
	tmp_armed = 1;
}

void signals_tmp_disarm(void)
{
	tmp_armed = 0;
}
