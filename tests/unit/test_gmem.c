/*
 * test_gmem.c - guest linear memory access with the guest's permissions (src/shadow/gmem.c), on
 * hand-built 4-level tables in a calloc'd guest RAM.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shadow/gmem.h"
#include "shadow/pagewalk.h"

#define RAM_SIZE (1ULL << 20)

/* Table frames: LA's tables are PML4[1] -> PDPT[2] -> PD[3] -> PT[4 ..]. */
#define PML4	   0x1000ULL
#define PDPT	   0x2000ULL
#define PD	   0x3000ULL
#define PT	   0x4000ULL
#define TABLES_END 0x5000ULL

/* Data frames, deliberately out of order. */
#define FRAME_A 0x30000ULL
#define FRAME_B 0x20000ULL
#define FRAME_C 0x40000ULL

/* A frame range lodger reserves inside RAM (monitor_lo .. monitor_hi in the view). */
#define RESERVED_LO 0x80000ULL
#define RESERVED_HI 0x90000ULL

/* Monitor memory, above RAM, as lodger has it. */
#define MON_GPA	 0x100000000ULL
#define MON_SIZE 0x10000ULL

#define LA   ((1ULL << 39) | (2ULL << 30) | (3ULL << 21) | (4ULL << 12))
#define PAGE 0x1000ULL
#define PERM (PTE_P | PTE_W | PTE_U)

static struct guest_mem mem;
static struct gview view;

static void setup(void)
{
	memset(&mem, 0, sizeof(mem));
	mem.ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(mem.ram, "calloc failed");
	mem.ram_size = RAM_SIZE;
	mem.monitor = calloc(1, MON_SIZE);
	cr_assert_not_null(mem.monitor, "calloc failed");
	mem.monitor_gpa = MON_GPA;
	mem.monitor_size = MON_SIZE;
	view = (struct gview){
		.mem = &mem, .cr3 = PML4, .monitor_lo = MON_GPA, .monitor_hi = MON_GPA + MON_SIZE};
}

static void teardown(void)
{
	free(mem.ram);
	free(mem.monitor);
}

TestSuite(gmem_read, .init = setup, .fini = teardown);
TestSuite(gmem_write, .init = setup, .fini = teardown);
TestSuite(gmem_fault, .init = setup, .fini = teardown);
TestSuite(gmem_ad, .init = setup, .fini = teardown);
TestSuite(gmem_monitor, .init = setup, .fini = teardown);

static uint64_t *entry(uint64_t table, unsigned index)
{
	return (uint64_t *)(mem.ram + table + index * 8);
}

static unsigned idx(uint64_t la, int level)
{
	return (la >> (12 + 9 * (level - 1))) & 511;
}

/* Maps the 4 KiB page at `la` (under LA's PT) to `frame`: the leaf gets `leaf`, every
 * table entry above it P|W|U, so the leaf alone decides the permissions. */
static void map(uint64_t la, uint64_t frame, uint64_t leaf)
{
	*entry(PML4, idx(la, 4)) = PDPT | PERM;
	*entry(PDPT, idx(la, 3)) = PD | PERM;
	*entry(PD, idx(la, 2)) = PT | PERM;
	*entry(PT, idx(la, 1)) = frame | leaf;
}

static uint64_t *leaf(uint64_t la)
{
	return entry(PT, idx(la, 1));
}

#define assert_fault(f, want_vector, want_error, want_cr2)                                         \
	do {                                                                                       \
		cr_assert_eq((f).vector, (want_vector), "expected vector %u, got %u",              \
			     (unsigned)(want_vector), (f).vector);                                 \
		cr_assert_eq((f).error, (uint32_t)(want_error), "expected error %#x, got %#x",     \
			     (unsigned)(want_error), (f).error);                                   \
		cr_assert_eq((f).cr2, (uint64_t)(want_cr2), "expected CR2 %#llx, got %#llx",       \
			     (unsigned long long)(want_cr2), (unsigned long long)(f).cr2);         \
	} while (0)

