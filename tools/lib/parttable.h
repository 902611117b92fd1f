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

struct part_fs {
	char type[32];  /* "vfat", "ext4", ...; "" if none was found */
	char label[64]; /* "" if it has none */
	char uuid[64];  /* as blkid shows it; "" if it has none */
	char version[16]; /* "FAT32", "FAT16", ...: blkid's VERSION */
};

/* Probes the filesystem in partition p of the image open at fd (libblkid).
 * Returns 0 (also when nothing is found), -ENOTUNIQ if several filesystems'
 * signatures are there, or another -errno. */
int part_probe(int fd, const struct part *p, struct part_fs *fs);
