/*
 * imagekind.h - what a kernel image is, by its own bytes, so that lodger boots what it
 * can and names everything else in one line (docs/linux.md).
 */
#ifndef LODGER_IMAGEKIND_H
#define LODGER_IMAGEKIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum image_kind {
	IMAGE_ELF64,	    /* ELF64, no Linux or Xen notes: lodger's own boot protocol */
	IMAGE_LINUX_NO_XEN, /* a Linux vmlinux without Xen PV ELF notes */
	IMAGE_XEN_PV,	    /* an ELF64 with a Xen XEN_ELFNOTE_ENTRY note (Linux or not) */
	IMAGE_BZIMAGE,	    /* a Linux bzImage: decompress it, then ask again */
	IMAGE_OTHER,	    /* anything else: `what` names it */
};

/*
 * Identifies buf. For IMAGE_OTHER, what receives a short name of what the file is
 * ("32-bit ELF (ELFCLASS32)", "PE/COFF executable (EFI)", "gzip-compressed data", ...);
 * otherwise what is "". An ELF64 that elf_load will refuse (another machine, a bad
 * header) is IMAGE_ELF64: elf_load says what is wrong with it.
 */
enum image_kind image_identify(const uint8_t *buf, size_t len, char *what, size_t whatlen);

/*
 * Whether the ELF64 in buf has a PT_NOTE note named "Xen" of type XEN_ELFNOTE_ENTRY, the
 * mark of a Xen PV kernel. Only that: the full notes parser belongs to the Xen PV
 * personality.
 */
bool elf_has_xen_pv_entry(const uint8_t *buf, size_t len);

/* Whether the ELF64 in buf has a PT_NOTE note named "Linux" (every vmlinux has one). */
bool elf_has_linux_note(const uint8_t *buf, size_t len);

#endif
