/*
 * test_xen_preempt.c - long hypercalls are cut into rounds (xen/hypercall.h): mmu_update,
 * mmuext_op and multicall do a bounded amount of work per trap and continue as Xen's do
 * (the guest's `syscall` made again, arguments moved on, *pdone accumulated); the search
 * behind "no writable mapping of a page table" reads each table once however a hostile
 * guest links them; and what lodger writes into guest RAM reaches the shadow.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <xen/errno.h>
#include <xen/sched.h>

#include "shadow/pagewalk.h"
#include "xen/domain.h"
#include "xen/families.h"
#include "xen/hypercall.h"
#include "xen_fixture.h"

#define RAM	   0x2000000ULL /* 32 MiB: 8,192 frames */
#define SCRATCH	   0x200000ULL	/* mapped, writable; virtual == physical */
#define SYSCALL_AT 0x5000ULL	/* where the guest's `syscall` is: RIP is 2 bytes past it */
#define DATA_PAGE  0x300000ULL

static struct guest_mem mem;
static struct xen_domain d;
static struct xen_layout l;
static struct xen_vcpu v;
static uint64_t written_gpa[64], written_len[64];
static unsigned writes;

static void pte_written(void *o, uint64_t gpa, uint64_t len)
{
	(void)o;
	if (writes < 64) {
		written_gpa[writes] = gpa;
		written_len[writes] = len;
	}
	writes++;
}

static const struct xen_hooks hooks = {.pte_written = pte_written};

static void setup(void)
{
	xen_fixture_vcpu(&mem, RAM, &d, &l, &v, &hooks);
	cr_assert_gt(l.v_end, SCRATCH + 0x10000);
	writes = 0;
}

static void teardown(void)
{
	xen_domain_free(&d);
	mem_free(&mem);
}

TestSuite(preempt, .init = setup, .fini = teardown);

static void *at(uint64_t gpa)
{
	return mem.ram + gpa;
}

/* The guest executes `syscall` at SYSCALL_AT with these registers. */
static void guest_syscall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	v.regs.rax = nr;
	v.regs.rdi = a0, v.regs.rsi = a1, v.regs.rdx = a2, v.regs.r10 = a3;
	v.regs.rip = SYSCALL_AT + 2;
	xen_hypercall_regs(&v);
}

/* Runs the `syscall` again while lodger says to (RIP back on it): the rounds it took. */
static unsigned until_done(void)
{
	unsigned rounds = 1;

	while (v.regs.rip == SYSCALL_AT && rounds < 100) {
		v.regs.rip = SYSCALL_AT + 2;
		xen_hypercall_regs(&v);
		rounds++;
	}
	return rounds;
}

static void fill_updates(uint64_t list, unsigned n, unsigned bad)
{
	struct mmu_update *u = at(list);

	for (unsigned i = 0; i < n; i++)
		u[i] = (struct mmu_update){.ptr = (i == bad ? RAM * 2 : DATA_PAGE + (i % 512) * 8) |
						  MMU_NORMAL_PT_UPDATE,
					   .val = i};
}

Test(preempt, a_long_mmu_update_runs_in_rounds)
{
	uint64_t list = SCRATCH + 0x1000;
	uint32_t *done = at(SCRATCH);

	fill_updates(list, 3000, ~0u);
	guest_syscall(__HYPERVISOR_mmu_update, list, 3000, SCRATCH, DOMID_SELF);
	cr_assert_eq(v.regs.rip, SYSCALL_AT, "made again: RIP on the syscall");
	cr_expect_eq(v.regs.rax, __HYPERVISOR_mmu_update, "RAX the number again, no result");
	cr_expect_eq(v.regs.rdi, list + XEN_HCALL_WORK_MAX * sizeof(struct mmu_update));
	cr_expect_eq(v.regs.rsi, (3000 - XEN_HCALL_WORK_MAX) | XEN_MMU_UPDATE_PREEMPTED);
	cr_expect_eq(v.regs.rdx, SCRATCH);
	cr_expect_eq(v.regs.r10, DOMID_SELF);
	cr_expect_eq(*done, XEN_HCALL_WORK_MAX, "pdone holds the work done so far");
	cr_expect_eq(until_done(), 3);
	cr_expect_eq(v.regs.rax, 0);
	cr_expect_eq(v.regs.rip, SYSCALL_AT + 2);
	cr_expect_eq(*done, 3000);
	cr_expect_eq(d.continuations, 2);
	for (unsigned i = 0; i < 512; i++) /* the last write to each entry won */
		cr_expect_eq(((uint64_t *)at(DATA_PAGE))[i], i + (i < 3000 % 512 ? 2560 : 2048));
}

