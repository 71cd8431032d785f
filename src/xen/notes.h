/*
 * notes.h - the Xen ELF notes of a PV kernel: what the kernel asks of the domain builder.
 *
 * A Xen PV kernel says how to load it in PT_NOTE segments (or SHT_NOTE sections) named
 * "Xen" (libxen-dev <xen/elfnote.h>). xen_notes_parse reads them from an ELF image in
 * memory (a file, or what bzImage decompression produced) the way Xen's libelf does
 * (xen/common/libelf/libelf-dominfo.c), with every offset checked against the image.
 * xen_notes_check then refuses what lodger cannot honour, in one line.
 */
#ifndef LODGER_XEN_NOTES_H
#define LODGER_XEN_NOTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/features.h>

#define XEN_NOTES_UNSET UINT64_MAX /* a numeric note the kernel did not give */

struct xen_notes {
	bool elf64;	/* ELFCLASS64; a 32-bit PV kernel is recognised, then refused */
	unsigned count; /* Xen notes found, PVH's PHYS32_ENTRY aside; 0: not a PV kernel */

	/* Numeric notes, XEN_NOTES_UNSET when absent (before xen_notes_parse's defaults). */
	uint64_t entry;		 /* ENTRY, else e_entry: a virtual address */
	uint64_t virt_base;	 /* VIRT_BASE, else 0 */
	uint64_t paddr_offset;	 /* PADDR_OFFSET, else 0 */
	uint64_t hypercall_page; /* HYPERCALL_PAGE: virtual address, or UNSET */
	uint64_t hv_start_low;	 /* HV_START_LOW, or UNSET */
	uint64_t init_p2m;	 /* INIT_P2M, or UNSET */
	bool mod_start_pfn;	 /* MOD_START_PFN != 0: modules given as pfns, unmapped */

	uint32_t f_supported[XENFEAT_NR_SUBMAPS]; /* FEATURES and SUPPORTED_FEATURES */
	uint32_t f_required[XENFEAT_NR_SUBMAPS];  /* FEATURES entries with '!' */

	char guest_os[32]; /* GUEST_OS ("linux", "XTF"...) */
	char guest_version[32];
	char xen_version[32]; /* XEN_VERSION, must start "xen-3.0" */
	char loader[32];      /* LOADER ("generic") */
	char pae_mode[32];    /* PAE_MODE (32-bit only; kept for -d boot) */

	/* Computed from the program headers (as libelf's elf_xen_addr_calc_check). */
	uint64_t pstart, pend;		 /* lowest / highest p_paddr of PT_LOAD */
	uint64_t virt_kstart, virt_kend; /* the kernel's virtual range */
};

/*
 * Reads the Xen notes of the ELF image [img, img + len). Returns 1 when the image is a
 * Xen PV kernel (it has Xen notes), 0 when it has none (an ordinary ELF: *n says so with
 * count 0), -1 with a one-line reason in err when the image or a note is malformed (an
 * unknown required feature, an address check libelf makes). Never reads outside the image.
 */
int xen_notes_parse(const uint8_t *img, size_t len, struct xen_notes *n, char *err, size_t errlen);

/* The XENFEAT_* bits lodger provides (what xen_version(XENVER_get_features) reports). */
uint32_t xen_notes_lodger_features(unsigned submap);

/*
 * Refuses, in one line, a Xen PV kernel lodger cannot run: a 32-bit one, a LOADER/GUEST_OS
 * or XEN_VERSION Xen itself refuses, a required feature lodger lacks. 0 when runnable.
 */
int xen_notes_check(const struct xen_notes *n, char *err, size_t errlen);

/* The name of feature bit `bit` of submap 0 ("writable_page_tables"), or NULL. */
const char *xen_notes_feature_name(unsigned bit);

#endif
