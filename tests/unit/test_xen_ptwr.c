/*
 * test_xen_ptwr.c - writable page tables (src/xen/ptwr.c): the guest kernel's stores to
 * its read-only L1 tables, decoded, checked as mmu_update checks, applied, reported.
 *
 * The guest is the domain builder's synthetic kernel (VIRT_BASE 0, so virtual ==
 * physical), whose bootstrap tables are mapped read-only: a store to an L1 table's own
 * address is exactly the fault ptwr sees. The instruction is placed at CODE.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "shadow/pagewalk.h"
#include "xen/domain.h"
#include "xen/families.h"
#include "xen/ptwr.h"
#include "xen_fixture.h"
#include "xen_image.h"

#define RAM  (32ULL << 20)
#define CODE 0x200000ULL /* inside the bootstrap region, writable */
#define W_PF (PFEC_P | PFEC_W | PFEC_U)

static struct guest_mem mem;
static struct xen_domain d;
static struct xen_layout l;
static struct xen_vcpu v;
static uint64_t l1; /* an L1 table's guest-physical (and virtual) address */
static unsigned pte_writes;
static uint64_t last_pte;

static void pte_written(void *o, uint64_t gpa, uint64_t len)
{
	(void)o;
	cr_expect_eq(len, 8, "one entry");
	pte_writes++;
	last_pte = gpa;
}

static const struct xen_hooks hooks = {.pte_written = pte_written};

static void setup(void)
{
	xen_fixture_build(&mem, RAM, &d, &l);
	xen_vcpu_init(&v, &d, &l);
	v.hooks = &hooks;
	d.vm_assist |= 1UL << VMASST_TYPE_writable_pagetables;
	l1 = 0;
	for (uint64_t f = 0; f < d.nr_pages && !l1; f++)
		if (d.frame_type[f] == 1)
			l1 = f * 4096;
	cr_assert_neq(l1, 0, "the builder types its L1 tables");
	pte_writes = 0;
	last_pte = 0;
}

static void teardown(void)
{
	xen_domain_free(&d);
	mem_free(&mem);
}

TestSuite(ptwr, .init = setup, .fini = teardown);

static uint64_t *entry(unsigned slot)
{
	return (uint64_t *)(mem.ram + l1 + slot * 8);
}

/* Places the instruction at CODE with RDI = the store's address; runs the fault. */
static enum xen_ptwr store(const char *bytes, unsigned len, uint64_t rdi, uint32_t pfec)
{
	struct gfault f;

	memcpy(mem.ram + CODE, bytes, len);
	v.regs.rip = CODE;
	v.regs.rdi = rdi;
	return xen_ptwr_fault(&v, rdi, pfec, &f);
}

static const uint64_t data_pte = 0x180000 | PTE_P | PTE_W | PTE_U | PTE_A;

Test(ptwr, mov_applies_a_valid_entry)
{
	uint64_t before = *entry(5);

	v.regs.rax = data_pte;
	cr_assert_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(5), data_pte);
	cr_expect_neq(before, data_pte);
	cr_expect_eq(v.regs.rip, CODE + 3, "past the instruction");
	cr_expect_eq(pte_writes, 1);
	cr_expect_eq(last_pte, l1 + 5 * 8, "the core hears which entry changed");
	cr_expect_eq(d.ptwr_emulated, 1);
}

Test(ptwr, entry_outside_guest_memory_is_refused)
{
	uint64_t before = *entry(5);

	v.regs.rax = (RAM + 0x1000) | PTE_P | PTE_U;
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE);
	v.regs.rax = (1ULL << 51) | PTE_P; /* far past RAM, inside the address mask */
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE);
	cr_expect_eq(*entry(5), before, "nothing written");
	cr_expect_eq(v.regs.rip, CODE, "the #PF goes to the guest as it was");
	cr_expect_eq(pte_writes, 0);
}

