/*
 * test_xen_domain.c - the domain builder (src/xen/domain.c): the start-of-day layout's
 * invariants (order, alignment, padding, read-only pinned tables, identity p2m,
 * start_info), the hypercall page against Xen's template, and refusals that leave RAM
 * untouched. The tables are checked by walking them with lodger's own pagewalk.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "shadow/pagewalk.h"
#include "xen/domain.h"
#include "xen_image.h"

#define RAM (32ULL << 20)

static struct guest_mem mem;
static struct xen_domain d;
static struct xen_layout l;
static struct xi x;
static struct xen_notes n;
static char err[256];

static void setup(void)
{
	cr_assert_eq(mem_alloc_ram(&mem, RAM), 0);
	memset(&d, 0, sizeof(d));
	d.mem = &mem;
}

static void teardown(void)
{
	xen_domain_free(&d);
	mem_free(&mem);
}

TestSuite(xen_domain, .init = setup, .fini = teardown);

static int build(const struct xen_build_params *p)
{
	cr_assert_eq(xen_notes_parse(x.buf, x.len, &n, err, sizeof(err)), 1, "%s", err);
	return xen_domain_build(&d, x.buf, x.len, &n, p, &l, err, sizeof(err));
}

static bool ram_all_zero(void)
{
	for (uint64_t i = 0; i < mem.ram_size; i++)
		if (mem.ram[i])
			return false;
	return true;
}

/* Every page of the region maps to va - v_start; RW except the tables. */
static void check_mappings(void)
{
	uint64_t pt_gpa = l.pt_start - l.v_start;

	for (uint64_t va = l.v_start; va < l.v_end; va += 4096) {
		struct walk w;
		uint64_t gpa = va - l.v_start;
		bool table = gpa >= pt_gpa && gpa < pt_gpa + l.nr_pt_frames * 4096;

		cr_assert_eq(pagewalk(&mem, l.cr3, va, &w), WALK_OK, "va %#llx not mapped",
			     (unsigned long long)va);
		cr_assert_eq(w.gpa, gpa, "va %#llx maps %#llx", (unsigned long long)va,
			     (unsigned long long)w.gpa);
		cr_assert_eq(w.level, 1, "4 KiB pages only");
		cr_assert(w.user, "PV kernel mappings are user-accessible");
		cr_assert_eq(w.writable, !table, "va %#llx: tables read-only, the rest writable",
			     (unsigned long long)va);
	}
	struct walk w;

	cr_assert_neq(pagewalk(&mem, l.cr3, l.v_end, &w), WALK_OK, "nothing past v_end");
}