Test(gmem_read, a_read_across_a_page_boundary_joins_two_frames)
{
	uint8_t got[16], want[16];
	struct gfault f;

	map(LA, FRAME_A, PERM);
	map(LA + PAGE, FRAME_B, PERM); /* below FRAME_A: a flat copy would read the wrong bytes */
	for (unsigned i = 0; i < 8; i++) {
		mem.ram[FRAME_A + 0xff8 + i] = want[i] = (uint8_t)(0x10 + i);
		mem.ram[FRAME_B + i] = want[8 + i] = (uint8_t)(0x20 + i);
	}
	cr_assert(gmem_read(&view, LA + 0xff8, got, sizeof(got), false, &f),
		  "expected the read to succeed, got vector %u error %#x", f.vector, f.error);
	for (unsigned i = 0; i < sizeof(got); i++)
		cr_assert_eq(got[i], want[i], "byte %u: expected %#x, got %#x", i, want[i], got[i]);
}

Test(gmem_read, a_read_keeps_the_offset_in_the_page)
{
	uint32_t got = 0, want = 0xcafef00d;
	struct gfault f;

	map(LA, FRAME_A, PERM);
	memcpy(mem.ram + FRAME_A + 0x123, &want, 4);
	cr_assert(gmem_read(&view, LA + 0x123, &got, 4, false, &f), "expected the read to succeed");
	cr_assert_eq(got, want, "expected %#x, got %#x", want, got);
}

Test(gmem_read, a_read_of_exactly_8_kib_is_accepted)
{
	static uint8_t got[2 * PAGE];
	struct gfault f;

	map(LA, FRAME_A, PERM);
	map(LA + PAGE, FRAME_B, PERM);
	map(LA + 2 * PAGE, FRAME_C, PERM);
	memset(mem.ram + FRAME_A, 0xaa, PAGE);
	memset(mem.ram + FRAME_B, 0xbb, PAGE);
	memset(mem.ram + FRAME_C, 0xcc, PAGE);
	cr_assert(gmem_read(&view, LA + 0x800, got, sizeof(got), false, &f),
		  "expected an 8 KiB read over three pages to succeed");
	cr_assert(got[0] == 0xaa && got[0x800] == 0xbb && got[0x1800] == 0xcc &&
			  got[sizeof(got) - 1] == 0xcc,
		  "expected aa/bb/cc from the three frames, got %#x %#x %#x %#x", got[0],
		  got[0x800], got[0x1800], got[sizeof(got) - 1]);
}

/* More than two pages is never asked for by lodger: a request for it is a lodger bug,
 * which aborts (mem.h's rule for VMM-chosen ranges), rather than a fault the guest sees. */
Test(gmem_read, a_read_over_8_kib_is_a_lodger_bug_and_aborts, .signal = SIGABRT)
{
	static uint8_t got[2 * PAGE + 1];
	struct gfault f;

	for (unsigned i = 0; i < 3; i++)
		map(LA + i * PAGE, FRAME_A + i * PAGE, PERM);
	gmem_read(&view, LA, got, sizeof(got), false, &f);
}

Test(gmem_write, a_write_over_8_kib_is_a_lodger_bug_and_aborts, .signal = SIGABRT)
{
	static uint8_t src[2 * PAGE + 1];
	struct gfault f;

	for (unsigned i = 0; i < 3; i++)
		map(LA + i * PAGE, FRAME_A + i * PAGE, PERM);
	gmem_write(&view, LA, src, sizeof(src), &f);
}

Test(gmem_write, a_write_across_a_page_boundary_lands_in_both_frames)
{
	uint8_t src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct gfault f;

	map(LA, FRAME_A, PERM);
	map(LA + PAGE, FRAME_B, PERM);
	cr_assert(gmem_write(&view, LA + 0xffc, src, 8, &f), "expected the write to succeed");
	cr_assert(memcmp(mem.ram + FRAME_A + 0xffc, src, 4) == 0,
		  "expected bytes 1..4 at the end of frame A");
	cr_assert(memcmp(mem.ram + FRAME_B, src + 4, 4) == 0,
		  "expected bytes 5..8 at the start of frame B");
}

Test(gmem_write, a_write_that_faults_on_its_second_page_writes_nothing_to_the_first)
{
	uint8_t src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct gfault f;

	map(LA, FRAME_A, PERM); /* LA + PAGE is not present */
	cr_assert_not(gmem_write(&view, LA + 0xffc, src, 8, &f),
		      "expected the write to fault on its second page");
	assert_fault(f, 14, PFEC_W, LA + PAGE);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(mem.ram[FRAME_A + 0xffc + i], 0,
			     "first page byte %u: expected untouched 0, got %#x", i,
			     mem.ram[FRAME_A + 0xffc + i]);
}

