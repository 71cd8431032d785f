/*
 * test_shadow.c - shadow page tables (src/shadow/shadow.c), built from hand-made guest tables in
 * a calloc'd guest RAM into a calloc'd monitor memory, and read back through MON_PTR.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lodger/stub_abi.h"
#include "shadow/pagewalk.h"
#include "shadow/shadow.h"

#define RAM_SIZE (8ULL << 20)
#define MON_GPA	 (4ULL << 30)
#define MON_SIZE (1ULL << 20)

/* Monitor memory: the stub's page table, then the pool (from 0x2000). */
#define STUB_PT_GPA  MON_GPA
#define OPEN_BUS_GPA (1ULL << 40) /* the unbacked window standing in for monitor memory */
#define POOL_OFF     0x2000ULL
#define POOL_PAGES   128ULL

#define STUB_BASE 0x40000000ULL		/* PML4[0], PDPT[1], PD[0] */
#define NEW_STUB  0xffffc00000000000ULL /* PML4[384] */

/* Guest tables are taken from here up; data frames lie below. */
#define GUEST_TABLES (4ULL << 20)

#define FRAME_A 0x200000ULL
#define FRAME_B 0x300000ULL
#define LA_U	0x00007f0000001000ULL	/* a user address */
#define LA_K	0xffff800000200000ULL	/* a kernel address */
#define UPPER	(PTE_P | PTE_W | PTE_U) /* guest non-leaf flags */
#define USER_RW (PTE_P | PTE_W | PTE_U)

#define SPTE_PWT (1ULL << 3)
#define SPTE_PCD (1ULL << 4)
#define SPTE_PAT (1ULL << 7)

static struct guest_mem mem;
static struct shadow sh;
static uint64_t gnext; /* next free guest table page */
static uint64_t gcr3;  /* the guest CR3 most tests use */

static const struct shadow_guest_mode WP_NXE = {.wp = true, .nxe = true};

/* Guest side */

static uint64_t galloc(void)
{
	uint64_t page = gnext;

	cr_assert_lt(gnext, RAM_SIZE, "the test ran out of guest table pages");
	gnext += 0x1000;
	memset(mem.ram + page, 0, 0x1000);
	return page;
}

static unsigned idx(uint64_t la, int level)
{
	return (la >> (12 + 9 * (level - 1))) & 511;
}

static uint64_t *gtable_entry(uint64_t table, uint64_t la, int level)
{
	return (uint64_t *)(mem.ram + table + idx(la, level) * 8);
}

/*
 * Maps `la` in the guest tables at `cr3` with a level-`level` leaf (1: 4 KiB, 2: 2 MiB,
 * 3: 1 GiB) to `frame` with `leaf` flags (PS added); the entries above get `upper`.
 */
static uint64_t *gmap(uint64_t cr3, uint64_t la, int level, uint64_t frame, uint64_t leaf,
		      uint64_t upper)
{
	uint64_t t = cr3;

	for (int l = 4; l > level; l--) {
		uint64_t *e = gtable_entry(t, la, l);

		if (!(*e & PTE_ADDR_MASK) || (*e & PTE_PS))
			*e = galloc();
		*e = (*e & PTE_ADDR_MASK) | upper;
		t = *e & PTE_ADDR_MASK;
	}
	uint64_t *e = gtable_entry(t, la, level);

	*e = frame | leaf | (level > 1 ? PTE_PS : 0);
	return e;
}

/* The guest's entry for `la` at `level`, following the addresses whatever the flags. */
static uint64_t *gentry(uint64_t cr3, uint64_t la, int level)
{
	uint64_t t = cr3;

	for (int l = 4; l > level; l--)
		t = *gtable_entry(t, la, l) & PTE_ADDR_MASK;
	return gtable_entry(t, la, level);
}

/* Shadow side */

static uint64_t *mon_table(uint64_t gpa)
{
	return MON_PTR(&mem, gpa - MON_GPA, 0x1000);
}

/* The shadow entry for `la` at `level` in the root at `root`; 0 when a table is missing. */
static uint64_t sentry(uint64_t root, uint64_t la, int level)
{
	uint64_t t = root;

	for (int l = 4;; l--) {
		uint64_t e = mon_table(t)[idx(la, l)];

		if (l == level || !(e & PTE_P))
			return l == level ? e : 0;
		if (l == 2 && (e & PTE_ADDR_MASK) == STUB_PT_GPA)
			return 0;
		t = e & PTE_ADDR_MASK;
	}
}

static uint64_t root(bool user)
{
	uint64_t r = shadow_root(&sh, gcr3, user, false);

	cr_assert_neq(r, 0, "expected a root");
	return r;
}

static const char *result_name(enum shadow_fill_result r)
{
	static const char *names[] = {"FILLED",	      "GUEST_FAULT", "STUB_CONFLICT",
				      "NONCANONICAL", "NO_MEMORY",   "APIC_WRITE"};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

#define assert_result(got, want)                                                                   \
	cr_assert_eq((got), (want), "expected SHADOW_%s, got SHADOW_%s", result_name(want),        \
		     result_name(got))

static enum shadow_fill_result fill_mode(bool user_root, uint64_t la, uint32_t access,
					 const struct shadow_guest_mode *mode, uint32_t *pfec)
{
	root(user_root);
	return shadow_fill(&sh, gcr3, user_root, la, access, mode, pfec);
}

static enum shadow_fill_result fill(bool user_root, uint64_t la, uint32_t access)
{
	uint32_t pfec;

	return fill_mode(user_root, la, access, &WP_NXE, &pfec);
}

static void assert_fault(bool user_root, uint64_t la, uint32_t access,
			 const struct shadow_guest_mode *mode, uint32_t want_pfec)
{
	uint32_t pfec = 0xdead;

	assert_result(fill_mode(user_root, la, access, mode, &pfec), SHADOW_GUEST_FAULT);
	cr_assert_eq(pfec, want_pfec, "la %#llx access %#x: expected pfec %#x, got %#x",
		     (unsigned long long)la, access, want_pfec, pfec);
}

/*
 * Every invariant the shadow must keep, over all cached roots: tables are pool pages used
 * once each and all accounted for; every root maps the stub, supervisor-only, at
 * stub_base and nowhere else; no leaf reaches monitor memory (frames there are shadowed
 * in the unbacked window); every leaf is U=1.
 */
static void check_tables(void)
{
	static bool seen[4096];
	uint64_t used = 0, pool = MON_GPA + POOL_OFF;

	cr_assert_leq(sh.pool_pages, sizeof(seen));
	memset(seen, 0, sizeof(seen));
#define SEE(gpa)                                                                                   \
	do {                                                                                       \
		cr_assert(((gpa) >= pool && (gpa) < pool + sh.pool_pages * 0x1000),                \
			  "table %#llx outside the pool", (unsigned long long)(gpa));              \
		cr_assert_not(seen[((gpa)-pool) >> 12], "table %#llx used twice",                  \
			      (unsigned long long)(gpa));                                          \
		seen[((gpa)-pool) >> 12] = true;                                                   \
		used++;                                                                            \
	} while (0)
	for (unsigned r = 0; r < SHADOW_MAX_ROOTS; r++) {
		const struct shadow_root *rt = &sh.roots[r];
		unsigned stubs = 0;

		if (!rt->in_use)
			continue;
		SEE(rt->pml4_gpa);
		for (unsigned i4 = 0; i4 < 512; i4++) {
			uint64_t e4 = mon_table(rt->pml4_gpa)[i4];

			if (!(e4 & PTE_P))
				continue;
			cr_assert_eq(e4 & UPPER, UPPER, "PML4E %#llx not P|W|U",
				     (unsigned long long)e4);
			SEE(e4 & PTE_ADDR_MASK);
			for (unsigned i3 = 0; i3 < 512; i3++) {
				uint64_t e3 = mon_table(e4 & PTE_ADDR_MASK)[i3];

				if (!(e3 & PTE_P))
					continue;
				cr_assert_eq(e3 & UPPER, UPPER, "PDPTE %#llx not P|W|U",
					     (unsigned long long)e3);
				SEE(e3 & PTE_ADDR_MASK);
				for (unsigned i2 = 0; i2 < 512; i2++) {
					uint64_t e2 = mon_table(e3 & PTE_ADDR_MASK)[i2];
					uint64_t la = ((uint64_t)i4 << 39) | ((uint64_t)i3 << 30) |
						      ((uint64_t)i2 << 21);

					if (!(e2 & PTE_P))
						continue;
					if (i4 >= 256)
						la |= 0xffff000000000000ULL;
					cr_assert_eq(e2 & PTE_PS, 0, "a large shadow PDE");
					if ((e2 & PTE_ADDR_MASK) == STUB_PT_GPA) {
						cr_assert_eq(la, sh.stub_base,
							     "stub PDE at %#llx, stub at %#llx",
							     (unsigned long long)la,
							     (unsigned long long)sh.stub_base);
						cr_assert_eq(e2, STUB_PT_GPA | PTE_P | PTE_W,
							     "stub PDE %#llx not P|W, U=0",
							     (unsigned long long)e2);
						stubs++;
						continue;
					}
					cr_assert_eq(e2 & UPPER, UPPER, "PDE %#llx not P|W|U",
						     (unsigned long long)e2);
					SEE(e2 & PTE_ADDR_MASK);
					for (unsigned i1 = 0; i1 < 512; i1++) {
						uint64_t e1 = mon_table(e2 & PTE_ADDR_MASK)[i1];
						uint64_t f = e1 & PTE_ADDR_MASK;

						if (!(e1 & PTE_P))
							continue;
						cr_assert(e1 & PTE_U, "leaf %#llx with U=0",
							  (unsigned long long)e1);
						cr_assert(f + 0x1000 <= MON_GPA ||
								  f >= MON_GPA + MON_SIZE,
							  "leaf %#llx reaches monitor memory",
							  (unsigned long long)e1);
						/* Write protection: no guest write to a page
						 * table goes unseen. */
						cr_assert(!(e1 & PTE_W) ||
								  !shadow_is_protected(&sh, f),
							  "leaf %#llx writes a protected table",
							  (unsigned long long)e1);
					}
				}
			}
		}
		cr_assert_eq(stubs, 1, "root %u maps the stub %u times", r, stubs);
	}
	cr_assert_eq(used, sh.pool_pages - sh.nr_free - sh.nr_held,
		     "%llu tables reachable, %llu allocated", (unsigned long long)used,
		     (unsigned long long)(sh.pool_pages - sh.nr_free - sh.nr_held));
	/* The unsync list names exactly the in-use pages marked unsync, each once. */
	for (uint32_t i = 0; i < sh.nr_unsync; i++) {
		uint32_t p = sh.unsync_list[i];

		cr_assert_lt(p, sh.pool_pages, "unsync list entry %u out of the pool", i);
		cr_assert_eq(sh.unsync_at[p], i + 1, "unsync page %u listed at %u, says %u", p, i,
			     sh.unsync_at[p]);
		cr_assert_neq(sh.pg_level[p], 0, "free page %u on the unsync list", p);
	}
	for (uint32_t p = 0; p < sh.pool_pages; p++)
		cr_assert(!sh.unsync_at[p] || sh.unsync_at[p] <= sh.nr_unsync,
			  "page %u marked unsync past the list", p);
#undef SEE
}

static void setup_pool(uint64_t pool_pages)
{
	memset(&mem, 0, sizeof(mem));
	mem.ram = calloc(1, RAM_SIZE);
	mem.monitor = calloc(1, MON_SIZE);
	cr_assert(mem.ram && mem.monitor, "calloc failed");
	mem.ram_size = RAM_SIZE;
	mem.monitor_gpa = MON_GPA;
	mem.monitor_size = MON_SIZE;
	gnext = GUEST_TABLES;
	gcr3 = galloc();
	cr_assert_eq(
		shadow_init(&sh, &mem, POOL_OFF, pool_pages, STUB_BASE, STUB_PT_GPA, OPEN_BUS_GPA),
		0, "shadow_init failed");
}

static void setup(void)
{
	setup_pool(POOL_PAGES);
}

static void teardown(void)
{
	shadow_destroy(&sh);
	free(mem.ram);
	free(mem.monitor);
}

TestSuite(shadow_init, .init = setup, .fini = teardown);
TestSuite(shadow_fill, .init = setup, .fini = teardown);
TestSuite(shadow_frames, .init = setup, .fini = teardown);
TestSuite(shadow_stub, .init = setup, .fini = teardown);
TestSuite(shadow_invlpg, .init = setup, .fini = teardown);
TestSuite(shadow_roots, .init = setup, .fini = teardown);
TestSuite(shadow_pool, .fini = teardown);
TestSuite(shadow_random, .init = setup, .fini = teardown);
TestSuite(shadow_coherence, .init = setup, .fini = teardown);
TestSuite(shadow_prefetch, .init = setup, .fini = teardown);

/* Setup */

Test(shadow_init, refuses_a_bad_pool_or_stub_base)
{
	struct shadow t;

	cr_assert_eq(shadow_init(&t, &mem, POOL_OFF, MON_SIZE / 0x1000, STUB_BASE, STUB_PT_GPA,
				 OPEN_BUS_GPA),
		     -EINVAL, "expected a pool past monitor memory refused");
	cr_assert_eq(shadow_init(&t, &mem, POOL_OFF + 8, 4, STUB_BASE, STUB_PT_GPA, OPEN_BUS_GPA),
		     -EINVAL, "expected an unaligned pool refused");
	cr_assert_eq(shadow_init(&t, &mem, POOL_OFF, 0, STUB_BASE, STUB_PT_GPA, OPEN_BUS_GPA),
		     -EINVAL, "expected an empty pool refused");
	cr_assert_eq(
		shadow_init(&t, &mem, POOL_OFF, 4, STUB_BASE + 0x1000, STUB_PT_GPA, OPEN_BUS_GPA),
		-EINVAL, "expected an unaligned stub base refused");
	cr_assert_eq(shadow_init(&t, &mem, POOL_OFF, 4, 0x0000800000000000ULL, STUB_PT_GPA,
				 OPEN_BUS_GPA),
		     -EINVAL, "expected a non-canonical stub base refused");
	cr_assert_eq(shadow_init(&t, &mem, 0, 4, STUB_BASE, STUB_PT_GPA, OPEN_BUS_GPA), -EINVAL,
		     "expected a stub page table inside the pool refused");
	cr_assert_eq(shadow_init(&t, &mem, POOL_OFF, 4, STUB_BASE, STUB_PT_GPA, MON_GPA), -EINVAL,
		     "expected an open-bus window over monitor memory refused");
	cr_assert_eq(shadow_init(&t, &mem, POOL_OFF, 4, STUB_BASE, STUB_PT_GPA, 0x1000), -EINVAL,
		     "expected an open-bus window over RAM refused");
}

Test(shadow_init, a_new_root_maps_only_the_stub_supervisor_only)
{
	uint64_t r = root(false);

	cr_assert_eq(sentry(r, STUB_BASE, 4), (sentry(r, STUB_BASE, 4) & PTE_ADDR_MASK) | UPPER,
		     "expected the PML4E above the stub P|W|U");
	cr_assert_eq(sentry(r, STUB_BASE, 3), (sentry(r, STUB_BASE, 3) & PTE_ADDR_MASK) | UPPER,
		     "expected the PDPTE above the stub P|W|U");
	cr_assert_eq(sentry(r, STUB_BASE, 2), STUB_PT_GPA | PTE_P | PTE_W,
		     "expected the stub PDE P|W with U=0, got %#llx",
		     (unsigned long long)sentry(r, STUB_BASE, 2));
	cr_assert_eq(sh.pool_pages - sh.nr_free, 3, "expected PML4, PDPT, PD in use");
	check_tables();
}

/* Fills: permissions, A/D, write protection */

Test(shadow_fill, a_read_maps_the_frame_with_u_and_write_protects_a_clean_page)
{
	uint64_t r = root(false), e;

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill(false, LA_U + 0x123, 0), SHADOW_FILLED);
	e = sentry(r, LA_U, 1);
	cr_assert_eq(e, FRAME_A | PTE_P | PTE_U, "expected FRAME_A|P|U (no W: D clear), got %#llx",
		     (unsigned long long)e);
	cr_assert_eq(sh.stats.fills, 1);
	check_tables();
}

