/* SPDX-License-Identifier: MIT */
/*
 * Interrupts (SIGINT, SIGTERM, SIGHUP, SIGQUIT) at a bad moment.
 *
 * A tool that takes a kernel resource holds them over the window between
 * taking it and recording it (signals_hold ... signals_release): one that
 * comes meanwhile is delivered at the release, once the state file names
 * what was done, so img-umount --state finds it.
 *
 * A tool that writes temporary files names the one in flight
 * (signals_tmp_arm); an interrupt removes it before the tool dies.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>

struct signals_window {
	sigset_t saved;
	bool held;
};

/* Declare a window before the handles it protects, with
 * _cleanup_(signals_release): it is then released after their cleanup has
 * undone what they hold, on any return. */
void signals_hold(struct signals_window *w);
/* Delivers what came meanwhile (and so may not return). No-op if not held. */
void signals_release(struct signals_window *w);

/* Installs the handlers that remove the armed temporary file, then die of
 * the signal as if there were none. */
int signals_tmp_install(void);
/* dirfd/name is the temporary file from now on (it may not exist yet). */
void signals_tmp_arm(int dirfd, const char *name);
void signals_tmp_disarm(void);
