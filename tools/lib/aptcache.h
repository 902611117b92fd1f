/* SPDX-License-Identifier: MIT */
/*
 * apt's .deb files shared between builds, and what a container's apt
 * downloaded in one run. The container sees the shared directory read-only,
 * through an overlay whose upper directory is this run's; after the run
 * only the .deb files that the image's own apt lists vouch for (a regular
 * file, named PACKAGE_VERSION_ARCH.deb as apt names it, whose SHA-256 the
 * lists give for that package) are moved into the shared directory.
 * Anything else the container left there is dropped.
 */
#pragma once

#include <stdbool.h>

struct aptcache_result {
	unsigned kept;    /* .deb files moved into the shared directory */
	unsigned dropped; /* anything else (apt's deletions aside) */
	bool no_lists;    /* the image had no apt lists to check against */
	char dropped_names[256]; /* the first few, ", "-separated */
};

/* Moves the vouched-for .deb files of upperfd (the overlay's upper
 * directory) into cachefd, checked against the Packages lists under
 * /var/lib/apt/lists of the image whose root is rootfd. Nothing is followed:
 * a symlink, a hard link or a directory is dropped. -errno on a local error
 * (reported). */
int aptcache_collect(int cachefd, int upperfd, int rootfd, struct aptcache_result *res);
