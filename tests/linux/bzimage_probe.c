/*
 * bzimage_probe.c - what lodger's bzImage path makes of a kernel file, for the test on
 * Debian's own kernel (debian_kernel.py): the release from the setup header, the
 * decompressed ELF's class and machine, and the kind its notes give it.
 *
 * Usage: bzimage-probe FILE   prints key=value lines; exit 1 with one line on failure.
 */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bzimage.h"
#include "boot/imagekind.h"
#include "boot/loader.h"

#define LIMIT (1ULL << 30) /* as much as a 1 GiB guest */

static const char *kind_name(enum image_kind k)
{
	switch (k) {
	case IMAGE_ELF64:
		return "elf64";
	case IMAGE_LINUX_NO_XEN:
		return "linux-without-xen";
	case IMAGE_XEN_PV:
		return "xen-pv";
	case IMAGE_BZIMAGE:
		return "bzimage";
	default:
		return "other";
	}
}

int main(int argc, char **argv)
{
	char err[256], what[128], release[64];
	uint8_t *file, *elf;
	size_t len, elf_len;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	if (load_file_max(argv[1], LIMIT, &file, &len, err, sizeof(err)) ||
	    bzimage_extract(file, len, LIMIT, &elf, &elf_len, err, sizeof(err))) {
		fprintf(stderr, "bzimage-probe: %s: %s\n", argv[1], err);
		return 1;
	}
	bzimage_release(file, len, release, sizeof(release));
	printf("release=%s\n", release);
	printf("elf_bytes=%zu\n", elf_len);
	if (elf_len >= sizeof(Elf64_Ehdr) && memcmp(elf, ELFMAG, SELFMAG) == 0) {
		Elf64_Ehdr eh;

		memcpy(&eh, elf, sizeof(eh));
		printf("elf_class=%u\nelf_machine=%u\n", eh.e_ident[EI_CLASS], eh.e_machine);
	}
	printf("kind=%s\n", kind_name(image_identify(elf, elf_len, what, sizeof(what))));
	printf("xen_entry_note=%d\n", elf_has_xen_pv_entry(elf, elf_len));
	printf("linux_note=%d\n", elf_has_linux_note(elf, elf_len));
	free(elf);
	free(file);
	return 0;
}
