/* notes.c - reading a PV kernel's Xen ELF notes, every offset checked against the image. */
#include "xen/notes.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <xen/elfnote.h>

#include "kvm/mem.h"

/* libelf caps the notes it reads (ELF_MAX_TOTAL_NOTE_COUNT); so does lodger. */
#define MAX_NOTES 1024

/* The features libelf knows by name (xen/common/libelf/libelf-dominfo.c). */
static const char *const feature_names[] = {
	[XENFEAT_writable_page_tables] = "writable_page_tables",
	[XENFEAT_writable_descriptor_tables] = "writable_descriptor_tables",
	[XENFEAT_auto_translated_physmap] = "auto_translated_physmap",
	[XENFEAT_supervisor_mode_kernel] = "supervisor_mode_kernel",
	[XENFEAT_pae_pgdir_above_4gb] = "pae_pgdir_above_4gb",
	[XENFEAT_hvm_callback_vector] = "hvm_callback_vector",
	[XENFEAT_dom0] = "dom0",
};
#define NR_FEATURE_NAMES (sizeof(feature_names) / sizeof(feature_names[0]))

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

const char *xen_notes_feature_name(unsigned bit)
{
	if (bit >= NR_FEATURE_NAMES || !feature_names[bit])
		return NULL;
	return feature_names[bit];
}

uint32_t xen_notes_lodger_features(unsigned submap)
{
	/* writable_page_tables: guest stores to its page tables are emulated (ptwr);
	 * pae_pgdir_above_4gb and preserve_ad cost nothing on a 64-bit identity p2m;
	 * gnttab_map_avail_bits is about mappings of other domains' grants, which lodger
	 * never makes for a guest (Linux's PV boot panics without it and preserve_ad). */
	if (submap != 0)
		return 0;
	return 1u << XENFEAT_writable_page_tables | 1u << XENFEAT_pae_pgdir_above_4gb |
	       1u << XENFEAT_mmu_pt_update_preserve_ad | 1u << XENFEAT_gnttab_map_avail_bits;
}

/* A little-endian unsigned of `size` bytes at p (x86 only, as lodger). */
static uint64_t get_le(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = size; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* Parses "a|!b|c" as libelf's elf_xen_parse_features: -1 for an unknown required name. */
static int parse_features(const char *s, struct xen_notes *n, char *err, size_t errlen)
{
	while (*s) {
		size_t len = strcspn(s, "|");
		bool required = *s == '!';
		const char *name = s + required;
		size_t nlen = len - required;
		unsigned i;

		for (i = 0; i < NR_FEATURE_NAMES; i++) {
			if (feature_names[i] && strlen(feature_names[i]) == nlen &&
			    memcmp(name, feature_names[i], nlen) == 0)
				break;
		}
		if (i < NR_FEATURE_NAMES) {
			n->f_supported[0] |= 1u << i;
			if (required)
				n->f_required[0] |= 1u << i;
		} else if (required) {
			return fail(err, errlen,
				    "Xen PV kernel requires feature '%.*s', which Xen does not "
				    "know",
				    (int)(nlen > 64 ? 64 : nlen), name);
		}
		s += len + (s[len] == '|');
	}
	return 0;
}

/* Copies a string note: up to the first NUL, at most the field's size minus one. */
static void copy_string(char *dst, size_t size, const uint8_t *desc, uint32_t descsz)
{
	size_t n = strnlen((const char *)desc, descsz);

	if (n >= size)
		n = size - 1;
	memcpy(dst, desc, n);
	dst[n] = '\0';
	/* keep -d output and error lines on one line */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] >= 0x7f)
			dst[i] = '?';
}

