/*
 * test_pagewalk.c - the guest page-table walker (src/shadow/pagewalk.c), on hand-built
 * 4-level tables in a calloc'd guest RAM.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shadow/pagewalk.h"

#define RAM_SIZE (1ULL << 20)

/* Table frames. */
#define PML4 0x1000ULL
#define PDPT 0x2000ULL
#define PD   0x3000ULL
#define PT   0x4000ULL

/* Data frames. */
#define FRAME_A 0x20000ULL
#define FRAME_B 0x30000ULL

/* Linear addresses; LA_4K's tables are PML4[1] -> PDPT[2] -> PD[3] -> PT[4]. */
#define LA_4K ((1ULL << 39) | (2ULL << 30) | (3ULL << 21) | (4ULL << 12))
#define PERM  (PTE_P | PTE_W | PTE_U)

static struct guest_mem mem;

static void setup(void)
{
	memset(&mem, 0, sizeof(mem));
	mem.ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(mem.ram, "calloc failed");
	mem.ram_size = RAM_SIZE;
}

static void teardown(void)
{
	free(mem.ram);
}

TestSuite(pagewalk, .init = setup, .fini = teardown);
TestSuite(pagewalk_set_ad, .init = setup, .fini = teardown);
TestSuite(read_linear, .init = setup, .fini = teardown);

static unsigned idx(uint64_t la, int level)
{
	return (la >> (12 + 9 * (level - 1))) & 511;
}

static uint64_t *entry(uint64_t table, unsigned index)
{
	return (uint64_t *)(mem.ram + table + index * 8);
}

static uint64_t entry_gpa(uint64_t table, unsigned index)
{
	return table + index * 8;
}

/* Maps the 4 KiB page at `la` to `frame` with the same flags at every level. */
static void map_4k(uint64_t la, uint64_t frame, uint64_t flags)
{
	*entry(PML4, idx(la, 4)) = PDPT | flags;
	*entry(PDPT, idx(la, 3)) = PD | flags;
	*entry(PD, idx(la, 2)) = PT | flags;
	*entry(PT, idx(la, 1)) = frame | flags;
}

static const char *status_name(enum walk_status s)
{
	switch (s) {
	case WALK_OK:
		return "WALK_OK";
	case WALK_NONCANONICAL:
		return "WALK_NONCANONICAL";
	case WALK_NOT_PRESENT:
		return "WALK_NOT_PRESENT";
	case WALK_RESERVED:
		return "WALK_RESERVED";
	case WALK_TABLE_OUTSIDE:
		return "WALK_TABLE_OUTSIDE";
	}
	return "?";
}

#define assert_status(got, want)                                                                   \
	cr_assert_eq((got), (want), "expected %s, got %s", status_name(want), status_name(got))

Test(pagewalk, a_4k_mapping_translates_and_keeps_the_page_offset)
{
	struct walk w;
	enum walk_status s;

	map_4k(LA_4K, FRAME_A, PERM);
	s = pagewalk(&mem, PML4, LA_4K + 0xabc, &w);
	assert_status(s, WALK_OK);
	cr_assert_eq(w.gpa, FRAME_A + 0xabc, "expected gpa %#llx, got %#llx",
		     (unsigned long long)(FRAME_A + 0xabc), (unsigned long long)w.gpa);
	cr_assert_eq(w.level, 1, "expected level 1, got %u", w.level);
}

Test(pagewalk, the_low_bits_of_cr3_are_ignored)
{
	struct walk w;
	enum walk_status s;

	map_4k(LA_4K, FRAME_A, PERM);
	s = pagewalk(&mem, PML4 | 0x18, LA_4K, &w); /* PWT|PCD */
	assert_status(s, WALK_OK);
	cr_assert_eq(w.gpa, FRAME_A, "expected gpa %#llx, got %#llx", (unsigned long long)FRAME_A,
		     (unsigned long long)w.gpa);
}

