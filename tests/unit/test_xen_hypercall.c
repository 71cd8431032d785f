/*
 * test_xen_hypercall.c - argument validation of every hypercall family (src/xen/): bad
 * pointers, bad frames, out-of-range counts and hostile multicall lists get Xen's error
 * code, never a crash or a host access outside guest RAM (run under ASan in CI).
 *
 * The guest is a synthetic XTF-like kernel built by the domain builder, so the guest's
 * page tables are real: arguments are placed in its mapped region (SCRATCH) by physical
 * address and passed by virtual address (VIRT_BASE 0: equal).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <xen/callback.h>
#include <xen/io/console.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/memory.h>
#include <xen/physdev.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>

#include "front/log.h"
#include "xen/domain.h"
#include "xen/families.h"
#include "xen/hypercall.h"
#include "xen_fixture.h"
#include "xen_image.h"

#define RAM	 (32ULL << 20)
#define SCRATCH	 0x200000ULL	   /* inside the bootstrap region, writable */
#define UNMAPPED 0x7fff00000000ULL /* canonical, never mapped */
#define NONCANON 0x8000000000000000ULL

static struct guest_mem mem;
static struct xen_domain d;
static struct xen_layout l;
static struct xen_vcpu v;
static char console[4096];
static unsigned console_len, console_writes, pte_writes, flushes, roots;

static void console_write(void *o, const char *b, unsigned n)
{
	(void)o;
	console_writes++;
	if (console_len + n < sizeof(console)) {
		memcpy(console + console_len, b, n);
		console_len += n;
	}
}

/* Reports of guest RAM written: page-table entries (8 bytes) and hypercall outputs. */
static void pte_written(void *o, uint64_t gpa, uint64_t len)
{
	(void)o, (void)gpa;
	pte_writes += len == 8;
}

static void flush_all(void *o)
{
	(void)o;
	flushes++;
}

static void new_root(void *o, bool user, uint64_t gpa)
{
	(void)o, (void)user, (void)gpa;
	roots++;
}

static const struct xen_hooks hooks = {
	.pte_written = pte_written,
	.flush_all = flush_all,
	.new_root = new_root,
	.console_write = console_write,
};

static void setup(void)
{
	xen_fixture_vcpu(&mem, RAM, &d, &l, &v, &hooks);
	cr_assert_gt(l.v_end, SCRATCH + 0x10000);
	console_len = pte_writes = flushes = roots = 0;
}

static void teardown(void)
{
	xen_domain_free(&d);
	mem_free(&mem);
}

TestSuite(hc, .init = setup, .fini = teardown);

static long call(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	const uint64_t a[6] = {a0, a1, a2, a3, 0, 0};

	return xen_hypercall(&v, nr, a);
}

static void *at(uint64_t gpa)
{
	return mem.ram + gpa;
}

/* As the guest makes it: `syscall` at 0x5000, made again while lodger continues the call
 * (xen/hypercall.h, preemption); the result, and in *rounds how many it took. */
static long call_rounds(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
			unsigned *rounds)
{
	v.regs.rax = nr;
	v.regs.rdi = a0, v.regs.rsi = a1, v.regs.rdx = a2, v.regs.r10 = a3;
	*rounds = 0;
	do {
		v.regs.rip = 0x5002;
		xen_hypercall_regs(&v);
		++*rounds;
	} while (v.regs.rip == 0x5000 && *rounds < 100000);
	return (long)v.regs.rax;
}

Test(hc, unknown_numbers_are_enosys)
{
	cr_expect_eq(call(7, 0, 0, 0, 0), -XEN_ENOSYS, "platform_op");
	cr_expect_eq(call(__HYPERVISOR_grant_table_op, 0, 0, 0, 0), -XEN_ENOSYS);
	cr_expect_eq(call(63, 0, 0, 0, 0), -XEN_ENOSYS);
	cr_expect_eq(call(~0ULL, 0, 0, 0, 0), -XEN_ENOSYS);
	cr_expect_eq(call(__HYPERVISOR_iret, 0, 0, 0, 0), -XEN_ENOSYS, "iret is the bounce's");
}

Test(hc, regs_interface)
{
	v.regs.rax = __HYPERVISOR_xen_version;
	v.regs.rdi = XENVER_version;
	xen_hypercall_regs(&v);
	cr_expect_eq(v.regs.rax, 4 << 16 | 17);
	cr_expect_str_eq(xen_hypercall_name(__HYPERVISOR_mmu_update), "mmu_update");
}

/* -d xen reads the top of the guest's stack: at a hostile RSP (unmapped, non-canonical,
 * straddling the end of the mapping) the hypercall still completes and the log shows 0s;
 * at a mapped one it shows the words there. */
static void stack_logged(uint64_t rsp, const char *want)
{
	char path[] = "/tmp/lodger-hc-logXXXXXX", line[512] = "";
	int fd = mkstemp(path);
	FILE *f;

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(log_open_file(path), 0);
	log_set_mask(LOG_XEN);
	v.regs.rsp = rsp;
	cr_expect_eq(call(__HYPERVISOR_xen_version, XENVER_version, 0, 0, 0), 4 << 16 | 17,
		     "rsp %#llx", (unsigned long long)rsp);
	log_set_mask(0);
	log_close();
	f = fopen(path, "r");
	cr_assert(f);
	cr_expect(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	cr_expect(strstr(line, want), "rsp %#llx: %s lacks %s", (unsigned long long)rsp, line,
		  want);
}

Test(hc, debug_log_reads_a_hostile_stack_safely)
{
	uint64_t *words = at(SCRATCH + 0x100);

	words[0] = 0x11, words[1] = 0x22, words[2] = 0x33;
	stack_logged(SCRATCH + 0x100, "(stack 0x11 0x22 0x33)");
	stack_logged(UNMAPPED, "(stack 0 0 0)");
	stack_logged(NONCANON, "(stack 0 0 0)");
	stack_logged(~7ULL, "(stack 0 0 0)");
	stack_logged(l.v_end - 8, "(stack 0 0 0)");
}

Test(hc, console_io)
{
	memcpy(at(SCRATCH), "hello", 5);
	cr_expect_eq(call(__HYPERVISOR_console_io, CONSOLEIO_write, 5, SCRATCH, 0), 0);
	cr_expect_eq(console_len, 5);
	cr_expect_eq(call(__HYPERVISOR_console_io, CONSOLEIO_write, 5, UNMAPPED, 0), -XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_console_io, CONSOLEIO_write, 5, NONCANON, 0), -XEN_EFAULT);
	unsigned rounds, chunks = console_writes;

	cr_expect_eq(call_rounds(__HYPERVISOR_console_io, CONSOLEIO_write, 0xffffffff, SCRATCH, 0,
				 &rounds),
		     -XEN_EFAULT, "a huge count runs off the mapping");
	chunks = console_writes - chunks; /* of 256 bytes, one unit of work each */
	cr_expect_gt(rounds, 1);
	cr_expect_eq(rounds, chunks / XEN_HCALL_WORK_MAX + 1, "%u rounds for %u chunks", rounds,
		     chunks);
	cr_expect_eq(call(__HYPERVISOR_console_io, 99, 0, 0, 0), -XEN_ENOSYS);
}

