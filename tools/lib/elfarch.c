/* SPDX-License-Identifier: MIT */
#include "elfarch.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

int elf_arch_read(int fd, struct elf_arch *a)
{
	ssize_t n = pread(fd, a->head, sizeof(a->head), 0);

	if (n < 0)
		return -errno;
	a->len = (size_t)n;
	/* e_machine is the last field binfmt_misc entries usually look at. */
	if (a->len < 20 || memcmp(a->head, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	a->class = a->head[EI_CLASS];
	a->data = a->head[EI_DATA];
	if ((a->class != ELFCLASS32 && a->class != ELFCLASS64) ||
	    (a->data != ELFDATA2LSB && a->data != ELFDATA2MSB))
		return -ENOEXEC;
	a->machine = a->data == ELFDATA2LSB ? a->head[18] | (unsigned)a->head[19] << 8
					    : (unsigned)a->head[18] << 8 | a->head[19];
	return 0;
}

const char *elf_arch_name(const struct elf_arch *a, char buf[static 32])
{
	/* class or data 0: any. The names are those of qemu and uname -m. */
	static const struct {
		unsigned machine;
		unsigned char class, data;
		const char *name;
	} names[] = {
		{ EM_X86_64, 0, 0, "x86-64" },
		{ EM_386, 0, 0, "i386" },
		{ EM_AARCH64, 0, ELFDATA2LSB, "aarch64" },
		{ EM_AARCH64, 0, ELFDATA2MSB, "aarch64_be" },
		{ EM_ARM, 0, ELFDATA2LSB, "arm" },
		{ EM_ARM, 0, ELFDATA2MSB, "armeb" },
		{ EM_RISCV, ELFCLASS64, 0, "riscv64" },
		{ EM_RISCV, ELFCLASS32, 0, "riscv32" },
		{ EM_PPC64, 0, ELFDATA2LSB, "ppc64le" },
		{ EM_PPC64, 0, ELFDATA2MSB, "ppc64" },
		{ EM_PPC, 0, 0, "ppc" },
		{ EM_S390, ELFCLASS64, 0, "s390x" },
		{ EM_S390, ELFCLASS32, 0, "s390" },
		{ EM_MIPS, ELFCLASS64, ELFDATA2LSB, "mips64el" },
		{ EM_MIPS, ELFCLASS64, ELFDATA2MSB, "mips64" },
		{ EM_MIPS, ELFCLASS32, ELFDATA2LSB, "mipsel" },
		{ EM_MIPS, ELFCLASS32, ELFDATA2MSB, "mips" },
		{ EM_LOONGARCH, 0, 0, "loongarch64" },
		{ EM_SPARCV9, 0, 0, "sparc64" },
		{ EM_SPARC, 0, 0, "sparc" },
		{ EM_68K, 0, 0, "m68k" },
		{ EM_SH, 0, 0, "sh4" },
		{ EM_PARISC, 0, 0, "hppa" },
		{ EM_ALPHA, 0, 0, "alpha" },
		{ EM_IA_64, 0, 0, "ia64" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].machine == a->machine && (!names[i].class || names[i].class == a->class) &&
		    (!names[i].data || names[i].data == a->data))
			return names[i].name;
	snprintf(buf, 32, "ELF machine %u", a->machine);
	return buf;
}

bool elf_arch_native(const struct elf_arch *host, const struct elf_arch *a)
{
	if (host->machine == a->machine && host->class == a->class && host->data == a->data)
		return true;
	/* What a 64-bit kernel runs natively as a 32-bit program. */
	if (a->class != ELFCLASS32 || a->data != ELFDATA2LSB || host->data != ELFDATA2LSB)
		return false;
	return (host->machine == EM_X86_64 && a->machine == EM_386) ||
	       (host->machine == EM_AARCH64 && a->machine == EM_ARM);
}

int elf_is_static(int fd)
{
	struct elf_arch a;
	uint64_t phoff;
	unsigned phnum, phentsize;
	int r = elf_arch_read(fd, &a);

	if (r < 0)
		return r;
	/* An emulator is a program of this host, in its byte order. */
	if (a.data != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB))
		return -ENOEXEC;
	if (a.class == ELFCLASS64) {
		Elf64_Ehdr eh;
		if (a.len < sizeof(eh))
			return -ENOEXEC;
		memcpy(&eh, a.head, sizeof(eh));
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
	} else {
		Elf32_Ehdr eh;
		if (a.len < sizeof(eh))
			return -ENOEXEC;
		memcpy(&eh, a.head, sizeof(eh));
		phoff = eh.e_phoff;
		phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
	}
	/* p_type is the first word of a program header in both classes. */
	for (unsigned i = 0; i < phnum; i++) {
		uint32_t type;
		if (pread(fd, &type, sizeof(type), (off_t)(phoff + (uint64_t)i * phentsize)) != sizeof(type))
			return -ENOEXEC;
		if (type == PT_INTERP)
			return 0;
	}
	return 1;
}

int elf_arch_host(struct elf_arch *a)
{
	_cleanup_(closep) int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return elf_arch_read(fd, a);
}

int elf_arch_debian(const char *arch, struct elf_arch *a)
{
	/* Debian's architecture names and the ELF identification of their
	 * programs. */
	static const struct {
		const char *name;
		unsigned machine;
		unsigned char class, data;
	} arches[] = {
		{ "amd64", EM_X86_64, ELFCLASS64, ELFDATA2LSB },
		{ "i386", EM_386, ELFCLASS32, ELFDATA2LSB },
		{ "arm64", EM_AARCH64, ELFCLASS64, ELFDATA2LSB },
		{ "armhf", EM_ARM, ELFCLASS32, ELFDATA2LSB },
		{ "armel", EM_ARM, ELFCLASS32, ELFDATA2LSB },
		{ "riscv64", EM_RISCV, ELFCLASS64, ELFDATA2LSB },
		{ "ppc64el", EM_PPC64, ELFCLASS64, ELFDATA2LSB },
		{ "ppc64", EM_PPC64, ELFCLASS64, ELFDATA2MSB },
		{ "s390x", EM_S390, ELFCLASS64, ELFDATA2MSB },
		{ "mips64el", EM_MIPS, ELFCLASS64, ELFDATA2LSB },
		{ "loong64", EM_LOONGARCH, ELFCLASS64, ELFDATA2LSB },
	};

	for (size_t i = 0; i < ARRAY_SIZE(arches); i++) {
		if (strcmp(arches[i].name, arch) != 0)
			continue;
		*a = (struct elf_arch){ .class = arches[i].class, .data = arches[i].data,
					.machine = arches[i].machine, .len = 20 };
		/* The identification and header fields that binfmt_misc entries
		 * match: magic, class, data, version, e_type (an executable)
		 * and e_machine. */
		memcpy(a->head, ELFMAG, SELFMAG);
		a->head[EI_CLASS] = a->class;
		a->head[EI_DATA] = a->data;
		a->head[EI_VERSION] = EV_CURRENT;
		if (a->data == ELFDATA2LSB) {
			a->head[16] = ET_EXEC;
			a->head[18] = (unsigned char)(a->machine & 0xff);
			a->head[19] = (unsigned char)(a->machine >> 8);
		} else {
			a->head[17] = ET_EXEC;
			a->head[18] = (unsigned char)(a->machine >> 8);
			a->head[19] = (unsigned char)(a->machine & 0xff);
		}
		return 0;
	}
	return -EINVAL;
}