Test(preempt, a_refusal_in_a_later_round_counts_every_round)
{
	uint64_t list = SCRATCH + 0x1000;
	uint32_t *done = at(SCRATCH);

	fill_updates(list, 3000, 2000);
	guest_syscall(__HYPERVISOR_mmu_update, list, 3000, SCRATCH, DOMID_SELF);
	until_done();
	cr_expect_eq((long)v.regs.rax, -XEN_EINVAL);
	cr_expect_eq(*done, 2000, "the entries before the refused one, over two rounds");
}

Test(preempt, a_short_mmu_update_is_one_round)
{
	uint64_t list = SCRATCH + 0x1000;

	fill_updates(list, 32, ~0u);
	guest_syscall(__HYPERVISOR_mmu_update, list, 32, 0, DOMID_SELF);
	cr_expect_eq(v.regs.rip, SYSCALL_AT + 2);
	cr_expect_eq(v.regs.rax, 0);
	cr_expect_eq(d.continuations, 0);
}

Test(preempt, a_long_mmuext_op_runs_in_rounds)
{
	struct mmuext_op *op = at(SCRATCH + 0x1000);
	uint32_t *done = at(SCRATCH);

	for (unsigned i = 0; i < 1500; i++)
		op[i] = (struct mmuext_op){.cmd = MMUEXT_INVLPG_LOCAL, .arg1.linear_addr = 0x1000};
	guest_syscall(__HYPERVISOR_mmuext_op, SCRATCH + 0x1000, 1500, SCRATCH, DOMID_SELF);
	cr_expect_eq(v.regs.rip, SYSCALL_AT);
	cr_expect_eq(v.regs.rsi, (1500 - XEN_HCALL_WORK_MAX) | XEN_MMU_UPDATE_PREEMPTED);
	cr_expect_eq(until_done(), 2);
	cr_expect_eq(v.regs.rax, 0);
	cr_expect_eq(*done, 1500);
}

static struct multicall_entry *mc(unsigned i)
{
	return (struct multicall_entry *)at(SCRATCH + 0xe000) + i;
}

/* A call in a multicall that runs out of its share: its new arguments go back into its
 * entry, and the multicall is made again from that entry. */
