/* SPDX-License-Identifier: MIT */
/* The mount table of this process, read with libmount. */
#pragma once

#include <sys/types.h>

struct mount_entry {
	int id;
	const char *target;
	const char *source; /* for FUSE, the fsname (img-mount sets it to the device) */
	const char *fstype;
	dev_t devno;        /* of the mounted filesystem */
};

/* Calls fn for every mount in /proc/self/mountinfo order; stops when fn
 * returns nonzero and returns that. */
int mounts_foreach(int (*fn)(const struct mount_entry *m, void *userdata), void *userdata);
