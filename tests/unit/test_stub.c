/*
 * test_stub.c - installing the monitor stub and placing it at a linear base (src/shadow/stub.c),
 * in a calloc'd monitor memory.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86.h"
#include "boot/bootmap.h"
#include "lodger/stub_abi.h"
#include "shadow/stub.h"

#define MON_SIZE 0x20000ULL
#define MON_GPA	 0x100000000ULL
#define MON_OFF	 0x6000ULL /* the stub's pages start part-way into monitor memory */

/* Two bases that differ in every part of a gate's split offset. */
#define BASE_A 0x00007f1234600000ULL
#define BASE_B 0xffff923456800000ULL

#define VEC_NMI 2
#define VEC_DF	8
#define VEC_GP	13
#define VEC_MC	18

static struct guest_mem mem;
static struct stub stub;

static void setup(void)
{
	memset(&mem, 0, sizeof(mem));
	memset(&stub, 0, sizeof(stub));
	mem.monitor = calloc(1, MON_SIZE);
	cr_assert_not_null(mem.monitor, "calloc failed");
	mem.monitor_gpa = MON_GPA;
	mem.monitor_size = MON_SIZE;
}

static void teardown(void)
{
	free(mem.monitor);
}

TestSuite(stub_place, .init = setup, .fini = teardown);
TestSuite(stub_install, .init = setup, .fini = teardown);
TestSuite(stub_vector_at, .init = setup, .fini = teardown);
TestSuite(stub_load_tables, .init = setup, .fini = teardown);

static uint8_t *at(uint64_t offset)
{
	return mem.monitor + MON_OFF + offset;
}

static uint64_t q(uint64_t offset)
{
	uint64_t v;

	memcpy(&v, at(offset), 8);
	return v;
}

static void install_and_place(bool fast, uint64_t base)
{
	stub_install(&stub, &mem, MON_OFF, fast, false);
	stub_place(&stub, base);
}

struct gate {
	uint64_t offset;
	unsigned selector, ist, type, dpl, present, reserved_nonzero;
};

static struct gate gate(unsigned v)
{
	uint64_t lo = q(STUB_IDT + 16 * v), hi = q(STUB_IDT + 16 * v + 8);

	return (struct gate){
		.offset = (lo & 0xffff) | (((lo >> 48) & 0xffff) << 16) | ((hi & 0xffffffff) << 32),
		.selector = (lo >> 16) & 0xffff,
		.ist = (lo >> 32) & 7,
		.type = (lo >> 40) & 0xf,
		.dpl = (lo >> 45) & 3,
		.present = (lo >> 47) & 1,
		.reserved_nonzero = ((lo >> 35) & 0x1f) || ((lo >> 44) & 1) || (hi >> 32),
	};
}

static uint64_t expected_handler(bool fast, uint64_t base, unsigned v)
{
	if (fast && v == VEC_GP)
		return base + STUB_CODE + STUB_GP_FAST;
	return base + STUB_CODE + v * STUB_ENTRY_SIZE;
}

struct desc {
	uint64_t base;
	unsigned limit, type, s, dpl, present, l;
};

static struct desc desc(unsigned selector)
{
	uint64_t lo = q(STUB_GDT + (selector & ~7u));

	return (struct desc){
		.base = ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24),
		.limit = (lo & 0xffff) | (((lo >> 48) & 0xf) << 16),
		.type = (lo >> 40) & 0xf,
		.s = (lo >> 44) & 1,
		.dpl = (lo >> 45) & 3,
		.present = (lo >> 47) & 1,
		.l = (lo >> 53) & 1,
	};
}

/* The 16-byte TSS descriptor's 64-bit base. */
static uint64_t tss_desc_base(void)
{
	return desc(STUB_TSS_SEL).base | (q(STUB_GDT + STUB_TSS_SEL + 8) & 0xffffffff) << 32;
}

static uint64_t tss_field(unsigned offset)
{
	return q(STUB_TSS + offset);
}

#define TSS_RSP0 0x04
#define TSS_IST1 0x24