static int parse_note(struct xen_notes *n, uint32_t type, const uint8_t *desc, uint32_t descsz,
		      char *err, size_t errlen)
{
	/* libelf's elf_note_numeric: 1, 2, 4 or 8 bytes, anything else reads as 0 */
	uint64_t val = (descsz == 1 || descsz == 2 || descsz == 4 || descsz == 8)
			       ? get_le(desc, descsz)
			       : 0;
	char str[256];

	switch (type) {
	case XEN_ELFNOTE_ENTRY:
		n->entry = val;
		break;
	case XEN_ELFNOTE_VIRT_BASE:
		n->virt_base = val;
		break;
	case XEN_ELFNOTE_PADDR_OFFSET:
		n->paddr_offset = val;
		break;
	case XEN_ELFNOTE_HYPERCALL_PAGE:
		n->hypercall_page = val;
		break;
	case XEN_ELFNOTE_HV_START_LOW:
		n->hv_start_low = val;
		break;
	case XEN_ELFNOTE_INIT_P2M:
		n->init_p2m = val;
		break;
	case XEN_ELFNOTE_MOD_START_PFN:
		n->mod_start_pfn = val != 0;
		break;
	case XEN_ELFNOTE_GUEST_OS:
		copy_string(n->guest_os, sizeof(n->guest_os), desc, descsz);
		break;
	case XEN_ELFNOTE_GUEST_VERSION:
		copy_string(n->guest_version, sizeof(n->guest_version), desc, descsz);
		break;
	case XEN_ELFNOTE_XEN_VERSION:
		copy_string(n->xen_version, sizeof(n->xen_version), desc, descsz);
		break;
	case XEN_ELFNOTE_LOADER:
		copy_string(n->loader, sizeof(n->loader), desc, descsz);
		break;
	case XEN_ELFNOTE_PAE_MODE:
		copy_string(n->pae_mode, sizeof(n->pae_mode), desc, descsz);
		break;
	case XEN_ELFNOTE_FEATURES:
		copy_string(str, sizeof(str), desc, descsz);
		return parse_features(str, n, err, errlen);
	case XEN_ELFNOTE_SUPPORTED_FEATURES:
		/* the bitmap form: one 32-bit word per submap */
		for (unsigned i = 0; i < XENFEAT_NR_SUBMAPS; i++)
			if (descsz % 4 == 0 && i < descsz / 4)
				n->f_supported[i] |= (uint32_t)get_le(desc + 4 * i, 4);
		break;
	default: /* the others (BSD_SYMTAB, L1_MFN_VALID...) change nothing lodger does */
		break;
	}
	return 0;
}

/* Walks the notes in [off, off + size) of the image; counts Xen's in n->count. */
static int parse_notes(const uint8_t *img, size_t len, uint64_t off, uint64_t size,
		       struct xen_notes *n, unsigned *total, char *err, size_t errlen)
{
	if (!range_within(off, size, len))
		return fail(err, errlen, "a note segment lies outside the file");
	while (size >= 12) {
		const uint8_t *p = img + off;
		uint64_t namesz = get_le(p, 4), descsz = get_le(p + 4, 4);
		uint32_t type = (uint32_t)get_le(p + 8, 4);
		uint64_t name_pad = (namesz + 3) & ~3ULL, desc_pad = (descsz + 3) & ~3ULL;
		uint64_t note_size = 12 + name_pad + desc_pad;

		if (note_size > size)
			return fail(err, errlen, "a note runs past the end of its segment");
		if (++*total > MAX_NOTES)
			return fail(err, errlen, "more than %u ELF notes", MAX_NOTES);
		if (namesz == 4 && memcmp(p + 12, "Xen", 4) == 0) {
			/* PHYS32_ENTRY alone is PVH (an HVM boot, as QEMU's -kernel uses it), not
			 * PV: such a kernel keeps its own personality. */
			if (type != XEN_ELFNOTE_PHYS32_ENTRY)
				n->count++;
			if (parse_note(n, type, p + 12 + name_pad, (uint32_t)descsz, err, errlen))
				return -1;
		}
		off += note_size;
		size -= note_size;
	}
	return 0;
}

/* One program or section header's fields, either class. */
struct hdr {
	uint32_t type;
	uint64_t offset, size, paddr, memsz;
};

