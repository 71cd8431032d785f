/*
 * xen_image.h - synthetic Xen PV kernels for the unit tests: an ELF header, one PT_LOAD
 * segment and one PT_NOTE segment holding the notes added with xi_note_*.
 *
 * Layout: Ehdr at 0, two Phdrs after it, notes at NOTE_OFF, the loaded payload at
 * LOAD_OFF. Header-only and static: each test file includes it once.
 */
#ifndef LODGER_TEST_XEN_IMAGE_H
#define LODGER_TEST_XEN_IMAGE_H

#include <elf.h>
#include <stdint.h>
#include <string.h>

#include <xen/elfnote.h>

#define XI_MAX	    0x4000
#define XI_NOTE_OFF 0x100
#define XI_LOAD_OFF 0x1000
#define XI_LOAD_SZ  0x2000

struct xi {
	uint8_t buf[XI_MAX];
	size_t len;
	size_t note_end; /* next free byte of the note segment */
};

static inline Elf64_Ehdr *xi_eh(struct xi *x)
{
	return (Elf64_Ehdr *)x->buf;
}

static inline Elf64_Phdr *xi_ph(struct xi *x, unsigned i)
{
	return (Elf64_Phdr *)(x->buf + sizeof(Elf64_Ehdr)) + i;
}

/* An ELF64 executable loaded at paddr (vaddr = paddr + voff), entry e_entry. */
static inline void xi_init(struct xi *x, uint64_t paddr, uint64_t voff, uint64_t e_entry)
{
	Elf64_Ehdr *eh = xi_eh(x);
	Elf64_Phdr *load = xi_ph(x, 0), *note = xi_ph(x, 1);

	memset(x, 0, sizeof(*x));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = e_entry;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;
	*load = (Elf64_Phdr){.p_type = PT_LOAD,
			     .p_flags = PF_R | PF_W | PF_X,
			     .p_offset = XI_LOAD_OFF,
			     .p_vaddr = paddr + voff,
			     .p_paddr = paddr,
			     .p_filesz = XI_LOAD_SZ,
			     .p_memsz = XI_LOAD_SZ,
			     .p_align = 0x1000};
	*note = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = XI_NOTE_OFF, .p_align = 4};
	for (unsigned i = 0; i < XI_LOAD_SZ; i++)
		x->buf[XI_LOAD_OFF + i] = (uint8_t)(i * 7 + 1);
	x->note_end = XI_NOTE_OFF;
	x->len = XI_LOAD_OFF + XI_LOAD_SZ;
}

/* Appends a note with name `name` (NUL included in namesz) and desc of descsz bytes. */
static inline void xi_note_raw(struct xi *x, const char *name, uint32_t type, const void *desc,
			       uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	uint8_t *p = x->buf + x->note_end;

	memcpy(p, &namesz, 4);
	memcpy(p + 4, &descsz, 4);
	memcpy(p + 8, &type, 4);
	memcpy(p + 12, name, namesz);
	p += 12 + ((namesz + 3) & ~3u);
	memcpy(p, desc, descsz);
	x->note_end += 12 + ((namesz + 3) & ~3u) + ((descsz + 3) & ~3u);
	xi_ph(x, 1)->p_filesz = xi_ph(x, 1)->p_memsz = x->note_end - XI_NOTE_OFF;
}

static inline void xi_note_u64(struct xi *x, uint32_t type, uint64_t v)
{
	xi_note_raw(x, "Xen", type, &v, 8);
}

static inline void xi_note_str(struct xi *x, uint32_t type, const char *s)
{
	xi_note_raw(x, "Xen", type, s, (uint32_t)strlen(s) + 1);
}

/* The notes XTF's pv64 kernels carry (arch/x86/pv/head.S), with a hypercall page. */
static inline void xi_xtf_notes(struct xi *x, uint64_t hypercall_page)
{
	xi_note_str(x, XEN_ELFNOTE_GUEST_OS, "XTF");
	xi_note_str(x, XEN_ELFNOTE_GUEST_VERSION, "0");
	xi_note_str(x, XEN_ELFNOTE_LOADER, "generic");
	xi_note_u64(x, XEN_ELFNOTE_HYPERCALL_PAGE, hypercall_page);
	xi_note_str(x, XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
	xi_note_str(x, XEN_ELFNOTE_FEATURES, "!writable_page_tables|pae_pgdir_above_4gb");
	xi_note_str(x, XEN_ELFNOTE_PAE_MODE, "yes");
}

#endif