Test(stub_place, every_gate_is_a_present_interrupt_gate_on_the_stub_cs_dpl0_but_bp)
{
	for (int fast = 0; fast <= 1; fast++) {
		install_and_place(fast, BASE_A);
		for (unsigned v = 0; v < 256; v++) {
			struct gate g = gate(v);

			cr_assert_eq(g.present, 1, "fast %d gate %u: expected present, got not",
				     fast, v);
			cr_assert_eq(g.type, 0xe, "fast %d gate %u: expected type 0xe, got %#x",
				     fast, v, g.type);
			unsigned dpl = v == VEC_BP ? 3 : 0;

			cr_assert_eq(g.dpl, dpl, "fast %d gate %u: expected DPL %u, got %u", fast,
				     v, dpl, g.dpl);
			cr_assert_eq(g.selector, STUB_CS,
				     "fast %d gate %u: expected selector %#x, got %#x", fast, v,
				     STUB_CS, g.selector);
			cr_assert_eq(g.reserved_nonzero, 0,
				     "fast %d gate %u: expected reserved bits and S clear", fast,
				     v);
		}
	}
}

Test(stub_place, every_gate_points_at_its_own_entry_without_fast_paths)
{
	install_and_place(false, BASE_A);
	for (unsigned v = 0; v < 256; v++) {
		uint64_t want = BASE_A + STUB_CODE + v * STUB_ENTRY_SIZE;

		cr_assert_eq(gate(v).offset, want, "gate %u: expected offset %#llx, got %#llx", v,
			     (unsigned long long)want, (unsigned long long)gate(v).offset);
	}
}

Test(stub_place, gate_13_points_at_the_gp_fast_path_only_with_fast_paths)
{
	install_and_place(true, BASE_A);
	for (unsigned v = 0; v < 256; v++) {
		uint64_t want = expected_handler(true, BASE_A, v);

		cr_assert_eq(gate(v).offset, want,
			     "fast paths, gate %u: expected offset %#llx, got %#llx", v,
			     (unsigned long long)want, (unsigned long long)gate(v).offset);
	}
}

Test(stub_place, only_nmi_df_and_mc_use_ist1)
{
	for (int fast = 0; fast <= 1; fast++) {
		install_and_place(fast, BASE_A);
		for (unsigned v = 0; v < 256; v++) {
			unsigned want = v == VEC_NMI || v == VEC_DF || v == VEC_MC;

			cr_assert_eq(gate(v).ist, want, "fast %d gate %u: expected IST %u, got %u",
				     fast, v, want, gate(v).ist);
		}
	}
}

Test(stub_place, the_tss_holds_the_trap_stack_and_the_ist1_stack)
{
	install_and_place(false, BASE_A);
	cr_assert_eq(tss_field(TSS_RSP0), BASE_A + STUB_STACK_TOP, "expected RSP0 %#llx, got %#llx",
		     (unsigned long long)(BASE_A + STUB_STACK_TOP),
		     (unsigned long long)tss_field(TSS_RSP0));
	cr_assert_eq(tss_field(TSS_IST1), BASE_A + STUB_IST_TOP, "expected IST1 %#llx, got %#llx",
		     (unsigned long long)(BASE_A + STUB_IST_TOP),
		     (unsigned long long)tss_field(TSS_IST1));
}

Test(stub_place, the_tss_has_no_io_bitmap)
{
	uint16_t iomap;

	install_and_place(false, BASE_A);
	memcpy(&iomap, at(STUB_TSS + 0x66), 2);
	cr_assert_gt(iomap, BOOT_TSS_LIMIT, "expected the I/O map base past limit %#x, got %#x",
		     BOOT_TSS_LIMIT, iomap);
}

Test(stub_place, the_gdt_tss_descriptor_is_a_busy_present_tss_at_the_stub)
{
	struct desc d;

	install_and_place(false, BASE_A);
	d = desc(STUB_TSS_SEL);
	cr_assert_eq(tss_desc_base(), BASE_A + STUB_TSS, "expected TSS base %#llx, got %#llx",
		     (unsigned long long)(BASE_A + STUB_TSS), (unsigned long long)tss_desc_base());
	cr_assert_eq(d.type, 0xb, "expected type 0xb (busy 64-bit TSS), got %#x", d.type);
	cr_assert_eq(d.s, 0, "expected a system descriptor (S = 0), got S = %u", d.s);
	cr_assert_eq(d.present, 1, "expected present, got not present");
	cr_assert_eq(d.limit, BOOT_TSS_LIMIT, "expected limit %#x, got %#x", BOOT_TSS_LIMIT,
		     d.limit);
}