static void read_phdr(const uint8_t *p, bool elf64, struct hdr *h)
{
	if (elf64) {
		Elf64_Phdr ph;

		memcpy(&ph, p, sizeof(ph));
		*h = (struct hdr){ph.p_type, ph.p_offset, ph.p_filesz, ph.p_paddr, ph.p_memsz};
	} else {
		Elf32_Phdr ph;

		memcpy(&ph, p, sizeof(ph));
		*h = (struct hdr){ph.p_type, ph.p_offset, ph.p_filesz, ph.p_paddr, ph.p_memsz};
	}
}

static void read_shdr(const uint8_t *p, bool elf64, struct hdr *h)
{
	if (elf64) {
		Elf64_Shdr sh;

		memcpy(&sh, p, sizeof(sh));
		*h = (struct hdr){sh.sh_type, sh.sh_offset, sh.sh_size, 0, 0};
	} else {
		Elf32_Shdr sh;

		memcpy(&sh, p, sizeof(sh));
		*h = (struct hdr){sh.sh_type, sh.sh_offset, sh.sh_size, 0, 0};
	}
}

static void set_defaults(struct xen_notes *n)
{
	*n = (struct xen_notes){
		.entry = XEN_NOTES_UNSET,
		.virt_base = XEN_NOTES_UNSET,
		.paddr_offset = XEN_NOTES_UNSET,
		.hypercall_page = XEN_NOTES_UNSET,
		.hv_start_low = XEN_NOTES_UNSET,
		.init_p2m = XEN_NOTES_UNSET,
	};
}

/* libelf's elf_xen_addr_calc_check, for the modern notes interface. */
static int calc_addresses(struct xen_notes *n, uint64_t e_entry, char *err, size_t errlen)
{
	uint64_t virt_offset;

	if (n->paddr_offset != XEN_NOTES_UNSET && n->virt_base == XEN_NOTES_UNSET)
		return fail(err, errlen, "Xen note PADDR_OFFSET is set but VIRT_BASE is not");
	if (n->virt_base == XEN_NOTES_UNSET)
		n->virt_base = 0;
	if (n->paddr_offset == XEN_NOTES_UNSET)
		n->paddr_offset = 0;
	virt_offset = n->virt_base - n->paddr_offset;
	n->virt_kstart = n->pstart + virt_offset;
	n->virt_kend = n->pend + virt_offset;
	if (n->entry == XEN_NOTES_UNSET)
		n->entry = e_entry;
	if (n->virt_kstart > n->virt_kend || n->entry < n->virt_kstart || n->entry > n->virt_kend ||
	    n->virt_base > n->virt_kstart)
		return fail(err, errlen,
			    "Xen PV kernel: entry %#llx or its image [%#llx, %#llx) lies outside "
			    "[VIRT_BASE %#llx, ...)",
			    (unsigned long long)n->entry, (unsigned long long)n->virt_kstart,
			    (unsigned long long)n->virt_kend, (unsigned long long)n->virt_base);
	if (n->init_p2m != XEN_NOTES_UNSET && n->init_p2m >= n->virt_kstart &&
	    n->init_p2m < n->virt_kend)
		return fail(err, errlen, "Xen note INIT_P2M %#llx lies inside the kernel image",
			    (unsigned long long)n->init_p2m);
	return 0;
}

