/* SPDX-License-Identifier: MIT */
/*
 * Programs of a foreign architecture: which machine an ELF file is built
 * for, and the kernel's binfmt_misc entries that hand such files to an
 * emulator (qemu-user-static).
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

#define BINFMT_DIR "/proc/sys/fs/binfmt_misc"
/* binfmt_misc compares at most this many bytes from a file's start. */
#define BINFMT_HEAD_MAX 128

struct elf_arch {
	unsigned char head[BINFMT_HEAD_MAX]; /* the file's first bytes */
	size_t len;
	unsigned char class; /* ELFCLASS32 or ELFCLASS64 */
	unsigned char data;  /* ELFDATA2LSB or ELFDATA2MSB */
	unsigned machine;    /* e_machine */
};

/* Reads the ELF identification of the file open at fd. -ENOEXEC if it is
 * not an ELF file. */
int elf_arch_read(int fd, struct elf_arch *a);
/* "aarch64", "x86-64", "ppc64le", ... or "ELF machine N". */
const char *elf_arch_name(const struct elf_arch *a, char buf[static 32]);
/* True if a host running host runs a's programs itself: the same machine,
 * or the 32-bit sibling a 64-bit kernel runs natively (i386 on x86-64,
 * arm on aarch64). */
bool elf_arch_native(const struct elf_arch *host, const struct elf_arch *a);
/* 1 if the ELF file at fd is statically linked (no PT_INTERP), 0 if not,
 * -errno. An emulator the kernel starts inside a container must be. */
int elf_is_static(int fd);

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
/* Registers e with the F flag added. A registered entry of the same name
 * (disabled, or without F) is removed first. */
int binfmt_register(const struct binfmt_entry *e);
