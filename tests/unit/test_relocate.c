/*
 * test_relocate.c - choosing an unused region for the stub (src/shadow/relocate.c), on
 * hand-built 4-level tables in a calloc'd guest RAM.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shadow/pagewalk.h"
#include "shadow/relocate.h"

#define RAM_SIZE (1ULL << 20)
#define REGION	 (1ULL << 21)

/* Table frames. Frame 0 stays zero: large pages point at it, so a search that wrongly
 * walked into a large page would see an empty table there and report a free region. */
#define PML4	0x1000ULL
#define PDPT_A	0x2000ULL
#define PDPT_B	0x3000ULL
#define PD	0x4000ULL
#define OUTSIDE 0x40000000ULL /* 1 GiB: beyond RAM_SIZE */

#define PERM (PTE_P | PTE_W | PTE_U)

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

TestSuite(reloc_find_unused, .init = setup, .fini = teardown);
TestSuite(reloc_random, .init = setup, .fini = teardown);
TestSuite(reloc_note_conflict, .init = setup, .fini = teardown);

static uint64_t *entry(uint64_t table, unsigned index)
{
	return (uint64_t *)(mem.ram + table + index * 8);
}

static void fill(uint64_t table, uint64_t value)
{
	for (unsigned i = 0; i < 512; i++)
		*entry(table, i) = value;
}

static unsigned idx(uint64_t la, int level)
{
	return (la >> (12 + 9 * (level - 1))) & 511;
}

static uint64_t canon(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16);
}

