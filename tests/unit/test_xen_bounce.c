/*
 * test_xen_bounce.c - Xen's bounce frames and the iret hypercall (src/xen/bounce.c) on a
 * guest built by the domain builder: frame layout from kernel and user mode, the saved
 * upcall mask and virtual IF, CR2 in vcpu_info, events, the syscall callback, iret's
 * restore rules, and the domain crash where delivery is impossible.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include <xen/sched.h>

#include "xen/bounce.h"
#include "xen/domain.h"
#include "xen/hypercall.h"
#include "xen_image.h"

#define RAM	(32ULL << 20)
#define KSTACK	0x280000ULL /* inside the bootstrap region */
#define HANDLER 0x100400ULL

static struct guest_mem mem;
static struct xen_domain d;
static struct xen_layout l;
static struct xen_vcpu v;

static void setup(void)
{
	struct xi x;
	struct xen_notes n;
	struct xen_build_params p = {0};
	char err[256];

	cr_assert_eq(mem_alloc_ram(&mem, RAM), 0);
	memset(&d, 0, sizeof(d));
	d.mem = &mem;
	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
	cr_assert_eq(xen_notes_parse(x.buf, x.len, &n, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(xen_domain_build(&d, x.buf, x.len, &n, &p, &l, err, sizeof(err)), 0, "%s",
		     err);
	xen_vcpu_init(&v, &d, &l);
	v.regs = (struct xen_regs){.rcx = 0x1111,
				   .r11 = 0x2222,
				   .rip = 0x100050,
				   .rsp = KSTACK + 8,
				   .rflags = 0x202 | 0x100 | 0x400,
				   .cs = FLAT_KERNEL_CS,
				   .ss = FLAT_KERNEL_SS};
}

static void teardown(void)
{
	xen_domain_free(&d);
	mem_free(&mem);
}

TestSuite(bounce, .init = setup, .fini = teardown);

static struct vcpu_info *vi(void)
{
	return (struct vcpu_info *)(mem.ram + d.shared_info_gpa);
}

static uint64_t *stack_at(uint64_t va)
{
	return (uint64_t *)(mem.ram + va);
}

Test(bounce, page_fault_from_kernel)
{
	uint64_t *f;

	v.traps[14] = (struct trap_info){.vector = 14, .flags = 4, .address = HANDLER};
	vi()->evtchn_upcall_mask = 0;
	cr_assert_eq(xen_bounce_exception(&v, 14, true, 0x6, 0xdead000), 0);
	/* 16-byte aligned, then 8 words: rcx r11 err rip cs rflags rsp ss */
	cr_expect_eq(v.regs.rsp, KSTACK - 8 * 8);
	f = stack_at(v.regs.rsp);
	cr_expect_eq(f[0], 0x1111);
	cr_expect_eq(f[1], 0x2222);
	cr_expect_eq(f[2], 0x6);
	cr_expect_eq(f[3], 0x100050);
	cr_expect_eq(f[4], FLAT_KERNEL_CS & ~3, "kernel context: RPL cleared, mask 0 above");
	cr_expect(f[5] & 0x200, "saved IF = !upcall_mask");
	cr_expect_eq(f[6], KSTACK + 8);
	cr_expect_eq(f[7], FLAT_KERNEL_SS);
	cr_expect_eq(v.regs.rip, HANDLER);
	cr_expect_eq(v.regs.cs, FLAT_KERNEL_CS);
	cr_expect_not(v.regs.rflags & 0x100, "TF cleared");
	cr_expect_eq(vi()->arch.cr2, 0xdead000);
	cr_expect_eq(vi()->evtchn_upcall_mask, 1, "flags bit 2 masks events");
}

Test(bounce, from_user_mode_uses_the_kernel_stack)
{
	uint64_t *f;

	v.kernel_mode = false;
	v.user_cr3 = v.kernel_cr3;
	v.kernel_sp = KSTACK + 0x100;
	v.regs.cs = FLAT_USER_CS;
	v.regs.ss = FLAT_USER_SS;
	v.regs.rsp = 0x123458;
	vi()->evtchn_upcall_mask = 1;
	v.traps[3] = (struct trap_info){.vector = 3, .flags = 3, .address = HANDLER};
	cr_assert_eq(xen_bounce_exception(&v, 3, false, 0, 0), 0);
	cr_expect(v.kernel_mode);
	cr_expect_eq(v.regs.rsp, KSTACK + 0x100 - 7 * 8);
	f = stack_at(v.regs.rsp);
	cr_expect_eq(f[2], 0x100050);
	cr_expect_eq(f[3], FLAT_USER_CS | 1ULL << 32, "user CS kept, saved mask 1");
	cr_expect_not(f[4] & 0x200, "masked: saved IF clear");
	cr_expect_eq(f[5], 0x123458);
	cr_expect_eq(f[6], FLAT_USER_SS);
}

Test(bounce, no_handler_or_bad_stack_crashes_the_domain)
{
	cr_expect_eq(xen_bounce_exception(&v, 13, true, 0, 0), -1);
	cr_expect(d.shut_down);
	cr_expect_eq(d.shutdown_reason, SHUTDOWN_crash);
	d.shut_down = false;
	v.traps[13].address = HANDLER;
	v.regs.rsp = 0x7fff00000000ULL; /* not mapped */
	cr_expect_eq(xen_bounce_exception(&v, 13, true, 0, 0), -1);
	cr_expect(d.shut_down);
	d.shut_down = false;
	v.regs.rsp = __HYPERVISOR_VIRT_START + 0x1000;
	cr_expect_eq(xen_bounce_exception(&v, 13, true, 0, 0), -1);
	cr_expect(d.shut_down);
	cr_expect_eq(xen_bounce_exception(&v, 300, false, 0, 0), -1);
}

Test(bounce, events)
{
	v.event_cb = HANDLER + 0x10;
	vi()->evtchn_upcall_pending = 1;
	vi()->evtchn_upcall_mask = 1;
	cr_expect_not(xen_event_pending(&v), "masked");
	vi()->evtchn_upcall_mask = 0;
	cr_assert(xen_event_pending(&v));
	cr_assert_eq(xen_deliver_event(&v), 0);
	cr_expect_eq(v.regs.rip, HANDLER + 0x10);
	cr_expect_eq(vi()->evtchn_upcall_mask, 1);
	cr_expect_not(xen_event_pending(&v));
	cr_expect_eq(v.regs.rsp, KSTACK - 7 * 8, "no error code");
}

Test(bounce, user_syscall)
{
	v.kernel_mode = false;
	v.user_cr3 = v.kernel_cr3;
	v.kernel_sp = KSTACK;
	v.regs.cs = FLAT_USER_CS;
	v.syscall_cb = HANDLER + 0x20;
	v.syscall_mask = true;
	vi()->evtchn_upcall_mask = 0;
	cr_assert_eq(xen_bounce_syscall(&v), 0);
	cr_expect_eq(v.regs.rip, HANDLER + 0x20);
	cr_expect_not(v.regs.rflags & 0x400, "DF cleared");
	cr_expect_eq(vi()->evtchn_upcall_mask, 1);
	cr_expect(v.kernel_mode);
}

Test(bounce, user_syscall_without_callback_is_ud)
{
	v.kernel_mode = false;
	v.user_cr3 = v.kernel_cr3;
	v.kernel_sp = KSTACK;
	v.traps[6] = (struct trap_info){.vector = 6, .address = HANDLER + 0x30};
	cr_assert_eq(xen_bounce_syscall(&v), 0);
	cr_expect_eq(v.regs.rip, HANDLER + 0x30);
	cr_expect_eq(stack_at(v.regs.rsp)[2], 0x100050 - 2, "at the syscall instruction");
}

Test(bounce, iret)
{
	struct iret_context c = {.rax = 0x77,
				 .r11 = 0x88,
				 .rcx = 0x99,
				 .flags = 0,
				 .rip = 0x100080,
				 .cs = FLAT_KERNEL_CS & ~3,
				 .rflags = 0x3000 | 0x200,
				 .rsp = 0x250000,
				 .ss = FLAT_KERNEL_SS};

	memcpy(mem.ram + KSTACK, &c, sizeof(c));
	v.regs.rsp = KSTACK;
	vi()->evtchn_upcall_mask = 1;
	cr_assert_eq(xen_iret(&v), 0);
	cr_expect_eq(v.regs.rax, 0x77);
	cr_expect_eq(v.regs.rcx, 0x99);
	cr_expect_eq(v.regs.r11, 0x88);
	cr_expect_eq(v.regs.rip, 0x100080);
	cr_expect_eq(v.regs.cs, FLAT_KERNEL_CS, "RPL forced to 3");
	cr_expect_eq(v.regs.rflags & 0x3000, 0, "IOPL never restored");
	cr_expect_eq(vi()->evtchn_upcall_mask, 0, "IF set: events unmasked");
	cr_expect(v.kernel_mode);

	/* to user mode without user tables: crash; with them: user mode, in_syscall */
	c.cs = FLAT_USER_CS;
	c.rflags = 0;
	c.flags = VGCF_in_syscall;
	memcpy(mem.ram + KSTACK, &c, sizeof(c));
	v.regs.rsp = KSTACK;
	cr_expect_eq(xen_iret(&v), -1);
	cr_expect(d.shut_down);
	d.shut_down = false;
	v.user_cr3 = v.kernel_cr3;
	v.regs.rsp = KSTACK;
	v.regs.rcx = 5;
	cr_assert_eq(xen_iret(&v), 0);
	cr_expect_not(v.kernel_mode);
	cr_expect_eq(v.regs.rcx, 5, "VGCF_in_syscall: RCX not restored");
	cr_expect_eq(vi()->evtchn_upcall_mask, 1);
	v.regs.rsp = 0x7fff00000000ULL;
	v.kernel_mode = true;
	cr_expect_eq(xen_iret(&v), -1, "frame not mapped");
}