Test(shadow_fill, a_read_sets_accessed_at_every_level_and_no_dirty)
{
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	for (int l = 1; l <= 4; l++)
		cr_assert(*gentry(gcr3, LA_U, l) & PTE_A, "expected A at level %d", l);
	for (int l = 1; l <= 4; l++)
		cr_assert_eq(*gentry(gcr3, LA_U, l) & PTE_D, 0, "expected no D at level %d", l);
}

Test(shadow_fill, a_write_sets_dirty_on_the_leaf_and_upgrades_the_entry)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_U, 1) & PTE_W, 0, "expected write-protected while clean");
	assert_result(fill(false, LA_U, PFEC_W), SHADOW_FILLED);
	cr_assert(*gentry(gcr3, LA_U, 1) & PTE_D, "expected D in the guest leaf");
	for (int l = 2; l <= 4; l++)
		cr_assert_eq(*gentry(gcr3, LA_U, l) & PTE_D, 0, "expected no D at level %d", l);
	cr_assert_eq(sentry(r, LA_U, 1), FRAME_A | PTE_P | PTE_U | PTE_W,
		     "expected the entry upgraded to writable, got %#llx",
		     (unsigned long long)sentry(r, LA_U, 1));
	check_tables();
}

Test(shadow_fill, a_read_of_a_dirty_writable_page_maps_it_writable)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW | PTE_D, UPPER);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	cr_assert(sentry(r, LA_U, 1) & PTE_W, "expected W with D already set");
}

Test(shadow_fill, a_read_only_page_stays_read_only_after_a_dirty_bit)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_U, 1, FRAME_A, PTE_P | PTE_U | PTE_D, UPPER);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_U, 1) & PTE_W, 0, "expected a read-only guest page read-only");
}

Test(shadow_fill, the_user_root_refuses_a_supervisor_page)
{
	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P | PTE_W, PTE_P | PTE_W);
	assert_fault(true, LA_K, PFEC_U, &WP_NXE, PFEC_P | PFEC_U);
	assert_fault(true, LA_K, PFEC_U | PFEC_W, &WP_NXE, PFEC_P | PFEC_U | PFEC_W);
	/* A kernel-mode access in the user root is still checked as a user one. */
	assert_fault(true, LA_K, 0, &WP_NXE, PFEC_P);
	cr_assert_eq(sh.stats.guest_faults, 3);
	cr_assert_eq(sentry(root(true), LA_K, 1), 0, "expected nothing shadowed");
	cr_assert_eq(*gentry(gcr3, LA_K, 1) & PTE_A, 0, "expected no A set on a fault");
}

Test(shadow_fill, u_clear_at_an_upper_level_makes_the_page_supervisor)
{
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	*gentry(gcr3, LA_U, 3) &= ~PTE_U;
	assert_fault(true, LA_U, PFEC_U, &WP_NXE, PFEC_P | PFEC_U);
}

Test(shadow_fill, the_kernel_root_maps_a_supervisor_page_with_u_set)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P | PTE_W | PTE_D, PTE_P | PTE_W);
	assert_result(fill(false, LA_K, PFEC_W), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1), FRAME_A | PTE_P | PTE_W | PTE_U,
		     "expected FRAME_A|P|W|U (the guest kernel runs at CPL3), got %#llx",
		     (unsigned long long)sentry(r, LA_K, 1));
	cr_assert_eq(sentry(r, LA_K, 2) & UPPER, UPPER, "expected intermediate entries P|W|U");
	check_tables();
}

Test(shadow_fill, the_user_root_maps_a_user_page)
{
	uint64_t r = root(true);

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW | PTE_D, UPPER);
	assert_result(fill(true, LA_U, PFEC_U | PFEC_W), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_U, 1), FRAME_A | PTE_P | PTE_W | PTE_U);
	cr_assert_eq(sentry(root(false), LA_U, 1), 0, "expected the kernel root untouched");
}

Test(shadow_fill, with_smep_the_kernel_root_maps_user_pages_not_executable)
{
	uint64_t r = root(false);

	sh.smep = true;
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW | PTE_D, UPPER);
	gmap(gcr3, LA_K, 1, FRAME_B, PTE_P | PTE_W | PTE_D, UPPER);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	cr_assert(sentry(r, LA_U, 1) & PTE_NX, "a user page the kernel may run: %#llx",
		  (unsigned long long)sentry(r, LA_U, 1));
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	cr_assert_not(sentry(r, LA_K, 1) & PTE_NX, "a kernel page must stay executable");
	assert_result(fill(true, LA_U, PFEC_U), SHADOW_FILLED);
	cr_assert_not(sentry(root(true), LA_U, 1) & PTE_NX, "user mode runs its own pages");
}

Test(shadow_fill, with_smep_a_kernel_fetch_from_a_user_page_is_a_guest_fault)
{
	static const struct shadow_guest_mode no_nxe = {.wp = true};

	sh.smep = true;
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW | PTE_D, UPPER);
	assert_fault(false, LA_U, PFEC_I, &WP_NXE, PFEC_P | PFEC_I);
	assert_fault(false, LA_U, PFEC_I, &no_nxe, PFEC_P | PFEC_I);
	sh.smep = false;
	assert_result(fill(false, LA_U, PFEC_I), SHADOW_FILLED);
}

Test(shadow_fill, cr0_wp_clear_lets_kernel_writes_through_read_only_pages)
{
	const struct shadow_guest_mode no_wp = {.wp = false, .nxe = true};
	uint64_t r = root(false);
	uint32_t pfec;

	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P, PTE_P);
	assert_fault(false, LA_K, PFEC_W, &WP_NXE, PFEC_P | PFEC_W);
	assert_result(fill_mode(false, LA_K, 0, &no_wp, &pfec), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_W, 0, "expected write-protected until D");
	assert_result(fill_mode(false, LA_K, PFEC_W, &no_wp, &pfec), SHADOW_FILLED);
	cr_assert(sentry(r, LA_K, 1) & PTE_W, "expected W with CR0.WP clear, after D");
	cr_assert(*gentry(gcr3, LA_K, 1) & PTE_D, "expected D set");
}

Test(shadow_fill, cr0_wp_clear_does_not_open_read_only_pages_to_user_writes)
{
	const struct shadow_guest_mode no_wp = {.wp = false, .nxe = true};

	gmap(gcr3, LA_U, 1, FRAME_A, PTE_P | PTE_U | PTE_D, UPPER);
	assert_fault(true, LA_U, PFEC_U | PFEC_W, &no_wp, PFEC_P | PFEC_U | PFEC_W);
	assert_fault(false, LA_U, PFEC_U | PFEC_W, &no_wp, PFEC_P | PFEC_U | PFEC_W);
	assert_result(fill_mode(true, LA_U, PFEC_U, &no_wp, &(uint32_t){0}), SHADOW_FILLED);
	cr_assert_eq(sentry(root(true), LA_U, 1) & PTE_W, 0, "expected the user root read-only");
}

Test(shadow_fill, not_present_at_each_level_gives_p_clear_and_the_access_bits)
{
	static const uint32_t accesses[] = {0,	    PFEC_W,	    PFEC_U, PFEC_U | PFEC_W,
					    PFEC_I, PFEC_U | PFEC_I};
	const struct shadow_guest_mode no_nxe = {.wp = true, .nxe = false};

	for (int level = 1; level <= 4; level++) {
		for (unsigned a = 0; a < sizeof(accesses) / sizeof(accesses[0]); a++) {
			uint32_t acc = accesses[a];
			bool user = acc & PFEC_U;

			gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
			*gentry(gcr3, LA_U, level) &= ~PTE_P;
			assert_fault(user, LA_U, acc, &WP_NXE, acc);
			/* Without EFER.NXE the fetch bit is not reported. */
			assert_fault(user, LA_U, acc, &no_nxe, acc & ~PFEC_I);
		}
	}
}