static uint64_t la_of(unsigned pml4, unsigned pdpt, unsigned pd)
{
	return canon(((uint64_t)pml4 << 39) | ((uint64_t)pdpt << 30) | ((uint64_t)pd << 21));
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

/* A region is a valid answer: canonical, 2 MiB aligned, and not mapped at either end. */
static void assert_unmapped_region(uint64_t base)
{
	struct walk w;
	enum walk_status s;

	cr_assert_eq(canon(base), base, "expected a canonical base, got %#llx",
		     (unsigned long long)base);
	cr_assert_eq(base & (REGION - 1), 0, "expected a 2 MiB-aligned base, got %#llx",
		     (unsigned long long)base);
	s = pagewalk(&mem, PML4, base, &w);
	cr_assert_eq(s, WALK_NOT_PRESENT,
		     "expected %#llx not present in the guest's tables, got %s",
		     (unsigned long long)base, status_name(s));
	s = pagewalk(&mem, PML4, base + REGION - 1, &w);
	cr_assert_eq(s, WALK_NOT_PRESENT,
		     "expected %#llx not present in the guest's tables, got %s",
		     (unsigned long long)(base + REGION - 1), status_name(s));
}

/* Every PML4 slot -> the same PDPT -> the same PD, whose every entry is a 2 MiB page. */
static void build_fullspace(void)
{
	fill(PML4, PDPT_A | PERM);
	fill(PDPT_A, PD | PERM);
	fill(PD, 0 | PERM | PTE_PS);
}

/* Every PML4 slot but `pml4` maps 1 GiB pages everywhere; that slot's PDPT maps 1 GiB
 * pages except entry `pdpt`, whose PD maps 2 MiB pages except entry `pd`, left absent. */
static uint64_t build_one_hole(unsigned pml4, unsigned pdpt, unsigned pd)
{
	fill(PML4, PDPT_A | PERM);
	fill(PDPT_A, 0 | PERM | PTE_PS);
	*entry(PML4, pml4) = PDPT_B | PERM;
	fill(PDPT_B, 0 | PERM | PTE_PS);
	*entry(PDPT_B, pdpt) = PD | PERM;
	fill(PD, 0 | PERM | PTE_PS);
	*entry(PD, pd) = 0;
	return la_of(pml4, pdpt, pd);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The first choice a fresh search state seeded with `seed` makes, nothing excluded. */
static uint64_t first_choice(uint64_t seed)
{
	struct reloc r;
	uint64_t base = 0;

	reloc_init(&r, true, seed);
	cr_assert(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
		  "seed %llu: expected a region, got none", (unsigned long long)seed);
	return base;
}

Test(reloc_find_unused, an_empty_pml4_gives_a_canonical_aligned_unmapped_region)
{
	for (uint64_t seed = 1; seed <= 64; seed++) {
		struct reloc r;
		uint64_t base = 0;

		reloc_init(&r, true, seed);
		cr_assert(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
			  "seed %llu: expected a region in an empty address space, got none",
			  (unsigned long long)seed);
		assert_unmapped_region(base);
	}
}

Test(reloc_find_unused, an_empty_pml4_gives_regions_in_both_halves_over_many_seeds)
{
	bool low = false, high = false;

	for (uint64_t seed = 1; seed <= 64; seed++) {
		uint64_t base = first_choice(seed);

		low |= base < 0x0000800000000000ULL;
		high |= base >= 0xffff800000000000ULL;
	}
	cr_assert(low && high, "expected both halves chosen over 64 seeds, got low %d high %d", low,
		  high);
}

Test(reloc_find_unused, the_current_region_is_never_returned)
{
	for (uint64_t seed = 1; seed <= 64; seed++) {
		uint64_t current = first_choice(seed), base = current;
		struct reloc r;

		reloc_init(&r, true, seed); /* the same start, so `current` is met first */
		cr_assert(reloc_find_unused(&r, &mem, PML4, current, &base),
			  "seed %llu: expected a region other than current, got none",
			  (unsigned long long)seed);
		cr_assert_neq(base, current,
			      "seed %llu: expected anything but current %#llx, got it",
			      (unsigned long long)seed, (unsigned long long)current);
		assert_unmapped_region(base);
	}
}

Test(reloc_find_unused, a_recently_conflicted_region_is_never_returned)
{
	for (uint64_t seed = 1; seed <= 64; seed++) {
		uint64_t conflicted = first_choice(seed), base = conflicted;
		struct reloc r;

		reloc_init(&r, true, seed);
		reloc_note_conflict(&r, conflicted);
		cr_assert(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
			  "seed %llu: expected a region other than the conflicted one, got none",
			  (unsigned long long)seed);
		cr_assert_neq(base, conflicted,
			      "seed %llu: expected anything but conflicted %#llx, got it",
			      (unsigned long long)seed, (unsigned long long)conflicted);
		assert_unmapped_region(base);
	}
}

Test(reloc_find_unused, a_single_absent_pde_deep_in_mapped_tables_is_found)
{
	uint64_t hole = build_one_hole(300, 17, 123); /* upper half: 0xffff96044f600000 */

	for (uint64_t seed = 1; seed <= 16; seed++) {
		struct reloc r;
		uint64_t base = 0;

		reloc_init(&r, true, seed);
		cr_assert(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
			  "seed %llu: expected the one hole %#llx, got none",
			  (unsigned long long)seed, (unsigned long long)hole);
		cr_assert_eq(base, hole, "seed %llu: expected the one hole %#llx, got %#llx",
			     (unsigned long long)seed, (unsigned long long)hole,
			     (unsigned long long)base);
		assert_unmapped_region(base);
	}
}

Test(reloc_find_unused, a_pde_with_ps_counts_as_mapped)
{
	struct reloc r;
	uint64_t base = 0xdead;
	unsigned pml4 = 5, pdpt = 6, pd = 7;

	build_one_hole(pml4, pdpt, pd);
	*entry(PD, pd) = 0 | PERM | PTE_PS; /* the hole becomes a 2 MiB page */
	reloc_init(&r, true, 1);
	cr_assert_not(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
		      "expected no region (every PDE maps a 2 MiB page), got %#llx",
		      (unsigned long long)base);
}

Test(reloc_find_unused, a_pdpte_with_ps_counts_as_mapped)
{
	struct reloc r;
	uint64_t base = 0xdead;

	fill(PML4, PDPT_A | PERM);
	fill(PDPT_A, 0 | PERM | PTE_PS); /* 1 GiB pages at frame 0, an all-zero "table" */
	reloc_init(&r, true, 1);
	cr_assert_not(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
		      "expected no region (every PDPTE maps a 1 GiB page), got %#llx",
		      (unsigned long long)base);
}

Test(reloc_find_unused, a_fully_aliased_fullspace_layout_gives_false_quickly)
{
	struct reloc r;
	struct timespec t0;
	uint64_t base = 0xdead;
	bool found;
	double s;

	build_fullspace();
	reloc_init(&r, true, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	found = reloc_find_unused(&r, &mem, PML4, 0x1, &base);
	s = seconds_since(&t0);
	cr_assert_not(found, "expected no region in a fully mapped space, got %#llx",
		      (unsigned long long)base);
	cr_assert_lt(s, 0.1,
		     "expected the aliased tables searched once (well under 1 s), took %.3f s", s);
}

/* The memo's slot of a table (relocate.c memo_slot): what a guest that knows the layout
 * aims at to defeat it. */
static unsigned memo_slot_of(uint64_t table, int level)
{
	uint64_t key = (table & PTE_ADDR_MASK) | (uint64_t)level;

	return (unsigned)((key >> 12 ^ key * 0x9e3779b1u) % 1024);
}

/*
 * Hostile: a PML4 whose entries alternate between two PDPTs, whose entries alternate
 * between two full PDs, all four in one slot of the search's memo, so that each evicts the
 * other and nothing is ever remembered: 512^3 entries to read (0.1 s per conflict, and a
 * guest can make one on every trap). The search stops after its budget of tables and
 * the stub takes a random region instead.
 */
Test(reloc_find_unused, tables_that_defeat_the_memo_cost_a_bounded_search)
{
	const uint64_t size = 64ULL << 20; /* room to find four frames in one memo slot */
	struct guest_mem big = {.ram = calloc(1, size), .ram_size = size};
	uint64_t f[4] = {0x10000}, base;
	unsigned want = memo_slot_of(f[0], 2), n = 1;
	struct reloc r;

	cr_assert_not_null(big.ram);
	for (uint64_t a = f[0] + 0x1000; n < 2 && a < size; a += 0x1000)
		if (memo_slot_of(a, 2) == want)
			f[n++] = a;
	for (uint64_t a = f[1] + 0x1000; n < 4 && a < size; a += 0x1000)
		if (memo_slot_of(a, 3) == want)
			f[n++] = a;
	cr_assert_eq(n, 4, "four frames in one memo slot");
	for (unsigned i = 0; i < 512; i++) {
		((uint64_t *)(big.ram + PML4))[i] = f[2 + (i & 1)] | PERM;
		for (unsigned k = 2; k < 4; k++)
			((uint64_t *)(big.ram + f[k]))[i] = f[i & 1] | PERM;
		for (unsigned k = 0; k < 2; k++)
			((uint64_t *)(big.ram + f[k]))[i] = 0x200000 | PERM;
	}
	reloc_init(&r, true, 1);
	cr_expect_not(reloc_find_unused(&r, &big, PML4, 0x40000000, &base));
	cr_expect_leq(r.stats.search_tables, 4096, "tables read: %llu",
		      (unsigned long long)r.stats.search_tables);
	free(big.ram);
}

Test(reloc_find_unused, a_fullspace_layout_with_one_absent_pde_finds_an_alias_of_it)
{
	unsigned hole_pd = 333;

	build_fullspace();
	*entry(PD, hole_pd) = 0;
	for (uint64_t seed = 1; seed <= 16; seed++) {
		struct reloc r;
		uint64_t base = 0;

		reloc_init(&r, true, seed);
		cr_assert(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
			  "seed %llu: expected an alias of PD[%u], got none",
			  (unsigned long long)seed, hole_pd);
		cr_assert_eq(
			idx(base, 2), hole_pd, "seed %llu: expected PD index %u, got %u (%#llx)",
			(unsigned long long)seed, hole_pd, idx(base, 2), (unsigned long long)base);
		assert_unmapped_region(base);
	}
}

/* The memo of tables "with nothing usable" must not be poisoned by exclusions that are
 * about one linear address (current, recent conflicts): through an alias, the same
 * table maps other linear addresses that are usable. */
Test(reloc_find_unused, an_alias_that_is_current_does_not_hide_the_other_aliases)
{
	struct reloc r;
	uint64_t current, base = 0;

	build_fullspace();
	*entry(PD, 333) = 0; /* 512 * 512 unmapped aliases */
	current = first_choice(7);
	reloc_init(&r, true, 7); /* the same start: `current` is the first alias met */
	cr_assert(reloc_find_unused(&r, &mem, PML4, current, &base),
		  "expected another of the 262144 unmapped aliases (current %#llx), got none",
		  (unsigned long long)current);
	cr_assert_neq(base, current, "expected anything but current %#llx, got it",
		      (unsigned long long)current);
	assert_unmapped_region(base);
}

Test(reloc_find_unused, an_alias_that_conflicted_does_not_hide_the_other_aliases)
{
	struct reloc r;
	uint64_t conflicted, base = 0;

	build_fullspace();
	*entry(PD, 333) = 0;
	conflicted = first_choice(7);
	reloc_init(&r, true, 7);
	reloc_note_conflict(&r, conflicted);
	cr_assert(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
		  "expected another of the 262144 unmapped aliases (conflicted %#llx), got none",
		  (unsigned long long)conflicted);
	cr_assert_neq(base, conflicted, "expected anything but conflicted %#llx, got it",
		      (unsigned long long)conflicted);
	assert_unmapped_region(base);
}

/* The header promises false only "when the guest maps every region". */
Test(reloc_find_unused, a_free_span_whose_first_regions_conflicted_still_yields_a_region)
{
	struct reloc r;
	uint64_t span = la_of(42, 0, 0), base = 0;

	fill(PML4, PDPT_A | PERM);
	fill(PDPT_A, 0 | PERM | PTE_PS);
	*entry(PML4, 42) = 0; /* the only free span: 512 GiB */
	reloc_init(&r, true, 1);
	for (unsigned i = 0; i < 9; i++)
		reloc_note_conflict(&r, span + i * REGION);
	cr_assert(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
		  "expected a region of the free 512 GiB at %#llx past its 9 conflicted ones, "
		  "got none",
		  (unsigned long long)span);
	cr_assert_not(reloc_recently_conflicted(&r, base),
		      "expected a region that did not conflict, got %#llx",
		      (unsigned long long)base);
	assert_unmapped_region(base);
}

Test(reloc_find_unused, an_upper_half_pml4_slot_gives_a_canonical_base)
{
	struct reloc r;
	uint64_t base = 0;

	fill(PML4, PDPT_A | PERM);
	fill(PDPT_A, 0 | PERM | PTE_PS);
	*entry(PML4, 400) = 0;
	reloc_init(&r, true, 3);
	cr_assert(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
		  "expected a region in PML4 slot 400, got none");
	cr_assert_eq(idx(base, 4), 400, "expected PML4 index 400, got %u (%#llx)", idx(base, 4),
		     (unsigned long long)base);
	cr_assert_eq(base >> 48, 0xffff, "expected a sign-extended upper-half base, got %#llx",
		     (unsigned long long)base);
	assert_unmapped_region(base);
}

Test(reloc_find_unused, table_frames_outside_ram_count_as_full)
{
	struct reloc r;
	uint64_t base = 0xdead;

	fill(PML4, OUTSIDE | PERM);
	reloc_init(&r, true, 1);
	cr_assert_not(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
		      "expected no region when every PDPT is outside RAM, got %#llx",
		      (unsigned long long)base);

	fill(PML4, PDPT_A | PERM);
	fill(PDPT_A, OUTSIDE | PERM);
	cr_assert_not(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
		      "expected no region when every PD is outside RAM, got %#llx",
		      (unsigned long long)base);
}

Test(reloc_find_unused, a_cr3_outside_ram_counts_as_full)
{
	struct reloc r;
	uint64_t base = 0xdead;

	reloc_init(&r, true, 1);
	cr_assert_not(reloc_find_unused(&r, &mem, OUTSIDE, 0x1, &base),
		      "expected no region with CR3 outside RAM, got %#llx",
		      (unsigned long long)base);
}

Test(reloc_find_unused, a_table_outside_ram_does_not_hide_a_free_slot_elsewhere)
{
	struct reloc r;
	uint64_t base = 0;

	fill(PML4, OUTSIDE | PERM);
	*entry(PML4, 9) = 0;
	reloc_init(&r, true, 1);
	cr_assert(reloc_find_unused(&r, &mem, PML4, 0x1, &base),
		  "expected the free PML4 slot 9, got none");
	cr_assert_eq(idx(base, 4), 9, "expected PML4 index 9, got %u (%#llx)", idx(base, 4),
		     (unsigned long long)base);
	assert_unmapped_region(base);
}

Test(reloc_find_unused, the_same_seed_makes_the_same_choices_on_the_same_tables)
{
	struct reloc a, b;

	build_fullspace();
	for (unsigned i = 0; i < 8; i++)
		*entry(PD, 50 * i + 3) = 0;
	reloc_init(&a, true, 12345);
	reloc_init(&b, true, 12345);
	for (unsigned n = 0; n < 32; n++) {
		uint64_t x = 0, y = 1;

		cr_assert(reloc_find_unused(&a, &mem, PML4, 0x1, &x),
			  "search %u: expected a region", n);
		cr_assert(reloc_find_unused(&b, &mem, PML4, 0x1, &y),
			  "search %u: expected a region", n);
		cr_assert_eq(x, y,
			     "search %u: expected the same choice for the same seed, got %#llx "
			     "and %#llx",
			     n, (unsigned long long)x, (unsigned long long)y);
	}
}

Test(reloc_find_unused, different_seeds_make_different_choices)
{
	uint64_t first = first_choice(1);
	bool differs = false;

	for (uint64_t seed = 2; seed <= 9 && !differs; seed++)
		differs = first_choice(seed) != first;
	cr_assert(differs, "expected seeds 2..9 not all to choose seed 1's %#llx",
		  (unsigned long long)first);
}

Test(reloc_random, the_same_seed_gives_the_same_sequence)
{
	struct reloc a, b;

	reloc_init(&a, true, 42);
	reloc_init(&b, false, 42);
	for (unsigned i = 0; i < 1000; i++) {
		uint64_t x = reloc_random(&a), y = reloc_random(&b);

		cr_assert_eq(x, y,
			     "value %u: expected equal values for seed 42, got %#llx and %#llx", i,
			     (unsigned long long)x, (unsigned long long)y);
	}
}

Test(reloc_random, different_seeds_give_different_sequences)
{
	struct reloc a, b;
	unsigned same = 0;

	reloc_init(&a, true, 42);
	reloc_init(&b, true, 43);
	for (unsigned i = 0; i < 100; i++)
		same += reloc_random(&a) == reloc_random(&b);
	cr_assert_eq(same, 0, "expected seeds 42 and 43 to differ everywhere, %u of 100 equal",
		     same);
}

Test(reloc_random, a_zero_seed_still_gives_a_varying_sequence)
{
	struct reloc r;
	uint64_t prev, v;

	reloc_init(&r, true, 0);
	prev = reloc_random(&r);
	for (unsigned i = 0; i < 100; i++) {
		v = reloc_random(&r);
		cr_assert_neq(v, 0, "value %u: expected non-zero (xorshift stuck at 0), got 0", i);
		cr_assert_neq(v, prev, "value %u: expected a change, got %#llx twice", i,
			      (unsigned long long)v);
		prev = v;
	}
}

Test(reloc_note_conflict, every_noted_region_is_remembered_up_to_the_limit)
{
	struct reloc r;

	reloc_init(&r, true, 1);
	for (unsigned i = 0; i < RELOC_RECENT; i++)
		reloc_note_conflict(&r, (i + 1) * REGION);
	cr_assert_eq(r.nrecent, RELOC_RECENT, "expected %u remembered, got %u", RELOC_RECENT,
		     r.nrecent);
	for (unsigned i = 0; i < RELOC_RECENT; i++)
		cr_assert(reloc_recently_conflicted(&r, (i + 1) * REGION),
			  "expected region %u (%#llx) remembered", i,
			  (unsigned long long)((i + 1) * REGION));
	cr_assert_not(reloc_recently_conflicted(&r, 0x7000 * REGION),
		      "expected a region never noted not to be remembered");
}

Test(reloc_note_conflict, one_more_than_the_limit_forgets_the_oldest)
{
	struct reloc r;

	reloc_init(&r, true, 1);
	for (unsigned i = 0; i <= RELOC_RECENT; i++)
		reloc_note_conflict(&r, (i + 1) * REGION);
	cr_assert_eq(r.nrecent, RELOC_RECENT, "expected at most %u remembered, got %u",
		     RELOC_RECENT, r.nrecent);
	cr_assert_not(reloc_recently_conflicted(&r, REGION),
		      "expected the oldest (%#llx) forgotten, still remembered",
		      (unsigned long long)REGION);
	for (unsigned i = 1; i <= RELOC_RECENT; i++)
		cr_assert(reloc_recently_conflicted(&r, (i + 1) * REGION),
			  "expected region %u (%#llx) still remembered", i,
			  (unsigned long long)((i + 1) * REGION));
	cr_assert_eq(r.recent[RELOC_RECENT - 1], (RELOC_RECENT + 1) * REGION,
		     "expected the newest last, got %#llx",
		     (unsigned long long)r.recent[RELOC_RECENT - 1]);
}

Test(reloc_note_conflict, many_more_than_the_limit_keep_only_the_newest)
{
	struct reloc r;
	unsigned total = 5 * RELOC_RECENT + 3;

	reloc_init(&r, true, 1);
	for (unsigned i = 0; i < total; i++)
		reloc_note_conflict(&r, (i + 1) * REGION);
	cr_assert_eq(r.nrecent, RELOC_RECENT, "expected %u remembered, got %u", RELOC_RECENT,
		     r.nrecent);
	for (unsigned i = 0; i < total; i++) {
		bool want = i >= total - RELOC_RECENT;
		bool got = reloc_recently_conflicted(&r, (i + 1) * REGION);

		cr_assert_eq(got, want, "region %u of %u: expected remembered %d, got %d", i, total,
			     want, got);
	}
}

/* Claim 10: the random region when the guest maps everything. */
Test(reloc_random_region, is_canonical_aligned_and_never_current_or_recent)
{
	struct reloc r;

	reloc_init(&r, true, 99);
	reloc_note_conflict(&r, 0x200000);
	for (unsigned i = 0; i < 2000; i++) {
		uint64_t base = reloc_random_region(&r, 0x400000);

		cr_assert_eq(base & (REGION - 1), 0, "region %#llx not 2 MiB-aligned",
			     (unsigned long long)base);
		cr_assert_eq(base, canon(base), "region %#llx not canonical",
			     (unsigned long long)base);
		cr_assert_neq(base, 0x400000, "the current region was chosen");
		cr_assert_neq(base, 0x200000, "a recently conflicted region was chosen");
		cr_assert_neq(base >> 39 & 511, 256,
			      "region %#llx in the upper half's first PML4 slot (kvm_pvm cannot "
			      "map it for CPL3)",
			      (unsigned long long)base);
	}
}

Test(reloc_random_region, the_same_seed_gives_the_same_regions)
{
	struct reloc a, b;

	reloc_init(&a, true, 5);
	reloc_init(&b, true, 5);
	for (unsigned i = 0; i < 100; i++)
		cr_assert_eq(reloc_random_region(&a, 0), reloc_random_region(&b, 0),
			     "choice %u differs for one seed", i);
}

/* Claim 12: the policy. */
Test(reloc_hot, a_region_is_hot_after_more_than_hot_accesses_in_one_window)
{
	struct reloc r;
	uint64_t t = 1000000000ULL;

	reloc_init(&r, true, 1);
	r.hot = 4;
	r.window_ns = 100;
	for (unsigned i = 0; i < 4; i++)
		cr_assert_not(reloc_hot(&r, t + i), "access %u: expected not hot yet", i + 1);
	cr_assert(reloc_hot(&r, t + 4), "the fifth access in the window: expected hot");
}

Test(reloc_hot, accesses_spread_over_windows_never_make_it_hot)
{
	struct reloc r;
	uint64_t t = 1000000000ULL;

	reloc_init(&r, true, 1);
	r.hot = 4;
	r.window_ns = 100;
	for (unsigned i = 0; i < 100; i++)
		cr_assert_not(reloc_hot(&r, t + i * 50),
			      "access %u, 50 ns apart, 4 per 100 ns "
			      "window at most: expected not hot",
			      i);
}