Test(hc, console_ring_hostile_producer)
{
	struct xencons_interface *ring = at(d.console_gpa);

	memcpy(ring->out, "ab", 2);
	ring->out_prod = 2;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, SCRATCH, 0, 0), -XEN_EINVAL,
		     "port 0 is closed");
	*(evtchn_port_t *)at(SCRATCH) = 2;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, SCRATCH, 0, 0), 0);
	cr_expect_eq(console_len, 2);
	cr_expect_eq(ring->out_cons, 2);
	ring->out_prod = 0x80000000u; /* far ahead: at most one ring's worth */
	console_len = 0;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, SCRATCH, 0, 0), 0);
	cr_expect_leq(console_len, sizeof(ring->out));
	cr_expect_eq(ring->out_cons, 0x80000000u);
}

Test(hc, console_ring_is_written_out_in_runs_across_the_wrap)
{
	struct xencons_interface *ring = at(d.console_gpa);
	const char text[] = "0123456789abcdef";
	const unsigned start = sizeof(ring->out) - 6, n = sizeof(text) - 1;

	for (unsigned i = 0; i < n; i++)
		ring->out[MASK_XENCONS_IDX(start + i, ring->out)] = text[i];
	ring->out_cons = start;
	ring->out_prod = start + n;
	*(evtchn_port_t *)at(SCRATCH) = 2;
	console_len = console_writes = 0;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, SCRATCH, 0, 0), 0);
	cr_expect_eq(console_len, n);
	cr_expect_arr_eq(console, text, n);
	cr_expect_eq(console_writes, 2, "one write each side of the wrap, not one per byte");
	cr_expect_eq(ring->out_cons, start + n);
}

Test(hc, xen_version)
{
	xen_feature_info_t *f = at(SCRATCH);
	char *extra = at(SCRATCH + 0x100);

	memset(extra, 0xaa, sizeof(xen_extraversion_t));
	cr_expect_eq(call(__HYPERVISOR_xen_version, XENVER_extraversion, SCRATCH + 0x100, 0, 0), 0);
	for (size_t i = strlen(extra); i < sizeof(xen_extraversion_t); i++)
		cr_assert_eq(extra[i], 0, "no stale bytes after the string (XSA-122)");
	f->submap_idx = 0;
	cr_expect_eq(call(__HYPERVISOR_xen_version, XENVER_get_features, SCRATCH, 0, 0), 0);
	cr_expect(f->submap & 1u << XENFEAT_writable_page_tables);
	/* Linux's PV boot panics without these two (xen_setup_features) */
	cr_expect(f->submap & 1u << XENFEAT_mmu_pt_update_preserve_ad);
	cr_expect(f->submap & 1u << XENFEAT_gnttab_map_avail_bits);
	f->submap_idx = 1;
	cr_expect_eq(call(__HYPERVISOR_xen_version, XENVER_get_features, SCRATCH, 0, 0),
		     -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_xen_version, XENVER_get_features, UNMAPPED, 0, 0),
		     -XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_xen_version, XENVER_capabilities, UNMAPPED, 0, 0),
		     -XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_xen_version, XENVER_commandline, SCRATCH, 0, 0), -XEN_EPERM);
	cr_expect_eq(call(__HYPERVISOR_xen_version, XENVER_pagesize, 0, 0, 0), 4096);
	cr_expect_eq(call(__HYPERVISOR_xen_version, 1000, 0, 0, 0), -XEN_ENOSYS);
}

Test(hc, set_trap_table)
{
	struct trap_info *t = at(SCRATCH);

	t[0] = (struct trap_info){
		.vector = 14, .flags = 4, .cs = FLAT_KERNEL_CS, .address = 0x100100};
	t[1] = (struct trap_info){0};
	cr_expect_eq(call(__HYPERVISOR_set_trap_table, SCRATCH, 0, 0, 0), 0);
	cr_expect_eq(v.traps[14].address, 0x100100);
	t[0].address = NONCANON;
	cr_expect_eq(call(__HYPERVISOR_set_trap_table, SCRATCH, 0, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_set_trap_table, UNMAPPED, 0, 0, 0), -XEN_EFAULT);
	/* an unterminated table runs off the end of the mapping */
	t = at(l.v_end - 0x10000);
	for (unsigned i = 0; i < 0x10000 / sizeof(*t); i++)
		t[i] = (struct trap_info){.vector = (uint8_t)i, .address = 0x100000};
	cr_expect_eq(call(__HYPERVISOR_set_trap_table, l.v_end - 0x10000, 0, 0, 0), -XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_set_trap_table, 0, 0, 0, 0), 0, "0 clears");
	cr_expect_eq(v.traps[14].address, 0);
}

Test(hc, callback_op)
{
	struct callback_register *r = at(SCRATCH);
	struct callback_unregister *u = at(SCRATCH + 0x100);

	*r = (struct callback_register){
		.type = CALLBACKTYPE_event, .flags = CALLBACKF_mask_events, .address = 0x100200};
	cr_expect_eq(call(__HYPERVISOR_callback_op, CALLBACKOP_register, SCRATCH, 0, 0), 0);
	cr_expect_eq(v.event_cb, 0x100200);
	cr_expect(v.event_mask);
	r->address = NONCANON;
	cr_expect_eq(call(__HYPERVISOR_callback_op, CALLBACKOP_register, SCRATCH, 0, 0),
		     -XEN_EINVAL);
	r->address = 0x1000;
	r->type = 77;
	cr_expect_eq(call(__HYPERVISOR_callback_op, CALLBACKOP_register, SCRATCH, 0, 0),
		     -XEN_ENOSYS);
	u->type = CALLBACKTYPE_syscall;
	cr_expect_eq(call(__HYPERVISOR_callback_op, CALLBACKOP_unregister, SCRATCH + 0x100, 0, 0),
		     -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_callback_op, CALLBACKOP_register, UNMAPPED, 0, 0),
		     -XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_callback_op, 42, SCRATCH, 0, 0), -XEN_ENOSYS);
}