Test(shadow_fill, ps_in_a_pml4_entry_is_reserved)
{
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	*gentry(gcr3, LA_U, 4) |= PTE_PS;
	assert_fault(true, LA_U, PFEC_U | PFEC_W, &WP_NXE, PFEC_P | PFEC_RSVD | PFEC_U | PFEC_W);
}

Test(shadow_fill, an_nx_fetch_faults_with_i_and_an_nx_read_maps_nx)
{
	uint64_t r = root(true);

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW | PTE_NX, UPPER);
	assert_fault(true, LA_U, PFEC_U | PFEC_I, &WP_NXE, PFEC_P | PFEC_U | PFEC_I);
	assert_result(fill(true, LA_U, PFEC_U), SHADOW_FILLED);
	cr_assert(sentry(r, LA_U, 1) & PTE_NX, "expected NX in the shadow");
}

Test(shadow_fill, nx_at_an_upper_level_counts)
{
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	*gentry(gcr3, LA_U, 3) |= PTE_NX;
	assert_fault(false, LA_U, PFEC_I, &WP_NXE, PFEC_P | PFEC_I);
}

Test(shadow_fill, an_executable_page_is_fetched_and_mapped_without_nx)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P, PTE_P);
	assert_result(fill(false, LA_K, PFEC_I), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_NX, 0, "expected no NX");
}

Test(shadow_fill, without_nxe_the_nx_bit_is_reserved_and_never_shadowed)
{
	const struct shadow_guest_mode no_nxe = {.wp = true, .nxe = false};
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P | PTE_NX, PTE_P);
	assert_fault(false, LA_K, 0, &no_nxe, PFEC_P | PFEC_RSVD);
	*gentry(gcr3, LA_K, 1) &= ~PTE_NX;
	assert_result(fill_mode(false, LA_K, PFEC_I, &no_nxe, &(uint32_t){0}), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_NX, 0, "expected no NX without EFER.NXE");
}

Test(shadow_fill, memory_type_bits_are_copied_from_a_4k_leaf)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P | SPTE_PWT | SPTE_PCD | SPTE_PAT, PTE_P);
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1), FRAME_A | PTE_P | PTE_U | SPTE_PWT | SPTE_PCD | SPTE_PAT,
		     "got %#llx", (unsigned long long)sentry(r, LA_K, 1));
}

Test(shadow_fill, a_2m_page_is_shadowed_4k_at_a_time_with_its_pat_bit)
{
	uint64_t r = root(false), la = LA_K; /* 2 MiB-aligned */

	gmap(gcr3, la, 2, 0x400000ULL, PTE_P | PTE_W | PTE_D | (1ULL << 12) | SPTE_PCD,
	     PTE_P | PTE_W);
	assert_result(fill(false, la + 0x3456, 0), SHADOW_FILLED);
	assert_result(fill(false, la + 0x1ff000, PFEC_W), SHADOW_FILLED);
	cr_assert_eq(sentry(r, la + 0x3000, 1),
		     0x403000ULL | PTE_P | PTE_W | PTE_U | SPTE_PCD | SPTE_PAT, "got %#llx",
		     (unsigned long long)sentry(r, la + 0x3000, 1));
	cr_assert_eq(sentry(r, la + 0x1ff000, 1) & PTE_ADDR_MASK, 0x5ff000ULL);
	cr_assert_eq(sentry(r, la, 1), 0, "expected only the pages touched");
	cr_assert_eq(sentry(r, la, 2) & PTE_PS, 0, "expected no large shadow page");
	check_tables();
}

Test(shadow_fill, a_1g_page_is_shadowed_4k_at_a_time)
{
	uint64_t r = root(false), la = 0xffff808000000000ULL; /* 1 GiB-aligned */

	gmap(gcr3, la, 3, 0, PTE_P | PTE_W, PTE_P | PTE_W);
	assert_result(fill(false, la + 0x345678, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, la + 0x345000, 1), 0x345000ULL | PTE_P | PTE_U, "got %#llx",
		     (unsigned long long)sentry(r, la + 0x345000, 1));
	check_tables();
}

Test(shadow_fill, non_canonical_addresses_are_refused)
{
	uint32_t pfec;

	root(false);
	assert_result(shadow_fill(&sh, gcr3, false, 0x0000800000000000ULL, 0, &WP_NXE, &pfec),
		      SHADOW_NONCANONICAL);
	assert_result(shadow_fill(&sh, gcr3, false, 0xfff0000000000000ULL, 0, &WP_NXE, &pfec),
		      SHADOW_NONCANONICAL);
}

Test(shadow_fill, the_low_bits_of_the_guest_cr3_are_ignored)
{
	uint64_t r = root(false);
	uint32_t pfec;

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	assert_result(shadow_fill(&sh, gcr3 | 0x18, false, LA_U, 0, &WP_NXE, &pfec), SHADOW_FILLED);
	cr_assert_neq(sentry(r, LA_U, 1), 0, "expected the fill in the root of the masked CR3");
	cr_assert_eq(shadow_root(&sh, gcr3 | 0x18, false, false), r);
}

/* Frames */

Test(shadow_frames, a_frame_in_monitor_memory_maps_the_same_offset_of_the_unbacked_window)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 1, MON_GPA + POOL_OFF, PTE_P | PTE_W | PTE_D, PTE_P | PTE_W);
	assert_result(fill(false, LA_K, PFEC_W), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1), (OPEN_BUS_GPA + POOL_OFF) | PTE_P | PTE_W | PTE_U,
		     "expected the window's page (KVM makes MMIO of it), got %#llx",
		     (unsigned long long)sentry(r, LA_K, 1));
	check_tables();
}

Test(shadow_frames, the_stub_page_table_and_the_last_monitor_page_are_window_pages_too)
{
	uint64_t r = root(false), frames[] = {STUB_PT_GPA, MON_GPA + MON_SIZE - 0x1000};

	for (unsigned i = 0; i < 2; i++) {
		uint64_t la = LA_K + i * 0x1000;

		gmap(gcr3, la, 1, frames[i], PTE_P | PTE_W | PTE_D, PTE_P | PTE_W);
		assert_result(fill(false, la, PFEC_W), SHADOW_FILLED);
		cr_assert_eq(sentry(r, la, 1) & PTE_ADDR_MASK, OPEN_BUS_GPA + (frames[i] - MON_GPA),
			     "frame %u: got %#llx", i, (unsigned long long)sentry(r, la, 1));
	}
	check_tables();
}

Test(shadow_frames, a_2m_page_over_monitor_memory_is_open_bus_page_by_page)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 2, MON_GPA, PTE_P | PTE_W | PTE_D, PTE_P | PTE_W);
	assert_result(fill(false, LA_K + 0x2000, 0), SHADOW_FILLED);
	/* Past monitor memory, the frame is nothing: mapped as is, for KVM's MMIO exits. */
	assert_result(fill(false, LA_K + 0x100000, 0), SHADOW_FILLED);
	assert_result(fill(false, LA_K + 0x1ff000, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K + 0x2000, 1) & PTE_ADDR_MASK, OPEN_BUS_GPA + 0x2000);
	cr_assert_eq(sentry(r, LA_K + 0x100000, 1) & PTE_ADDR_MASK, MON_GPA + 0x100000,
		     "expected the page after monitor memory as is");
	cr_assert_eq(sentry(r, LA_K + 0x1ff000, 1) & PTE_ADDR_MASK, MON_GPA + 0x1ff000);
	check_tables();
}

Test(shadow_frames, a_frame_in_the_device_window_is_mapped_as_is)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 1, 0xfec00000ULL, PTE_P | PTE_W | PTE_D | SPTE_PCD, PTE_P | PTE_W);
	assert_result(fill(false, LA_K, PFEC_W), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1), 0xfec00000ULL | PTE_P | PTE_W | PTE_U | SPTE_PCD,
		     "got %#llx", (unsigned long long)sentry(r, LA_K, 1));
}

Test(shadow_frames, the_xapic_page_is_read_only_and_a_write_goes_to_lodger)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 1, 0xfee00000ULL, PTE_P | PTE_W | PTE_D | SPTE_PCD, PTE_P | PTE_W);
	assert_result(fill(false, LA_K + 0xb0, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1), 0xfee00000ULL | PTE_P | PTE_U | SPTE_PCD,
		     "read-only, got %#llx", (unsigned long long)sentry(r, LA_K, 1));
	assert_result(fill(false, LA_K + 0x300, PFEC_W), SHADOW_APIC_WRITE);
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_W, 0, "never writable");
	/* and from the user root, where the guest lets user code write it */
	r = root(true);
	gmap(gcr3, LA_K, 1, 0xfee00000ULL, PTE_P | PTE_W | PTE_U | PTE_D, PTE_P | PTE_W | PTE_U);
	assert_result(fill(true, LA_K + 0x300, PFEC_W | PFEC_U), SHADOW_APIC_WRITE);
	/* but a write the guest's tables deny is the guest's fault */
	gmap(gcr3, LA_K, 1, 0xfee00000ULL, PTE_P | PTE_U | PTE_D, PTE_P | PTE_W | PTE_U);
	assert_result(fill(true, LA_K + 0x300, PFEC_W | PFEC_U), SHADOW_GUEST_FAULT);
}

Test(shadow_frames, a_frame_just_past_ram_is_mapped_as_is)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 1, RAM_SIZE, PTE_P, PTE_P);
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_ADDR_MASK, RAM_SIZE);
}

Test(shadow_frames, a_guest_table_outside_ram_is_not_present)
{
	uint64_t r = root(false);

	for (int level = 2; level <= 4; level++) {
		static const uint64_t outside[] = {0x10000000ULL, MON_GPA + POOL_OFF,
						   0x000ffffffffff000ULL};

		for (unsigned i = 0; i < 3; i++) {
			uint64_t *e;

			gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
			e = gentry(gcr3, LA_U, level);
			*e = (*e & ~PTE_ADDR_MASK) | outside[i];
			assert_fault(true, LA_U, PFEC_U | PFEC_W, &WP_NXE, PFEC_U | PFEC_W);
			/* Restore the real table for the next round. */
			*e = 0;
		}
	}
	cr_assert_eq(sentry(r, LA_U, 1), 0);
	/* A guest CR3 outside RAM. */
	gcr3 = RAM_SIZE;
	assert_fault(false, LA_U, 0, &WP_NXE, 0);
	check_tables();
}

/* The stub region */

Test(shadow_stub, a_fill_in_the_stub_region_is_a_conflict)
{
	uint64_t r = root(false), before[512];
	uint32_t pfec;

	memcpy(before, mon_table(STUB_PT_GPA), sizeof(before));
	gmap(gcr3, STUB_BASE + 0x1000, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill_mode(true, STUB_BASE + 0x1000, PFEC_U, &WP_NXE, &pfec),
		      SHADOW_STUB_CONFLICT);
	assert_result(fill(false, STUB_BASE, 0), SHADOW_STUB_CONFLICT);
	assert_result(fill(false, STUB_BASE + STUB_REGION_SIZE - 1, 0), SHADOW_STUB_CONFLICT);
	cr_assert_eq(*gentry(gcr3, STUB_BASE + 0x1000, 1) & PTE_A, 0, "expected no guest walk");
	cr_assert_eq(memcmp(before, mon_table(STUB_PT_GPA), sizeof(before)), 0,
		     "expected the stub's page table untouched");
	cr_assert_eq(sentry(r, STUB_BASE, 2), STUB_PT_GPA | PTE_P | PTE_W);
	/* Just past the region is the guest's. */
	gmap(gcr3, STUB_BASE + STUB_REGION_SIZE, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill(false, STUB_BASE + STUB_REGION_SIZE, 0), SHADOW_FILLED);
	gmap(gcr3, STUB_BASE - 0x1000, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill(false, STUB_BASE - 0x1000, 0), SHADOW_FILLED);
	check_tables();
}

