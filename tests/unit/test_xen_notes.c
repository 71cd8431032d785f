/*
 * test_xen_notes.c - the Xen ELF note reader (src/xen/notes.c) on synthetic images:
 * XTF's and Linux's note sets, the feature string and bitmap forms, 32-bit kernels,
 * and hostile note headers that must be refused without reading outside the image.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "xen/notes.h"
#include "xen_image.h"

static struct xi x;
static struct xen_notes n;
static char err[256];

/* Parses a heap copy of exactly x.len bytes, so ASan sees any read past the image. */
static int parse(void)
{
	uint8_t *copy = malloc(x.len);
	int r;

	cr_assert_not_null(copy);
	memcpy(copy, x.buf, x.len);
	err[0] = '\0';
	r = xen_notes_parse(copy, x.len, &n, err, sizeof(err));
	free(copy);
	return r;
}

Test(xen_notes, xtf_kernel)
{
	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect(n.elf64);
	cr_expect_eq(n.entry, 0x100010, "no ENTRY note: e_entry");
	cr_expect_eq(n.virt_base, 0);
	cr_expect_eq(n.paddr_offset, 0);
	cr_expect_eq(n.hypercall_page, 0x101000);
	cr_expect_eq(n.hv_start_low, XEN_NOTES_UNSET);
	cr_expect_eq(n.init_p2m, XEN_NOTES_UNSET);
	cr_expect_not(n.mod_start_pfn);
	cr_expect_str_eq(n.guest_os, "XTF");
	cr_expect_str_eq(n.loader, "generic");
	cr_expect_str_eq(n.xen_version, "xen-3.0");
	cr_expect_str_eq(n.pae_mode, "yes");
	cr_expect_eq(n.f_required[0], 1u << XENFEAT_writable_page_tables);
	cr_expect_eq(n.f_supported[0],
		     1u << XENFEAT_writable_page_tables | 1u << XENFEAT_pae_pgdir_above_4gb);
	cr_expect_eq(n.virt_kstart, 0x100000);
	cr_expect_eq(n.virt_kend, 0x100000 + XI_LOAD_SZ);
	cr_expect_eq(xen_notes_check(&n, err, sizeof(err)), 0, "%s", err);
}

Test(xen_notes, linux_kernel)
{
	const uint64_t base = 0xffffffff80000000ULL;
	uint32_t bitmap = 1u << XENFEAT_writable_page_tables | 1u << XENFEAT_dom0;
	uint8_t one = 1;

	xi_init(&x, 0x1000000, base, 0x1000000);
	xi_note_str(&x, XEN_ELFNOTE_GUEST_OS, "linux");
	xi_note_str(&x, XEN_ELFNOTE_GUEST_VERSION, "2.6");
	xi_note_str(&x, XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
	xi_note_u64(&x, XEN_ELFNOTE_VIRT_BASE, base);
	xi_note_u64(&x, XEN_ELFNOTE_PADDR_OFFSET, 0);
	xi_note_u64(&x, XEN_ELFNOTE_ENTRY, base + 0x1000040);
	xi_note_u64(&x, XEN_ELFNOTE_HYPERCALL_PAGE, base + 0x1001000);
	xi_note_str(&x, XEN_ELFNOTE_FEATURES, "!writable_page_tables");
	xi_note_raw(&x, "Xen", XEN_ELFNOTE_SUPPORTED_FEATURES, &bitmap, 4);
	xi_note_str(&x, XEN_ELFNOTE_PAE_MODE, "yes");
	xi_note_str(&x, XEN_ELFNOTE_LOADER, "generic");
	xi_note_u64(&x, XEN_ELFNOTE_HV_START_LOW, 0xffff800000000000ULL);
	xi_note_u64(&x, XEN_ELFNOTE_INIT_P2M, 0x8000000000ULL);
	xi_note_raw(&x, "Xen", XEN_ELFNOTE_MOD_START_PFN, &one, 1);
	/* a GNU note in the same segment is skipped */
	xi_note_raw(&x, "GNU", 3, "abcdefgh", 8);
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect_eq(n.entry, base + 0x1000040);
	cr_expect_eq(n.virt_base, base);
	cr_expect_eq(n.virt_kstart, base + 0x1000000);
	cr_expect_eq(n.hv_start_low, 0xffff800000000000ULL);
	cr_expect_eq(n.init_p2m, 0x8000000000ULL);
	cr_expect(n.mod_start_pfn, "a one-byte numeric note");
	cr_expect_eq(n.f_supported[0], bitmap, "bitmap ORed with the string form");
	cr_expect_eq(n.f_required[0], 1u << XENFEAT_writable_page_tables);
	cr_expect_str_eq(n.guest_os, "linux");
	cr_expect_eq(xen_notes_check(&n, err, sizeof(err)), 0, "%s", err);
}

Test(xen_notes, plain_elf_is_not_xen)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_note_raw(&x, "GNU", 3, "abcd", 4);
	cr_expect_eq(parse(), 0, "%s", err);
	cr_expect_eq(n.count, 0);
}

