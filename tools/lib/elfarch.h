/* SPDX-License-Identifier: MIT */
/* Which machine an ELF file is built for. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

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
/* The architecture of this program, from /proc/self/exe. */
int elf_arch_host(struct elf_arch *a);
/* The identification of a Debian architecture's programs ("arm64",
 * "armhf", "riscv64", ...), as the first bytes of an executable would
 * carry it. -EINVAL for a name it does not know. */
int elf_arch_debian(const char *arch, struct elf_arch *a);
