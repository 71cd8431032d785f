/*
 * test_shadow_protect.c - a hostile guest against the shadow's write protection of its
 * page tables (src/shadow/shadow.c): one table frame mirrored hundreds of times and the
 * frames around it mapped writable millions of times over must cost each flush point
 * one protection of that frame, walking its own writable leaves only.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "shadow/pagewalk.h"
#include "shadow/shadow.h"

#define RAM_SIZE     (64ULL << 20)
#define MON_GPA	     (4ULL << 30)
#define MON_SIZE     (8ULL << 20)
#define STUB_PT_GPA  MON_GPA
#define OPEN_BUS_GPA (1ULL << 40)
#define POOL_OFF     0x2000ULL
#define STUB_BASE    0x40000000ULL
#define MIRRORS	     300 /* more than the unsync mirrors a flush point keeps (256) */

static struct guest_mem mem;
static struct shadow sh;
static uint64_t gnext = 32ULL << 20;

static uint64_t galloc(void)
{
	uint64_t p = gnext;

	gnext += 0x1000;
	memset(mem.ram + p, 0, 0x1000);
	return p;
}

static uint64_t *entry(uint64_t table, unsigned i)
{
	return (uint64_t *)(mem.ram + table) + i;
}

static void setup(void)
{
	mem.ram = calloc(1, RAM_SIZE);
	mem.monitor = calloc(1, MON_SIZE);
	cr_assert(mem.ram && mem.monitor);
	mem.ram_size = RAM_SIZE;
	mem.monitor_gpa = MON_GPA;
	mem.monitor_size = MON_SIZE;
	cr_assert_eq(shadow_init(&sh, &mem, POOL_OFF, (MON_SIZE - POOL_OFF) / 0x1000, STUB_BASE,
				 STUB_PT_GPA, OPEN_BUS_GPA),
		     0);
}

static void teardown(void)
{
	shadow_destroy(&sh);
	free(mem.ram);
	free(mem.monitor);
}

TestSuite(shadow_protect, .init = setup, .fini = teardown);

/*
 * L1 frame F1 is the leaf table of MIRRORS page directory entries (so MIRRORS shadow
 * mirrors) and maps data frame G writable in all 512 entries; F0 maps F1 itself writable.
 * The guest writes F1 through F0 (every mirror goes unsync), then reloads CR3: the flush
 * point protects F1 again, once, and G's leaves stay writable.
 */
Test(shadow_protect, many_mirrors_of_one_table_cost_one_protection)
{
	const struct shadow_guest_mode mode = {.wp = true, .nxe = true};
	uint64_t cr3 = galloc(), pdpt = galloc(), pd = galloc(), f1 = galloc(), g = galloc();
	uint64_t pdpt2 = galloc(), pd2 = galloc(), f0 = galloc();
	uint64_t base = 1ULL << 39, alias = 2ULL << 39;
	uint32_t pfec;

	*entry(cr3, 1) = pdpt | 7;
	*entry(pdpt, 0) = pd | 7;
	for (unsigned e = 0; e < MIRRORS; e++)
		*entry(pd, e) = f1 | 7;
	for (unsigned i = 0; i < 512; i++)
		*entry(f1, i) = g | 7 | PTE_A | PTE_D;
	*entry(cr3, 2) = pdpt2 | 7;
	*entry(pdpt2, 0) = pd2 | 7;
	*entry(pd2, 0) = f0 | 7;
	*entry(f0, 0) = f1 | 7 | PTE_A | PTE_D;
	cr_assert(shadow_root(&sh, cr3, false, false));
	for (unsigned k = 0; k < MIRRORS; k++)
		for (unsigned i = 0; i < 512; i += 64)
			cr_assert_eq(shadow_fill(&sh, cr3, false,
						 base + (uint64_t)k * 0x200000 + i * 0x1000ULL, 0,
						 &mode, &pfec),
				     SHADOW_FILLED, "mirror %u entry %u", k, i);
	for (int round = 0; round < 3; round++) {
		uint64_t before;

		cr_assert_eq(shadow_fill(&sh, cr3, false, alias, PFEC_W, &mode, &pfec),
			     SHADOW_FILLED, "the guest writes its table");
		cr_assert_geq(sh.nr_unsync, MIRRORS, "every mirror unsync");
		before = sh.stats.protects;
		shadow_switch_root(&sh, cr3, false);
		cr_expect_eq(sh.stats.protects - before, 1, "round %d: F1 protected once", round);
		cr_expect(shadow_is_protected(&sh, f1));
	}
	cr_expect(!shadow_is_protected(&sh, g), "G is data: its leaves stay writable");
	/* the writable leaves are listed by the exact frame: G's list holds G's leaves only,
	 * and F1's (now protected) none, so protecting F1 never walks G's */
	unsigned of_g = 0, others = 0;

	for (uint32_t m = sh.whead[g >> 12]; m; m = sh.wnext[m - 1]) {
		uint64_t e = sh.pool_host[m - 1];

		of_g += (e & PTE_ADDR_MASK) == g;
		others += (e & PTE_ADDR_MASK) != g;
	}
	cr_expect_geq(of_g, MIRRORS * 8, "every leaf filled, %u", of_g);
	cr_expect_eq(others, 0);
	cr_expect_eq(sh.whead[f1 >> 12], 0, "no writable leaf maps F1");
}