Test(shadow_stub, every_root_maps_the_stub)
{
	for (uint64_t i = 0; i < 4; i++) {
		for (int user = 0; user < 2; user++) {
			uint64_t r = shadow_root(&sh, 0x10000 + i * 0x1000, user, false);

			cr_assert_eq(sentry(r, STUB_BASE, 2), STUB_PT_GPA | PTE_P | PTE_W);
		}
	}
	check_tables();
}

Test(shadow_stub, set_stub_base_moves_it_in_every_root_and_drops_what_was_there)
{
	uint64_t rk = root(false), ru = root(true), other = shadow_root(&sh, 0x9000, false, false);

	gmap(gcr3, NEW_STUB + 0x5000, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill(true, NEW_STUB + 0x5000, PFEC_U), SHADOW_FILLED);
	cr_assert_neq(sentry(ru, NEW_STUB + 0x5000, 1), 0);
	shadow_set_stub_base(&sh, NEW_STUB);
	cr_assert_eq(sh.stub_base, NEW_STUB);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t r = (uint64_t[]){rk, ru, other}[i];

		cr_assert_eq(sentry(r, NEW_STUB, 2), STUB_PT_GPA | PTE_P | PTE_W,
			     "root %u: got %#llx", i, (unsigned long long)sentry(r, NEW_STUB, 2));
		cr_assert_eq(sentry(r, STUB_BASE, 2), 0, "root %u: expected the old PDE gone", i);
	}
	check_tables(); /* the dropped page table went back to the pool */
	gmap(gcr3, STUB_BASE, 1, FRAME_B, USER_RW, UPPER);
	assert_result(fill(true, STUB_BASE, PFEC_U), SHADOW_FILLED);
	cr_assert_eq(sentry(ru, STUB_BASE, 1) & PTE_ADDR_MASK, FRAME_B);
	assert_result(fill(true, NEW_STUB + 0x5000, PFEC_U), SHADOW_STUB_CONFLICT);
	/* New roots get the new place. */
	cr_assert_eq(sentry(shadow_root(&sh, 0xa000, true, false), NEW_STUB, 2),
		     STUB_PT_GPA | PTE_P | PTE_W);
	check_tables();
}

Test(shadow_stub, invlpg_in_the_stub_region_leaves_it_alone)
{
	uint64_t r = root(false);

	mon_table(STUB_PT_GPA)[1] = 0x123000ULL | PTE_P;
	shadow_invlpg(&sh, gcr3, STUB_BASE + 0x1000);
	cr_assert_eq(mon_table(STUB_PT_GPA)[1], 0x123000ULL | PTE_P, "expected the stub PT kept");
	cr_assert_eq(sentry(r, STUB_BASE, 2), STUB_PT_GPA | PTE_P | PTE_W);
}

/* Invalidation */

Test(shadow_invlpg, drops_the_entry_in_both_roots_and_keeps_its_neighbours)
{
	uint64_t rk = root(false), ru = root(true);

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	gmap(gcr3, LA_U + 0x1000, 1, FRAME_B, USER_RW, UPPER);
	for (int user = 0; user < 2; user++) {
		assert_result(fill(user, LA_U, PFEC_U), SHADOW_FILLED);
		assert_result(fill(user, LA_U + 0x1000, PFEC_U), SHADOW_FILLED);
	}
	/* The guest's entry changed where the shadow could not see it (a device wrote it). */
	*gentry(gcr3, LA_U, 1) = FRAME_B | USER_RW;
	shadow_invlpg(&sh, gcr3, LA_U + 0x10);
	cr_assert_eq(sentry(rk, LA_U, 1), 0, "expected dropped in the kernel root");
	cr_assert_eq(sentry(ru, LA_U, 1), 0, "expected dropped in the user root");
	cr_assert_neq(sentry(rk, LA_U + 0x1000, 1), 0, "expected the neighbour kept");
	cr_assert_neq(sentry(ru, LA_U + 0x1000, 1), 0, "expected the neighbour kept");
	cr_assert_eq(sh.stats.invlpgs, 1);
	check_tables();
}

Test(shadow_invlpg, a_2m_guest_page_is_dropped_whole)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 2, 0x400000ULL, PTE_P | PTE_W, PTE_P | PTE_W);
	assert_result(fill(false, LA_K + 0x1000, 0), SHADOW_FILLED);
	assert_result(fill(false, LA_K + 0x1f0000, 0), SHADOW_FILLED);
	shadow_invlpg(&sh, gcr3, LA_K + 0x1000); /* unchanged: kept */
	cr_assert_neq(sentry(r, LA_K + 0x1000, 1), 0);
	*gentry(gcr3, LA_K, 2) = 0x600000ULL | PTE_P | PTE_W | PTE_PS; /* changed unseen */
	shadow_invlpg(&sh, gcr3, LA_K + 0x1000);
	cr_assert_eq(sentry(r, LA_K + 0x1000, 1), 0);
	cr_assert_eq(sentry(r, LA_K + 0x1f0000, 1), 0);
	/* The guest now maps 4 KiB pages there: invlpg drops one at a time again. */
	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P, PTE_P);
	gmap(gcr3, LA_K + 0x1000, 1, FRAME_B, PTE_P, PTE_P);
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	assert_result(fill(false, LA_K + 0x1000, 0), SHADOW_FILLED);
	*gentry(gcr3, LA_K, 1) = 0;
	shadow_invlpg(&sh, gcr3, LA_K);
	cr_assert_eq(sentry(r, LA_K, 1), 0);
	cr_assert_eq(sentry(r, LA_K + 0x1000, 1) & PTE_ADDR_MASK, FRAME_B);
	check_tables();
}

Test(shadow_invlpg, a_1g_guest_page_is_dropped_whole)
{
	uint64_t r = root(false), la = 0xffff808000000000ULL, used;

	gmap(gcr3, la, 3, 0, PTE_P | PTE_W, PTE_P | PTE_W);
	assert_result(fill(false, la + 0x1000, 0), SHADOW_FILLED);
	used = sh.pool_pages - sh.nr_free;
	assert_result(fill(false, la + 0x20000000, 0), SHADOW_FILLED);
	*gentry(gcr3, la, 3) = 0x40000000ULL | PTE_P | PTE_W | PTE_PS;
	shadow_invlpg(&sh, gcr3, la + 0x1000);
	cr_assert_eq(sentry(r, la + 0x1000, 1), 0);
	cr_assert_eq(sentry(r, la + 0x20000000, 1), 0);
	cr_assert_eq(sh.pool_pages - sh.nr_free, used - 2,
		     "expected the split page directory and both page tables freed");
	check_tables();
}

Test(shadow_invlpg, an_uncached_cr3_or_a_non_canonical_address_is_harmless)
{
	shadow_invlpg(&sh, 0x7777000, LA_U);
	root(false);
	shadow_invlpg(&sh, gcr3, 0x0000800000000000ULL);
	shadow_invlpg(&sh, gcr3, LA_U);
	cr_assert_eq(sh.stats.invlpgs, 3);
	check_tables();
}

/* Roots */

Test(shadow_roots, a_cr3_gets_one_root_per_mode_and_counts_switches)
{
	uint64_t k = root(false), u = root(true);

	cr_assert_neq(k, u, "expected two roots");
	cr_assert_eq(root(false), k);
	cr_assert_eq(root(true), u);
	cr_assert_eq(sh.stats.root_switches, 4);
	cr_assert_eq(sh.stats.root_flushes, 0);
}

Test(shadow_roots, a_cr3_write_keeps_the_root_and_drops_only_what_changed)
{
	uint64_t r = root(false), other = root(true);

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	gmap(gcr3, LA_K, 1, FRAME_B, PTE_P | PTE_W, UPPER);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	assert_result(fill(true, LA_U, PFEC_U), SHADOW_FILLED);
	cr_assert_eq(shadow_root(&sh, gcr3, false, true), r, "expected the same root");
	cr_assert_neq(sentry(r, LA_U, 1), 0, "expected an unchanged entry kept");
	cr_assert_eq(sh.stats.root_hits, 4);
	/* The guest's PML4 is not write-protected: a PML4E changed is found at the flush. */
	*gentry(gcr3, LA_U, 4) &= ~PTE_U;
	cr_assert_eq(shadow_root(&sh, gcr3, false, true), r);
	cr_assert_eq(sentry(r, LA_U, 1), 0, "expected the entry under the changed PML4E gone");
	cr_assert_neq(sentry(r, LA_K, 1), 0, "expected the other PML4E's entry kept");
	cr_assert_eq(sentry(r, STUB_BASE, 2), STUB_PT_GPA | PTE_P | PTE_W, "expected the stub");
	cr_assert_neq(sentry(other, LA_U, 1), 0, "expected the other root untouched until loaded");
	cr_assert_eq(shadow_switch_root(&sh, gcr3, true), other);
	cr_assert_eq(sentry(other, LA_U, 1), 0, "expected it dropped when loaded");
	cr_assert_eq(sh.stats.root_flushes, 0);
	check_tables();
}

Test(shadow_roots, flush_all_empties_every_root)
{
	uint64_t r[2] = {root(false), root(true)};

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	assert_result(fill(true, LA_U, PFEC_U), SHADOW_FILLED);
	shadow_flush_all(&sh);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(sentry(r[i], LA_U, 1), 0);
		cr_assert_eq(sentry(r[i], STUB_BASE, 2), STUB_PT_GPA | PTE_P | PTE_W);
	}
	cr_assert_eq(sh.pool_pages - sh.nr_free, 6, "expected only PML4s and stub paths left");
	check_tables();
}

static bool cached(uint64_t cr3, bool user)
{
	for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++)
		if (sh.roots[i].in_use && sh.roots[i].guest_cr3 == cr3 && sh.roots[i].user == user)
			return true;
	return false;
}

Test(shadow_roots, the_cache_evicts_the_least_recently_used_root)
{
	uint64_t r0;

	for (uint64_t i = 0; i < SHADOW_MAX_ROOTS; i++)
		cr_assert_neq(shadow_root(&sh, 0x100000 + i * 0x1000, false, false), 0);
	r0 = shadow_root(&sh, 0x100000, false, false); /* now the most recent */
	cr_assert_neq(shadow_root(&sh, 0x200000, false, false), 0);
	cr_assert_eq(sh.stats.evictions, 1);
	cr_assert(cached(0x100000, false), "expected the recently used root kept");
	cr_assert_not(cached(0x101000, false), "expected the least recently used root evicted");
	cr_assert(cached(0x200000, false));
	cr_assert_eq(shadow_root(&sh, 0x100000, false, false), r0, "expected it still cached");
	check_tables();
}

Test(shadow_roots, a_fill_without_a_cached_root_makes_one)
{
	uint32_t pfec;

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	assert_result(shadow_fill(&sh, gcr3, false, LA_U, 0, &WP_NXE, &pfec), SHADOW_FILLED);
	cr_assert_neq(sentry(shadow_root(&sh, gcr3, false, false), LA_U, 1), 0);
	check_tables();
}

/* Pool pressure */

Test(shadow_pool, a_new_root_evicts_another_cr3s_root)
{
	setup_pool(8);
	root(false);
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	cr_assert_eq(sh.nr_free, 2);
	cr_assert_neq(shadow_root(&sh, 0x9000, false, false), 0);
	cr_assert_eq(sh.stats.evictions, 1);
	cr_assert_neq(shadow_root(&sh, gcr3, false, false), 0, "expected it made again");
	check_tables();
}

Test(shadow_pool, a_fill_evicts_other_roots_then_flushes_its_own)
{
	uint64_t r;

	setup_pool(8);
	shadow_root(&sh, 0x9000, false, false);
	r = root(false);
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	gmap(gcr3, LA_K, 1, FRAME_B, PTE_P, PTE_P);
	/* 6 used: the fill needs 3, and evicting 0x9000's root gives them. */
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	cr_assert_eq(sh.stats.evictions, 1);
	/* 6 used again, nothing else to evict: the root itself is flushed. */
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	cr_assert_eq(sh.stats.root_flushes, 1);
	cr_assert_eq(root(false), r, "expected the same root");
	cr_assert_eq(sentry(r, LA_U, 1), 0, "expected the first fill flushed");
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_ADDR_MASK, FRAME_B);
	check_tables();
}