Test(preempt, a_call_inside_a_multicall_continues_in_its_entry)
{
	uint64_t list0 = SCRATCH + 0x1000, list1 = SCRATCH + 0x5000;
	uint32_t *done0 = at(SCRATCH), *done1 = at(SCRATCH + 4);

	fill_updates(list0, 800, ~0u);
	fill_updates(list1, 800, ~0u);
	*mc(0) = (struct multicall_entry){.op = __HYPERVISOR_mmu_update,
					  .args = {list0, 800, SCRATCH, DOMID_SELF}};
	*mc(1) = (struct multicall_entry){.op = __HYPERVISOR_mmu_update,
					  .args = {list1, 800, SCRATCH + 4, DOMID_SELF}};
	guest_syscall(__HYPERVISOR_multicall, SCRATCH + 0xe000, 2, 0, 0);
	cr_assert_eq(v.regs.rip, SYSCALL_AT);
	cr_expect_eq(v.regs.rax, __HYPERVISOR_multicall);
	cr_expect_eq(v.regs.rdi, SCRATCH + 0xe000 + sizeof(struct multicall_entry), "from entry 1");
	cr_expect_eq(v.regs.rsi, 1);
	cr_expect_eq(mc(0)->result, 0);
	cr_expect_eq(*done0, 800);
	cr_expect_eq(mc(1)->op, __HYPERVISOR_mmu_update);
	cr_expect_gt(mc(1)->args[0], list1, "entry 1's list moved on");
	cr_expect(mc(1)->args[1] & XEN_MMU_UPDATE_PREEMPTED);
	cr_expect_eq(until_done(), 2);
	cr_expect_eq(d.continuations, 1, "one per round made again, the inner call's included");
	cr_expect_eq(v.regs.rax, 0);
	cr_expect_eq(mc(1)->result, 0);
	cr_expect_eq(*done1, 800, "the rounds add up");
}

/* Between entries too: the multicall continues at the first entry not run. */
Test(preempt, a_multicall_is_cut_between_entries)
{
	uint64_t list0 = SCRATCH + 0x1000;

	fill_updates(list0, XEN_HCALL_WORK_MAX - 4, ~0u);
	*mc(0) = (struct multicall_entry){.op = __HYPERVISOR_mmu_update,
					  .args = {list0, XEN_HCALL_WORK_MAX - 4, 0, DOMID_SELF}};
	for (unsigned i = 1; i < 8; i++)
		*mc(i) = (struct multicall_entry){.op = __HYPERVISOR_stack_switch,
						  .args = {0x2b, 0x1000 + i}};
	guest_syscall(__HYPERVISOR_multicall, SCRATCH + 0xe000, 8, 0, 0);
	cr_assert_eq(v.regs.rip, SYSCALL_AT);
	/* 1 + 1020 units for entry 0, then one per entry until the share is used */
	cr_expect_eq(v.regs.rdi, SCRATCH + 0xe000 + 4 * sizeof(struct multicall_entry));
	cr_expect_eq(v.regs.rsi, 4);
	cr_expect_eq(v.kernel_sp, 0x1003, "entries 1-3 ran");
	cr_expect_eq(until_done(), 2);
	cr_expect_eq(v.kernel_sp, 0x1007);
	cr_expect_eq(v.regs.rax, 0);
}

/* A hypercall that is not a list is never cut, whatever was done before it. */
Test(preempt, the_share_is_per_hypercall)
{
	uint64_t list = SCRATCH + 0x1000;

	fill_updates(list, XEN_HCALL_WORK_MAX, ~0u);
	guest_syscall(__HYPERVISOR_mmu_update, list, XEN_HCALL_WORK_MAX, 0, DOMID_SELF);
	cr_expect_eq(v.regs.rip, SYSCALL_AT + 2, "exactly one share: done in one round");
	guest_syscall(__HYPERVISOR_mmu_update, list, 2, 0, DOMID_SELF);
	cr_expect_eq(v.regs.rip, SYSCALL_AT + 2, "a new call starts with a new share");
}

/* The guest's L1 entry for `va` in the builder's tables. */
static uint64_t l1e_gpa(uint64_t va)
{
	uint64_t t = l.cr3;

	for (int level = 4; level > 1; level--)
		t = *(uint64_t *)at(t + ((va >> (3 + 9 * level)) & 511) * 8) & PTE_ADDR_MASK;
	return t + ((va >> 12) & 511) * 8;
}

static long ext(struct mmuext_op op)
{
	*(struct mmuext_op *)at(SCRATCH + 0xf000) = op;
	guest_syscall(__HYPERVISOR_mmuext_op, SCRATCH + 0xf000, 1, 0, DOMID_SELF);
	return (long)v.regs.rax;
}