Test(gmem_write, a_write_that_is_read_only_on_its_second_page_writes_nothing_to_the_first)
{
	uint8_t src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct gfault f;

	view.user = true;
	map(LA, FRAME_A, PERM);
	map(LA + PAGE, FRAME_B, PTE_P | PTE_U);
	cr_assert_not(gmem_write(&view, LA + 0xffc, src, 8, &f),
		      "expected the write to fault on its read-only second page");
	assert_fault(f, 14, PFEC_P | PFEC_W | PFEC_U, LA + PAGE);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(mem.ram[FRAME_A + 0xffc + i], 0,
			     "first page byte %u: expected untouched 0, got %#x", i,
			     mem.ram[FRAME_A + 0xffc + i]);
}

Test(gmem_fault, a_user_read_of_a_supervisor_page_is_a_pf_with_p_and_u)
{
	uint64_t v = 0;
	struct gfault f;

	view.user = true;
	map(LA, FRAME_A, PTE_P | PTE_W);
	cr_assert_not(gmem_read(&view, LA + 0x10, &v, 8, false, &f), "expected a fault");
	assert_fault(f, 14, PFEC_P | PFEC_U, LA + 0x10);
}

Test(gmem_fault, a_user_write_to_a_supervisor_page_is_a_pf_with_p_w_and_u)
{
	uint64_t v = 1;
	struct gfault f;

	view.user = true;
	map(LA, FRAME_A, PTE_P | PTE_W);
	cr_assert_not(gmem_write(&view, LA + 0x20, &v, 8, &f), "expected a fault");
	assert_fault(f, 14, PFEC_P | PFEC_W | PFEC_U, LA + 0x20);
	cr_assert_eq(mem.ram[FRAME_A + 0x20], 0, "expected the frame untouched, got %#x",
		     mem.ram[FRAME_A + 0x20]);
}

Test(gmem_fault, a_supervisor_entry_above_the_leaf_also_denies_user_access)
{
	uint64_t v = 0;
	struct gfault f;

	view.user = true;
	map(LA, FRAME_A, PERM);
	*entry(PDPT, idx(LA, 3)) &= ~PTE_U;
	cr_assert_not(gmem_read(&view, LA, &v, 8, false, &f), "expected a fault");
	assert_fault(f, 14, PFEC_P | PFEC_U, LA);
}

Test(gmem_fault, a_supervisor_read_of_a_supervisor_page_succeeds)
{
	uint64_t v = 0;
	struct gfault f;

	map(LA, FRAME_A, PTE_P | PTE_W);
	mem.ram[FRAME_A] = 0x42;
	cr_assert(gmem_read(&view, LA, &v, 8, false, &f), "expected success, got vector %u",
		  f.vector);
	cr_assert_eq(v, 0x42, "expected 0x42, got %#llx", (unsigned long long)v);
}

Test(gmem_fault, a_user_write_to_a_read_only_page_faults_with_or_without_wp)
{
	for (int wp = 0; wp <= 1; wp++) {
		uint32_t v = 0x12345678;
		struct gfault f;

		view.user = true;
		view.wp = wp;
		map(LA, FRAME_A, PTE_P | PTE_U);
		cr_assert_not(gmem_write(&view, LA + 4, &v, 4, &f), "wp %d: expected a fault", wp);
		assert_fault(f, 14, PFEC_P | PFEC_W | PFEC_U, LA + 4);
		cr_assert_eq(mem.ram[FRAME_A + 4], 0,
			     "wp %d: expected the frame untouched, got %#x", wp,
			     mem.ram[FRAME_A + 4]);
	}
}

Test(gmem_fault, a_supervisor_write_to_a_read_only_page_faults_with_wp)
{
	uint32_t v = 0x12345678;
	struct gfault f;

	view.wp = true;
	map(LA, FRAME_A, PTE_P | PTE_U);
	cr_assert_not(gmem_write(&view, LA + 4, &v, 4, &f), "expected a fault with CR0.WP");
	assert_fault(f, 14, PFEC_P | PFEC_W, LA + 4);
	cr_assert_eq(mem.ram[FRAME_A + 4], 0, "expected the frame untouched, got %#x",
		     mem.ram[FRAME_A + 4]);
}