Test(shadow_pool, a_fill_empties_the_sibling_root_but_keeps_it)
{
	uint64_t rk, ru;

	setup_pool(10);
	rk = root(false);
	ru = root(true);
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	gmap(gcr3, LA_K, 1, FRAME_B, PTE_P, PTE_P);
	assert_result(fill(true, LA_U, PFEC_U), SHADOW_FILLED);
	cr_assert_eq(sh.nr_free, 1);
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	cr_assert_eq(sh.stats.evictions, 0);
	cr_assert_eq(root(true), ru, "expected the user root kept at its address");
	cr_assert_eq(sentry(ru, LA_U, 1), 0, "expected the user root emptied");
	cr_assert_neq(sentry(rk, LA_K, 1), 0);
	check_tables();
}

Test(shadow_pool, no_memory_when_a_single_path_cannot_be_built)
{
	setup_pool(5);
	root(false);
	gmap(gcr3, LA_K, 1, FRAME_B, PTE_P, PTE_P);
	assert_result(fill(false, LA_K, 0), SHADOW_NO_MEMORY);
	check_tables();
	/* In the stub's 1 GiB only a page table is needed. */
	gmap(gcr3, STUB_BASE + STUB_REGION_SIZE, 1, FRAME_B, PTE_P, PTE_P);
	assert_result(fill(false, STUB_BASE + STUB_REGION_SIZE, 0), SHADOW_FILLED);
	check_tables();
}

Test(shadow_pool, no_root_when_the_pool_is_too_small)
{
	setup_pool(2);
	cr_assert_eq(shadow_root(&sh, gcr3, false, false), 0);
	cr_assert_eq(sh.nr_free, 2);
}

Test(shadow_pool, moving_the_stub_in_a_full_pool_flushes_the_root)
{
	uint64_t r;

	setup_pool(4);
	r = root(false);
	gmap(gcr3, STUB_BASE + STUB_REGION_SIZE, 1, FRAME_B, PTE_P, PTE_P);
	assert_result(fill(false, STUB_BASE + STUB_REGION_SIZE, 0), SHADOW_FILLED);
	cr_assert_eq(sh.nr_free, 0);
	shadow_set_stub_base(&sh, NEW_STUB);
	cr_assert_eq(sentry(r, NEW_STUB, 2), STUB_PT_GPA | PTE_P | PTE_W);
	cr_assert_eq(sentry(r, STUB_BASE + STUB_REGION_SIZE, 1), 0);
	check_tables();
}

/* Randomized: whatever the guest tables say, no shadow leaf reaches monitor memory. */

static uint64_t rng_state = 0x5eed1234abcdULL;

static uint64_t rnd(void)
{
	/* xorshift64*: fixed seed, same sequence everywhere. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t random_frame(void)
{
	switch (rnd() % 7) {
	case 0:
	case 1:
		return (rnd() % (RAM_SIZE / 0x1000)) * 0x1000;
	case 2:
	case 3:
		return MON_GPA + (rnd() % (MON_SIZE / 0x1000)) * 0x1000;
	case 4:
		return 0xfee00000ULL + (rnd() % 16) * 0x1000;
	case 5:
		return (rnd() % 2) ? STUB_PT_GPA : OPEN_BUS_GPA + (rnd() % 16) * 0x1000;
	default:
		return rnd() & 0x000000fffffff000ULL;
	}
}

static uint64_t random_la(bool noncanonical)
{
	static const uint64_t bases[] = {0x0,
					 0x00007f0000000000ULL,
					 0xffff800000000000ULL,
					 0xffffffff80000000ULL,
					 STUB_BASE - STUB_REGION_SIZE,
					 NEW_STUB};
	uint64_t la = bases[rnd() % 6] + (rnd() % 2048) * 0x1000 + (rnd() & 0xfff);

	return noncanonical && rnd() % 50 == 0 ? la ^ (1ULL << 50) : la;
}

static uint64_t random_flags(uint64_t base)
{
	uint64_t f = base;

	f |= rnd() % 16 ? PTE_P : 0;
	f |= rnd() % 4 ? PTE_W : 0;
	f |= rnd() % 4 ? PTE_U : 0;
	f |= rnd() % 5 ? 0 : PTE_NX;
	return f;
}

static void check_fill(uint64_t cr3, bool user_root, uint64_t la, enum shadow_fill_result res)
{
	uint64_t r, e, want;
	struct walk w;

	if (res != SHADOW_FILLED)
		return;
	r = shadow_root(&sh, cr3, user_root, false);
	e = sentry(r, la, 1);
	cr_assert(e & PTE_P, "la %#llx: expected a shadow entry", (unsigned long long)la);
	cr_assert_eq(pagewalk(&mem, cr3, la, &w), WALK_OK);
	want = w.gpa & PTE_ADDR_MASK;
	if (!gpa_ok(&mem, want, 0x1000) && want + 0x1000 > MON_GPA && want < MON_GPA + MON_SIZE)
		want = OPEN_BUS_GPA + (want - MON_GPA);
	cr_assert_eq(e & PTE_ADDR_MASK, want, "la %#llx: frame %#llx, expected %#llx",
		     (unsigned long long)la, (unsigned long long)(e & PTE_ADDR_MASK),
		     (unsigned long long)want);
}

Test(shadow_random, a_thousand_random_fills_never_map_monitor_memory)
{
	uint64_t cr3s[4];
	unsigned results[SHADOW_APIC_WRITE + 1] = {0};

	cr3s[0] = gcr3;
	for (int i = 1; i < 4; i++)
		cr3s[i] = galloc();
	for (int n = 0; n < 1000; n++) {
		uint64_t cr3 = cr3s[rnd() % 4], la = random_la(true);
		bool user_root = rnd() % 2;
		struct shadow_guest_mode mode = {.wp = rnd() % 4 != 0, .nxe = rnd() % 4 != 0};
		uint32_t access = (uint32_t)(rnd() % 2 ? PFEC_W : 0) |
				  (user_root || rnd() % 2 ? PFEC_U : 0) | (rnd() % 5 ? 0 : PFEC_I);
		int level = rnd() % 10 ? 1 : (rnd() % 4 ? 2 : 3);
		uint64_t frame = random_frame() & ~((1ULL << (12 + 9 * (level - 1))) - 1);
		enum shadow_fill_result res;
		uint32_t pfec;

		if (!(la & (1ULL << 50)))
			gmap(cr3, la, level, frame, random_flags(rnd() % 2 ? PTE_D : 0),
			     random_flags(0) | PTE_P);
		if (rnd() % 20 == 0)
			*gentry(cr3, la, 4) |= PTE_PS;
		cr_assert_neq(shadow_root(&sh, cr3, user_root, rnd() % 50 == 0), 0);
		res = shadow_fill(&sh, cr3, user_root, la, access, &mode, &pfec);
		cr_assert_leq(res, SHADOW_APIC_WRITE);
		cr_assert_neq(res, SHADOW_NO_MEMORY, "expected the pool to recover");
		results[res]++;
		check_fill(cr3, user_root, la, res);
		if (rnd() % 10 == 0)
			shadow_invlpg(&sh, cr3, random_la(true));
		if (rnd() % 200 == 0)
			shadow_flush_all(&sh);
		if (rnd() % 100 == 0)
			shadow_set_stub_base(&sh, rnd() % 2 ? STUB_BASE : NEW_STUB);
		if (n % 100 == 99)
			check_tables();
	}
	check_tables();
	cr_assert_gt(results[SHADOW_FILLED], 100, "only %u fills", results[SHADOW_FILLED]);
	cr_assert_gt(results[SHADOW_GUEST_FAULT], 50, "only %u faults",
		     results[SHADOW_GUEST_FAULT]);
	cr_assert_gt(results[SHADOW_STUB_CONFLICT], 5);
	cr_assert_gt(results[SHADOW_NONCANONICAL], 5);
}

/* A random user page mapped in one of three address spaces, and filled. */
static void random_user_fill(const uint64_t cr3s[3])
{
	uint64_t cr3 = cr3s[rnd() % 3], la = random_la(false);
	bool user_root = rnd() % 2;
	uint32_t pfec;

	gmap(cr3, la, 1, (rnd() % (RAM_SIZE / 0x1000)) * 0x1000, USER_RW, UPPER);
	cr_assert_neq(shadow_root(&sh, cr3, user_root, false), 0);
	cr_assert_neq(shadow_fill(&sh, cr3, user_root, la, PFEC_U, &WP_NXE, &pfec),
		      SHADOW_NO_MEMORY);
}

Test(shadow_random, a_small_pool_under_random_fills_stays_consistent)
{
	uint64_t cr3s[3] = {gcr3, galloc(), galloc()};

	shadow_destroy(&sh);
	cr_assert_eq(shadow_init(&sh, &mem, POOL_OFF, 12, STUB_BASE, STUB_PT_GPA, OPEN_BUS_GPA), 0);
	for (int n = 0; n < 1000; n++) {
		random_user_fill(cr3s);
		if (n % 50 == 0)
			check_tables();
	}
	cr_assert_gt(sh.stats.evictions, 10);
	check_tables();
}

/* Coherence: roots kept per CR3, guest tables write-protected (docs/shadow-mode.md) */

/* Calls fn(root, la, leaf) for every present leaf of every cached root. */
static void each_leaf(void (*fn)(const struct shadow_root *, uint64_t, uint64_t))
{
	for (unsigned r = 0; r < SHADOW_MAX_ROOTS; r++) {
		const struct shadow_root *rt = &sh.roots[r];

		if (!rt->in_use)
			continue;
		for (unsigned i4 = 0; i4 < 512; i4++) {
			uint64_t e4 = mon_table(rt->pml4_gpa)[i4];

			for (unsigned i3 = 0; (e4 & PTE_P) && i3 < 512; i3++) {
				uint64_t e3 = mon_table(e4 & PTE_ADDR_MASK)[i3];

				for (unsigned i2 = 0; (e3 & PTE_P) && i2 < 512; i2++) {
					uint64_t e2 = mon_table(e3 & PTE_ADDR_MASK)[i2];
					uint64_t la = ((uint64_t)i4 << 39) | ((uint64_t)i3 << 30) |
						      ((uint64_t)i2 << 21);

					if (!(e2 & PTE_P) || (e2 & PTE_ADDR_MASK) == STUB_PT_GPA)
						continue;
					if (i4 >= 256)
						la |= 0xffff000000000000ULL;
					for (unsigned i1 = 0; i1 < 512; i1++) {
						uint64_t e1 = mon_table(e2 & PTE_ADDR_MASK)[i1];

						if (e1 & PTE_P)
							fn(rt, la | (uint64_t)i1 << 12, e1);
					}
				}
			}
		}
	}
}

/* A leaf says what a fresh walk of the guest's tables says now. */
static void leaf_coherent(const struct shadow_root *rt, uint64_t la, uint64_t e)
{
	uint64_t want;
	const uint64_t *gl;
	struct walk w;

	cr_assert_eq(pagewalk(&mem, rt->guest_cr3, la, &w), WALK_OK,
		     "cr3 %#llx la %#llx: a shadow entry the guest no longer maps",
		     (unsigned long long)rt->guest_cr3, (unsigned long long)la);
	want = w.gpa & PTE_ADDR_MASK;
	if (!gpa_ok(&mem, want, 0x1000) && want + 0x1000 > MON_GPA && want < MON_GPA + MON_SIZE)
		want = OPEN_BUS_GPA + (want - MON_GPA);
	cr_assert_eq(e & PTE_ADDR_MASK, want, "cr3 %#llx la %#llx: frame %#llx, guest %#llx",
		     (unsigned long long)rt->guest_cr3, (unsigned long long)la,
		     (unsigned long long)(e & PTE_ADDR_MASK), (unsigned long long)want);
	cr_assert(!rt->user || w.user, "la %#llx: a supervisor page in a user root",
		  (unsigned long long)la);
	gl = gpa_ptr_guest(&mem, w.entry_gpa[0], 8);
	cr_assert(!(e & PTE_W) || (gl && (*gl & PTE_D)), "la %#llx: writable with D clear",
		  (unsigned long long)la);
}

/* After a flush point in every cached root, every leaf is what the guest maps (tables
 * the guest writes freely, unsync, included). */
static void check_coherent(void)
{
	for (unsigned r = 0; r < SHADOW_MAX_ROOTS; r++)
		if (sh.roots[r].in_use)
			shadow_root(&sh, sh.roots[r].guest_cr3, sh.roots[r].user, true);
	each_leaf(leaf_coherent);
	check_tables();
}

static uint64_t table_of(uint64_t cr3, uint64_t la, int level)
{
	return (uint64_t)((uint8_t *)gentry(cr3, la, level) - mem.ram) & PTE_ADDR_MASK;
}

static uint64_t entry_gpa(uint64_t cr3, uint64_t la, int level)
{
	return (uint64_t)((uint8_t *)gentry(cr3, la, level) - mem.ram);
}

Test(shadow_coherence, a_guest_table_is_write_protected_and_a_write_to_it_let_through)
{
	uint64_t r = root(false), pt;

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW | PTE_D, UPPER);
	pt = table_of(gcr3, LA_U, 1);
	gmap(gcr3, LA_K, 1, pt, PTE_P | PTE_W | PTE_D, UPPER); /* the kernel's view of it */
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	cr_assert(shadow_is_protected(&sh, pt), "expected the guest's page table protected");
	cr_assert(!shadow_is_protected(&sh, FRAME_A), "expected a data page not protected");
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_W, 0, "expected the table mapped read-only");
	check_tables();
	/* The guest writes it: one trap, after which the write goes through. */
	sh.kvm_stale = false;
	assert_result(fill(false, LA_K, PFEC_W), SHADOW_FILLED);
	cr_assert(sentry(r, LA_K, 1) & PTE_W, "expected the write let through");
	cr_assert_eq(sh.stats.unprotects, 1);
	cr_assert_not(sh.kvm_stale, "expected nothing taken away (no KVM flush)");
	cr_assert(!shadow_is_protected(&sh, pt));
	cr_assert_neq(sentry(r, LA_U, 1), 0, "expected the entries derived from it kept");
	check_tables();
	/* The guest remaps LA_U through it; its flush point finds the change. */
	*gentry(gcr3, LA_U, 1) = FRAME_B | USER_RW;
	cr_assert_eq(shadow_switch_root(&sh, gcr3, false), r);
	cr_assert_eq(sentry(r, LA_U, 1), 0, "expected the changed entry dropped at the flush");
	cr_assert_neq(sentry(r, LA_K, 1), 0, "expected the unchanged entry kept");
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_U, 1) & PTE_ADDR_MASK, FRAME_B);
	check_coherent();
}