Test(hc, small_ones)
{
	cr_expect_eq(call(__HYPERVISOR_stack_switch, FLAT_KERNEL_SS, 0x1234, 0, 0), 0);
	cr_expect_eq(v.kernel_sp, 0x1234);
	cr_expect_eq(call(__HYPERVISOR_fpu_taskswitch, 1, 0, 0, 0), 0);
	cr_expect(v.fpu_ts);
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 8, 0, 0, 0), -XEN_ENODEV);
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 0, __HYPERVISOR_VIRT_START, 0, 0), -XEN_EPERM);
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 1, NONCANON, 0, 0), -XEN_EPERM);
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 3, __HYPERVISOR_VIRT_END, 0, 0), 0,
		     "above Xen's range is the guest's");
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 2, 0x5000, 0, 0), 0);
	cr_expect_eq(call(__HYPERVISOR_get_debugreg, 2, 0, 0, 0), 0x5000);
	cr_expect_eq(call(__HYPERVISOR_get_debugreg, 9, 0, 0, 0), -XEN_ENODEV);
}

/* Xen's set_debugreg and x86emul_read_dr rules for DR6/DR7 (pv/misc-hypercalls.c). */
Test(hc, debug_registers)
{
	cr_expect_eq(call(__HYPERVISOR_get_debugreg, 6, 0, 0, 0), 0xffff0ff0, "DR6 at reset");
	cr_expect_eq(call(__HYPERVISOR_get_debugreg, 7, 0, 0, 0), 0x400, "DR7 at reset");
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 6, 1ULL << 32, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 7, 1ULL << 40, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 7, 0x2000, 0, 0), -XEN_EPERM,
		     "general detect is Xen's");
	/* an I/O breakpoint (R/W0 = 10b) needs CR4.DE, which a PV guest here never has */
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 7, 0x20002, 0, 0), -XEN_EPERM);
	cr_expect_eq(call(__HYPERVISOR_get_debugreg, 7, 0, 0, 0), 0x400, "unchanged");
	/* reserved bits are forced: DR6 bit 12 to 0, the rest of 0xffff0ff0 to 1 */
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 6, 0x1001, 0, 0), 0);
	cr_expect_eq(call(__HYPERVISOR_get_debugreg, 6, 0, 0, 0), 0xffff0ff1);
	/* DR7: bits 11-12 and 14-15 to 0, bit 10 to 1; DR5 is DR7 while CR4.DE is clear */
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 5, 0xd803, 0, 0), 0);
	cr_expect_eq(call(__HYPERVISOR_get_debugreg, 7, 0, 0, 0), 0x403);
	cr_expect_eq(call(__HYPERVISOR_get_debugreg, 4, 0, 0, 0), 0xffff0ff1, "DR4 is DR6");
	cr_expect_eq(call(__HYPERVISOR_set_segment_base, SEGBASE_FS, NONCANON, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_set_segment_base, 9, 0, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_set_segment_base, SEGBASE_GS_KERNEL, 0x7000, 0, 0), 0);
	cr_expect_eq(v.gs_base_kernel, 0x7000);
	cr_expect_eq(call(__HYPERVISOR_vm_assist, VMASST_CMD_enable,
			  VMASST_TYPE_writable_pagetables, 0, 0),
		     0);
	cr_expect_eq(call(__HYPERVISOR_vm_assist, VMASST_CMD_enable, 63, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_vm_assist, VMASST_CMD_enable, ~0ULL, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_vm_assist, 7, VMASST_TYPE_writable_pagetables, 0, 0),
		     -XEN_ENOSYS);
	((struct physdev_set_iopl *)at(SCRATCH))->iopl = 4;
	cr_expect_eq(call(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, SCRATCH, 0, 0), -XEN_EINVAL);
	((struct physdev_set_iopl *)at(SCRATCH))->iopl = 1;
	cr_expect_eq(call(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, SCRATCH, 0, 0), 0);
	cr_expect_eq(v.iopl, 1);
	cr_expect_eq(call(__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, UNMAPPED, 0, 0),
		     -XEN_EFAULT);
}

Test(hc, set_gdt_and_update_descriptor)
{
	uint64_t *frames = at(SCRATCH);

	frames[0] = 0x300;
	cr_expect_eq(call(__HYPERVISOR_set_gdt, SCRATCH, 512, 0, 0), 0);
	frames[0] = d.nr_pages;
	cr_expect_eq(call(__HYPERVISOR_set_gdt, SCRATCH, 512, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_set_gdt, SCRATCH, 9000, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_set_gdt, UNMAPPED, 10, 0, 0), -XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_update_descriptor, 0x300008, 0x00cffa000000ffffULL, 0, 0),
		     0);
	cr_expect_eq(call(__HYPERVISOR_update_descriptor, 0x300004, 0, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_update_descriptor, RAM, 0, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_update_descriptor, l.cr3, 0, 0, 0), -XEN_EINVAL,
		     "a page-table frame");
	cr_expect_eq(call(__HYPERVISOR_update_descriptor, 0x300010, 0x00af9a000000ffffULL, 0, 0),
		     -XEN_EINVAL, "a DPL0 code segment");
}

static struct mmu_update *upd(unsigned i)
{
	return (struct mmu_update *)at(SCRATCH) + i;
}

Test(hc, mmu_update)
{
	uint32_t *done = at(SCRATCH + 0x1000);
	uint64_t l4 = l.cr3;

	/* a plain write to an ordinary frame is allowed, and reported */
	*upd(0) = (struct mmu_update){.ptr = 0x300000 | MMU_NORMAL_PT_UPDATE, .val = 0x1234};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, SCRATCH + 0x1000, DOMID_SELF), 0);
	cr_expect_eq(*done, 1);
	cr_expect_eq(*(uint64_t *)at(0x300000), 0x1234);
	cr_expect_eq(pte_writes, 1);
	/* an L4 entry in the hypervisor hole, even a not-present one */
	*upd(0) = (struct mmu_update){.ptr = l4 + 256 * 8, .val = 0};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL);
	*upd(0) = (struct mmu_update){.ptr = l4 + 271 * 8, .val = 0x300000 | 7};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL);
	/* the table entry of a pinned L4 pointing outside guest memory */
	*upd(0) = (struct mmu_update){.ptr = l4 + 8, .val = (d.nr_pages << 12) | 7};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL);
	*upd(0) = (struct mmu_update){.ptr = l4 + 8, .val = 0x300000 | 7 | 0x80};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL,
		     "no superpages");
	/* the target frame itself outside guest memory */
	*upd(0) = (struct mmu_update){.ptr = RAM * 2, .val = 0};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL);
	/* second entry bad: done says 1 */
	*upd(0) = (struct mmu_update){.ptr = 0x300000, .val = 1};
	*upd(1) = (struct mmu_update){.ptr = ~0ULL & ~3ULL, .val = 1};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 2, SCRATCH + 0x1000, DOMID_SELF),
		     -XEN_EINVAL);
	cr_expect_eq(*done, 1);
	*upd(0) = (struct mmu_update){.ptr = 0x300000 | 3};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_ENOSYS);
	/* M2P: only the identity */
	*upd(0) = (struct mmu_update){.ptr = 0x300000 | MMU_MACHPHYS_UPDATE, .val = 0x300};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), 0);
	upd(0)->val = 0x301;
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL);
	/* foreign domain, bad list, bad done pointer, huge count */
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, 5), -XEN_EPERM);
	cr_expect_eq(call(__HYPERVISOR_mmu_update, UNMAPPED, 1, 0, DOMID_SELF), -XEN_EFAULT);
	upd(0)->ptr = 0x300000, upd(0)->val = 0;
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, UNMAPPED, DOMID_SELF), -XEN_EFAULT);
	memset(at(SCRATCH), 0, 0x1000); /* zero entries: writes of 0 to frame 0 */
	cr_expect_eq(call(__HYPERVISOR_mmu_update, l.v_end - 0x1000, 0xffffffff, 0, DOMID_SELF),
		     -XEN_EFAULT, "runs off the mapping");
}