Test(xen_domain, xtf_layout)
{
	struct xen_build_params p = {.cmdline = "hello", .console_port = 2, .store_port = 1};

	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
	cr_assert_eq(build(&p), 0, "%s", err);

	/* order and alignment */
	cr_expect_eq(l.v_start, 0);
	cr_expect_eq(l.kern_start, 0x100000);
	cr_expect_eq(l.kern_end, 0x100000 + XI_LOAD_SZ);
	cr_expect_eq(l.p2m_start, l.kern_end, "page-aligned kernel end");
	cr_expect_eq(l.p2m_end, l.p2m_start + l.nr_pages * 8);
	cr_expect(l.start_info >= l.p2m_end && l.start_info % 4096 == 0);
	cr_expect_eq(l.xenstore, l.start_info + 4096);
	cr_expect_eq(l.console, l.xenstore + 4096);
	cr_expect_eq(l.pt_start, l.console + 4096);
	cr_expect_eq(l.stack_start, l.pt_start + l.nr_pt_frames * 4096);
	cr_expect_eq(l.stack_end, l.stack_start + 4096);
	cr_expect_eq(l.v_end % (4 << 20), 0, "ends on a 4 MiB boundary");
	cr_expect_geq(l.v_end - l.stack_end, 512 << 10, "at least 512 KiB of padding");
	/* RAM: the guest's frames, lodger's reserved ones, then its M2P (for 8192 frames: 16 of
	 * entries, one L1, one L2, one L3) */
	cr_expect_eq(l.nr_pages, RAM / 4096 - XEN_RESERVED_PAGES - 19);
	cr_expect_eq(l.shared_info_gpa, l.nr_pages * 4096, "lodger's frame above the guest's");

	/* entry state */
	cr_expect_eq(l.entry, 0x100010);
	cr_expect_eq(l.rsp, l.stack_end);
	cr_expect_eq(l.rsi, l.start_info);
	cr_expect_eq(l.cr3, l.pt_start - l.v_start, "the L4 is the first table frame");
	check_mappings();

	/* the kernel's bytes, the p2m */
	cr_expect_eq(memcmp(mem.ram + 0x100000, x.buf + XI_LOAD_OFF, XI_LOAD_SZ - 0x1000), 0);
	uint64_t *p2m = (uint64_t *)(mem.ram + l.p2m_start);

	for (uint64_t i = 0; i < l.nr_pages; i++)
		cr_assert_eq(p2m[i], i, "identity p2m at %llu", (unsigned long long)i);

	/* start_info */
	start_info_t *si = (start_info_t *)(mem.ram + l.start_info);

	cr_expect_str_eq(si->magic, "xen-3.0-x86_64");
	cr_expect_eq(si->nr_pages, l.nr_pages);
	cr_expect_eq(si->shared_info, l.shared_info_gpa);
	cr_expect_eq(si->flags, 0);
	cr_expect_eq(si->pt_base, l.pt_start);
	cr_expect_eq(si->nr_pt_frames, l.nr_pt_frames);
	cr_expect_eq(si->mfn_list, l.p2m_start);
	cr_expect_eq(si->store_mfn, l.xenstore / 4096);
	cr_expect_eq(si->store_evtchn, 1);
	cr_expect_eq(si->console.domU.mfn, l.console / 4096);
	cr_expect_eq(si->console.domU.evtchn, 2);
	cr_expect_str_eq((char *)si->cmd_line, "hello");
	cr_expect_eq(si->mod_len, 0);

	/* the pinned L4, the other tables typed */
	cr_expect_eq(d.frame_type[l.cr3 / 4096], XEN_FRAME_L4 | XEN_FRAME_PINNED);
	for (uint64_t f = 1; f < l.nr_pt_frames; f++) {
		uint8_t t = d.frame_type[l.cr3 / 4096 + f] & XEN_FRAME_LEVEL;

		cr_expect(t == 0 || (t >= 1 && t <= 3), "frame %llu type %u", (unsigned long long)f,
			  t);
	}
	/* events masked at entry */
	struct shared_info *sh = (struct shared_info *)(mem.ram + l.shared_info_gpa);

	cr_expect_eq(sh->vcpu_info[0].evtchn_upcall_mask, 1);

	struct xen_vcpu v;

	xen_vcpu_init(&v, &d, &l);
	cr_expect_eq(v.regs.rip, l.entry);
	cr_expect_eq(v.regs.rsi, l.start_info);
	cr_expect_eq(v.regs.cs, FLAT_KERNEL_CS);
	cr_expect(v.kernel_mode);
	cr_expect_eq(v.kernel_cr3, l.cr3);
}

Test(xen_domain, hypercall_page_matches_xens_template)
{
	struct xen_build_params p = {0};
	/* bytes from Xen's pv_ring3_init_hypercall_page, slot 17 (xen_version) and iret */
	static const uint8_t slot17[14] = {0x51, 0x41, 0x53, 0xb8, 17,	 0,    0,
					   0,	 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3};
	static const uint8_t iret[11] = {0x51, 0x41, 0x53, 0x50, 0xb8, 23, 0, 0, 0, 0x0f, 0x05};

	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
	cr_assert_eq(build(&p), 0, "%s", err);
	const uint8_t *page = mem.ram + 0x101000;

	cr_expect_eq(memcmp(page + 17 * 32, slot17, sizeof(slot17)), 0);
	cr_expect_eq(memcmp(page + 23 * 32, iret, sizeof(iret)), 0);
	cr_expect_eq(page[23 * 32 + 11], 0xcc, "the rest of each slot is int3");
	cr_expect_eq(page[17 * 32 + 14], 0xcc);
	cr_expect_neq(page[0], 0xc3, "XTF's init_hypercalls checks this");
	for (unsigned i = 0; i < 128; i++)
		if (i != 23)
			cr_assert_eq(page[i * 32 + 4], i, "slot %u's number", i);
}