Test(gmem_fault, a_supervisor_write_to_a_read_only_page_succeeds_without_wp)
{
	uint32_t v = 0x12345678, got;
	struct gfault f;

	view.wp = false;
	map(LA, FRAME_A, PTE_P);
	cr_assert(gmem_write(&view, LA + 4, &v, 4, &f),
		  "expected success without CR0.WP, got vector %u error %#x", f.vector, f.error);
	memcpy(&got, mem.ram + FRAME_A + 4, 4);
	cr_assert_eq(got, v, "expected %#x written, got %#x", v, got);
}

Test(gmem_fault, a_fetch_from_an_nx_page_faults_with_i_when_nxe)
{
	for (int user = 0; user <= 1; user++) {
		uint8_t insn[4];
		struct gfault f;

		view.nxe = true;
		view.user = user;
		map(LA, FRAME_A, PERM | PTE_NX);
		cr_assert_not(gmem_read(&view, LA + 8, insn, 4, true, &f),
			      "user %d: expected a fetch from an NX page to fault", user);
		assert_fault(f, 14, PFEC_P | PFEC_I | (user ? PFEC_U : 0), LA + 8);
	}
}

/* Without EFER.NXE bit 63 is no execute-disable bit: the fetch is either allowed (lodger
 * ignores the bit) or, as on hardware, a reserved-bit fault - never an NX fault. */
Test(gmem_fault, a_fetch_from_an_nx_page_is_no_nx_fault_without_nxe)
{
	uint8_t insn[4];
	struct gfault f = {0};

	view.nxe = false;
	map(LA, FRAME_A, PERM | PTE_NX);
	if (!gmem_read(&view, LA, insn, 4, true, &f))
		cr_assert_eq(f.error, PFEC_P | PFEC_RSVD,
			     "expected success or a reserved-bit fault (error %#x), got vector %u "
			     "error %#x",
			     PFEC_P | PFEC_RSVD, f.vector, f.error);
}

Test(gmem_fault, a_fetch_fault_without_nxe_has_no_i_bit)
{
	uint8_t insn[4];
	struct gfault f;

	view.nxe = false;
	cr_assert_not(gmem_read(&view, LA, insn, 4, true, &f), "expected a not-present fault");
	assert_fault(f, 14, 0, LA);
}

Test(gmem_fault, a_fetch_fault_with_nxe_has_the_i_bit_even_when_not_present)
{
	uint8_t insn[4];
	struct gfault f;

	view.nxe = true;
	cr_assert_not(gmem_read(&view, LA, insn, 4, true, &f), "expected a not-present fault");
	assert_fault(f, 14, PFEC_I, LA);
}

Test(gmem_fault, a_read_of_an_nx_page_is_not_a_fetch)
{
	uint8_t data[4];
	struct gfault f;

	view.nxe = true;
	map(LA, FRAME_A, PERM | PTE_NX);
	cr_assert(gmem_read(&view, LA, data, 4, false, &f),
		  "expected a data read of an NX page to succeed, got vector %u error %#x",
		  f.vector, f.error);
}

Test(gmem_fault, a_fetch_from_an_executable_page_succeeds_with_nxe)
{
	uint8_t insn[2];
	struct gfault f;

	view.nxe = true;
	map(LA, FRAME_A, PERM);
	mem.ram[FRAME_A] = 0x0f;
	mem.ram[FRAME_A + 1] = 0x0b;
	cr_assert(gmem_read(&view, LA, insn, 2, true, &f), "expected the fetch to succeed");
	cr_assert(insn[0] == 0x0f && insn[1] == 0x0b, "expected 0f 0b, got %02x %02x", insn[0],
		  insn[1]);
}

Test(gmem_fault, a_non_canonical_address_is_a_gp)
{
	static const uint64_t bad[] = {0x0000800000000000ULL, 0xfff0000000000000ULL,
				       LA | (1ULL << 60)};

	map(LA, FRAME_A, PERM);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t v;
		struct gfault f = {.vector = 99, .error = 99};

		cr_assert_not(gmem_read(&view, bad[i], &v, 8, false, &f), "%#llx: expected a fault",
			      (unsigned long long)bad[i]);
		cr_assert_eq(f.vector, 13, "%#llx: expected vector 13, got %u",
			     (unsigned long long)bad[i], f.vector);
		cr_assert_eq(f.error, 0, "%#llx: expected error 0, got %#x",
			     (unsigned long long)bad[i], f.error);
		cr_assert_not(gmem_write(&view, bad[i], &v, 8, &f), "%#llx: expected a fault",
			      (unsigned long long)bad[i]);
		cr_assert_eq(f.vector, 13, "%#llx write: expected vector 13, got %u",
			     (unsigned long long)bad[i], f.vector);
	}
}