/* Copies table frame `from` to frame `to`; returns `to`'s guest-physical address. */
static uint64_t copy_table(uint64_t from, uint64_t to)
{
	memcpy(at(to * 4096), at(from & PTE_ADDR_MASK), 4096);
	return to * 4096;
}

/*
 * Hostile: hundreds of pinned L4s whose every entry points at the L4 itself, read as an
 * L3 and an L2 too. Asking whether an L1 is still in use reads each (frame, level) once:
 * the work is three reads per such frame, not 496 * 512 * 512 (0.2 s each before, and a
 * guest could pin thousands).
 */
Test(preempt, self_referencing_pinned_tables_are_searched_once)
{
	const unsigned n = 256;
	uint64_t first = 0x1000, target = l1e_gpa(0) & PTE_ADDR_MASK;
	uint64_t l4, l3, l2;

	cr_assert_eq(d.frame_type[target >> 12] & XEN_FRAME_LEVEL, 1, "the builder's first L1");
	cr_assert_neq(target, l1e_gpa(SCRATCH) & PTE_ADDR_MASK);
	/* the guest's own tree: the builder's, without the first 2 MiB */
	l4 = copy_table(l.cr3, 0x1800);
	l3 = copy_table(*(uint64_t *)at(l4), 0x1801);
	l2 = copy_table(*(uint64_t *)at(l3), 0x1802);
	*(uint64_t *)at(l2) = 0;
	*(uint64_t *)at(l3) = l2 | PTE_P | PTE_W;
	*(uint64_t *)at(l4) = l3 | PTE_P | PTE_W;
	cr_assert_eq(ext((struct mmuext_op){.cmd = MMUEXT_NEW_BASEPTR, .arg1.mfn = l4 >> 12}), 0);
	cr_assert_eq(ext((struct mmuext_op){.cmd = MMUEXT_UNPIN_TABLE, .arg1.mfn = l.cr3 >> 12}),
		     0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t f = first + i, *t = at(f * 4096);

		for (unsigned e = 0; e < 512; e++)
			t[e] = f * 4096 | PTE_P | PTE_W;
		cr_assert_eq(ext((struct mmuext_op){.cmd = MMUEXT_PIN_L4_TABLE, .arg1.mfn = f}), 0);
	}
	*(struct mmu_update *)at(SCRATCH + 0xf100) =
		(struct mmu_update){.ptr = l1e_gpa(SCRATCH + 0x1000), .val = target | 7};
	guest_syscall(__HYPERVISOR_mmu_update, SCRATCH + 0xf100, 1, 0, DOMID_SELF);
	cr_expect_eq(v.regs.rax, 0, "nothing reaches the first L1 now: ordinary memory");
	cr_expect_eq(d.frame_type[target >> 12], XEN_FRAME_NONE);
	cr_expect_leq(v.hcall_work, 1 + d.nr_pages / 512 + 3 * n + 3, "work %llu",
		      (unsigned long long)v.hcall_work);
}

/* A base pointer is in use, pinned or not (Xen holds a type reference for it): no
 * writable mapping of it, nor of what it reaches, until the guest has left it. */