Test(pagewalk, a_2m_mapping_translates_and_keeps_the_offset_in_the_large_page)
{
	uint64_t la = (1ULL << 39) | (5ULL << 30) | (7ULL << 21) | 0x12345;
	uint64_t frame = 0x40000000ULL; /* 1 GiB: the leaf may point anywhere */
	struct walk w;
	enum walk_status s;

	*entry(PML4, idx(la, 4)) = PDPT | PERM;
	*entry(PDPT, idx(la, 3)) = PD | PERM;
	*entry(PD, idx(la, 2)) = frame | PERM | PTE_PS;
	s = pagewalk(&mem, PML4, la, &w);
	assert_status(s, WALK_OK);
	cr_assert_eq(w.gpa, frame + 0x12345, "expected gpa %#llx, got %#llx",
		     (unsigned long long)(frame + 0x12345), (unsigned long long)w.gpa);
	cr_assert_eq(w.level, 2, "expected level 2, got %u", w.level);
}

Test(pagewalk, a_1g_mapping_translates_and_keeps_the_offset_in_the_large_page)
{
	uint64_t la = 0xffff800000000000ULL | (3ULL << 30) | 0x12345678; /* PML4[256] */
	uint64_t frame = 0x80000000ULL;
	struct walk w;
	enum walk_status s;

	*entry(PML4, idx(la, 4)) = PDPT | PERM;
	*entry(PDPT, idx(la, 3)) = frame | PERM | PTE_PS;
	s = pagewalk(&mem, PML4, la, &w);
	assert_status(s, WALK_OK);
	cr_assert_eq(w.gpa, frame + 0x12345678, "expected gpa %#llx, got %#llx",
		     (unsigned long long)(frame + 0x12345678), (unsigned long long)w.gpa);
	cr_assert_eq(w.level, 3, "expected level 3, got %u", w.level);
}

Test(pagewalk, a_large_page_ignores_the_low_address_bits_of_its_entry)
{
	uint64_t la = (1ULL << 39) | (7ULL << 21) | 0x1234;
	struct walk w;
	enum walk_status s;

	*entry(PML4, idx(la, 4)) = PDPT | PERM;
	*entry(PDPT, idx(la, 3)) = PD | PERM;
	/* Bit 12 of a 2 MiB PDE is PAT, not an address bit. */
	*entry(PD, idx(la, 2)) = 0x200000ULL | (1ULL << 12) | PERM | PTE_PS;
	s = pagewalk(&mem, PML4, la, &w);
	assert_status(s, WALK_OK);
	cr_assert_eq(w.gpa, 0x201234ULL, "expected gpa 0x201234, got %#llx",
		     (unsigned long long)w.gpa);
}

Test(pagewalk, an_entry_with_w_u_and_no_nx_everywhere_gives_full_permissions)
{
	struct walk w;

	map_4k(LA_4K, FRAME_A, PERM);
	assert_status(pagewalk(&mem, PML4, LA_4K, &w), WALK_OK);
	cr_assert(w.writable, "expected writable");
	cr_assert(w.user, "expected user");
	cr_assert(w.executable, "expected executable");
}

Test(pagewalk, a_read_only_entry_at_any_level_makes_the_page_read_only)
{
	uint64_t tables[4] = {PT, PD, PDPT, PML4};

	for (int level = 1; level <= 4; level++) {
		struct walk w;

		map_4k(LA_4K, FRAME_A, PERM);
		*entry(tables[level - 1], idx(LA_4K, level)) &= ~PTE_W;
		assert_status(pagewalk(&mem, PML4, LA_4K, &w), WALK_OK);
		cr_assert_not(w.writable, "expected read-only with W = 0 at level %d", level);
		cr_assert(w.user, "expected user still set with W = 0 at level %d", level);
	}
}

Test(pagewalk, a_supervisor_entry_at_any_level_clears_user)
{
	uint64_t tables[4] = {PT, PD, PDPT, PML4};

	for (int level = 1; level <= 4; level++) {
		struct walk w;

		map_4k(LA_4K, FRAME_A, PERM);
		*entry(tables[level - 1], idx(LA_4K, level)) &= ~PTE_U;
		assert_status(pagewalk(&mem, PML4, LA_4K, &w), WALK_OK);
		cr_assert_not(w.user, "expected supervisor-only with U = 0 at level %d", level);
		cr_assert(w.writable, "expected writable still set with U = 0 at level %d", level);
	}
}