Test(stub_install, the_stub_cs_and_ds_are_present_dpl0)
{
	struct desc cs, ds;

	install_and_place(false, BASE_A);
	cs = desc(STUB_CS);
	ds = desc(STUB_DS);
	cr_assert(cs.present && cs.dpl == 0 && cs.s, "expected CS present DPL 0, got P %u DPL %u",
		  cs.present, cs.dpl);
	cr_assert(cs.type & 0x8, "expected CS to be code, type %#x", cs.type);
	cr_assert_eq(cs.l, 1, "expected CS 64-bit (L = 1), got L = %u", cs.l);
	cr_assert(ds.present && ds.dpl == 0 && ds.s, "expected DS present DPL 0, got P %u DPL %u",
		  ds.present, ds.dpl);
	cr_assert_eq(ds.type & 0x8, 0, "expected DS to be data, type %#x", ds.type);
}

Test(stub_install, the_guests_five_selectors_are_not_present_and_dpl3)
{
	static const unsigned sel[] = {STUB_GUEST_USER32_CS, STUB_GUEST_USER_DS, STUB_GUEST_USER_CS,
				       STUB_GUEST_KERNEL_CS, STUB_GUEST_KERNEL_DS};

	for (int fast = 0; fast <= 1; fast++) {
		install_and_place(fast, BASE_A);
		for (unsigned i = 0; i < 5; i++) {
			struct desc d = desc(sel[i]);

			cr_assert_eq(d.present, 0,
				     "fast %d selector %#x: expected not present, got present",
				     fast, sel[i]);
			cr_assert_eq(d.dpl, 3, "fast %d selector %#x: expected DPL 3, got %u", fast,
				     sel[i], d.dpl);
			cr_assert_eq(d.s, 1, "fast %d selector %#x: expected code/data (S = 1)",
				     fast, sel[i]);
		}
	}
}

Test(stub_install, the_kernel_aliases_are_present_only_with_fast_paths)
{
	static const unsigned sel[] = {STUB_ALIAS_KERNEL_CS, STUB_ALIAS_KERNEL_DS};

	for (unsigned i = 0; i < 2; i++) {
		install_and_place(false, BASE_A);
		cr_assert_eq(desc(sel[i]).present, 0,
			     "no fast paths, alias %#x: expected not present, got present", sel[i]);
		install_and_place(true, BASE_A);
		cr_assert_eq(desc(sel[i]).present, 1,
			     "fast paths, alias %#x: expected present, got not present", sel[i]);
		cr_assert_eq(desc(sel[i]).dpl, 3, "fast paths, alias %#x: expected DPL 3, got %u",
			     sel[i], desc(sel[i]).dpl);
	}
}

Test(stub_install, the_code_starts_with_256_exit_port_outs)
{
	install_and_place(false, BASE_A);
	for (unsigned v = 0; v < 256; v++) {
		const uint8_t *p = at(STUB_CODE + v * STUB_ENTRY_SIZE);

		cr_assert(p[0] == 0xe6 && p[1] == STUB_EXIT_PORT,
			  "entry %u: expected e6 e5 (out %%al, $0xe5), got %02x %02x", v, p[0],
			  p[1]);
	}
}

Test(stub_install, the_abi_version_is_written_in_the_area)
{
	uint32_t version;

	install_and_place(false, BASE_A);
	memcpy(&version, at(STUB_AREA + STUB_AREA_ABI_VERSION), 4);
	cr_assert_eq(version, STUB_ABI_VERSION, "expected ABI version %u, got %u", STUB_ABI_VERSION,
		     version);
}

