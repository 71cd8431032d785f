/*
 * paging - the guest's own 4-level page tables are honoured as the architecture says:
 * a mapping it adds is seen, one it removes faults, a changed one is seen after invlpg;
 * two virtual pages aliasing one frame see each other's writes; CR3 switches between
 * address spaces (same VA, different frames); the CPU sets Accessed on a walk and Dirty
 * on a write in the guest's entries, again after the guest clears them and flushes.
 *
 * Must behave identically in direct mode (hardware walks the guest tables) and in shadow
 * mode (lodger shadows them and must keep the same TLB rules and A/D bits:
 * docs/shadow-mode.md).
 */
#include "rt.h"

GUEST("paging");

#define VA1	 0x0000010000000000ULL /* 1 TiB: a fresh PML4 slot, so all four levels are ours */
#define VA2	 0x0000020000201000ULL /* another PML4 slot, not 2 MiB aligned */
#define PATTERN1 0x1111111111111111ULL
#define PATTERN2 0x2222222222222222ULL

static struct {
	unsigned count;
	uint64_t error, cr2;
} faults;

static void page_fault(struct rt_frame *f)
{
	faults.count++;
	faults.error = f->error;
	faults.cr2 = read_cr2();
	if (!rt_fixup(f))
		rt_unexpected(f);
}

static void fill(uint64_t frame, uint64_t pattern)
{
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		poke(frame + 8 * i, pattern + i);
}

void guest_main(void)
{
	static volatile uint64_t marker = 0x6d61726b6572;
	uint64_t *a, *b, f1, f2;
	/* The CPU writes A and D behind the compiler's back: read entries through volatile. */
	volatile uint64_t *pte;

	rt_set_handler(VEC_PF, page_fault);

	STEP("build our own 4-level tables (RAM 1:1) and switch CR3 to them");
	a = pt_new_kernel_space();
	write_cr3((uint64_t)a);
	CHECK_EQ(read_cr3() & PTE_ADDR, (uint64_t)a);
	CHECK_EQ(marker, 0x6d61726b6572);
	f1 = (uint64_t)rt_alloc_page();
	f2 = (uint64_t)rt_alloc_page();
	fill(f1, PATTERN1);
	fill(f2, PATTERN2);

	STEP("map VA1 -> frame 1: reads see the frame, writes reach it");
	CHECK_EQ(rt_probe_read(VA1), 0);
	CHECK_EQ(faults.count, 1);
	CHECK_EQ(faults.cr2, VA1);
	pt_map(a, VA1, f1, PTE_W);
	invlpg(VA1);
	CHECK_EQ(peek(VA1), PATTERN1);
	CHECK_EQ(peek(VA1 + 8 * 64), PATTERN1 + 64);
	poke(VA1 + 8, 0xa11a5);
	CHECK_EQ(peek(f1 + 8), 0xa11a5);

	STEP("map VA2 -> frame 1 too: the two aliases see each other's writes");
	pt_map(a, VA2, f1, PTE_W);
	invlpg(VA2);
	poke(VA2 + 16, 0xface);
	CHECK_EQ(peek(VA1 + 16), 0xface);
	poke(VA1 + 16, 0xfeed);
	CHECK_EQ(peek(VA2 + 16), 0xfeed);

	STEP("unmap VA1 and invlpg: it faults (not present), VA2 still works");
	pt_unmap(a, VA1);
	invlpg(VA1);
	CHECK_EQ(rt_probe_read(VA1 + 0x40), 0);
	CHECK_EQ(faults.count, 2);
	CHECK_EQ(faults.error, 0);
	CHECK_EQ(faults.cr2, VA1 + 0x40);
	CHECK_EQ(peek(VA2 + 16), 0xfeed);

	STEP("remap VA1 -> frame 2: after invlpg it reads frame 2");
	pt_map(a, VA1, f2, PTE_W);
	invlpg(VA1);
	CHECK_EQ(peek(VA1), PATTERN2);

	STEP("change VA1 back to frame 1 in place: after invlpg it reads frame 1");
	peek(VA1); /* the old translation is in use right before the change */
	pt_map(a, VA1, f1, PTE_W);
	invlpg(VA1);
	CHECK_EQ(peek(VA1 + 16), 0xfeed);
	pt_map(a, VA1, f2, PTE_W);
	invlpg(VA1);
	CHECK_EQ(peek(VA1), PATTERN2);
	CHECK_EQ(faults.count, 2);

	STEP("a second address space maps VA1 -> frame 1; CR3 picks which one we see");
	b = pt_new_kernel_space();
	pt_map(b, VA1, f1, PTE_W);
	write_cr3((uint64_t)b);
	CHECK_EQ(peek(VA1 + 16), 0xfeed);
	CHECK_EQ(rt_probe_read(VA2), 0); /* VA2 is only in the first space */
	CHECK_EQ(faults.count, 3);
	CHECK_EQ(faults.cr2, VA2);
	write_cr3((uint64_t)a);
	CHECK_EQ(peek(VA1), PATTERN2);
	CHECK_EQ(peek(VA2 + 16), 0xfeed);
	write_cr3((uint64_t)b);
	poke(VA1 + 24, 0xb0b);
	write_cr3((uint64_t)a);
	CHECK_EQ(peek(VA2 + 24), 0xb0b);
	CHECK_EQ(peek(VA1 + 24), PATTERN2 + 3);

	STEP("Accessed and Dirty: clear both, invlpg; a read sets A only, a write sets D");
	pte = pt_walk(a, VA1, NULL);
	CHECK(pte != NULL);
	CHECK_EQ(*pte & PTE_ADDR, f2);
	*pte &= ~(PTE_A | PTE_D);
	invlpg(VA1);
	peek(VA1);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A);
	poke(VA1, 1);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);

	STEP("clear them again and invlpg: a write sets both");
	*pte &= ~(PTE_A | PTE_D);
	invlpg(VA1);
	poke(VA1, 2);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);
	CHECK_EQ(peek(f2), 2);

	STEP("clear A at every level and reload CR3: one read sets all four");
	for (int level = 4; level >= 1; level--)
		*(volatile uint64_t *)pt_entry(a, VA1, level) &= ~PTE_A;
	write_cr3((uint64_t)a);
	peek(VA1);
	for (int level = 4; level >= 1; level--)
		CHECK_EQ(*(volatile uint64_t *)pt_entry(a, VA1, level) & PTE_A, PTE_A);
	CHECK_EQ(*pte & PTE_D, PTE_D); /* D untouched by the walk */

	STEP("no other page fault happened");
	CHECK_EQ(faults.count, 3);

	DONE();
}