Test(pagewalk, nx_at_any_level_makes_the_page_non_executable)
{
	uint64_t tables[4] = {PT, PD, PDPT, PML4};

	for (int level = 1; level <= 4; level++) {
		struct walk w;

		map_4k(LA_4K, FRAME_A, PERM);
		*entry(tables[level - 1], idx(LA_4K, level)) |= PTE_NX;
		assert_status(pagewalk(&mem, PML4, LA_4K, &w), WALK_OK);
		cr_assert_not(w.executable, "expected non-executable with NX at level %d", level);
		cr_assert_eq(w.gpa, FRAME_A, "expected NX not to reach the address, got %#llx",
			     (unsigned long long)w.gpa);
	}
}

Test(pagewalk, a_not_present_entry_at_any_level_ends_the_walk)
{
	uint64_t tables[4] = {PT, PD, PDPT, PML4};

	for (int level = 1; level <= 4; level++) {
		struct walk w;
		enum walk_status s;

		map_4k(LA_4K, FRAME_A, PERM);
		*entry(tables[level - 1], idx(LA_4K, level)) &= ~PTE_P;
		s = pagewalk(&mem, PML4, LA_4K, &w);
		cr_assert_eq(s, WALK_NOT_PRESENT, "level %d: expected WALK_NOT_PRESENT, got %s",
			     level, status_name(s));
		cr_assert_eq(w.entries, (unsigned)(5 - level),
			     "level %d: expected %d entries read, got %u", level, 5 - level,
			     w.entries);
		cr_assert_eq(w.entry_gpa[0], entry_gpa(tables[level - 1], idx(LA_4K, level)),
			     "level %d: expected the not-present entry first, got %#llx", level,
			     (unsigned long long)w.entry_gpa[0]);
	}
}

Test(pagewalk, ps_in_a_pml4_entry_is_a_reserved_bit)
{
	struct walk w;

	map_4k(LA_4K, FRAME_A, PERM);
	*entry(PML4, idx(LA_4K, 4)) |= PTE_PS;
	assert_status(pagewalk(&mem, PML4, LA_4K, &w), WALK_RESERVED);
}

Test(pagewalk, the_bits_between_pat_and_the_address_of_a_2m_page_are_reserved)
{
	uint64_t la = (1ULL << 39) | (7ULL << 21) | 0x1234;
	struct walk w;

	*entry(PML4, idx(la, 4)) = PDPT | PERM;
	*entry(PDPT, idx(la, 3)) = PD | PERM;
	for (unsigned bit = 13; bit <= 20; bit++) {
		*entry(PD, idx(la, 2)) = 0x200000ULL | (1ULL << bit) | PERM | PTE_PS;
		assert_status(pagewalk(&mem, PML4, la, &w), WALK_RESERVED);
	}
	*entry(PD, idx(la, 2)) = 0x200000ULL | (1ULL << 21) | PERM | PTE_PS;
	assert_status(pagewalk(&mem, PML4, la, &w), WALK_OK);
}

Test(pagewalk, the_bits_between_pat_and_the_address_of_a_1g_page_are_reserved)
{
	uint64_t la = 0xffff800000000000ULL | (3ULL << 30) | 0x1234;
	struct walk w;

	*entry(PML4, idx(la, 4)) = PDPT | PERM;
	for (unsigned bit = 13; bit <= 29; bit++) {
		*entry(PDPT, idx(la, 3)) = 0x80000000ULL | (1ULL << bit) | PERM | PTE_PS;
		assert_status(pagewalk(&mem, PML4, la, &w), WALK_RESERVED);
	}
	*entry(PDPT, idx(la, 3)) = 0x80000000ULL | (1ULL << 12) | PERM | PTE_PS;
	assert_status(pagewalk(&mem, PML4, la, &w), WALK_OK);
}

Test(pagewalk, address_bits_of_a_large_page_at_maxphyaddr_and_up_are_reserved)
{
	uint64_t la = (1ULL << 39) | (7ULL << 21);
	struct walk w;

	mem.phys_bits = 39;
	*entry(PML4, idx(la, 4)) = PDPT | PERM;
	*entry(PDPT, idx(la, 3)) = PD | PERM;
	*entry(PD, idx(la, 2)) = (1ULL << 39) | PERM | PTE_PS;
	assert_status(pagewalk(&mem, PML4, la, &w), WALK_RESERVED);
	*entry(PD, idx(la, 2)) = (1ULL << 38) | PERM | PTE_PS;
	assert_status(pagewalk(&mem, PML4, la, &w), WALK_OK);
}