Test(stub_install, nothing_outside_the_stub_pages_is_written)
{
	memset(mem.monitor, 0xcc, MON_SIZE);
	install_and_place(true, BASE_A);
	stub_set_guest_mode(&stub, true);
	for (uint64_t i = 0; i < MON_SIZE; i++) {
		if (i >= MON_OFF && i < MON_OFF + STUB_MONITOR_SIZE)
			continue;
		cr_assert_eq(mem.monitor[i], 0xcc,
			     "monitor byte %#llx outside the stub: expected 0xcc, got %#x",
			     (unsigned long long)i, mem.monitor[i]);
	}
}

Test(stub_install, set_guest_mode_writes_the_area_byte)
{
	install_and_place(true, BASE_A);
	stub_set_guest_mode(&stub, true);
	cr_assert_eq(*at(STUB_AREA + STUB_AREA_GUEST_USER), 1, "expected user mode 1, got %u",
		     *at(STUB_AREA + STUB_AREA_GUEST_USER));
	stub_set_guest_mode(&stub, false);
	cr_assert_eq(*at(STUB_AREA + STUB_AREA_GUEST_USER), 0, "expected kernel mode 0, got %u",
		     *at(STUB_AREA + STUB_AREA_GUEST_USER));
}

Test(stub_install, the_page_gpa_is_in_monitor_memory_at_the_stub_offset)
{
	install_and_place(false, BASE_A);
	cr_assert_eq(stub_page_gpa(&stub, STUB_IDT), MON_GPA + MON_OFF + STUB_IDT,
		     "expected %#llx, got %#llx",
		     (unsigned long long)(MON_GPA + MON_OFF + STUB_IDT),
		     (unsigned long long)stub_page_gpa(&stub, STUB_IDT));
}

Test(stub_load_tables, idtr_gdtr_and_tr_are_at_the_base)
{
	struct kvm_sregs s;

	memset(&s, 0, sizeof(s));
	install_and_place(false, BASE_A);
	stub_load_tables(&stub, &s);
	cr_assert_eq(s.idt.base, BASE_A + STUB_IDT, "expected IDTR base %#llx, got %#llx",
		     (unsigned long long)(BASE_A + STUB_IDT), (unsigned long long)s.idt.base);
	cr_assert_eq(s.idt.limit, 256 * 16 - 1, "expected IDTR limit 0xfff, got %#x", s.idt.limit);
	cr_assert_eq(s.gdt.base, BASE_A + STUB_GDT, "expected GDTR base %#llx, got %#llx",
		     (unsigned long long)(BASE_A + STUB_GDT), (unsigned long long)s.gdt.base);
	cr_assert_eq(s.gdt.limit, STUB_GDT_ENTRIES * 8 - 1, "expected GDTR limit %#x, got %#x",
		     STUB_GDT_ENTRIES * 8 - 1, s.gdt.limit);
	cr_assert_eq(s.tr.base, BASE_A + STUB_TSS, "expected TR base %#llx, got %#llx",
		     (unsigned long long)(BASE_A + STUB_TSS), (unsigned long long)s.tr.base);
	cr_assert_eq(s.tr.selector, STUB_TSS_SEL, "expected TR selector %#x, got %#x", STUB_TSS_SEL,
		     s.tr.selector);
	cr_assert(s.tr.present && s.tr.type == 0xb,
		  "expected TR a present busy TSS, got present %u type %#x", s.tr.present,
		  s.tr.type);
	cr_assert_eq(stub_linear(&stub, STUB_SYSCALL_ENTRY), BASE_A + STUB_SYSCALL_ENTRY,
		     "expected LSTAR %#llx, got %#llx",
		     (unsigned long long)(BASE_A + STUB_SYSCALL_ENTRY),
		     (unsigned long long)stub_linear(&stub, STUB_SYSCALL_ENTRY));
}

