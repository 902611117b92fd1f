/* SPDX-License-Identifier: MIT */
/*
 * Programs of a foreign architecture: the kernel's binfmt_misc entries
 * that hand such files to an emulator (qemu-user-static).
 *
 * An entry registered with the F ("fix binary") flag has its interpreter
 * opened by the kernel once, at registration, and that open file is used
 * from then on in every mount namespace: a container whose root holds no
 * emulator still runs foreign programs, so nothing is copied into an image.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "elfarch.h"

#define BINFMT_DIR "/proc/sys/fs/binfmt_misc"

struct binfmt_entry {
	char name[NAME_MAX + 1];
	bool enabled;
	unsigned offset;
	unsigned char magic[BINFMT_HEAD_MAX];
	unsigned char mask[BINFMT_HEAD_MAX];
	size_t len; /* of magic and mask; 0 for an entry by file extension */
	char interpreter[PATH_MAX];
	char flags[16];
	char source[PATH_MAX]; /* the file it was read from */
};

/* Mounts binfmt_misc on BINFMT_DIR unless it is there already (a systemd
 * host automounts it on first access). 1 if mounted now, 0 if it was. */
int binfmt_mount(void);
/* 1 if binfmt_misc is enabled as a whole, 0 if disabled, -errno. */
int binfmt_status(void);
/* Calls fn for every registered entry; stops when fn returns nonzero and
 * returns that. */
int binfmt_foreach(int (*fn)(const struct binfmt_entry *e, void *userdata), void *userdata);
/* True if e's magic and mask match the start of a's file. */
bool binfmt_matches(const struct binfmt_entry *e, const struct elf_arch *a);
/* The qemu-user-static entry that handles a's programs, from
 * /usr/lib/binfmt.d/qemu-*.conf (systemd's format) or else
 * /usr/share/binfmts/qemu-* (binfmt-support's). -ENOENT if no file
 * matches, -ENOPKG if there are no qemu files at all. */
int binfmt_find_qemu(const struct elf_arch *a, struct binfmt_entry *e);
/* Registers e with the F flag added. -EEXIST if an entry of that name is
 * registered. */
int binfmt_register(const struct binfmt_entry *e);
/* Removes the entry NAME. */
int binfmt_remove(const char *name);
/* Makes sure this host runs a's programs: natively, through an enabled
 * entry whose emulator they reach (the F flag, or the emulator's path
 * inside rootfd's tree when rootfd >= 0), or else by registering
 * qemu-user-static's entry with the F flag. A working entry is never
 * removed. Logs why it cannot, with subject ("'DIR' holds") naming where
 * the programs are; returns -errno. */
int binfmt_provide(const struct elf_arch *a, int rootfd, const char *subject);
