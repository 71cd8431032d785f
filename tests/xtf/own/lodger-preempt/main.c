/*
 * lodger-preempt - lodger's own XTF test: hypercalls whose lists are longer than one trap's
 * share of work (mmu_update, mmuext_op, multicall) complete as if made in one piece, the
 * way Xen's preempted and continued hypercalls do: every entry done once and in order, the
 * `done` counts summed over the rounds, a refused entry stopping the call where it is, a
 * count of 2^31 - 1 costing only the entries before the refusal. Built with XTF's own
 * framework (tests/xtf/run_xtf.py --build) and run under lodger like XTF's tests; it
 * passes on Xen as well. The runner also asks lodger's -stats that the rounds happened.
 */
#include <xtf.h>

const char test_title[] = "lodger: long hypercalls, preempted and continued";

#define LONG_LIST 3000

static mmuext_op_t ext[LONG_LIST];
static mmu_update_t upd[LONG_LIST];
static struct multicall_entry calls[1500];
static uint8_t data_page[PAGE_SIZE] __page_aligned_bss;

static void invlpg_list(mmuext_op_t *ops, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		ops[i] = (mmuext_op_t){
			.cmd = MMUEXT_INVLPG_LOCAL,
			.arg1.linear_addr = _u(data_page),
		};
}

static void check_ext(const char *what, unsigned int count, unsigned int bad, long want_rc,
		      unsigned int want_done)
{
	unsigned int done = 0xdead;
	long rc;

	invlpg_list(ext, LONG_LIST);
	if (bad < LONG_LIST)
		ext[bad].cmd = 200; /* no such command: -ENOSYS */
	rc = hypercall_mmuext_op(ext, count, &done, DOMID_SELF);
	if (rc != want_rc || done != want_done)
		xtf_failure("Fail: mmuext_op %s: rc %ld done %u, expected %ld and %u\n", what, rc,
			    done, want_rc, want_done);
}

void test_main(void)
{
	unsigned long mfn = virt_to_mfn(data_page), pfn = virt_to_pfn(data_page);
	unsigned int done = 0xdead, done_a = 0xdead, done_b = 0xdead;
	long version = hypercall_xen_version(XENVER_version, NULL);
	long rc;

	check_ext("of 3000 entries", LONG_LIST, ~0u, 0, LONG_LIST);
	check_ext("refused at entry 2500", LONG_LIST, 2500, -ENOSYS, 2500);
	check_ext("of 2^31 - 1, refused at 1500", 0x7fffffff, 1500, -ENOSYS, 1500);

	/* mmu_update: the M2P entry of one of our pages, set to what it is, 3000 times */
	for (unsigned int i = 0; i < LONG_LIST; i++)
		upd[i] = (mmu_update_t){
			.ptr = ((uint64_t)mfn << PAGE_SHIFT) | MMU_MACHPHYS_UPDATE,
			.val = pfn,
		};
	rc = hypercall_mmu_update(upd, LONG_LIST, &done, DOMID_SELF);
	if (rc || done != LONG_LIST)
		xtf_failure("Fail: mmu_update of 3000 entries: rc %ld done %u\n", rc, done);

	/* a call inside a multicall that needs several rounds */
	invlpg_list(ext, LONG_LIST);
	calls[0] = (struct multicall_entry){
		.op = __HYPERVISOR_mmuext_op,
		.args = {_u(ext), 800, _u(&done_a), DOMID_SELF},
	};
	calls[1] = (struct multicall_entry){
		.op = __HYPERVISOR_mmuext_op,
		.args = {_u(&ext[800]), 2000, _u(&done_b), DOMID_SELF},
	};
	rc = hypercall_multicall(calls, 2);
	if (rc || calls[0].result || calls[1].result || done_a != 800 || done_b != 2000)
		xtf_failure("Fail: multicall of two mmuext_op: rc %ld, results %ld %ld, "
			    "done %u %u\n",
			    rc, (long)calls[0].result, (long)calls[1].result, done_a, done_b);

	/* a multicall with more entries than one round takes */
	for (unsigned int i = 0; i < ARRAY_SIZE(calls); i++)
		calls[i] = (struct multicall_entry){
			.op = __HYPERVISOR_xen_version,
			.args = {XENVER_version},
			.result = 0xdead,
		};
	rc = hypercall_multicall(calls, ARRAY_SIZE(calls));
	for (unsigned int i = 0; i < ARRAY_SIZE(calls); i++)
		if ((long)calls[i].result != version) {
			xtf_failure("Fail: multicall entry %u: result %ld, expected %ld\n", i,
				    (long)calls[i].result, version);
			break;
		}
	if (rc)
		xtf_failure("Fail: multicall of %zu entries: rc %ld\n", ARRAY_SIZE(calls), rc);

	xtf_success(NULL);
}