/* PVH's entry note alone (QEMU's -kernel boot, guests/bench.elf) is not a PV kernel. */
Test(xen_notes, pvh_entry_alone_is_not_pv)
{
	uint32_t entry32 = 0x100000;

	xi_init(&x, 0x100000, 0, 0x100000);
	xi_note_raw(&x, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &entry32, 4);
	cr_expect_eq(parse(), 0, "%s", err);
	cr_expect_eq(n.count, 0);
}

Test(xen_notes, note_sections_when_no_segment)
{
	/* no PT_NOTE: the notes are found through an SHT_NOTE section, as libelf does */
	Elf64_Shdr sh[2] = {{0}, {.sh_type = SHT_NOTE, .sh_offset = XI_NOTE_OFF, .sh_size = 0}};

	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	sh[1].sh_size = xi_ph(&x, 1)->p_filesz;
	xi_ph(&x, 1)->p_type = PT_NULL;
	memcpy(x.buf + x.len, sh, sizeof(sh));
	xi_eh(&x)->e_shoff = x.len;
	xi_eh(&x)->e_shnum = 2;
	xi_eh(&x)->e_shentsize = sizeof(Elf64_Shdr);
	x.len += sizeof(sh);
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect_eq(n.hypercall_page, 0x101000);
}

Test(xen_notes, required_feature_lodger_lacks)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	xi_note_str(&x, XEN_ELFNOTE_FEATURES, "!auto_translated_physmap");
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect_eq(xen_notes_check(&n, err, sizeof(err)), -1);
	cr_expect(strstr(err, "auto_translated_physmap"), "%s", err);
	cr_expect_null(strchr(err, '\n'));
}

Test(xen_notes, supported_only_feature_is_fine)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	xi_note_str(&x, XEN_ELFNOTE_FEATURES, "auto_translated_physmap|dom0|nonsense");
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect_eq(xen_notes_check(&n, err, sizeof(err)), 0, "%s", err);
}

Test(xen_notes, unknown_required_feature)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	xi_note_str(&x, XEN_ELFNOTE_FEATURES, "pae_pgdir_above_4gb|!warp_drive");
	cr_expect_eq(parse(), -1);
	cr_expect(strstr(err, "warp_drive"), "%s", err);
}

Test(xen_notes, elf32_pv_kernel_refused)
{
	/* a 32-bit image: Ehdr32, one Phdr32 PT_NOTE holding the notes */
	Elf32_Ehdr eh = {0};
	Elf32_Phdr ph[2] = {{0}};
	struct xi notes;

	xi_init(&notes, 0x100000, 0, 0x100000);
	xi_xtf_notes(&notes, 0x101000);
	memset(&x, 0, sizeof(x));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_386;
	eh.e_entry = 0x100000;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(Elf32_Phdr);
	eh.e_phnum = 2;
	ph[0] = (Elf32_Phdr){.p_type = PT_LOAD,
			     .p_offset = 0x1000,
			     .p_paddr = 0x100000,
			     .p_filesz = 0x100,
			     .p_memsz = 0x100};
	ph[1] = (Elf32_Phdr){.p_type = PT_NOTE,
			     .p_offset = XI_NOTE_OFF,
			     .p_filesz = (uint32_t)(notes.note_end - XI_NOTE_OFF)};
	memcpy(x.buf, &eh, sizeof(eh));
	memcpy(x.buf + sizeof(eh), ph, sizeof(ph));
	memcpy(x.buf + XI_NOTE_OFF, notes.buf + XI_NOTE_OFF, notes.note_end - XI_NOTE_OFF);
	x.len = 0x1100;
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect_not(n.elf64);
	cr_expect_eq(xen_notes_check(&n, err, sizeof(err)), -1);
	cr_expect(strstr(err, "32-bit"), "%s", err);
}