Test(shadow_coherence, a_frame_that_becomes_a_table_loses_its_writable_mappings)
{
	uint64_t r = root(false), x = 0x100000ULL, la2 = 0x00007f0000400000ULL;

	gmap(gcr3, LA_K, 1, x, PTE_P | PTE_W | PTE_D, UPPER);
	assert_result(fill(false, LA_K, PFEC_W), SHADOW_FILLED);
	cr_assert(sentry(r, LA_K, 1) & PTE_W);
	/* The guest makes x the page table of la2 (it filled x through LA_K first). */
	gmap(gcr3, la2, 1, FRAME_A, USER_RW, UPPER);
	*gentry(gcr3, la2, 2) = x | UPPER;
	*(uint64_t *)(mem.ram + x + idx(la2, 1) * 8) = FRAME_B | USER_RW;
	sh.kvm_stale = false;
	assert_result(fill(false, la2, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, la2, 1) & PTE_ADDR_MASK, FRAME_B);
	cr_assert(shadow_is_protected(&sh, x));
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_W, 0, "expected the old mapping made read-only");
	cr_assert(sh.kvm_stale, "expected KVM told: a right was taken away");
	check_coherent();
}

Test(shadow_coherence, a_written_entry_drops_exactly_what_was_derived_from_it)
{
	uint64_t cr3b = galloc(), rk, ru, rb, zaps;

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	gmap(gcr3, LA_U + 0x1000, 1, FRAME_B, USER_RW, UPPER);
	gmap(gcr3, LA_K, 1, FRAME_B, PTE_P | PTE_W, UPPER);
	/* A second address space sharing the user tables below its PML4. */
	*gtable_entry(cr3b, LA_U, 4) = *gtable_entry(gcr3, LA_U, 4);
	rk = root(false);
	ru = root(true);
	rb = shadow_root(&sh, cr3b, false, false);
	for (int i = 0; i < 2; i++) {
		uint32_t pfec;

		assert_result(fill(i, LA_U, PFEC_U), SHADOW_FILLED);
		assert_result(fill(i, LA_U + 0x1000, PFEC_U), SHADOW_FILLED);
		assert_result(shadow_fill(&sh, cr3b, false, LA_U + 0x1000 * i, 0, &WP_NXE, &pfec),
			      SHADOW_FILLED);
	}
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	zaps = sh.stats.pte_zaps;
	shadow_pte_written(&sh, 0x7000, 8);			       /* not a table: nothing */
	shadow_pte_written(&sh, table_of(gcr3, LA_U, 1) + 8 * 300, 8); /* an entry never used */
	cr_assert_eq(sh.stats.pte_zaps, zaps);
	*gentry(gcr3, LA_U, 1) = FRAME_B | USER_RW;
	shadow_pte_written(&sh, entry_gpa(gcr3, LA_U, 1), 8);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t r = (uint64_t[]){rk, ru, rb}[i];

		cr_assert_eq(sentry(r, LA_U, 1), 0, "root %u: expected the entry dropped", i);
		cr_assert_neq(sentry(r, LA_U + 0x1000, 1), 0, "root %u: expected its neighbour", i);
	}
	cr_assert_eq(sh.stats.pte_zaps, zaps + 3);
	cr_assert_neq(sentry(rk, LA_K, 1), 0);
	/* A page directory entry: everything below it, in every root sharing it. */
	shadow_pte_written(&sh, entry_gpa(gcr3, LA_U, 2), 8);
	cr_assert_eq(sentry(rb, LA_U + 0x1000, 1), 0);
	cr_assert_eq(sentry(ru, LA_U + 0x1000, 1), 0);
	/* The PML4 (a CR3 page): that root's entry only. */
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	shadow_pte_written(&sh, gcr3 + idx(LA_K, 4) * 8, 8);
	cr_assert_eq(sentry(rk, LA_K, 1), 0);
	cr_assert_neq(sentry(rk, LA_U, 1), 0);
	check_coherent();
}

Test(shadow_coherence, what_the_guest_takes_away_reaches_kvm_at_its_flush_point)
{
	uint64_t r = root(false);

	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P | PTE_W | PTE_D, UPPER);
	assert_result(fill(false, LA_K, PFEC_W), SHADOW_FILLED);
	sh.kvm_stale = false;
	/* The guest makes its page read-only (mmu_update): dropped, KVM not yet told. */
	*gentry(gcr3, LA_K, 1) = FRAME_A | PTE_P;
	shadow_pte_written(&sh, entry_gpa(gcr3, LA_K, 1), 8);
	cr_assert_eq(sentry(r, LA_K, 1), 0, "expected the entry dropped from the shadow");
	cr_assert_not(sh.kvm_stale, "expected no KVM flush before the guest's flush point");
	cr_assert(sh.kvm_stale_guest);
	/* The same root running again is no flush point either. */
	cr_assert_eq(shadow_root(&sh, gcr3, false, false), r);
	cr_assert_not(sh.kvm_stale);
	/* Its invlpg is. */
	shadow_invlpg(&sh, gcr3, LA_K);
	cr_assert(sh.kvm_stale, "expected KVM told at the guest's invlpg");
	shadow_kvm_flushed(&sh);
	cr_assert_not(sh.kvm_stale_guest);
	check_coherent();
}

Test(shadow_coherence, a_switch_of_roots_a_cr3_load_and_a_new_table_are_flush_points)
{
	uint64_t rk = root(false), x = 0x100000ULL, la2 = 0x00007f0000400000ULL;

	(void)rk;
	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW | PTE_D, UPPER);
	gmap(gcr3, LA_K, 1, x, PTE_P | PTE_W | PTE_D, UPPER);
	for (int step = 0; step < 3; step++) {
		assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
		shadow_kvm_flushed(&sh);
		*gentry(gcr3, LA_U, 1) = FRAME_B | USER_RW;
		shadow_pte_written(&sh, entry_gpa(gcr3, LA_U, 1), 8);
		cr_assert_not(sh.kvm_stale);
		if (step == 0) /* to user mode: another root */
			cr_assert_neq(shadow_root(&sh, gcr3, true, false), 0);
		else if (step == 1) /* a CR3 load of the same root */
			shadow_switch_root(&sh, gcr3, false);
		else { /* a frame becomes a page table: its writable translations must go */
			assert_result(fill(false, LA_K, PFEC_W), SHADOW_FILLED);
			gmap(gcr3, la2, 1, FRAME_A, USER_RW, UPPER);
			*gentry(gcr3, la2, 2) = x | UPPER;
			*(uint64_t *)(mem.ram + x + idx(la2, 1) * 8) = FRAME_B | USER_RW;
			assert_result(fill(false, la2, 0), SHADOW_FILLED);
		}
		cr_assert(sh.kvm_stale, "step %d: expected KVM told", step);
		/* back on the kernel root, as the guest was */
		cr_assert_neq(shadow_root(&sh, gcr3, false, false), 0);
		*gentry(gcr3, LA_U, 1) = FRAME_A | USER_RW | PTE_D;
	}
	check_coherent();
}

Test(shadow_coherence, tables_the_guest_drops_are_not_reused_before_kvm_flushes)
{
	uint64_t r = root(false), used;

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	shadow_kvm_flushed(&sh);
	used = sh.pool_pages - sh.nr_free;
	/* The guest clears the PDE: the shadow's page table goes, held for KVM's sake. */
	*gentry(gcr3, LA_U, 2) = 0;
	shadow_pte_written(&sh, entry_gpa(gcr3, LA_U, 2), 8);
	cr_assert_eq(sentry(r, LA_U, 2), 0);
	cr_assert_eq(sh.nr_held, 1, "expected the page table held");
	cr_assert_eq(sh.pool_pages - sh.nr_free, used, "expected it not free yet");
	check_tables();
	shadow_flush_point(&sh);
	cr_assert(sh.kvm_stale);
	shadow_kvm_flushed(&sh);
	cr_assert_eq(sh.nr_held, 0);
	cr_assert_eq(sh.pool_pages - sh.nr_free, used - 1, "expected it free after the flush");
	check_tables();
}

Test(shadow_coherence, a_table_that_maps_itself_can_be_written_through_itself)
{
	uint64_t r = root(false);
	/* PML4[510] points at the PML4: la reaches the PML4 page itself as data. */
	uint64_t self = 0xffffff7fbfdfe000ULL, pt;

	cr_assert_eq(idx(self, 4), 510);
	cr_assert_eq(idx(self, 1), 510);
	*gtable_entry(gcr3, self, 4) = gcr3 | PTE_P | PTE_W;
	assert_result(fill(false, self, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, self, 1) & PTE_ADDR_MASK, gcr3);
	cr_assert(shadow_is_protected(&sh, gcr3), "expected the PML4 protected as a lower table");
	cr_assert_eq(sentry(r, self, 1) & PTE_W, 0);
	/* pagewalk set D in the walk's leaf: the write is let through, not refused forever. */
	assert_result(fill(false, self, PFEC_W), SHADOW_FILLED);
	cr_assert(sentry(r, self, 1) & PTE_W, "expected the self-mapped table writable");
	check_tables();
	/* The guest maps a page through the self-map, with no trap, then uses it. */
	*(uint64_t *)(mem.ram + gcr3 + idx(LA_K, 4) * 8) = 0;
	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P | PTE_W, UPPER);
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_ADDR_MASK, FRAME_A);
	/* A page table that maps itself, too. */
	pt = table_of(gcr3, LA_K, 1);
	gmap(gcr3, LA_K + 0x1000, 1, pt, PTE_P | PTE_W | PTE_D, UPPER);
	assert_result(fill(false, LA_K + 0x1000, PFEC_W), SHADOW_FILLED);
	cr_assert(sentry(r, LA_K + 0x1000, 1) & PTE_W);
	*gentry(gcr3, LA_K, 1) = FRAME_B | PTE_P; /* written through itself */
	check_coherent();
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED);
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_ADDR_MASK, FRAME_B);
	check_coherent();
}