Test(preempt, a_loaded_base_pointer_is_a_table_in_use)
{
	uint64_t l4 = 0x1000, l3 = *(uint64_t *)at(l.cr3) & PTE_ADDR_MASK;
	uint64_t slot = l1e_gpa(SCRATCH + 0x1000);
	struct mmu_update *u = at(SCRATCH + 0xf100);

	memcpy(at(l4 * 4096), at(l.cr3), 4096); /* a copy of the builder's L4, unpinned */
	cr_assert_eq(ext((struct mmuext_op){.cmd = MMUEXT_NEW_BASEPTR, .arg1.mfn = l4}), 0);
	cr_assert_eq(ext((struct mmuext_op){.cmd = MMUEXT_UNPIN_TABLE, .arg1.mfn = l.cr3 >> 12}),
		     0);
	*u = (struct mmu_update){.ptr = slot, .val = l4 * 4096 | 7};
	guest_syscall(__HYPERVISOR_mmu_update, SCRATCH + 0xf100, 1, 0, DOMID_SELF);
	cr_expect_eq((long)v.regs.rax, -XEN_EINVAL, "the loaded L4, writable");
	u->val = l3 | 7;
	guest_syscall(__HYPERVISOR_mmu_update, SCRATCH + 0xf100, 1, 0, DOMID_SELF);
	cr_expect_eq((long)v.regs.rax, -XEN_EINVAL, "an L3 the loaded L4 reaches");
	cr_assert_eq(ext((struct mmuext_op){.cmd = MMUEXT_NEW_BASEPTR, .arg1.mfn = l.cr3 >> 12}),
		     0);
	u->val = l4 * 4096 | 7;
	guest_syscall(__HYPERVISOR_mmu_update, SCRATCH + 0xf100, 1, 0, DOMID_SELF);
	cr_expect_eq(v.regs.rax, 0, "left: ordinary memory again");
}

/* update_va_mapping writes only into an L1 in the guest's own frames: an L2 entry the
 * guest pointed at shared_info (a store lodger never saw) gives -EINVAL, not a write
 * into lodger's page. */
Test(preempt, update_va_mapping_writes_only_guest_frames)
{
	uint64_t l2e, t = l.cr3;

	for (int level = 4; level > 2; level--)
		t = *(uint64_t *)at(t + ((SCRATCH >> (3 + 9 * level)) & 511) * 8) & PTE_ADDR_MASK;
	l2e = t + ((SCRATCH >> 21) & 511) * 8;
	*(uint64_t *)at(l2e) = d.shared_info_gpa | PTE_P | PTE_W;
	uint8_t before[4096];

	memcpy(before, at(d.shared_info_gpa), sizeof(before));
	guest_syscall(__HYPERVISOR_update_va_mapping, SCRATCH, DATA_PAGE | 7, 0, 0);
	cr_expect_eq((long)v.regs.rax, -XEN_EINVAL);
	cr_expect_arr_eq(at(d.shared_info_gpa), before, sizeof(before));
}

/* What lodger writes into guest RAM for a hypercall is reported like a guest's store: the
 * output may land in a page table (one the guest has writable: lodger types only pinned
 * tables and base pointers), and the shadow must not keep what it derived from it. */
Test(preempt, hypercall_output_reaches_the_shadow)
{
	uint64_t list = SCRATCH + 0x1000, out = SCRATCH + 0x800;
	bool seen = false;

	fill_updates(list, 1, ~0u);
	guest_syscall(__HYPERVISOR_mmu_update, list, 1, out, DOMID_SELF);
	cr_expect_eq(v.regs.rax, 0);
	for (unsigned i = 0; i < writes && i < 64; i++)
		seen |= written_gpa[i] == out && written_len[i] == 4;
	cr_expect(seen, "the 4-byte `done` was reported");
}

/* SCHEDOP_block in a multicall: the vCPU sleeps at once, the entries after it run when it
 * wakes (the multicall continues from the next entry), as Xen's preemption does. */
Test(preempt, block_in_a_multicall_ends_the_round)
{
	*mc(0) = (struct multicall_entry){.op = __HYPERVISOR_sched_op, .args = {SCHEDOP_block}};
	*mc(1) = (struct multicall_entry){.op = __HYPERVISOR_stack_switch, .args = {0x2b, 0x77}};
	guest_syscall(__HYPERVISOR_multicall, SCRATCH + 0xe000, 2, 0, 0);
	cr_expect(v.blocked);
	cr_expect_eq(v.regs.rip, SYSCALL_AT);
	cr_expect_eq(v.regs.rdi, SCRATCH + 0xe000 + sizeof(struct multicall_entry));
	cr_expect_eq(v.regs.rsi, 1);
	cr_expect_neq(v.kernel_sp, 0x77, "not before the vCPU wakes");
	v.blocked = false;
	cr_expect_eq(until_done(), 2);
	cr_expect_eq(v.kernel_sp, 0x77);
}