/* XSA-182: an entry naming a table of its own level is a linear page table, which Xen
 * allows read-only only; one naming a table of any other level than the one below is
 * refused (get_page_from_lNe's type check). */
Test(hc, linear_page_tables)
{
	uint64_t l4 = l.cr3;
	uint64_t l3 = *(uint64_t *)at(l4) & 0x000ffffffffff000ULL; /* the builder's L3 */
	uint64_t slot = l4 + 300 * 8;				   /* a free slot above the hole */

	*upd(0) = (struct mmu_update){.ptr = slot, .val = l4 | 0x25}; /* P U A, read-only */
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), 0,
		     "a read-only linear L4 mapping is allowed");
	cr_expect_eq(*(uint64_t *)at(slot), l4 | 0x25);
	upd(0)->val = l4 | 0x27;
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL,
		     "a writable one is not");
	cr_expect_eq(*(uint64_t *)at(slot), l4 | 0x25, "and nothing was written");
	upd(0)->val = l3 | 0x27;
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), 0,
		     "an L3 under an L4, writable, is ordinary");
	/* an L1 typed by pinning, under an L4 */
	*(struct mmuext_op *)at(SCRATCH + 0x800) =
		(struct mmuext_op){.cmd = MMUEXT_PIN_L1_TABLE, .arg1.mfn = 0x310};
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH + 0x800, 1, 0, DOMID_SELF), 0);
	upd(0)->val = 0x310000 | 0x25;
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL,
		     "an L1 is no L3");
}

Test(hc, no_writable_mapping_of_a_page_table)
{
	uint64_t l1e;
	/* the L1 entry mapping SCRATCH: walk the builder's tables */
	uint64_t t = l.cr3;

	for (int level = 4; level > 1; level--)
		t = *(uint64_t *)at(t + ((SCRATCH >> (3 + 9 * level)) & 511) * 8) & ~0xfffULL;
	l1e = t + ((SCRATCH >> 12) & 511) * 8;
	*upd(0) = (struct mmu_update){.ptr = l1e, .val = l.cr3 | 7};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL,
		     "RW mapping of the pinned L4");
	upd(0)->val = l.cr3 | 5;
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH, 1, 0, DOMID_SELF), 0,
		     "read-only is fine");
	/* update_va_mapping: same rules */
	cr_expect_eq(
		call(__HYPERVISOR_update_va_mapping, SCRATCH + 0x1000, l.cr3 | 7, UVMF_INVLPG, 0),
		-XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_update_va_mapping, SCRATCH + 0x1000, 0x300000 | 7,
			  UVMF_TLB_FLUSH, 0),
		     0);
	cr_expect_eq(flushes, 1);
	cr_expect_eq(
		call(__HYPERVISOR_update_va_mapping, SCRATCH + 0x1000, d.shared_info_gpa | 7, 0, 0),
		0, "shared_info may be mapped");
	cr_expect_eq(call(__HYPERVISOR_update_va_mapping, SCRATCH + 0x1000, RAM * 4 | 7, 0, 0),
		     -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_update_va_mapping, __HYPERVISOR_VIRT_START, 0, 0, 0),
		     -XEN_EINVAL, "the hole");
	cr_expect_eq(call(__HYPERVISOR_update_va_mapping, NONCANON, 0, 0, 0), -XEN_EINVAL);
	cr_expect_eq(call(__HYPERVISOR_update_va_mapping, UNMAPPED, 0, 0, 0), -XEN_EINVAL,
		     "no L1 table there");
}

Test(hc, mmuext_op)
{
	struct mmuext_op *op = at(SCRATCH);
	uint32_t *done = at(SCRATCH + 0x1000);

	op[0] = (struct mmuext_op){.cmd = MMUEXT_PIN_L1_TABLE, .arg1.mfn = 0x300};
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), 0);
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL,
		     "already pinned");
	op[0].cmd = MMUEXT_UNPIN_TABLE;
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), 0);
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL,
		     "not pinned");
	op[0] = (struct mmuext_op){.cmd = MMUEXT_PIN_L4_TABLE, .arg1.mfn = d.nr_pages + 5};
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL);
	op[0] = (struct mmuext_op){.cmd = MMUEXT_NEW_USER_BASEPTR, .arg1.mfn = l.cr3 >> 12};
	op[1] = (struct mmuext_op){.cmd = MMUEXT_NEW_BASEPTR, .arg1.mfn = ~0ULL};
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 2, SCRATCH + 0x1000, DOMID_SELF),
		     -XEN_EINVAL);
	cr_expect_eq(*done, 1);
	cr_expect_eq(v.user_cr3, l.cr3);
	cr_expect_eq(roots, 1);
	op[0] = (struct mmuext_op){.cmd = MMUEXT_PIN_L2_TABLE, .arg1.mfn = 0x310};
	op[1] = (struct mmuext_op){.cmd = MMUEXT_NEW_BASEPTR, .arg1.mfn = 0x310};
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 2, 0, DOMID_SELF), -XEN_EINVAL,
		     "an L2 as base pointer");
	op[0] = (struct mmuext_op){
		.cmd = MMUEXT_SET_LDT, .arg1.linear_addr = 0x1001, .arg2.nr_ents = 1};
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL);
	op[0].arg1.linear_addr = 0x1000, op[0].arg2.nr_ents = 8193;
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL);
	op[0].arg1.linear_addr = __HYPERVISOR_VIRT_START, op[0].arg2.nr_ents = 1;
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), -XEN_EINVAL);
	op[0].arg1.linear_addr = 0x1000, op[0].arg2.nr_ents = 16;
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), 0);
	op[0] = (struct mmuext_op){.cmd = MMUEXT_TLB_FLUSH_ALL};
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), 0);
	cr_expect_eq(flushes, 1);
	op[0].cmd = 200;
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), -XEN_ENOSYS);
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, 3), -XEN_EPERM);
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, UNMAPPED, 1, 0, DOMID_SELF), -XEN_EFAULT);
}