/* The canonical check covers the whole access and comes before paging. */
Test(gmem_fault, an_access_running_into_non_canonical_space_is_a_gp_even_if_unmapped)
{
	uint64_t v = 0;
	struct gfault f = {.vector = 99};

	/* 0x7ffffffffffc .. 0x800000000003: the first page is not mapped either. */
	cr_assert_not(gmem_read(&view, 0x00007ffffffffffcULL, &v, 8, false, &f),
		      "expected a fault");
	cr_assert_eq(f.vector, 13, "expected #GP (13) for an access ending non-canonical, got %u",
		     f.vector);
}

Test(gmem_fault, a_not_present_page_is_a_pf_with_p_clear)
{
	uint64_t v = 0;
	struct gfault f;

	map(LA, FRAME_A, PERM);
	*leaf(LA) &= ~PTE_P;
	cr_assert_not(gmem_read(&view, LA + 0x30, &v, 8, false, &f), "expected a fault");
	assert_fault(f, 14, 0, LA + 0x30);
	view.user = true;
	cr_assert_not(gmem_write(&view, LA + 0x30, &v, 8, &f), "expected a fault");
	assert_fault(f, 14, PFEC_W | PFEC_U, LA + 0x30);
}

Test(gmem_fault, a_not_present_upper_level_is_a_pf_with_p_clear)
{
	uint64_t v = 0;
	struct gfault f;

	map(LA, FRAME_A, PERM);
	*entry(PML4, idx(LA, 4)) = 0;
	cr_assert_not(gmem_read(&view, LA, &v, 8, false, &f), "expected a fault");
	assert_fault(f, 14, 0, LA);
}

Test(gmem_ad, a_write_sets_a_on_every_level_and_d_on_the_leaf)
{
	uint32_t v = 1;
	struct gfault f;
	uint64_t *e[4] = {leaf(LA), entry(PD, idx(LA, 2)), entry(PDPT, idx(LA, 3)),
			  entry(PML4, idx(LA, 4))};

	map(LA, FRAME_A, PERM);
	cr_assert(gmem_write(&view, LA, &v, 4, &f), "expected the write to succeed");
	for (unsigned i = 0; i < 4; i++)
		cr_assert(*e[i] & PTE_A, "entry %u (leaf first): expected A, got %#llx", i,
			  (unsigned long long)*e[i]);
	cr_assert(*e[0] & PTE_D, "leaf: expected D after a write, got %#llx",
		  (unsigned long long)*e[0]);
	for (unsigned i = 1; i < 4; i++)
		cr_assert_eq(*e[i] & PTE_D, 0, "entry %u: expected no D above the leaf, got %#llx",
			     i, (unsigned long long)*e[i]);
}

Test(gmem_ad, a_read_sets_a_on_every_level_and_no_d)
{
	uint32_t v;
	struct gfault f;
	uint64_t *e[4] = {leaf(LA), entry(PD, idx(LA, 2)), entry(PDPT, idx(LA, 3)),
			  entry(PML4, idx(LA, 4))};

	map(LA, FRAME_A, PERM);
	cr_assert(gmem_read(&view, LA, &v, 4, false, &f), "expected the read to succeed");
	for (unsigned i = 0; i < 4; i++) {
		cr_assert(*e[i] & PTE_A, "entry %u (leaf first): expected A, got %#llx", i,
			  (unsigned long long)*e[i]);
		cr_assert_eq(*e[i] & PTE_D, 0, "entry %u: expected no D after a read, got %#llx", i,
			     (unsigned long long)*e[i]);
	}
}

Test(gmem_ad, a_write_through_a_2m_page_sets_d_on_the_pde)
{
	uint64_t la = (1ULL << 39) | (2ULL << 30) | (9ULL << 21), *pde = entry(PD, 9);
	uint32_t v = 1;
	struct gfault f;

	map(LA, FRAME_A, PERM); /* PML4E and PDPTE */
	*pde = 0 | PERM | PTE_PS;
	cr_assert(gmem_write(&view, la + 0x50000, &v, 4, &f), "expected the write to succeed");
	cr_assert_eq(*pde & (PTE_A | PTE_D), PTE_A | PTE_D,
		     "expected A|D on the 2 MiB PDE, got %#llx", (unsigned long long)*pde);
	cr_assert_eq(mem.ram[0x50000], 1, "expected the byte written at GPA 0x50000, got %#x",
		     mem.ram[0x50000]);
}