/* A continuation is the current hypercall's only: one left by a call made outside the
 * guest's syscall path never leaks into the next. */
Test(preempt, a_continuation_never_outlives_its_call)
{
	const uint64_t a[6] = {SCRATCH + 0x1000, 3000, 0, DOMID_SELF};

	fill_updates(SCRATCH + 0x1000, 3000, ~0u);
	cr_expect_eq(xen_hypercall(&v, __HYPERVISOR_mmu_update, a), 0);
	cr_expect(v.cont.pending, "left for a caller that is not there");
	*mc(0) = (struct multicall_entry){.op = __HYPERVISOR_stack_switch, .args = {0x2b, 0x55}};
	guest_syscall(__HYPERVISOR_multicall, SCRATCH + 0xe000, 1, 0, 0);
	cr_expect_eq(v.regs.rip, SYSCALL_AT + 2);
	cr_expect_eq(v.regs.rax, 0);
	cr_expect_eq(mc(0)->op, __HYPERVISOR_stack_switch, "the entry as the guest wrote it");
	cr_expect_eq(v.kernel_sp, 0x55);
}

/* update_va_mapping through a linear mapping would find an L4 where the L1 should be:
 * refused (Xen: the frame must be an L1), and the hole's slots stay lodger's. */
Test(preempt, update_va_mapping_never_writes_into_a_higher_level_table)
{
	const uint64_t slot = 200, m2p = 257;
	uint64_t linear = slot << 39 | slot << 30 | slot << 21,
		 before = *(uint64_t *)at(l.cr3 + m2p * 8);

	*(struct mmu_update *)at(SCRATCH + 0xf100) =
		(struct mmu_update){.ptr = l.cr3 + slot * 8, .val = l.cr3 | PTE_P | PTE_A};
	guest_syscall(__HYPERVISOR_mmu_update, SCRATCH + 0xf100, 1, 0, DOMID_SELF);
	cr_assert_eq(v.regs.rax, 0, "a read-only linear L4 mapping is Xen's to allow");
	guest_syscall(__HYPERVISOR_update_va_mapping, linear | m2p << 12, DATA_PAGE | 7, 0, 0);
	cr_expect_eq((long)v.regs.rax, -XEN_EINVAL);
	cr_expect_eq(*(uint64_t *)at(l.cr3 + m2p * 8), before, "lodger's M2P slot");
}

/* Hostile: the guest sets the continuation flag itself. It only makes lodger add to the
 * count at *pdone (its own memory, wrapping as Xen's unsigned int does); with pdone
 * unmapped the count restarts at 0 and the call ends in -EFAULT, as Xen's does. */
Test(preempt, a_continuation_flag_from_the_guest_only_adds_to_its_own_count)
{
	uint64_t list = SCRATCH + 0x1000;
	uint32_t *done = at(SCRATCH);

	fill_updates(list, 4, ~0u);
	*done = 0xfffffffe;
	guest_syscall(__HYPERVISOR_mmu_update, list, 4 | XEN_MMU_UPDATE_PREEMPTED, SCRATCH,
		      DOMID_SELF);
	cr_expect_eq(v.regs.rax, 0);
	cr_expect_eq(*done, 2, "0xfffffffe + 4, as an unsigned int");
	cr_expect_eq(v.regs.rip, SYSCALL_AT + 2, "one round");
	guest_syscall(__HYPERVISOR_mmu_update, list, 4 | XEN_MMU_UPDATE_PREEMPTED,
		      0x7fff00000000ULL, DOMID_SELF);
	cr_expect_eq((long)v.regs.rax, -XEN_EFAULT, "the updates done, the count unwritable");
	cr_expect_eq(((uint64_t *)at(DATA_PAGE))[3], 3);
}