static struct multicall_entry *mc(unsigned i)
{
	return (struct multicall_entry *)at(SCRATCH + 0x2000) + i;
}

Test(hc, multicall_hostile_lists)
{
	*mc(0) = (struct multicall_entry){.op = __HYPERVISOR_stack_switch, .args = {0x2b, 0x99}};
	*mc(1) = (struct multicall_entry){.op = __HYPERVISOR_multicall,
					  .args = {SCRATCH + 0x2000, 2}};
	*mc(2) = (struct multicall_entry){.op = 1000};
	cr_expect_eq(call(__HYPERVISOR_multicall, SCRATCH + 0x2000, 3, 0, 0), 0);
	cr_expect_eq(mc(0)->result, 0);
	cr_expect_eq(v.kernel_sp, 0x99);
	cr_expect_eq((long)mc(1)->result, -XEN_EINVAL, "a multicall inside a multicall");
	cr_expect_eq((long)mc(2)->result, -XEN_ENOSYS);
	cr_expect_eq(call(__HYPERVISOR_multicall, UNMAPPED, 1, 0, 0), -XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_multicall, NONCANON, 1, 0, 0), -XEN_EFAULT);
	/* a huge count runs off the mapping: -EFAULT, after the entries that exist */
	cr_expect_eq(call(__HYPERVISOR_multicall, l.v_end - 2 * sizeof(struct multicall_entry),
			  0xffffffff, 0, 0),
		     -XEN_EFAULT);
	/* the list overlapping the end of the mapping */
	cr_expect_eq(call(__HYPERVISOR_multicall, l.v_end - 8, 1, 0, 0), -XEN_EFAULT);
	/* a list entry that shuts the domain down ends the batch */
	*(unsigned *)at(SCRATCH) = SHUTDOWN_poweroff;
	*mc(0) = (struct multicall_entry){.op = __HYPERVISOR_sched_op,
					  .args = {SCHEDOP_shutdown, SCRATCH}};
	*mc(1) = (struct multicall_entry){.op = __HYPERVISOR_stack_switch, .args = {0x2b, 0x55}};
	cr_expect_eq(call(__HYPERVISOR_multicall, SCRATCH + 0x2000, 2, 0, 0), 0);
	cr_expect(d.shut_down);
	cr_expect_eq(v.kernel_sp, 0x99);
}

/* XSA-213: an iret in a multicall is performed and ends the batch; nothing after it runs
 * in the context it returned to, and the multicall returns the RAX the iret restored. */
/* (RPL 0 in the frame: back to the guest kernel) */
Test(hc, multicall_iret_ends_the_batch)
{
	struct iret_context *c = at(SCRATCH + 0x3000);

	*c = (struct iret_context){.rax = 0xdead,
				   .rip = 0x1234,
				   .cs = FLAT_KERNEL_CS & ~3,
				   .rflags = 0x202,
				   .rsp = SCRATCH + 0x3800,
				   .ss = FLAT_KERNEL_SS};
	v.regs.rsp = SCRATCH + 0x3000;
	*mc(0) = (struct multicall_entry){.op = __HYPERVISOR_iret};
	*mc(1) = (struct multicall_entry){.op = __HYPERVISOR_stack_switch, .args = {0x2b, 0x77}};
	cr_expect_eq(call(__HYPERVISOR_multicall, SCRATCH + 0x2000, 2, 0, 0), 0xdead);
	cr_expect_eq(mc(0)->result, 0xdead);
	cr_expect_eq(mc(1)->result, 0, "the entry after the iret did not run");
	cr_expect_neq(v.kernel_sp, 0x77);
	cr_expect_eq(v.regs.rip, 0x1234);
	cr_expect_eq(v.regs.rsp, SCRATCH + 0x3800);
	cr_expect_not(d.shut_down);
	/* a frame the guest cannot read crashes the domain, as Xen's iret does */
	v.regs.rsp = UNMAPPED;
	cr_expect_eq(call(__HYPERVISOR_multicall, SCRATCH + 0x2000, 2, 0, 0), 0);
	cr_expect(d.shut_down);
	cr_expect_eq(d.shutdown_reason, SHUTDOWN_crash);
	cr_expect_neq(v.kernel_sp, 0x77);
}

Test(hc, event_channels)
{
	struct evtchn_bind_virq *b = at(SCRATCH);
	struct evtchn_alloc_unbound *au = at(SCRATCH + 0x100);
	struct evtchn_status *st = at(SCRATCH + 0x200);
	struct shared_info *sh = at(d.shared_info_gpa);

	*b = (struct evtchn_bind_virq){.virq = VIRQ_TIMER, .vcpu = 0};
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, SCRATCH, 0, 0), 0);
	cr_expect_eq(b->port, 3, "1 and 2 are xenstore and console");
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, SCRATCH, 0, 0),
		     -XEN_EEXIST);
	b->virq = NR_VIRQS;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, SCRATCH, 0, 0),
		     -XEN_EINVAL);
	b->virq = 1, b->vcpu = 3;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, SCRATCH, 0, 0),
		     -XEN_ENOENT);
	/* delivery: pending, selector, upcall pending; masked: pending only */
	xen_evtchn_set_pending(&v, 3);
	cr_expect(sh->evtchn_pending[0] & 1ULL << 3);
	cr_expect(sh->vcpu_info[0].evtchn_upcall_pending);
	cr_expect(sh->vcpu_info[0].evtchn_pending_sel & 1);
	sh->evtchn_pending[0] = 0;
	sh->vcpu_info[0].evtchn_upcall_pending = 0;
	sh->vcpu_info[0].evtchn_pending_sel = 0;
	sh->evtchn_mask[0] = 1ULL << 3;
	xen_evtchn_set_pending(&v, 3);
	cr_expect_not(sh->vcpu_info[0].evtchn_upcall_pending);
	*(evtchn_port_t *)at(SCRATCH + 0x300) = 3;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_unmask, SCRATCH + 0x300, 0, 0),
		     0);
	cr_expect(sh->vcpu_info[0].evtchn_upcall_pending, "unmask of a pending port upcalls");
	*(evtchn_port_t *)at(SCRATCH + 0x300) = XEN_NR_PORTS;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_unmask, SCRATCH + 0x300, 0, 0),
		     -XEN_EINVAL);
	xen_evtchn_set_pending(&v, 0xffffffff); /* ignored, no crash */
	/* alloc_unbound, status, close */
	*au = (struct evtchn_alloc_unbound){.dom = DOMID_SELF, .remote_dom = 0};
	cr_expect_eq(
		call(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, SCRATCH + 0x100, 0, 0),
		0);
	cr_expect_eq(au->port, 4);
	au->dom = 7;
	cr_expect_eq(
		call(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, SCRATCH + 0x100, 0, 0),
		-XEN_EPERM);
	*st = (struct evtchn_status){.dom = DOMID_SELF, .port = 3};
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_status, SCRATCH + 0x200, 0, 0),
		     0);
	cr_expect_eq(st->status, EVTCHNSTAT_virq);
	cr_expect_eq(st->u.virq, VIRQ_TIMER);
	st->port = 5000;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_status, SCRATCH + 0x200, 0, 0),
		     -XEN_EINVAL);
	*(evtchn_port_t *)at(SCRATCH + 0x300) = 3;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_close, SCRATCH + 0x300, 0, 0), 0);
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_close, SCRATCH + 0x300, 0, 0),
		     -XEN_EINVAL, "closed twice");
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, UNMAPPED, 0, 0),
		     -XEN_EFAULT);
	/* FIFO: hostile arguments get Xen's answers (XSA-188), good ones -ENOSYS, and the
	 * guest falls back to 2-level */
	struct evtchn_init_control *ic = at(SCRATCH + 0x400);

	*ic = (struct evtchn_init_control){.control_gfn = SCRATCH >> 12};
	cr_expect_eq(
		call(__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, SCRATCH + 0x400, 0, 0),
		-XEN_ENOSYS);
	ic->control_gfn = (uint64_t)-2;
	cr_expect_eq(
		call(__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, SCRATCH + 0x400, 0, 0),
		-XEN_EINVAL, "a frame that is not the guest's");
	ic->control_gfn = d.shared_info_gpa >> 12;
	cr_expect_eq(
		call(__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, SCRATCH + 0x400, 0, 0),
		-XEN_EINVAL, "lodger's own frame");
	*ic = (struct evtchn_init_control){.control_gfn = SCRATCH >> 12, .offset = 4092};
	cr_expect_eq(
		call(__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, SCRATCH + 0x400, 0, 0),
		-XEN_EINVAL, "crossing the page");
	ic->offset = 12;
	cr_expect_eq(
		call(__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, SCRATCH + 0x400, 0, 0),
		-XEN_EINVAL, "misaligned");
	*ic = (struct evtchn_init_control){.control_gfn = SCRATCH >> 12, .vcpu = 1};
	cr_expect_eq(
		call(__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, SCRATCH + 0x400, 0, 0),
		-XEN_ENOENT);
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, UNMAPPED, 0, 0),
		     -XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_expand_array, SCRATCH, 0, 0),
		     -XEN_ENOSYS);
}