Test(shadow_coherence, a_known_address_space_is_one_lookup_away)
{
	uint64_t cr3b = galloc(), ra, rb;

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW, UPPER);
	gmap(cr3b, LA_U, 1, FRAME_B, USER_RW, UPPER);
	ra = shadow_switch_root(&sh, gcr3, false);
	assert_result(fill(false, LA_U, 0), SHADOW_FILLED);
	rb = shadow_switch_root(&sh, cr3b, false);
	assert_result(shadow_fill(&sh, cr3b, false, LA_U, 0, &WP_NXE, &(uint32_t){0}),
		      SHADOW_FILLED);
	sh.kvm_stale = false;
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(shadow_switch_root(&sh, i % 2 ? cr3b : gcr3, false), i % 2 ? rb : ra);
	}
	cr_assert_eq(sentry(ra, LA_U, 1) & PTE_ADDR_MASK, FRAME_A, "expected A's entry kept");
	cr_assert_eq(sentry(rb, LA_U, 1) & PTE_ADDR_MASK, FRAME_B, "expected B's entry kept");
	cr_assert_not(sh.kvm_stale, "expected no KVM flush for a switch");
	cr_assert_eq(sh.stats.root_flushes, 0);
	/* invlpg of an unchanged entry keeps it, and tells KVM nothing. */
	shadow_invlpg(&sh, gcr3, LA_U);
	cr_assert_neq(sentry(ra, LA_U, 1), 0);
	cr_assert_not(sh.kvm_stale);
}

Test(shadow_coherence, switches_across_thousands_of_tables_stay_bounded_and_coherent)
{
	enum { SPACES = 240 };
	static uint64_t cr3s[SPACES];
	uint64_t peak = 0;

	/* Each address space has its own four tables: 960 guest page tables. */
	cr3s[0] = gcr3;
	for (int i = 1; i < SPACES; i++)
		cr3s[i] = galloc();
	for (int i = 0; i < SPACES; i++)
		gmap(cr3s[i], LA_U + (uint64_t)(i % 8) * 0x200000, 1,
		     (uint64_t)(i % 64) * 0x1000 + 0x200000, USER_RW | PTE_D, UPPER);
	for (int n = 0; n < 100000; n++) {
		int i = (int)(rnd() % SPACES);
		uint64_t la = LA_U + (uint64_t)(i % 8) * 0x200000;
		bool user = rnd() % 2;
		uint32_t pfec;

		cr_assert_neq(shadow_switch_root(&sh, cr3s[i], user), 0);
		if (rnd() % 4 == 0)
			cr_assert_eq(shadow_fill(&sh, cr3s[i], user, la, PFEC_U | PFEC_W, &WP_NXE,
						 &pfec),
				     SHADOW_FILLED);
		if (rnd() % 16 == 0) { /* the guest remaps it (a hypercall says so) */
			*gentry(cr3s[i], la, 1) =
				((rnd() % 64) * 0x1000 + 0x200000) | USER_RW | PTE_D;
			shadow_pte_written(&sh, entry_gpa(cr3s[i], la, 1), 8);
		}
		if (sh.pool_pages - sh.nr_free > peak)
			peak = sh.pool_pages - sh.nr_free;
		if (n % 20000 == 0)
			check_coherent();
	}
	check_coherent();
	cr_assert_leq(peak, sh.pool_pages);
	cr_assert_gt(sh.stats.evictions, 1000, "expected the root cache to cycle");
	cr_assert_gt(sh.stats.root_hits, 1000);
}

/* Guest table writes the shadow sees (hypercalls, lodger's own writes): notified. */
static void gmap_notify(uint64_t cr3, uint64_t la, int level, uint64_t frame, uint64_t leaf,
			uint64_t upper)
{
	gmap(cr3, la, level, frame, leaf, upper);
	for (int l = 4; l >= level; l--)
		shadow_pte_written(&sh, entry_gpa(cr3, la, l), 8);
}

/* One step of a random workload on four address spaces: a guest table written (and
 * lodger told), a switch, a fill, now and then an invlpg or (flush_all) a CR4 change. */
static void random_guest_step(const uint64_t cr3s[4], bool flush_all)
{
	uint64_t cr3 = cr3s[rnd() % 4], la = random_la(false);
	bool user_root = rnd() % 2;
	int level = rnd() % 10 ? 1 : 2;
	uint64_t frame = (rnd() % (RAM_SIZE / 0x1000)) * 0x1000;
	uint32_t access = (rnd() % 2 ? PFEC_W : 0) | (user_root ? PFEC_U : 0), pfec;

	frame &= ~((1ULL << (12 + 9 * (level - 1))) - 1);
	if (rnd() % 3)
		gmap_notify(cr3, la, level, frame, random_flags(rnd() % 2 ? PTE_D | PTE_A : PTE_A),
			    random_flags(0) | PTE_P);
	cr_assert_neq(shadow_switch_root(&sh, cr3, user_root), 0);
	cr_assert_neq(shadow_fill(&sh, cr3, user_root, la, access, &WP_NXE, &pfec),
		      SHADOW_NO_MEMORY);
	if (rnd() % 10 == 0)
		shadow_invlpg(&sh, cr3, random_la(false));
	if (flush_all && rnd() % 300 == 0)
		shadow_flush_all(&sh);
}

Test(shadow_coherence, random_writes_and_switches_keep_every_root_coherent)
{
	uint64_t cr3s[4] = {gcr3, galloc(), galloc(), galloc()};

	for (int n = 0; n < 3000; n++) {
		random_guest_step(cr3s, false);
		if (n % 100 == 99)
			check_coherent();
	}
	check_coherent();
	cr_assert_gt(sh.stats.protects, 10);
	cr_assert_gt(sh.stats.unprotects, 0, "expected guest writes to its own tables");
}

/* Prefetch */

Test(shadow_prefetch, a_miss_brings_in_the_accessed_neighbours_of_its_table)
{
	uint64_t rk = root(false), ru = root(true);

	for (unsigned j = 0; j < 20; j++) {
		uint64_t flags = USER_RW | PTE_A | (j == 9 ? PTE_D : 0);

		if (j == 5)
			flags &= ~PTE_A; /* never used: the guest's A must not change */
		if (j == 6)
			flags &= ~PTE_U; /* supervisor */
		gmap(gcr3, LA_U + j * 0x1000ULL, 1, FRAME_A + j * 0x1000ULL, flags, UPPER);
	}
	assert_result(fill(false, LA_U + 8 * 0x1000, PFEC_U), SHADOW_FILLED);
	for (unsigned j = 0; j < 20; j++) {
		uint64_t e = sentry(rk, LA_U + j * 0x1000ULL, 1);
		bool want = j <= 16 && j != 5;

		cr_assert_eq(!!(e & PTE_P), want, "kernel root, entry %u: present %d", j, !want);
		if (want)
			cr_assert_eq(e & PTE_ADDR_MASK, FRAME_A + j * 0x1000ULL);
	}
	cr_assert_eq(*gentry(gcr3, LA_U + 5 * 0x1000, 1) & PTE_A, 0, "expected A untouched");
	cr_assert(sentry(rk, LA_U + 9 * 0x1000, 1) & PTE_W, "expected D set: writable");
	cr_assert_eq(sentry(rk, LA_U + 7 * 0x1000, 1) & PTE_W, 0, "expected D clear: read-only");
	cr_assert_eq(sh.stats.prefetched, 15);
	/* The user root takes user pages only. */
	assert_result(fill(true, LA_U + 8 * 0x1000, PFEC_U), SHADOW_FILLED);
	cr_assert_eq(sentry(ru, LA_U + 6 * 0x1000, 1), 0, "expected no supervisor page");
	cr_assert_neq(sentry(ru, LA_U + 7 * 0x1000, 1), 0);
	check_coherent();
}

Test(shadow_coherence, the_backends_accessed_bit_in_a_leaf_is_no_right_taken_away)
{
	uint64_t r = root(false), *pt;

	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P | PTE_W, UPPER);
	assert_result(fill(false, LA_K, 0), SHADOW_FILLED); /* read: D clear, read-only */
	pt = mon_table(sentry(r, LA_K, 2) & PTE_ADDR_MASK);
	pt[idx(LA_K, 1)] |= PTE_A; /* the backend's walk set it */
	sh.kvm_stale = false;
	assert_result(fill(false, LA_K, PFEC_W), SHADOW_FILLED);
	cr_assert(sentry(r, LA_K, 1) & PTE_W);
	cr_assert_not(sh.kvm_stale, "expected a leaf made writable to need no KVM flush");
	*gentry(gcr3, LA_K, 1) = FRAME_B | PTE_P | PTE_W;
	shadow_pte_written(&sh, entry_gpa(gcr3, LA_K, 1), 8);
	cr_assert(sh.kvm_stale_guest, "expected a dropped leaf to need one");
}

Test(shadow_prefetch, a_guest_fault_is_filled_once_the_guest_fixed_its_table)
{
	uint64_t r = root(false);
	uint32_t pfec;

	assert_result(fill(false, LA_K, PFEC_W), SHADOW_GUEST_FAULT);
	shadow_note_fault(&sh, gcr3, false, LA_K, PFEC_W);
	cr_assert_not(shadow_prefill(&sh, gcr3, false, &WP_NXE), "expected nothing to fill yet");
	cr_assert_not(shadow_prefill(&sh, gcr3, true, &WP_NXE), "expected another root ignored");
	/* The handler maps the page; the resumption after it fills the entry. */
	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P | PTE_W, UPPER);
	cr_assert(shadow_prefill(&sh, gcr3, false, &WP_NXE));
	cr_assert_eq(sentry(r, LA_K, 1) & PTE_ADDR_MASK, FRAME_A);
	cr_assert(*gentry(gcr3, LA_K, 1) & PTE_A);
	cr_assert_eq(*gentry(gcr3, LA_K, 1) & PTE_D, 0, "expected D left to the write itself");
	cr_assert_eq(sh.stats.prefilled, 1);
	cr_assert_not(shadow_prefill(&sh, gcr3, false, &WP_NXE), "expected the note used up");
	/* A note whose fix never comes lapses. */
	shadow_note_fault(&sh, gcr3, false, LA_U, 0);
	for (int i = 0; i < 20; i++)
		cr_assert_not(shadow_prefill(&sh, gcr3, false, &WP_NXE));
	gmap(gcr3, LA_U, 1, FRAME_B, USER_RW, UPPER);
	cr_assert_not(shadow_prefill(&sh, gcr3, false, &WP_NXE), "expected the note lapsed");
	cr_assert_eq(shadow_fill(&sh, gcr3, false, LA_U, 0, &WP_NXE, &pfec), SHADOW_FILLED);
	check_coherent();
}