Test(ptwr, writable_mapping_of_a_page_table_is_refused)
{
	v.regs.rax = l1 | PTE_P | PTE_W | PTE_U;
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE);
	v.regs.rax = (l.cr3 & PTE_ADDR_MASK) | PTE_P | PTE_W; /* the pinned L4 */
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE);
	v.regs.rax = l1 | PTE_P | PTE_U; /* read-only: allowed */
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(5), l1 | PTE_P | PTE_U);
	cr_expect_eq(pte_writes, 1);
}

Test(ptwr, non_present_entries_are_written)
{
	v.regs.rax = 0xdead0000; /* not present: any address */
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 7 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(7), 0xdead0000);
}

Test(ptwr, unaligned_and_split_stores_are_refused)
{
	uint64_t before = *entry(5);

	v.regs.rax = data_pte;
	/* mov %rax,4(%rdi): 8 bytes at an address 4 mod 8 */
	cr_expect_eq(store("\x48\x89\x47\x04", 4, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE);
	/* mov %rax,0xffc(%rdi): half in the next page */
	cr_expect_eq(store("\x48\x89\x87\xfc\x0f\x00\x00", 7, l1, W_PF), XEN_PTWR_NOT_MINE);
	/* mov %eax,2(%rdi): a 4-byte store at 2 mod 4 */
	cr_expect_eq(store("\x89\x47\x02", 3, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE);
	/* mov %rax,8(%rdi) with cr2 a page below: outside the faulting page */
	cr_expect_eq(store("\x48\x89\x87\x00\x10\x00\x00", 7, l1, W_PF), XEN_PTWR_NOT_MINE);
	cr_expect_eq(*entry(5), before);
	cr_expect_eq(pte_writes, 0);
}

Test(ptwr, sub_word_store_is_widened_and_checked)
{
	*entry(9) = data_pte;
	/* mov %eax,4(%rdi): the upper half; NX set, the frame unchanged */
	v.regs.rax = 0x80000000;
	cr_expect_eq(store("\x89\x47\x04", 3, l1 + 9 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(9), data_pte | PTE_NX);
	/* mov %eax,(%rdi): the lower half, pointing at the L1 itself, writable: refused */
	v.regs.rax = (uint32_t)(l1 | PTE_P | PTE_W);
	cr_expect_eq(store("\x89\x07", 2, l1 + 9 * 8, W_PF), XEN_PTWR_NOT_MINE);
	cr_expect_eq(*entry(9), data_pte | PTE_NX);
}

Test(ptwr, lock_andb_clears_rw_as_fork_does)
{
	*entry(11) = data_pte;
	/* lock andb $0xfd,(%rdi): Linux's clear_bit(_PAGE_BIT_RW) */
	cr_assert_eq(store("\xf0\x80\x27\xfd", 4, l1 + 11 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(11), data_pte & ~PTE_W);
	cr_expect_eq(v.regs.rip, CODE + 4);
	cr_expect_eq(pte_writes, 1);
}

Test(ptwr, lock_btr_reports_the_old_bit)
{
	*entry(12) = data_pte;
	v.regs.rsi = 5; /* _PAGE_BIT_ACCESSED */
	v.regs.rflags = 0x202;
	/* lock btr %rsi,(%rdi): test_and_clear_bit */
	cr_assert_eq(store("\xf0\x48\x0f\xb3\x37", 5, l1 + 12 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(12), data_pte & ~PTE_A);
	cr_expect_eq(v.regs.rflags & 1, 1, "CF: the bit was set");
	cr_assert_eq(store("\xf0\x48\x0f\xb3\x37", 5, l1 + 12 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(v.regs.rflags & 1, 0, "CF: now clear");
	/* a register offset of 64 + 1 reaches the next entry's bit 1 */
	*entry(13) = data_pte;
	v.regs.rsi = 65;
	cr_assert_eq(store("\xf0\x48\x0f\xb3\x37", 5, l1 + 12 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(13), data_pte & ~PTE_W);
}

Test(ptwr, xchg_returns_the_old_entry)
{
	*entry(14) = data_pte;
	v.regs.rax = 0;
	/* xchg %rax,(%rdi): ptep_get_and_clear */
	cr_assert_eq(store("\x48\x87\x07", 3, l1 + 14 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(14), 0);
	cr_expect_eq(v.regs.rax, data_pte);
}

Test(ptwr, cmpxchg_success_and_failure)
{
	*entry(15) = data_pte;
	v.regs.rax = data_pte;
	v.regs.rcx = data_pte | PTE_D;
	/* lock cmpxchg %rcx,(%rdi) */
	cr_assert_eq(store("\xf0\x48\x0f\xb1\x0f", 5, l1 + 15 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(15), data_pte | PTE_D);
	cr_expect(v.regs.rflags & (1 << 6), "ZF: exchanged");
	v.regs.rax = 0x1234; /* a stale expectation */
	v.regs.rcx = 0;
	cr_assert_eq(store("\xf0\x48\x0f\xb1\x0f", 5, l1 + 15 * 8, W_PF), XEN_PTWR_DONE);
	cr_expect_eq(*entry(15), data_pte | PTE_D, "unchanged");
	cr_expect_eq(v.regs.rax, data_pte | PTE_D, "RAX gets what is there");
	cr_expect(!(v.regs.rflags & (1 << 6)), "ZF clear");
	/* a cmpxchg installing a bad entry is refused even when it compares equal */
	v.regs.rax = data_pte | PTE_D;
	v.regs.rcx = (RAM << 1) | PTE_P;
	cr_expect_eq(store("\xf0\x48\x0f\xb1\x0f", 5, l1 + 15 * 8, W_PF), XEN_PTWR_NOT_MINE);
	cr_expect_eq(*entry(15), data_pte | PTE_D);
}

Test(ptwr, only_kernel_writes_to_present_l1_pages)
{
	v.regs.rax = data_pte;
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, PFEC_W | PFEC_U), XEN_PTWR_NOT_MINE,
		     "not present");
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, PFEC_P | PFEC_U), XEN_PTWR_NOT_MINE,
		     "a read");
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, W_PF | PFEC_RSVD), XEN_PTWR_NOT_MINE);
	v.kernel_mode = false;
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE, "user mode");
	v.kernel_mode = true;
	d.vm_assist = 0;
	cr_expect_eq(store("\x48\x89\x07", 3, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE,
		     "without VMASST_TYPE_writable_pagetables");
	d.vm_assist = 1UL << VMASST_TYPE_writable_pagetables;
	/* the L4 is read-only too, but only L1 tables are emulated */
	cr_expect_eq(store("\x48\x89\x07", 3, l.cr3 & PTE_ADDR_MASK, W_PF), XEN_PTWR_NOT_MINE);
	/* a writable page: a real fault, not ptwr's */
	cr_expect_eq(store("\x48\x89\x07", 3, CODE + 0x800, W_PF), XEN_PTWR_NOT_MINE);
	cr_expect_eq(pte_writes, 0);
}

Test(ptwr, other_instructions_and_garbage_bounce)
{
	v.regs.rax = 1;
	cr_expect_eq(store("\x48\x01\x07", 3, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE, "add");
	cr_expect_eq(store("\x0f\x0b", 2, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE, "ud2");
	cr_expect_eq(store("\xf3\x48\xab", 3, l1 + 5 * 8, W_PF), XEN_PTWR_NOT_MINE, "rep stosq");
	cr_expect_eq(pte_writes, 0);
}

Test(ptwr, unmapped_instruction_is_the_fetch_fault)
{
	struct gfault f;

	v.regs.rip = 0x7fff00000000ULL;
	v.regs.rdi = l1 + 5 * 8;
	cr_expect_eq(xen_ptwr_fault(&v, l1 + 5 * 8, W_PF, &f), XEN_PTWR_FAULT);
	cr_expect_eq(f.vector, 14);
	cr_expect(f.error & PFEC_I);
	cr_expect_eq(f.cr2, 0x7fff00000000ULL);
}
