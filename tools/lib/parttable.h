/* SPDX-License-Identifier: MIT */
/* The partitions of a disk image, read with libblkid. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct part {
	int nr;         /* partition number, as in loopNpM */
	uint64_t start; /* bytes from the start of the disk */
	uint64_t size;  /* bytes */
};

#define PARTTABLE_MAX 128

/* Fills parts (sorted by number, extended containers left out). Returns the
 * number of partitions, -ENOMEDIUM if there is no partition table. */
int parttable_read(const char *path, struct part parts[static PARTTABLE_MAX]);
