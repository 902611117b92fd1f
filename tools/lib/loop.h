/* SPDX-License-Identifier: MIT */
/*
 * Loop devices. A struct loop_device is the handle of an attachment: its
 * cleanup detaches it again unless loop_relinquish() was called, so a tool
 * that fails midway leaves no loop device behind.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct loop_device {
	int fd;
	int nr;
	char path[32]; /* /dev/loopN */
	bool relinquished;
};

#define LOOP_DEVICE_INIT { .fd = -1, .nr = -1 }

enum {
	LOOP_ATTACH_READ_ONLY = 1 << 0,
	LOOP_ATTACH_PARTSCAN = 1 << 1,
	LOOP_ATTACH_AUTOCLEAR = 1 << 2, /* detached by the kernel on last close */
};

/* Attaches file at offset, size bytes long (0: to its end). A lost race
 * for a free device is retried. Afterwards checks that the device really
 * backs this file. */
int loop_attach(struct loop_device *l, const char *file, uint64_t offset, uint64_t size,
		unsigned flags);
/* Detaches and closes. */
int loop_detach(struct loop_device *l);
/* Keeps the device attached when the handle goes away. */
void loop_relinquish(struct loop_device *l);
/* Detaches unless relinquished; for _cleanup_. */
void loop_cleanup(struct loop_device *l);

/* Detaches /dev/loopN by number. 0, or -ENXIO if it was not attached. */
int loop_detach_nr(int nr);
/* True if the open loop device fd backs the file st at offset. */
bool loop_backs(int fd, const struct stat *st, uint64_t offset);
/* True if /dev/loopN backs the file st, at any offset. Asks the device,
 * not the path in sysfs, which may name a file deleted and made anew. */
bool loop_nr_uses(int nr, const struct stat *st);

/* The number of a loop device that backs the file st, or -ENOENT. */
int loop_find_user(const struct stat *st);

/* Calls fn for every attached loop device with the path of its backing
 * file (" (deleted)" stripped); stops when fn returns nonzero. */
int loop_foreach(int (*fn)(int nr, const char *backing, void *userdata), void *userdata);
/* A /dev node for sysfs block device NAME (e.g. loop3p1): waits (bounded)
 * for it to appear and creates it from sysfs if /dev is not managed. */
int loop_devnode(const char *name, char path[static 64]);