Test(stub_place, a_second_place_moves_every_gate_stack_tss_and_table_register)
{
	for (int fast = 0; fast <= 1; fast++) {
		struct kvm_sregs s;

		install_and_place(fast, BASE_A);
		stub_place(&stub, BASE_B);
		for (unsigned v = 0; v < 256; v++) {
			uint64_t want = expected_handler(fast, BASE_B, v);

			cr_assert_eq(gate(v).offset, want,
				     "fast %d gate %u: expected %#llx after the move, got %#llx",
				     fast, v, (unsigned long long)want,
				     (unsigned long long)gate(v).offset);
			cr_assert_eq(gate(v).ist, v == VEC_NMI || v == VEC_DF || v == VEC_MC,
				     "fast %d gate %u: expected its IST kept, got %u", fast, v,
				     gate(v).ist);
		}
		cr_assert_eq(tss_field(TSS_RSP0), BASE_B + STUB_STACK_TOP,
			     "fast %d: expected RSP0 %#llx, got %#llx", fast,
			     (unsigned long long)(BASE_B + STUB_STACK_TOP),
			     (unsigned long long)tss_field(TSS_RSP0));
		cr_assert_eq(tss_field(TSS_IST1), BASE_B + STUB_IST_TOP,
			     "fast %d: expected IST1 %#llx, got %#llx", fast,
			     (unsigned long long)(BASE_B + STUB_IST_TOP),
			     (unsigned long long)tss_field(TSS_IST1));
		cr_assert_eq(tss_desc_base(), BASE_B + STUB_TSS,
			     "fast %d: expected TSS descriptor base %#llx, got %#llx", fast,
			     (unsigned long long)(BASE_B + STUB_TSS),
			     (unsigned long long)tss_desc_base());
		cr_assert_eq(desc(STUB_TSS_SEL).type, 0xb, "fast %d: expected TSS busy, got %#x",
			     fast, desc(STUB_TSS_SEL).type);
		memset(&s, 0, sizeof(s));
		stub_load_tables(&stub, &s);
		cr_assert(
			s.idt.base == BASE_B + STUB_IDT && s.gdt.base == BASE_B + STUB_GDT &&
				s.tr.base == BASE_B + STUB_TSS,
			"fast %d: expected IDTR/GDTR/TR at %#llx + offsets, got %#llx %#llx %#llx",
			fast, (unsigned long long)BASE_B, (unsigned long long)s.idt.base,
			(unsigned long long)s.gdt.base, (unsigned long long)s.tr.base);
	}
}

static bool in_old(uint64_t v)
{
	return v >= BASE_A && v < BASE_A + STUB_REGION_SIZE;
}

Test(stub_place, nothing_in_the_idt_gdt_or_tss_still_holds_the_old_base)
{
	static const struct {
		uint64_t off, len;
		const char *name;
	} tables[] = {{STUB_IDT, 256 * 16, "IDT"},
		      {STUB_GDT, STUB_GDT_ENTRIES * 8, "GDT"},
		      {STUB_TSS, BOOT_TSS_LIMIT + 1, "TSS"}};

	for (int fast = 0; fast <= 1; fast++) {
		install_and_place(fast, BASE_A);
		stub_place(&stub, BASE_B);
		for (unsigned t = 0; t < 3; t++)
			for (uint64_t o = 0; o + 8 <= tables[t].len; o += 4)
				cr_assert_not(
					in_old(q(tables[t].off + o)),
					"fast %d: %s+%#llx still holds %#llx in the old region",
					fast, tables[t].name, (unsigned long long)o,
					(unsigned long long)q(tables[t].off + o));
		for (unsigned v = 0; v < 256; v++)
			cr_assert_not(
				in_old(gate(v).offset),
				"fast %d: gate %u's split offset still %#llx, in the old region",
				fast, v, (unsigned long long)gate(v).offset);
		cr_assert_not(
			in_old(tss_desc_base()),
			"fast %d: the TSS descriptor's base is still %#llx, in the old region",
			fast, (unsigned long long)tss_desc_base());
	}
}

Test(stub_vector_at, the_rip_after_each_entrys_out_is_its_vector)
{
	for (int fast = 0; fast <= 1; fast++) {
		install_and_place(fast, BASE_A);
		for (unsigned v = 0; v < 256; v++) {
			uint64_t rip = BASE_A + STUB_CODE + v * STUB_ENTRY_SIZE + STUB_ENTRY_SIZE;
			int got = stub_vector_at(&stub, rip);

			cr_assert_eq(got, (int)v, "fast %d: RIP %#llx: expected vector %u, got %d",
				     fast, (unsigned long long)rip, v, got);
		}
	}
}