/* Linux binds its IPIs even on one CPU; a send to one is an event to itself */
Test(hc, ipi_ports)
{
	struct evtchn_bind_ipi *b = at(SCRATCH);
	struct evtchn_bind_vcpu *bv = at(SCRATCH + 0x100);
	struct shared_info *sh = at(d.shared_info_gpa);

	*b = (struct evtchn_bind_ipi){.vcpu = 1};
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, SCRATCH, 0, 0),
		     -XEN_ENOENT, "one vCPU");
	b->vcpu = 0;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, SCRATCH, 0, 0), 0);
	cr_expect_eq(b->port, 3);
	*(evtchn_port_t *)at(SCRATCH + 0x300) = 3;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_send, SCRATCH + 0x300, 0, 0), 0);
	cr_expect(sh->evtchn_pending[0] & 1ULL << 3, "the IPI is pending");
	*bv = (struct evtchn_bind_vcpu){.port = 3, .vcpu = 0};
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_vcpu, SCRATCH + 0x100, 0, 0),
		     0);
	bv->vcpu = 2;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_vcpu, SCRATCH + 0x100, 0, 0),
		     -XEN_ENOENT);
	bv->port = 900, bv->vcpu = 0;
	cr_expect_eq(call(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_vcpu, SCRATCH + 0x100, 0, 0),
		     -XEN_EINVAL, "a closed port");
}

Test(hc, sched_op)
{
	struct sched_poll *p = at(SCRATCH);

	cr_expect_eq(call(__HYPERVISOR_sched_op, SCHEDOP_yield, 0, 0, 0), 0);
	*p = (struct sched_poll){.nr_ports = 129};
	cr_expect_eq(call(__HYPERVISOR_sched_op, SCHEDOP_poll, SCRATCH, 0, 0), -XEN_EINVAL);
	p->nr_ports = 2;
	p->ports.p = (evtchn_port_t *)UNMAPPED;
	cr_expect_eq(call(__HYPERVISOR_sched_op, SCHEDOP_poll, SCRATCH, 0, 0), -XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_sched_op, SCHEDOP_shutdown, UNMAPPED, 0, 0), -XEN_EFAULT);
	cr_expect_not(d.shut_down);
	*(unsigned *)at(SCRATCH) = SHUTDOWN_crash;
	cr_expect_eq(call(__HYPERVISOR_sched_op, SCHEDOP_shutdown, SCRATCH, 0, 0), 0);
	cr_expect(d.shut_down);
	cr_expect_eq(d.shutdown_reason, SHUTDOWN_crash);
	cr_expect_eq(call(__HYPERVISOR_sched_op, 99, 0, 0, 0), -XEN_ENOSYS);
}

Test(hc, vcpu_op)
{
	struct vcpu_register_vcpu_info *r = at(SCRATCH);
	struct vcpu_set_periodic_timer *pt = at(SCRATCH + 0x100);

	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_is_up, 0, 0, 0), 1);
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_is_up, 1, 0, 0), -XEN_ENOENT);
	*r = (struct vcpu_register_vcpu_info){.mfn = 0x300, .offset = 4096 - 32};
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 0, SCRATCH, 0),
		     -XEN_EINVAL, "crosses the page");
	r->offset = 0, r->mfn = d.nr_pages;
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 0, SCRATCH, 0),
		     -XEN_EINVAL, "lodger's frame");
	r->mfn = 0x300, r->offset = 64;
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 0, SCRATCH, 0), 0);
	cr_expect_eq(((struct vcpu_info *)at(0x300040))->evtchn_upcall_mask, 1, "copied");
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 0, SCRATCH, 0),
		     -XEN_EINVAL, "once only");
	pt->period_ns = 1000;
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_set_periodic_timer, 0, SCRATCH + 0x100, 0),
		     -XEN_EINVAL);
	/* a period whose next deadline would wrap: always due, a timer storm */
	pt->period_ns = ~0ULL - 1000;
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_set_periodic_timer, 0, SCRATCH + 0x100, 0),
		     -XEN_EINVAL, "above STIME_DELTA_MAX");
	cr_expect_eq(v.periodic_ns, 0);
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, UNMAPPED, 0),
		     -XEN_EFAULT);
	cr_expect_eq(
		call(__HYPERVISOR_vcpu_op, VCPUOP_register_runstate_memory_area, 0, UNMAPPED, 0),
		-XEN_EFAULT);
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, 99, 0, 0, 0), -XEN_ENOSYS);
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_down, 1, 0, 0), -XEN_ENOENT);
	cr_expect(!d.shut_down);
	/* the only vCPU down: nothing could wake it, the run ends as a crash */
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_down, 0, 0, 0), 0);
	cr_expect(d.shut_down);
	cr_expect_eq(d.shutdown_reason, SHUTDOWN_crash);
}