Test(xen_notes, wrong_loader_or_version)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_note_str(&x, XEN_ELFNOTE_GUEST_OS, "plan9");
	xi_note_str(&x, XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect_eq(xen_notes_check(&n, err, sizeof(err)), -1);
	cr_expect(strstr(err, "plan9"), "%s", err);

	xi_init(&x, 0x100000, 0, 0x100000);
	xi_note_str(&x, XEN_ELFNOTE_LOADER, "generic");
	xi_note_str(&x, XEN_ELFNOTE_XEN_VERSION, "xen-2.0");
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect_eq(xen_notes_check(&n, err, sizeof(err)), -1);
	cr_expect(strstr(err, "xen-2.0"), "%s", err);
}

Test(xen_notes, entry_outside_image)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	xi_note_u64(&x, XEN_ELFNOTE_ENTRY, 0x900000);
	cr_expect_eq(parse(), -1);
	cr_expect(strstr(err, "0x900000"), "%s", err);
}

Test(xen_notes, paddr_offset_without_virt_base)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	xi_note_u64(&x, XEN_ELFNOTE_PADDR_OFFSET, 0);
	cr_expect_eq(parse(), -1);
	cr_expect(strstr(err, "PADDR_OFFSET"), "%s", err);
}

Test(xen_notes, init_p2m_inside_kernel)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	xi_note_u64(&x, XEN_ELFNOTE_INIT_P2M, 0x100800);
	cr_expect_eq(parse(), -1);
	cr_expect(strstr(err, "INIT_P2M"), "%s", err);
}

Test(xen_notes, odd_numeric_size_reads_zero)
{
	uint8_t three[3] = {1, 2, 3};

	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	xi_note_raw(&x, "Xen", XEN_ELFNOTE_HV_START_LOW, three, 3);
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect_eq(n.hv_start_low, 0, "libelf reads a 3-byte numeric note as 0");
}

Test(xen_notes, hostile_note_sizes)
{
	/* descsz that runs past the segment, and past the file */
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	memcpy(x.buf + XI_NOTE_OFF + 4, &(uint32_t){0xfffffff0u}, 4);
	cr_expect_eq(parse(), -1);
	cr_expect(strstr(err, "past the end"), "%s", err);

	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	xi_ph(&x, 1)->p_filesz = 0xffffffffffff0000ULL;
	cr_expect_eq(parse(), -1);
	cr_expect(strstr(err, "outside the file"), "%s", err);

	/* namesz huge */
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	memcpy(x.buf + XI_NOTE_OFF, &(uint32_t){0xffffffffu}, 4);
	cr_expect_eq(parse(), -1);
}

Test(xen_notes, unterminated_string_note)
{
	char s[8];

	memset(s, 'A', sizeof(s));
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_xtf_notes(&x, 0x101000);
	xi_note_raw(&x, "Xen", XEN_ELFNOTE_GUEST_VERSION, s, sizeof(s));
	cr_assert_eq(parse(), 1, "%s", err);
	cr_expect_str_eq(n.guest_version, "AAAAAAAA");
}

Test(xen_notes, truncated_and_bad_headers)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	x.len = 20;
	cr_expect_eq(parse(), -1);
	xi_init(&x, 0x100000, 0, 0x100000);
	xi_eh(&x)->e_phoff = 0xfffffffffffff000ULL;
	cr_expect_eq(parse(), -1);
	cr_expect(strstr(err, "program headers"), "%s", err);
	xi_init(&x, 0x100000, 0, 0x100000);
	x.buf[0] = 'X';
	cr_expect_eq(parse(), -1);
}

Test(xen_notes, too_many_notes)
{
	xi_init(&x, 0x100000, 0, 0x100000);
	/* 1100 empty notes of 12 bytes fill 13200 bytes, past XI_LOAD_OFF: use a big buf */
	uint8_t *big = calloc(1, 0x10000);
	size_t off = 0x1000;

	cr_assert_not_null(big);
	memcpy(big, x.buf, 0x100);
	for (unsigned i = 0; i < 1100; i++, off += 12)
		memset(big + off, 0, 12);
	Elf64_Phdr *ph = (Elf64_Phdr *)(big + sizeof(Elf64_Ehdr));
	ph[0].p_offset = 0x8000;
	ph[1].p_offset = 0x1000;
	ph[1].p_filesz = 1100 * 12;
	cr_expect_eq(xen_notes_parse(big, 0xa000, &n, err, sizeof(err)), -1);
	cr_expect(strstr(err, "more than"), "%s", err);
	free(big);
}