int xen_notes_parse(const uint8_t *img, size_t len, struct xen_notes *n, char *err, size_t errlen)
{
	uint64_t phoff, shoff, e_entry;
	unsigned phnum, shnum, phentsize, shentsize, total = 0;
	bool elf64;

	set_defaults(n);
	if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0)
		return fail(err, errlen, "not an ELF file");
	if (img[EI_CLASS] != ELFCLASS64 && img[EI_CLASS] != ELFCLASS32)
		return fail(err, errlen, "ELF class %u is neither 32- nor 64-bit", img[EI_CLASS]);
	elf64 = img[EI_CLASS] == ELFCLASS64;
	n->elf64 = elf64;
	if (len < (elf64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
		return fail(err, errlen, "truncated ELF header");
	if (elf64) {
		Elf64_Ehdr eh;

		memcpy(&eh, img, sizeof(eh));
		phoff = eh.e_phoff, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
		shoff = eh.e_shoff, shnum = eh.e_shnum, shentsize = eh.e_shentsize;
		e_entry = eh.e_entry;
	} else {
		Elf32_Ehdr eh;

		memcpy(&eh, img, sizeof(eh));
		phoff = eh.e_phoff, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
		shoff = eh.e_shoff, shnum = eh.e_shnum, shentsize = eh.e_shentsize;
		e_entry = eh.e_entry;
	}
	if (phnum && (phentsize != (elf64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) ||
		      !range_within(phoff, (uint64_t)phnum * phentsize, len)))
		return fail(err, errlen, "program headers lie outside the file");

	n->pstart = UINT64_MAX;
	n->pend = 0;
	for (unsigned i = 0; i < phnum; i++) {
		struct hdr h;

		read_phdr(img + phoff + (uint64_t)i * phentsize, elf64, &h);
		if (h.type == PT_LOAD && h.memsz) {
			if (h.paddr < n->pstart)
				n->pstart = h.paddr;
			if (h.paddr + h.memsz < h.paddr)
				return fail(err, errlen, "segment %u wraps around", i);
			if (h.paddr + h.memsz > n->pend)
				n->pend = h.paddr + h.memsz;
		}
		/* libelf skips a note segment at offset 0 (old binutils got it wrong) */
		if (h.type != PT_NOTE || h.offset == 0)
			continue;
		if (parse_notes(img, len, h.offset, h.size, n, &total, err, errlen))
			return -1;
	}
	/* Like libelf: SHT_NOTE sections only when no note segment had a Xen note. */
	if (!n->count && shnum && shentsize == (elf64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)) &&
	    range_within(shoff, (uint64_t)shnum * shentsize, len)) {
		for (unsigned i = 1; i < shnum; i++) {
			struct hdr h;

			read_shdr(img + shoff + (uint64_t)i * shentsize, elf64, &h);
			if (h.type != SHT_NOTE)
				continue;
			if (parse_notes(img, len, h.offset, h.size, n, &total, err, errlen))
				return -1;
		}
	}
	if (!n->count)
		return 0;
	if (n->pstart == UINT64_MAX)
		return fail(err, errlen, "Xen PV kernel without a loadable (PT_LOAD) segment");
	if (calc_addresses(n, e_entry, err, errlen))
		return -1;
	return 1;
}

int xen_notes_check(const struct xen_notes *n, char *err, size_t errlen)
{
	if (!n->elf64)
		return fail(err, errlen,
			    "32-bit Xen PV kernel: lodger runs only 64-bit (x86-64) PV kernels");
	/* Xen's elf_xen_note_check: the generic loader or Linux, built for Xen 3.0 */
	if (strncmp(n->loader, "generic", 7) != 0 && strncmp(n->guest_os, "linux", 5) != 0)
		return fail(err, errlen,
			    "Xen PV kernel for loader '%s' and guest OS '%s': Xen and lodger load "
			    "only LOADER \"generic\" or GUEST_OS \"linux\" images",
			    n->loader, n->guest_os);
	if (strncmp(n->xen_version, "xen-3.0", 7) != 0)
		return fail(err, errlen,
			    "Xen PV kernel built for Xen version '%s': only \"xen-3.0\" is loaded",
			    n->xen_version);
	for (unsigned m = 0; m < XENFEAT_NR_SUBMAPS; m++) {
		uint32_t missing = n->f_required[m] & ~xen_notes_lodger_features(m);

		if (missing) {
			unsigned bit = (unsigned)__builtin_ctz(missing);
			const char *name = xen_notes_feature_name(bit);

			return fail(err, errlen,
				    "Xen PV kernel requires feature %s (XENFEAT %u), which lodger "
				    "does not provide",
				    name ? name : "?", m * 32 + bit);
		}
	}
	return 0;
}