Test(hc, memory_op)
{
	struct xen_machphys_mapping *m = at(SCRATCH);
	struct xen_memory_map *map = at(SCRATCH + 0x100);

	cr_expect_eq(call(__HYPERVISOR_memory_op, XENMEM_machphys_mapping, SCRATCH, 0, 0), 0);
	cr_expect_eq(m->v_start, XEN_M2P_REPORTED, "slot 257: kvm_pvm cannot map slot 256");
	cr_expect_eq(m->v_end - m->v_start, XEN_M2P_SIZE);
	cr_expect_eq(m->max_mfn, d.nr_pages + XEN_RESERVED_PAGES - 1, "the domain's frames");
	cr_expect_eq(call(__HYPERVISOR_memory_op, XENMEM_machphys_mapping, UNMAPPED, 0, 0),
		     -XEN_EFAULT);
	*(domid_t *)at(SCRATCH + 0x200) = DOMID_SELF;
	cr_expect_eq(
		call(__HYPERVISOR_memory_op, XENMEM_current_reservation, SCRATCH + 0x200, 0, 0),
		(long)d.nr_pages);
	*(domid_t *)at(SCRATCH + 0x200) = 4;
	cr_expect_eq(
		call(__HYPERVISOR_memory_op, XENMEM_current_reservation, SCRATCH + 0x200, 0, 0),
		-XEN_EPERM);
	map->nr_entries = 0;
	cr_expect_eq(call(__HYPERVISOR_memory_op, XENMEM_memory_map, SCRATCH + 0x100, 0, 0),
		     -XEN_EINVAL);
	map->nr_entries = 4;
	map->buffer.p = (void *)UNMAPPED;
	cr_expect_eq(call(__HYPERVISOR_memory_op, XENMEM_memory_map, SCRATCH + 0x100, 0, 0),
		     -XEN_EFAULT);
	map->buffer.p = (void *)(SCRATCH + 0x400);
	cr_expect_eq(call(__HYPERVISOR_memory_op, XENMEM_memory_map, SCRATCH + 0x100, 0, 0), 0);
	cr_expect_eq(map->nr_entries, 1);
	cr_expect_eq(*(uint64_t *)at(SCRATCH + 0x408), d.nr_pages * 4096);
	cr_expect_eq(call(__HYPERVISOR_memory_op, XENMEM_populate_physmap, SCRATCH, 0, 0),
		     -XEN_ENOSYS);
}

/* The guest-physical address of the L1 entry mapping va in the builder's tables. */
static uint64_t *l1e(uint64_t va)
{
	uint64_t table = l.cr3;

	for (unsigned level = 4; level > 1; level--) {
		uint64_t e = *(uint64_t *)at(table + ((va >> (3 + 9 * level)) & 511) * 8);

		cr_assert(e & 1, "va %#llx not mapped at level %u", (unsigned long long)va, level);
		table = e & 0x000ffffffffff000ULL;
	}
	return at(table + ((va >> 12) & 511) * 8);
}

/*
 * Every hypercall and sub-op that takes a guest pointer refuses each kind of bad pointer
 * with -EFAULT: unmapped, non-canonical, inside the hypervisor hole (the M2P's slot,
 * never in the guest's tables), straddling the end of the mapping. A pointer through a
 * guest PTE that names a frame outside guest RAM (Xen's validation keeps such PTEs out;
 * this one is written behind its back) reads all ones and drops writes, as the bus does:
 * never a host access outside guest memory (ASan checks that in CI), never a crash.
 */
Test(hc, every_pointer_argument_refuses_bad_pointers)
{
	static const struct {
		uint64_t nr, a0, slot; /* slot: which argument is the pointer */
		uint64_t a1, a2, a3;
	} calls[] = {
		{__HYPERVISOR_set_trap_table, 0, 0, 0, 0, 0},
		{__HYPERVISOR_mmu_update, 0, 0, 1, 0, DOMID_SELF},
		{__HYPERVISOR_set_gdt, 0, 0, 1, 0, 0},
		{__HYPERVISOR_memory_op, XENMEM_machphys_mapping, 1, 0, 0, 0},
		{__HYPERVISOR_memory_op, XENMEM_memory_map, 1, 0, 0, 0},
		{__HYPERVISOR_memory_op, XENMEM_current_reservation, 1, 0, 0, 0},
		{__HYPERVISOR_memory_op, XENMEM_maximum_reservation, 1, 0, 0, 0},
		{__HYPERVISOR_multicall, 0, 0, 1, 0, 0},
		{__HYPERVISOR_xen_version, XENVER_extraversion, 1, 0, 0, 0},
		{__HYPERVISOR_xen_version, XENVER_compile_info, 1, 0, 0, 0},
		{__HYPERVISOR_xen_version, XENVER_capabilities, 1, 0, 0, 0},
		{__HYPERVISOR_xen_version, XENVER_changeset, 1, 0, 0, 0},
		{__HYPERVISOR_xen_version, XENVER_platform_parameters, 1, 0, 0, 0},
		{__HYPERVISOR_xen_version, XENVER_get_features, 1, 0, 0, 0},
		{__HYPERVISOR_console_io, CONSOLEIO_write, 2, 16, 0, 0},
		{__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 2, 0, 0, 0},
		{__HYPERVISOR_vcpu_op, VCPUOP_register_runstate_memory_area, 2, 0, 0, 0},
		{__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 2, 0, 0, 0},
		{__HYPERVISOR_vcpu_op, VCPUOP_set_periodic_timer, 2, 0, 0, 0},
		{__HYPERVISOR_mmuext_op, 0, 0, 1, 0, DOMID_SELF},
		{__HYPERVISOR_sched_op, SCHEDOP_shutdown, 1, 0, 0, 0},
		{__HYPERVISOR_sched_op, SCHEDOP_poll, 1, 0, 0, 0},
		{__HYPERVISOR_callback_op, CALLBACKOP_register, 1, 0, 0, 0},
		{__HYPERVISOR_callback_op, CALLBACKOP_unregister, 1, 0, 0, 0},
		{__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, 1, 0, 0, 0},
		{__HYPERVISOR_event_channel_op, EVTCHNOP_send, 1, 0, 0, 0},
		{__HYPERVISOR_event_channel_op, EVTCHNOP_unmask, 1, 0, 0, 0},
		{__HYPERVISOR_event_channel_op, EVTCHNOP_close, 1, 0, 0, 0},
		{__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, 1, 0, 0, 0},
		{__HYPERVISOR_event_channel_op, EVTCHNOP_status, 1, 0, 0, 0},
		{__HYPERVISOR_event_channel_op, EVTCHNOP_init_control, 1, 0, 0, 0},
		{__HYPERVISOR_physdev_op, PHYSDEVOP_set_iopl, 1, 0, 0, 0},
		{__HYPERVISOR_xen_version, XENVER_guest_handle, 1, 0, 0, 0},
	};
	const uint64_t outside = SCRATCH + 0x5000; /* its PTE will name a frame past RAM */
	const uint64_t bad[] = {UNMAPPED, NONCANON, __HYPERVISOR_VIRT_START, l.v_end - 1, outside};

	*l1e(outside) = (RAM + 0x100000) | 0x67; /* present, writable, user, A, D */
	for (unsigned i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		for (unsigned b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
			uint64_t a[6] = {calls[i].a0, calls[i].a1, calls[i].a2, calls[i].a3, 0, 0};
			long r;

			a[calls[i].slot] = bad[b];
			r = xen_hypercall(&v, calls[i].nr, a);
			if (bad[b] == outside) {
				d.shut_down = false; /* all ones may well read as a shutdown */
				continue;
			}
			cr_expect_eq(r, -XEN_EFAULT,
				     "%s sub-op %llu with pointer %#llx: %ld, expected -EFAULT",
				     xen_hypercall_name(calls[i].nr),
				     (unsigned long long)calls[i].a0, (unsigned long long)bad[b],
				     r);
			cr_expect(!d.shut_down, "a bad pointer never shuts the domain down");
		}
	}
}