Test(stub_vector_at, other_rips_are_no_vector)
{
	static const uint64_t offsets[] = {
		0,				      /* before entry 0's out */
		1,				      /* inside entry 0 */
		3,				      /* inside entry 1 */
		255 * STUB_ENTRY_SIZE + 1,	      /* inside the last entry */
		STUB_SYSCALL_ENTRY + STUB_ENTRY_SIZE, /* after LSTAR's out */
		STUB_IDLE,			      /* the hlt loop */
		STUB_PIO + STUB_PIO_SIZE,	      /* a port trampoline */
		STUB_GP_FAST,			      /* the fast path's start */
		STUB_GP_FAST_EXIT + STUB_ENTRY_SIZE,  /* its exit, without fast paths */
		STUB_REGION_SIZE + STUB_ENTRY_SIZE,   /* entry 0 one region up */
		(uint64_t)0 - STUB_REGION_SIZE + 2,   /* entry 0 one region down */
	};

	install_and_place(false, BASE_A);
	for (unsigned i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		uint64_t rip = BASE_A + offsets[i];
		int got = stub_vector_at(&stub, rip);

		cr_assert_eq(got, -1, "RIP base+%#llx: expected -1, got %d",
			     (unsigned long long)offsets[i], got);
	}
}

Test(stub_vector_at, the_gp_fast_paths_exit_is_13_only_with_fast_paths)
{
	uint64_t rip = BASE_A + STUB_CODE + STUB_GP_FAST_EXIT + STUB_ENTRY_SIZE;
	int got;

	install_and_place(true, BASE_A);
	got = stub_vector_at(&stub, rip);
	cr_assert_eq(got, VEC_GP, "fast paths: expected 13 after the #GP exit, got %d", got);
	install_and_place(false, BASE_A);
	got = stub_vector_at(&stub, rip);
	cr_assert_eq(got, -1, "no fast paths: expected -1 after the #GP exit, got %d", got);
}

Test(stub_vector_at, rips_follow_the_stub_when_it_moves)
{
	install_and_place(true, BASE_A);
	stub_place(&stub, BASE_B);
	for (unsigned v = 0; v < 256; v++) {
		uint64_t off = v * STUB_ENTRY_SIZE + STUB_ENTRY_SIZE;
		int got_new = stub_vector_at(&stub, BASE_B + off);
		int got_old = stub_vector_at(&stub, BASE_A + off);

		cr_assert_eq(got_new, (int)v, "vector %u at the new base: expected %u, got %d", v,
			     v, got_new);
		cr_assert_eq(got_old, -1, "vector %u at the old base: expected -1, got %d", v,
			     got_old);
	}
	cr_assert_eq(stub_vector_at(&stub, BASE_B + STUB_GP_FAST_EXIT + STUB_ENTRY_SIZE), VEC_GP,
		     "expected the #GP exit at the new base to be 13");
	cr_assert_eq(stub_vector_at(&stub, BASE_A + STUB_GP_FAST_EXIT + STUB_ENTRY_SIZE), -1,
		     "expected the #GP exit at the old base to be -1");
}

Test(stub_install, the_kernel_aliases_are_not_present_while_the_guest_is_in_user_mode)
{
	static const unsigned sel[] = {STUB_ALIAS_KERNEL_CS, STUB_ALIAS_KERNEL_DS};

	for (int fast = 0; fast <= 1; fast++) {
		install_and_place(fast, BASE_A);
		for (unsigned i = 0; i < 2; i++) {
			stub_set_guest_mode(&stub, true);
			cr_assert_eq(desc(sel[i]).present, 0,
				     "fast %d, user mode, alias %#x: expected not present", fast,
				     sel[i]);
			stub_set_guest_mode(&stub, false);
			cr_assert_eq(desc(sel[i]).present, (unsigned)fast,
				     "fast %d, kernel mode, alias %#x: expected present %d", fast,
				     sel[i], fast);
			cr_assert_eq(desc(STUB_GUEST_KERNEL_CS).present, 0,
				     "the guest's own kernel CS stays not present");
		}
	}
}