Test(pagewalk, bit_13_of_a_pte_is_an_address_bit)
{
	struct walk w;

	map_4k(LA_4K, FRAME_A | (1ULL << 13), PERM);
	assert_status(pagewalk(&mem, PML4, LA_4K, &w), WALK_OK);
}

Test(pagewalk, a_non_canonical_address_is_refused_before_any_table_is_read)
{
	struct walk w;

	map_4k(LA_4K, FRAME_A, PERM);
	assert_status(pagewalk(&mem, PML4, 0x0000800000000000ULL, &w), WALK_NONCANONICAL);
	cr_assert_eq(w.entries, 0, "expected no entry read, got %u", w.entries);
	assert_status(pagewalk(&mem, PML4, 0xfff0000000000000ULL, &w), WALK_NONCANONICAL);
	assert_status(pagewalk(&mem, PML4, LA_4K | (1ULL << 60), &w), WALK_NONCANONICAL);
}

Test(pagewalk, cr3_outside_ram_is_table_outside)
{
	struct walk w;

	assert_status(pagewalk(&mem, 0x7fff0000000ULL, LA_4K, &w), WALK_TABLE_OUTSIDE);
}

Test(pagewalk, a_table_frame_outside_ram_at_any_level_is_table_outside)
{
	uint64_t tables[3] = {PD, PDPT, PML4}; /* entries that point at a table */

	for (int level = 2; level <= 4; level++) {
		struct walk w;
		enum walk_status s;
		uint64_t *e;

		map_4k(LA_4K, FRAME_A, PERM);
		e = entry(tables[level - 2], idx(LA_4K, level));
		*e = (*e & ~PTE_ADDR_MASK) | 0x000ffffffffff000ULL; /* the top of the GPA space */
		s = pagewalk(&mem, PML4, LA_4K, &w);
		cr_assert_eq(s, WALK_TABLE_OUTSIDE, "level %d: expected WALK_TABLE_OUTSIDE, got %s",
			     level, status_name(s));
	}
}

Test(pagewalk, entry_gpa_lists_the_entries_leaf_first_for_a_4k_page)
{
	struct walk w;
	uint64_t want[4] = {entry_gpa(PT, 4), entry_gpa(PD, 3), entry_gpa(PDPT, 2),
			    entry_gpa(PML4, 1)};

	map_4k(LA_4K, FRAME_A, PERM);
	assert_status(pagewalk(&mem, PML4, LA_4K, &w), WALK_OK);
	cr_assert_eq(w.entries, 4, "expected 4 entries, got %u", w.entries);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(w.entry_gpa[i], want[i], "entry_gpa[%u]: expected %#llx, got %#llx", i,
			     (unsigned long long)want[i], (unsigned long long)w.entry_gpa[i]);
}

Test(pagewalk, entry_gpa_lists_the_entries_leaf_first_for_a_2m_page)
{
	uint64_t la = (1ULL << 39) | (5ULL << 30) | (7ULL << 21);
	struct walk w;
	uint64_t want[3] = {entry_gpa(PD, 7), entry_gpa(PDPT, 5), entry_gpa(PML4, 1)};

	*entry(PML4, 1) = PDPT | PERM;
	*entry(PDPT, 5) = PD | PERM;
	*entry(PD, 7) = 0x200000ULL | PERM | PTE_PS;
	assert_status(pagewalk(&mem, PML4, la, &w), WALK_OK);
	cr_assert_eq(w.entries, 3, "expected 3 entries, got %u", w.entries);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(w.entry_gpa[i], want[i], "entry_gpa[%u]: expected %#llx, got %#llx", i,
			     (unsigned long long)want[i], (unsigned long long)w.entry_gpa[i]);
}

Test(pagewalk_set_ad, a_write_sets_accessed_everywhere_and_dirty_only_on_the_leaf)
{
	struct walk w;
	uint64_t *e[4];

	map_4k(LA_4K, FRAME_A, PERM);
	e[0] = entry(PT, 4);
	e[1] = entry(PD, 3);
	e[2] = entry(PDPT, 2);
	e[3] = entry(PML4, 1);
	assert_status(pagewalk(&mem, PML4, LA_4K, &w), WALK_OK);
	pagewalk_set_ad(&mem, &w, true);
	for (unsigned i = 0; i < 4; i++)
		cr_assert(*e[i] & PTE_A, "expected A set in entry %u (leaf first), got %#llx", i,
			  (unsigned long long)*e[i]);
	cr_assert(*e[0] & PTE_D, "expected D set in the leaf, got %#llx",
		  (unsigned long long)*e[0]);
	for (unsigned i = 1; i < 4; i++)
		cr_assert_eq(*e[i] & PTE_D, 0, "expected D clear in entry %u, got %#llx", i,
			     (unsigned long long)*e[i]);
	cr_assert_eq(*e[0] & ~(PTE_A | PTE_D), FRAME_A | PERM,
		     "expected the leaf's other bits unchanged, got %#llx",
		     (unsigned long long)*e[0]);
}