Test(xen_domain, linux_layout_high_base_and_unmapped_module)
{
	const uint64_t base = 0xffffffff80000000ULL;
	uint8_t module[5000];
	struct xen_build_params p = {.module = module, .module_len = sizeof(module)};
	uint8_t one = 1;

	for (unsigned i = 0; i < sizeof(module); i++)
		module[i] = (uint8_t)(i ^ 0x5a);
	xi_init(&x, 0x1000000, base, 0x1000000);
	xi_note_str(&x, XEN_ELFNOTE_GUEST_OS, "linux");
	xi_note_str(&x, XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
	xi_note_u64(&x, XEN_ELFNOTE_VIRT_BASE, base);
	xi_note_u64(&x, XEN_ELFNOTE_PADDR_OFFSET, 0);
	xi_note_u64(&x, XEN_ELFNOTE_ENTRY, base + 0x1000040);
	xi_note_raw(&x, "Xen", XEN_ELFNOTE_MOD_START_PFN, &one, 1);
	cr_assert_eq(build(&p), 0, "%s", err);
	cr_expect_eq(l.v_start, base);
	cr_expect_eq(l.kern_start, base + 0x1000000);
	cr_expect_eq(l.entry, base + 0x1000040);
	check_mappings();

	start_info_t *si = (start_info_t *)(mem.ram + (l.start_info - base));

	cr_expect_eq(si->flags, SIF_MOD_START_PFN);
	cr_expect_eq(si->mod_start, (l.v_end - l.v_start) / 4096, "first frame past the region");
	cr_expect_eq(si->mod_len, sizeof(module));
	cr_expect_eq(memcmp(mem.ram + si->mod_start * 4096, module, sizeof(module)), 0);
	cr_expect_eq(memcmp(mem.ram + 0x1000000, x.buf + XI_LOAD_OFF, 0x100), 0);
}

Test(xen_domain, mapped_module_follows_the_kernel)
{
	uint8_t module[100] = {1, 2, 3};
	struct xen_build_params p = {.module = module, .module_len = sizeof(module)};

	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, XEN_NOTES_UNSET);
	cr_assert_eq(build(&p), 0, "%s", err);
	cr_expect_eq(l.mod_start, l.kern_end);
	cr_expect_eq(l.p2m_start, l.kern_end + 4096);
	cr_expect_eq(memcmp(mem.ram + l.mod_start, module, sizeof(module)), 0);
}

Test(xen_domain, too_little_ram_leaves_ram_untouched)
{
	struct xen_build_params p = {0};

	mem_free(&mem);
	cr_assert_eq(mem_alloc_ram(&mem, 1ULL << 20), 0);
	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
	cr_expect_eq(build(&p), -1);
	cr_expect(strstr(err, "more than"), "%s", err);
	cr_expect(ram_all_zero());
}

Test(xen_domain, hypercall_page_outside_region)
{
	struct xen_build_params p = {0};

	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x7ffffffff000ULL);
	cr_expect_eq(build(&p), -1);
	cr_expect(strstr(err, "HYPERCALL_PAGE"), "%s", err);
	cr_expect(ram_all_zero());
}

Test(xen_domain, segment_data_outside_file)
{
	struct xen_build_params p = {0};

	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
	xi_ph(&x, 0)->p_offset = 0xfffffffffffff000ULL;
	cr_expect_eq(build(&p), -1);
	cr_expect(strstr(err, "outside the file"), "%s", err);
	cr_expect(ram_all_zero());
}

Test(xen_domain, region_in_the_hypervisor_hole)
{
	struct xen_build_params p = {0};
	const uint64_t base = 0xffff800000000000ULL;

	xi_init(&x, 0x100000, base, base + 0x100000);
	xi_note_str(&x, XEN_ELFNOTE_LOADER, "generic");
	xi_note_str(&x, XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
	xi_note_u64(&x, XEN_ELFNOTE_VIRT_BASE, base);
	cr_expect_eq(build(&p), -1);
	cr_expect(strstr(err, "hole"), "%s", err);
	cr_expect(ram_all_zero());
}

/* lodger's M2P is mapped read-only at slot 257 of the builder's L4: identity entries for
 * every frame of the domain, INVALID after, nothing past its last page. */
Test(xen_domain, m2p_is_mapped_read_only_at_the_reported_place)
{
	struct xen_build_params p = {.console_port = 2, .store_port = 1};
	uint64_t entries, v;
	struct walk w;

	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
	cr_assert_eq(build(&p), 0, "%s", err);
	entries = d.nr_pages + XEN_RESERVED_PAGES;
	cr_assert_eq(pagewalk(&mem, l.cr3, XEN_M2P_REPORTED + 5 * 8, &w), WALK_OK);
	cr_assert(w.user && !w.writable && !w.executable, "user-readable, read-only, NX");
	cr_assert_geq(w.gpa, entries * 4096, "in lodger's frames, out of the guest's reach");
	cr_assert(read_linear(&mem, l.cr3, XEN_M2P_REPORTED + 5 * 8, &v, 8));
	cr_assert_eq(v, 5);
	cr_assert(read_linear(&mem, l.cr3, XEN_M2P_REPORTED + (entries - 1) * 8, &v, 8));
	cr_assert_eq(v, entries - 1, "lodger's own frames too");
	if ((entries * 8) % 4096) {
		cr_assert(read_linear(&mem, l.cr3, XEN_M2P_REPORTED + entries * 8, &v, 8));
		cr_assert_eq(v, ~0ULL, "INVALID_M2P_ENTRY after the last frame");
	}
	cr_assert_neq(
		pagewalk(&mem, l.cr3, XEN_M2P_REPORTED + ((entries * 8 + 4095) & ~4095ULL), &w),
		WALK_OK, "nothing past the last page of entries");
	cr_assert_geq(mem.ram_size, (d.nr_pages + XEN_RESERVED_PAGES + 19) * 4096);
}