Test(gmem_monitor, a_reserved_frame_inside_ram_reads_as_all_ones)
{
	uint64_t v = 0;
	struct gfault f;

	view.monitor_lo = RESERVED_LO;
	view.monitor_hi = RESERVED_HI;
	map(LA, RESERVED_LO + PAGE, PERM);
	memset(mem.ram + RESERVED_LO, 0x11, RESERVED_HI - RESERVED_LO);
	cr_assert(gmem_read(&view, LA + 8, &v, 8, false, &f), "expected the read to succeed");
	cr_assert_eq(v, ~0ULL, "expected all ones, got %#llx", (unsigned long long)v);
}

Test(gmem_monitor, a_read_joining_ram_and_a_reserved_frame_gives_ram_then_ones)
{
	uint8_t got[8];
	struct gfault f;

	view.monitor_lo = RESERVED_LO;
	view.monitor_hi = RESERVED_HI;
	map(LA, FRAME_A, PERM);
	map(LA + PAGE, RESERVED_LO, PERM);
	memset(mem.ram + FRAME_A, 0x22, PAGE);
	memset(mem.ram + RESERVED_LO, 0x11, PAGE);
	cr_assert(gmem_read(&view, LA + PAGE - 4, got, 8, false, &f),
		  "expected the read to succeed");
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(got[i], i < 4 ? 0x22 : 0xff, "byte %u: expected %#x, got %#x", i,
			     i < 4 ? 0x22 : 0xff, got[i]);
}

Test(gmem_monitor, a_write_to_a_reserved_frame_inside_ram_changes_nothing)
{
	static uint8_t before[RAM_SIZE];
	uint8_t src[16];
	struct gfault f;

	view.monitor_lo = RESERVED_LO;
	view.monitor_hi = RESERVED_HI;
	map(LA, RESERVED_LO + 2 * PAGE, PERM);
	memset(mem.ram + RESERVED_LO, 0x11, RESERVED_HI - RESERVED_LO);
	memset(src, 0x99, sizeof(src));
	memcpy(before, mem.ram, RAM_SIZE);
	cr_assert(gmem_write(&view, LA + 0x100, src, sizeof(src), &f),
		  "expected the write to complete (and be dropped)");
	for (uint64_t i = TABLES_END; i < RAM_SIZE; i++) /* the tables get A/D */
		cr_assert_eq(mem.ram[i], before[i], "RAM %#llx: expected %#x, got %#x",
			     (unsigned long long)i, before[i], mem.ram[i]);
	for (uint64_t i = 0; i < MON_SIZE; i++)
		cr_assert_eq(mem.monitor[i], 0, "monitor byte %#llx: expected 0, got %#x",
			     (unsigned long long)i, mem.monitor[i]);
}

Test(gmem_monitor, a_monitor_frame_above_ram_reads_as_all_ones)
{
	uint64_t v = 0;
	struct gfault f;

	map(LA, MON_GPA, PERM);
	memset(mem.monitor, 0x33, MON_SIZE);
	cr_assert(gmem_read(&view, LA, &v, 8, false, &f), "expected the read to succeed");
	cr_assert_eq(v, ~0ULL, "expected all ones, got %#llx", (unsigned long long)v);
}

Test(gmem_monitor, a_write_to_a_monitor_frame_above_ram_changes_nothing)
{
	static uint8_t before[RAM_SIZE];
	uint8_t src[16];
	struct gfault f;

	map(LA, MON_GPA + PAGE, PERM);
	memset(src, 0x99, sizeof(src));
	memcpy(before, mem.ram, RAM_SIZE);
	cr_assert(gmem_write(&view, LA, src, sizeof(src), &f),
		  "expected the write to complete (and be dropped)");
	for (uint64_t i = 0; i < MON_SIZE; i++)
		cr_assert_eq(mem.monitor[i], 0, "monitor byte %#llx: expected 0, got %#x",
			     (unsigned long long)i, mem.monitor[i]);
	for (uint64_t i = TABLES_END; i < RAM_SIZE; i++)
		cr_assert_eq(mem.ram[i], before[i], "RAM %#llx: expected %#x, got %#x",
			     (unsigned long long)i, before[i], mem.ram[i]);
}