Test(pagewalk_set_ad, a_read_sets_accessed_and_no_dirty)
{
	struct walk w;
	uint64_t *leaf = entry(PT, 4), *top = entry(PML4, 1);

	map_4k(LA_4K, FRAME_A, PERM);
	assert_status(pagewalk(&mem, PML4, LA_4K, &w), WALK_OK);
	pagewalk_set_ad(&mem, &w, false);
	cr_assert(*leaf & PTE_A, "expected A in the leaf, got %#llx", (unsigned long long)*leaf);
	cr_assert(*top & PTE_A, "expected A in the PML4E, got %#llx", (unsigned long long)*top);
	cr_assert_eq(*leaf & PTE_D, 0, "expected no D for a read, got %#llx",
		     (unsigned long long)*leaf);
}

Test(pagewalk_set_ad, a_write_through_a_2m_page_sets_dirty_on_the_pde)
{
	uint64_t la = (1ULL << 39) | (5ULL << 30) | (7ULL << 21);
	struct walk w;

	*entry(PML4, 1) = PDPT | PERM;
	*entry(PDPT, 5) = PD | PERM;
	*entry(PD, 7) = 0x200000ULL | PERM | PTE_PS;
	assert_status(pagewalk(&mem, PML4, la, &w), WALK_OK);
	pagewalk_set_ad(&mem, &w, true);
	cr_assert_eq(*entry(PD, 7) & (PTE_A | PTE_D), PTE_A | PTE_D,
		     "expected A|D in the 2 MiB leaf, got %#llx",
		     (unsigned long long)*entry(PD, 7));
	cr_assert_eq(*entry(PDPT, 5) & PTE_D, 0, "expected no D in the PDPTE, got %#llx",
		     (unsigned long long)*entry(PDPT, 5));
}

Test(read_linear, copies_across_a_page_boundary_from_two_different_frames)
{
	uint8_t got[16], want[16];
	bool ok;

	/* The second page's frame lies below the first's, so a flat copy would be wrong. */
	map_4k(LA_4K, FRAME_B, PERM);
	*entry(PT, 5) = FRAME_A | PERM;
	memset(mem.ram + FRAME_B, 0xbb, 0x1000);
	memset(mem.ram + FRAME_A, 0xaa, 0x1000);
	for (unsigned i = 0; i < 8; i++) {
		mem.ram[FRAME_B + 0xff8 + i] = (uint8_t)(0x10 + i);
		mem.ram[FRAME_A + i] = (uint8_t)(0x20 + i);
		want[i] = (uint8_t)(0x10 + i);
		want[8 + i] = (uint8_t)(0x20 + i);
	}
	ok = read_linear(&mem, PML4, LA_4K + 0xff8, got, sizeof(got));
	cr_assert(ok, "expected the read to succeed");
	for (unsigned i = 0; i < sizeof(got); i++)
		cr_assert_eq(got[i], want[i], "byte %u: expected %#x, got %#x", i, want[i], got[i]);
}

Test(read_linear, fails_when_the_second_page_is_not_mapped)
{
	uint8_t got[16];
	bool ok;

	map_4k(LA_4K, FRAME_A, PERM);
	ok = read_linear(&mem, PML4, LA_4K + 0xff8, got, sizeof(got));
	cr_assert_not(ok, "expected the read to fail with the second page unmapped");
}

Test(read_linear, fails_when_a_page_maps_outside_ram)
{
	uint8_t got[4];
	bool ok;

	map_4k(LA_4K, 0x7fff0000000ULL, PERM);
	ok = read_linear(&mem, PML4, LA_4K, got, sizeof(got));
	cr_assert_not(ok, "expected the read of a frame outside RAM to fail");
}