Test(shadow_prefetch, a_leaf_the_guest_writes_goes_in_as_it_writes_it)
{
	uint64_t rk = root(false), ru = root(true);
	uint64_t far = LA_U + 100 * 0x1000ULL; /* beyond a miss's prefetch */

	gmap(gcr3, LA_U, 1, FRAME_A, USER_RW | PTE_A, UPPER);
	assert_result(fill(false, LA_U, PFEC_U), SHADOW_FILLED);
	assert_result(fill(true, LA_U, PFEC_U), SHADOW_FILLED);
	/* mmu_update of an empty entry of that table: in both roots at once. */
	*gentry(gcr3, far, 1) = FRAME_B | USER_RW | PTE_A | PTE_D;
	shadow_pte_written(&sh, entry_gpa(gcr3, far, 1), 8);
	for (int user = 0; user < 2; user++) {
		uint64_t e = sentry(user ? ru : rk, far, 1);

		cr_assert(e & PTE_P, "root %d: expected the written entry filled", user);
		cr_assert_eq(e & PTE_ADDR_MASK, FRAME_B);
		cr_assert(e & PTE_W, "expected D set: writable");
	}
	cr_assert_eq(sh.stats.refilled, 2);
	/* A new frame for a filled entry: the old one goes (KVM told at the flush point), the
	 * new one comes in. */
	sh.kvm_stale_guest = false;
	*gentry(gcr3, far, 1) = FRAME_A | USER_RW | PTE_A;
	shadow_pte_written(&sh, entry_gpa(gcr3, far, 1), 8);
	cr_assert_eq(sentry(rk, far, 1) & PTE_ADDR_MASK, FRAME_A);
	cr_assert_eq(sentry(rk, far, 1) & PTE_W, 0, "expected D clear: read-only");
	cr_assert(sh.kvm_stale_guest, "expected the old translation flushed at the flush point");
	/* Never used (A clear): left to the access, which sets A. */
	*gentry(gcr3, far + 0x1000, 1) = FRAME_B | USER_RW;
	shadow_pte_written(&sh, entry_gpa(gcr3, far + 0x1000, 1), 8);
	cr_assert_eq(sentry(rk, far + 0x1000, 1), 0);
	cr_assert_eq(*gentry(gcr3, far + 0x1000, 1) & PTE_A, 0, "expected A untouched");
	/* A supervisor page: the kernel root only. */
	*gentry(gcr3, far + 0x2000, 1) = FRAME_B | PTE_P | PTE_W | PTE_A;
	shadow_pte_written(&sh, entry_gpa(gcr3, far + 0x2000, 1), 8);
	cr_assert_neq(sentry(rk, far + 0x2000, 1), 0);
	cr_assert_eq(sentry(ru, far + 0x2000, 1), 0, "expected no supervisor page for the user");
	/* Not present: nothing. */
	*gentry(gcr3, far + 0x3000, 1) = FRAME_B | PTE_A;
	shadow_pte_written(&sh, entry_gpa(gcr3, far + 0x3000, 1), 8);
	cr_assert_eq(sentry(rk, far + 0x3000, 1), 0);
	cr_assert_eq(sh.stats.refilled, 5); /* 2 + 2 (both roots) + 1 (the kernel's) */
	check_coherent();
}

/*
 * The zap log (a KVM without TDP, docs/shadow-mode.md): KVM keeps its own shadow of the
 * pool and sees only what the stub writes. kvm_view models it - per pool slot, the entry
 * KVM derived something from, or UNSEEN - and kvm_run() plays a guest entry: the log is
 * exported and decoded as the stub would (or the memslot flushed when lodger asks for
 * that), then no busy pool entry may have lost anything KVM still holds unless it waits
 * in the log for the guest's flush point; and KVM may derive from every busy entry.
 */
#define UNSEEN (~0ULL)
static uint64_t *kvm_view;
static unsigned kvm_memslot_flushes, kvm_zap_runs;

static int model_memslot_flush(void *ctx)
{
	(void)ctx;
	for (uint64_t i = 0; i < sh.pool_pages * 512; i++)
		kvm_view[i] = UNSEEN;
	kvm_memslot_flushes++;
	return 0;
}

static void zap_setup_pool(uint64_t pool_pages)
{
	setup_pool(pool_pages);
	kvm_view = calloc(pool_pages * 512, sizeof(*kvm_view));
	cr_assert(kvm_view);
	model_memslot_flush(NULL);
	kvm_memslot_flushes = kvm_zap_runs = 0;
	cr_assert_eq(shadow_zap_enable(&sh, model_memslot_flush, NULL), 0);
}

static void zap_setup(void)
{
	zap_setup_pool(POOL_PAGES);
}

static void zap_teardown(void)
{
	free(kvm_view);
	kvm_view = NULL;
	teardown();
}

static uint64_t *pool_entry(uint32_t slot)
{
	return MON_PTR(&mem, POOL_OFF + slot * 8ULL, 8);
}

static bool zap_logged(uint32_t slot)
{
	return sh.zap_overflow || (sh.zap_logged[slot / 64] >> (slot % 64) & 1);
}

/* KVM holding what it derived from `was` gives the guest something `now` does not. */
static bool takes_away(uint64_t was, uint64_t now, int level)
{
	uint64_t ad = PTE_A | PTE_D;

	if (was == UNSEEN || !(was & PTE_P))
		return false;
	if ((was & ~ad) == (now & ~ad))
		return false;
	/* A leaf made writable: a write fault makes KVM walk again. */
	return level != 1 || ((was | PTE_W) & ~ad) != (now & ~ad);
}

/* What the stub does with an exported log: each named entry written again, KVM drops
 * what it derived from it; the window's slots cleared. */
static void stub_runs_log(void)
{
	static struct stub_zap_log log;
	static uint64_t window[STUB_POOL_SLOTS];

	memset(&log, 0xa5, sizeof(log));
	memset(window, 0, sizeof(window));
	shadow_zap_export(&sh, &log, window);
	cr_assert_leq(log.nr_writes, STUB_ZAP_MAX);
	cr_assert_leq(log.nr_slots, STUB_POOL_SLOTS);
	for (uint32_t i = 0; i < log.nr_slots; i++) {
		uint64_t pte = window[i], gpa = pte & PTE_ADDR_MASK;

		cr_assert_eq(pte & ~PTE_ADDR_MASK, PTE_P | PTE_W | PTE_NX,
			     "window slot %u: %#llx not P|W|NX, supervisor", i,
			     (unsigned long long)pte);
		cr_assert(gpa >= MON_GPA + POOL_OFF &&
				  gpa < MON_GPA + POOL_OFF + sh.pool_pages * 0x1000,
			  "window slot %u maps %#llx, outside the pool", i,
			  (unsigned long long)gpa);
	}
	for (uint32_t i = 0; i < log.nr_writes; i++) {
		uint32_t off = log.writes[i], w = off / 0x1000;
		uint32_t slot;

		cr_assert_lt(w, log.nr_slots, "write %u in window slot %u of %u", i, w,
			     log.nr_slots);
		cr_assert_eq(off % 8, 0);
		slot = (uint32_t)(((window[w] & PTE_ADDR_MASK) - MON_GPA - POOL_OFF) / 8 +
				  off % 0x1000 / 8);
		cr_assert(zap_logged(slot), "the log names slot %u, never logged", slot);
		kvm_view[slot] = UNSEEN;
	}
	kvm_zap_runs++;
	shadow_kvm_zapped(&sh);
}

static void kvm_run(void)
{
	if (sh.kvm_stale) {
		if (shadow_zap_ready(&sh)) {
			stub_runs_log();
		} else {
			model_memslot_flush(NULL);
			shadow_kvm_flushed(&sh);
		}
	}
	for (uint32_t p = 0; p < sh.pool_pages; p++) {
		if (!sh.page_busy[p])
			continue;
		for (uint32_t slot = p * 512; slot < (p + 1) * 512; slot++) {
			uint64_t now = *pool_entry(slot);

			if (takes_away(kvm_view[slot], now, sh.pg_level[p])) {
				cr_assert(zap_logged(slot) && !sh.kvm_stale,
					  "KVM still holds %#llx at pool slot %u (level %d), now "
					  "%#llx, and nothing will tell it",
					  (unsigned long long)kvm_view[slot], slot, sh.pg_level[p],
					  (unsigned long long)now);
				continue;
			}
			if (!zap_logged(slot))
				kvm_view[slot] = now;
		}
	}
}

TestSuite(shadow_zap, .init = zap_setup, .fini = zap_teardown);

Test(shadow_zap, an_unmap_reaches_kvm_through_the_stub_not_the_memslot)
{
	uint64_t r = root(false), slot;

	gmap(gcr3, LA_K, 1, FRAME_A, PTE_P | PTE_W | PTE_D, UPPER);
	assert_result(fill(false, LA_K, PFEC_W), SHADOW_FILLED);
	kvm_run();
	/* The guest unmaps the page and invlpg's it. */
	*gentry(gcr3, LA_K, 1) = 0;
	shadow_invlpg(&sh, gcr3, LA_K);
	cr_assert_eq(sentry(r, LA_K, 1), 0);
	cr_assert(sh.kvm_stale && shadow_zap_ready(&sh));
	cr_assert_eq(sh.nr_zaps, 1, "expected exactly the one entry logged, got %u", sh.nr_zaps);
	slot = sh.zap_log[0];
	cr_assert_eq(*pool_entry((uint32_t)slot), 0);
	kvm_run();
	cr_assert_eq(kvm_zap_runs, 1);
	cr_assert_eq(kvm_memslot_flushes, 0, "expected no memslot flush");
	cr_assert_eq(sh.nr_zaps, 0);
	check_tables();
}

Test(shadow_zap, freed_tables_wait_for_a_memslot_flush_when_the_pool_runs_dry)
{
	uint64_t cr3s[3] = {gcr3, galloc(), galloc()};

	zap_teardown();
	zap_setup_pool(12);
	for (int n = 0; n < 1000; n++) {
		random_user_fill(cr3s);
		kvm_run();
		if (n % 50 == 0)
			check_tables();
	}
	check_tables();
	cr_assert_gt(sh.stats.evictions, 10);
	cr_assert_gt(kvm_memslot_flushes, 10, "expected the dry pool to flush KVM");
	cr_assert_eq(sh.stats.pool_flushes, kvm_memslot_flushes);
}

Test(shadow_zap, a_log_too_long_or_a_moved_stub_falls_back_to_the_memslot)
{
	uint64_t la = 0x00007f0000000000ULL;

	/* 1,100 pages mapped, then unmapped by the guest one by one (mmu_update-like). */
	for (unsigned i = 0; i < 1100; i++)
		gmap(gcr3, la + i * 0x1000ULL, 1, FRAME_A, USER_RW | PTE_A, UPPER);
	for (unsigned i = 0; i < 1100; i++)
		assert_result(fill(false, la + i * 0x1000ULL, PFEC_U), SHADOW_FILLED);
	kvm_run();
	for (unsigned i = 0; i < 1100; i++) {
		*gentry(gcr3, la + i * 0x1000ULL, 1) = 0;
		shadow_pte_written(&sh, entry_gpa(gcr3, la + i * 0x1000ULL, 1), 8);
		kvm_run(); /* before the guest's flush point: KVM may keep them */
	}
	cr_assert(sh.zap_overflow, "expected more than the log holds");
	shadow_invlpg(&sh, gcr3, la);
	cr_assert(sh.kvm_stale && !shadow_zap_ready(&sh));
	kvm_run();
	cr_assert_eq(kvm_memslot_flushes, 1);
	cr_assert_not(sh.zap_overflow);
	/* Relocation: the stub's own path changed, which its writes cannot fix. */
	shadow_set_stub_base(&sh, NEW_STUB);
	cr_assert_not(shadow_zap_ready(&sh));
	kvm_run();
	cr_assert_eq(kvm_memslot_flushes, 2);
	check_tables();
}

Test(shadow_zap, random_writes_switches_and_flushes_never_leave_kvm_stale)
{
	uint64_t cr3s[4] = {gcr3, galloc(), galloc(), galloc()};

	for (int n = 0; n < 3000; n++) {
		random_guest_step(cr3s, true);
		kvm_run();
		if (n % 100 == 99)
			check_coherent();
	}
	check_coherent();
	cr_assert_gt(kvm_zap_runs, 100, "only %u zap runs", kvm_zap_runs);
	cr_assert_gt(sh.stats.zap_writes, kvm_zap_runs);
}