/* Out-of-range counts: never more work than the list has entries, never a crash. */
Test(hc, out_of_range_counts)
{
	struct mmu_update *u = at(SCRATCH + 0x3000);
	uint32_t *done = at(SCRATCH + 0x3f00);

	/* count's top bit is Xen's preemption flag: masked, then the list runs off the map */
	cr_expect_eq(call(__HYPERVISOR_mmu_update, l.v_end - sizeof(*u), 0xffffffff,
			  SCRATCH + 0x3f00, DOMID_SELF),
		     -XEN_EFAULT);
	/* a valid entry then garbage: stops at the first refusal, `done` says how far */
	u[0] = (struct mmu_update){.ptr = (uint64_t)(SCRATCH + 0x3800) | MMU_NORMAL_PT_UPDATE,
				   .val = 0};
	u[1] = (struct mmu_update){.ptr = (RAM + 0x1000) | MMU_NORMAL_PT_UPDATE, .val = 0};
	cr_expect_eq(
		call(__HYPERVISOR_mmu_update, SCRATCH + 0x3000, 2, SCRATCH + 0x3f00, DOMID_SELF),
		-XEN_EINVAL, "a frame outside guest RAM");
	cr_expect_eq(*done, 1);
	cr_expect_eq(call(__HYPERVISOR_set_gdt, SCRATCH, 8192, 0, 0), -XEN_EINVAL,
		     "more GDT entries than Xen allows");
	cr_expect_eq(call_rounds(__HYPERVISOR_console_io, CONSOLEIO_write, 0xffffffff, SCRATCH, 0,
				 &(unsigned){0}),
		     -XEN_EFAULT, "a count past the mapping");
	cr_expect_eq(call(__HYPERVISOR_vcpu_op, VCPUOP_is_up, 1, 0, 0), -XEN_ENOENT,
		     "a vCPU that does not exist");
	cr_expect_eq(call(__HYPERVISOR_set_debugreg, 8, 0, 0, 0), -XEN_ENODEV);
}

/* Linux leaves Xen's bootstrap tables for its own, unpins the old L4 and maps the old L3
 * and L2 writable (xen_setup_kernel_pagetable): a table no pinned L4 reaches any more is
 * ordinary memory, one still reached stays read-only. */
Test(hc, a_table_no_pinned_l4_reaches_may_be_mapped_writable)
{
	struct mmuext_op *op = at(SCRATCH);
	uint64_t l3 = *(uint64_t *)at(l.cr3 + ((SCRATCH >> 39) & 511) * 8) & ~0xfffULL &
		      ((1ULL << 52) - 1);

	cr_assert_eq(d.frame_type[l3 >> 12] & XEN_FRAME_LEVEL, 3, "the builder's L3");
	cr_expect_eq(call(__HYPERVISOR_update_va_mapping, SCRATCH + 0x1000, l3 | 7, UVMF_INVLPG, 0),
		     -XEN_EINVAL, "reached from the pinned L4");
	cr_expect_eq(d.frame_type[l3 >> 12] & XEN_FRAME_LEVEL, 3);
	op[0] = (struct mmuext_op){.cmd = MMUEXT_UNPIN_TABLE, .arg1.mfn = l.cr3 >> 12};
	cr_assert_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), 0);
	cr_expect_eq(call(__HYPERVISOR_update_va_mapping, SCRATCH + 0x1000, l3 | 7, UVMF_INVLPG, 0),
		     0, "no pinned L4 reaches it");
	cr_expect_eq(d.frame_type[l3 >> 12], XEN_FRAME_NONE, "ordinary memory now");
}

/* Every L4 the guest pins or loads gets lodger's M2P slot, as Xen puts its own slots in */
Test(hc, a_pinned_l4_gets_the_m2p_slot)
{
	struct mmuext_op *op = at(SCRATCH);
	uint64_t slot = 0x310000 + ((XEN_M2P_REPORTED >> 39) & 511) * 8;

	cr_expect_eq(*(uint64_t *)at(l.cr3 + ((XEN_M2P_REPORTED >> 39) & 511) * 8), d.m2p_l4e,
		     "the builder's L4 has it");
	cr_assert_neq(d.m2p_l4e, 0);
	op[0] = (struct mmuext_op){.cmd = MMUEXT_PIN_L4_TABLE, .arg1.mfn = 0x310};
	pte_writes = 0;
	cr_expect_eq(call(__HYPERVISOR_mmuext_op, SCRATCH, 1, 0, DOMID_SELF), 0);
	cr_expect_eq(*(uint64_t *)at(slot), d.m2p_l4e);
	cr_expect_eq(pte_writes, 1, "the shadow hears of the entry");
	/* the guest cannot change it */
	*(struct mmu_update *)at(SCRATCH + 0x100) = (struct mmu_update){.ptr = slot, .val = 0};
	cr_expect_eq(call(__HYPERVISOR_mmu_update, SCRATCH + 0x100, 1, 0, DOMID_SELF), -XEN_EINVAL);
	cr_expect_eq(*(uint64_t *)at(slot), d.m2p_l4e);
}
