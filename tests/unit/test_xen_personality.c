/*
 * test_xen_personality.c - the Xen PV personality on the trap path (src/xen/personality.c,
 * trapemu.c): boot state, kernel-mode syscall as a hypercall (iret included), user
 * syscall to the callback, exceptions through the trap table with CR2 in vcpu_info,
 * events with evtchn_upcall_mask as the virtual IF, VIRQ_TIMER, the forced-emulation
 * cpuid, int $n, M2P reads, and shutdown statuses. A fake vCPU (fake_vcpu.h) whose RAM
 * holds a domain the builder made from a synthetic XTF-like kernel; no KVM.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/xen.h>

#include <xen/arch-x86/cpuid.h>
#include <xen/callback.h>
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/io/console.h>
#include <xen/sched.h>
#include <xen/version.h>

#include "arch/x86.h"
#include "fake_vcpu.h"
#include "front/exitcode.h"
#include "lodger/stub_abi.h"
#include "shadow/pagewalk.h"
#include "shadow/stub.h"
#include "shadow/transport.h"
#include "xen/cpuid.h"
#include "xen/families.h"
#include "xen/hypercall.h"
#include "xen/personality.h"
#include "xen/trapemu.h"
#include "xen_image.h"

#define RAM	 (32ULL << 20)
#define SCRATCH	 0x200000ULL /* inside the bootstrap region: mapped, writable */
#define CODE	 (SCRATCH + 0x1000)
#define DATA	 (SCRATCH + 0x2000)
#define KSTACK	 (SCRATCH + 0x6000) /* the kernel's RSP while in kernel mode */
#define SWSTACK	 (SCRATCH + 0x9000) /* stack_switch: where bounces from user mode go */
#define HANDLER	 0x180000ULL
#define EVENT_CB 0x181000ULL
#define SYS_CB	 0x182000ULL

static struct xen_guest guest;
static struct xen_pstate *p;

static void setup(void)
{
	struct xi x;
	struct xen_notes n;
	struct xen_build_params bp = {.console_port = 2, .store_port = 1};
	struct personality_boot b = {.prepared = &guest};
	char err[256];

	fake_setup();
	fk.vcpu->thread = pthread_self(); /* vm_request_exit kicks it */
	/* The domain needs more than the fake's RAM: replace it (monitor memory stays). */
	munmap(fk.vm.mem.ram, fk.vm.mem.ram_size);
	cr_assert_eq(mem_alloc_ram(&fk.vm.mem, RAM), 0);
	memset(&guest, 0, sizeof(guest));
	guest.d.mem = &fk.vm.mem;
	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
	cr_assert_eq(xen_notes_parse(x.buf, x.len, &n, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(xen_domain_build(&guest.d, x.buf, x.len, &n, &bp, &guest.l, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_gt(guest.l.v_end, SWSTACK + 0x1000);
	fk.g->pers = &xen_personality;
	cr_assert_eq(xen_pers_boot(&fk.t, &b), 0);
	p = fk.g->pstate;
	cr_assert_not_null(p);
	/* The fake KVM has no CPUID table: give it Xen's leaves only. */
	p->cpuid->nent = 0;
	xen_cpuid_leaves(p->cpuid, 1024);
}

static void teardown(void)
{
	fake_teardown(); /* destroys the personality's state */
	xen_domain_free(&guest.d);
}

TestSuite(xenpers, .init = setup, .fini = teardown);

static void *at(uint64_t gpa)
{
	return fk.vm.mem.ram + gpa;
}

static uint64_t q(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, at(gpa), 8);
	return v;
}

static struct vcpu_info *vinfo(void)
{
	return at(guest.d.shared_info_gpa);
}

/* A kernel-mode hypercall as the hypercall page makes it. */
static int hypercall(uint64_t nr, uint64_t a0, uint64_t a1)
{
	fk.t.regs.rax = nr;
	fk.t.regs.rdi = a0;
	fk.t.regs.rsi = a1;
	fk.t.regs.rcx = CODE + 2; /* syscall's return address */
	fk.t.regs.r11 = RFLAGS_FIXED | RFLAGS_IF;
	fk.t.regs.rip = 0xfffffe0000000000ULL; /* kvm_pvm: the LSTAR fault leaves RIP there */
	return xen_pers_syscall(&fk.t);
}

/* The guest in user mode at CODE with a user base pointer (XTF's: the kernel's). */
static void to_user(void)
{
	p->v.user_cr3 = p->v.kernel_cr3;
	p->v.kernel_sp = SWSTACK;
	p->v.kernel_mode = false;
	p->v.regs.cs = FLAT_USER_CS;
	p->v.regs.ss = FLAT_USER_SS;
	p->v.regs.rip = CODE;
	p->v.regs.rsp = DATA + 0x800;
	xen_regs_out(p, &fk.t);
}

Test(xenpers, boot_state)
{
	cr_assert_eq(fk.t.regs.rip, guest.l.entry);
	cr_assert_eq(fk.t.regs.rsi, guest.l.start_info, "RSI = start_info");
	cr_assert_eq(fk.t.regs.rsp, guest.l.rsp);
	cr_assert(!fk.g->user, "kernel mode");
	cr_assert_eq(fk.g->cr3, guest.l.cr3);
	/* the stub's present alias where it has them: the kernel's iretq to itself is native */
	cr_assert_eq(fk.t.sregs.cs.selector,
		     fk.g->stub.fast_paths ? STUB_ALIAS_KERNEL_CS : STUB_GUEST_KERNEL_CS);
	cr_assert_eq(fk.t.sregs.cs.dpl, 3);
	cr_assert(fk.t.sregs.cs.l, "64-bit code");
	cr_assert(!xen_personality.kernel_if_is_real, "the virtual IF is in vcpu_info");
	cr_assert_eq(vinfo()->evtchn_upcall_mask, 1, "events masked at entry");
}

Test(xenpers, kernel_syscall_is_a_hypercall)
{
	cr_assert_eq(hypercall(__HYPERVISOR_xen_version, XENVER_version, 0), 0);
	cr_assert_eq(fk.t.regs.rax, 4 << 16 | 17);
	cr_assert_eq(fk.t.regs.rip, CODE + 2, "back after the syscall (RCX)");
	cr_assert(!fk.g->user);
	cr_assert_eq(hypercall(63, 0, 0), 0);
	cr_assert_eq(fk.t.regs.rax, (uint64_t)-XEN_ENOSYS, "unknown numbers are -ENOSYS");
	cr_assert_eq(guest.d.hypercalls[__HYPERVISOR_xen_version], 1);
	cr_assert_eq(guest.d.subops[__HYPERVISOR_xen_version][XENVER_version], 1);
}

Test(xenpers, iret_hypercall_to_user_mode)
{
	struct iret_context c = {.rax = 0x1234,
				 .r11 = 0x11,
				 .rcx = 0x22,
				 .flags = 0,
				 .rip = CODE + 0x40,
				 .cs = FLAT_USER_CS,
				 .rflags = RFLAGS_FIXED | RFLAGS_IF,
				 .rsp = DATA + 0x700,
				 .ss = FLAT_USER_SS};

	p->v.user_cr3 = p->v.kernel_cr3;
	memcpy(at(KSTACK), &c, sizeof(c));
	fk.t.regs.rsp = KSTACK;
	cr_assert_eq(hypercall(__HYPERVISOR_iret, 0, 0), 0);
	cr_assert(fk.g->user, "user mode after an iret to RPL 3");
	cr_assert_eq(fk.t.regs.rip, CODE + 0x40);
	cr_assert_eq(fk.t.regs.rsp, DATA + 0x700);
	cr_assert_eq(fk.t.regs.rax, 0x1234);
	cr_assert_eq(fk.t.regs.rcx, 0x22);
	cr_assert_eq(fk.t.sregs.cs.selector, STUB_GUEST_USER_CS);
	cr_assert_eq(fk.g->cr3, p->v.user_cr3);
	cr_assert_eq(vinfo()->evtchn_upcall_mask, 0, "IF in the frame unmasks events");
}

Test(xenpers, iret_to_user_without_user_tables_crashes_the_domain)
{
	struct iret_context c = {.rip = CODE, .cs = FLAT_USER_CS, .rsp = DATA, .ss = FLAT_USER_SS};

	memcpy(at(KSTACK), &c, sizeof(c));
	fk.t.regs.rsp = KSTACK;
	cr_assert_eq(hypercall(__HYPERVISOR_iret, 0, 0), XEN_EXIT_CRASH);
	cr_assert(fk.vm.stop);
	cr_assert_eq(fk.vm.exit_status, XEN_EXIT_CRASH);
}

Test(xenpers, user_syscall_goes_to_the_callback_with_xens_frame)
{
	p->v.syscall_cb = SYS_CB;
	to_user();
	fk.t.regs.rcx = CODE + 2;
	fk.t.regs.r11 = RFLAGS_FIXED | RFLAGS_IF | RFLAGS_DF;
	cr_assert_eq(xen_pers_syscall(&fk.t), 0);
	cr_assert(!fk.g->user, "kernel mode in the callback");
	cr_assert_eq(fk.t.regs.rip, SYS_CB);
	cr_assert_eq(fk.t.regs.rsp, SWSTACK - 7 * 8, "RCX R11 RIP CS RFLAGS RSP SS");
	cr_assert_eq(q(fk.t.regs.rsp), CODE + 2, "RCX");
	cr_assert_eq(q(fk.t.regs.rsp + 8), fk.t.regs.r11, "R11");
	cr_assert_eq(q(fk.t.regs.rsp + 16), CODE + 2, "RIP after the syscall");
	cr_assert_eq(q(fk.t.regs.rsp + 24) & 0xffff, FLAT_USER_CS);
	cr_assert_eq(q(fk.t.regs.rsp + 40), DATA + 0x800, "the user RSP");
	cr_assert(!(fk.t.regs.rflags & RFLAGS_DF), "DF cleared by the PV syscall mask");
}

Test(xenpers, user_exception_bounces_through_the_trap_table)
{
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	to_user();
	fk.t.vector = VEC_GP;
	fk.t.has_error = true;
	fk.t.error = 0x18;
	memcpy(at(CODE), "\x0f\x01\xc1", 3); /* vmcall: nothing lodger completes */
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert(!fk.g->user);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	cr_assert_eq(q(fk.t.regs.rsp + 16), 0x18, "error code above RCX and R11");
	cr_assert_eq(q(fk.t.regs.rsp + 24), CODE, "faulting RIP");
	cr_assert_eq(guest.d.bounces[VEC_GP], 1);
}

Test(xenpers, kernel_exception_without_a_handler_crashes)
{
	fk.t.vector = VEC_DE;
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	cr_assert_eq(xen_pers_exception(&fk.t), XEN_EXIT_CRASH);
	cr_assert_eq(guest.d.shutdown_reason, SHUTDOWN_crash);
}

Test(xenpers, page_fault_writes_cr2_to_vcpu_info)
{
	struct event e = {.vector = VEC_PF,
			  .kind = EV_EXCEPTION,
			  .has_error = true,
			  .error = 2,
			  .cr2 = 0x7000123};

	p->v.traps[VEC_PF] = (struct trap_info){.vector = VEC_PF, .address = HANDLER};
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	cr_assert_eq(xen_pers_deliver(&fk.t, &e), 0);
	cr_assert_eq(vinfo()->arch.cr2, 0x7000123);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	cr_assert_eq(q(fk.t.regs.rsp + 16), 2);
	cr_assert_eq(q(fk.t.regs.rsp + 32) & 3, 0, "kernel CS reported with RPL 0");
}

Test(xenpers, events_follow_the_upcall_mask)
{
	struct vcpu_info *vi = vinfo();

	p->v.event_cb = EVENT_CB;
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	vi->evtchn_upcall_pending = 1;
	vi->evtchn_upcall_mask = 1;
	cr_assert_eq(xen_pers_pending(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE, "masked: nothing delivered");
	vi->evtchn_upcall_mask = 0;
	cr_assert_eq(xen_pers_pending(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, EVENT_CB);
	cr_assert_eq(vi->evtchn_upcall_mask, 1, "the callback runs masked");
	cr_assert(q(fk.t.regs.rsp + 32) & RFLAGS_IF, "the frame's IF: events were unmasked");
}

Test(xenpers, virq_timer_fires_when_due)
{
	struct evtchn_bind_virq bind = {.virq = VIRQ_TIMER};
	struct shared_info *s = at(guest.d.shared_info_gpa);
	evtchn_port_t port;

	memcpy(at(DATA), &bind, sizeof(bind));
	fk.t.regs.rsp = KSTACK;
	cr_assert_eq(hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, DATA), 0);
	cr_assert_eq(fk.t.regs.rax, 0);
	memcpy(&port, at(DATA + offsetof(struct evtchn_bind_virq, port)), sizeof(port));
	p->v.event_cb = EVENT_CB;
	vinfo()->evtchn_upcall_mask = 0;
	p->v.timer_deadline_ns = 1; /* long past */
	cr_assert_eq(xen_pers_pending(&fk.t), 0);
	cr_assert(s->evtchn_pending[port / 64] >> (port % 64) & 1, "port %u pending", port);
	cr_assert_eq(fk.t.regs.rip, EVENT_CB);
	cr_assert_eq(p->v.timer_deadline_ns, 0, "a singleshot timer fires once");
	cr_assert_eq(guest.d.events[port], 1);
}

Test(xenpers, block_waits_for_the_timer)
{
	p->v.event_cb = EVENT_CB;
	fk.t.regs.rsp = KSTACK;
	p->v.timer_deadline_ns = p->v.hooks->now_ns(p) + 2000000; /* 2 ms */
	{
		struct evtchn_bind_virq bind = {.virq = VIRQ_TIMER};

		memcpy(at(DATA), &bind, sizeof(bind));
		cr_assert_eq(hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, DATA), 0);
	}
	cr_assert_eq(hypercall(__HYPERVISOR_sched_op, SCHEDOP_block, 0), 0);
	cr_assert(vinfo()->evtchn_upcall_pending, "woken by VIRQ_TIMER");
	cr_assert_eq(p->v.timer_deadline_ns, 0);
}

/* A hypercall lodger cuts into rounds (xen/hypercall.h) resumes the guest on its own
 * `syscall` (RCX - 2), arguments moved on; made again from there it completes. */
Test(xenpers, a_preempted_hypercall_resumes_on_its_syscall)
{
	uint64_t list = SCRATCH + 0x10000;
	struct mmuext_op *op = at(list);

	for (unsigned i = 0; i < 1100; i++)
		op[i] = (struct mmuext_op){.cmd = MMUEXT_INVLPG_LOCAL, .arg1.linear_addr = DATA};
	fk.t.regs.rdx = 0;
	fk.t.regs.r10 = DOMID_SELF;
	cr_assert_eq(hypercall(__HYPERVISOR_mmuext_op, list, 1100), 0);
	cr_expect_eq(fk.t.regs.rip, CODE, "back on the syscall");
	cr_expect_eq(fk.t.regs.rax, __HYPERVISOR_mmuext_op);
	cr_expect_eq(fk.t.regs.rdi, list + XEN_HCALL_WORK_MAX * sizeof(*op));
	cr_expect_eq(fk.t.regs.rsi, (1100 - XEN_HCALL_WORK_MAX) | XEN_MMU_UPDATE_PREEMPTED);
	cr_expect_eq(fk.t.regs.r10, DOMID_SELF);
	fk.t.regs.rcx = CODE + 2; /* the syscall again */
	fk.t.regs.rip = 0xfffffe0000000000ULL;
	cr_assert_eq(xen_pers_syscall(&fk.t), 0);
	cr_expect_eq(fk.t.regs.rip, CODE + 2);
	cr_expect_eq(fk.t.regs.rax, 0);
	cr_expect_eq(guest.d.continuations, 1);
}

Test(xenpers, block_with_nothing_to_wake_it_ends_the_run)
{
	p->terminal = false; /* the test may run on a terminal */
	cr_assert_eq(hypercall(__HYPERVISOR_sched_op, SCHEDOP_block, 0), EXIT_INTERNAL);
}

Test(xenpers, shutdown_statuses)
{
	struct sched_shutdown s = {.reason = SHUTDOWN_poweroff};

	cr_assert_eq(xen_shutdown_status(SHUTDOWN_poweroff), 0);
	cr_assert_eq(xen_shutdown_status(SHUTDOWN_reboot), XEN_EXIT_REBOOT);
	cr_assert_eq(xen_shutdown_status(SHUTDOWN_crash), XEN_EXIT_CRASH);
	cr_assert_eq(xen_shutdown_status(SHUTDOWN_watchdog), XEN_EXIT_WATCHDOG);
	cr_assert_eq(xen_shutdown_status(99), XEN_EXIT_CRASH);
	memcpy(at(DATA), &s, sizeof(s));
	cr_assert_eq(hypercall(__HYPERVISOR_sched_op, SCHEDOP_shutdown, DATA), 0,
		     "poweroff: the run ends with 0");
	cr_assert(fk.vm.stop);
	cr_assert_eq(fk.vm.exit_status, 0);
}

Test(xenpers, forced_emulation_cpuid_shows_xens_leaves)
{
	memcpy(at(CODE), "\x0f\x0bxen\x0f\xa2", 7);
	fk.t.regs.rip = CODE;
	fk.t.regs.rax = XEN_CPUID_FIRST_LEAF;
	fk.t.vector = VEC_UD;
	fk.t.has_error = false;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 7);
	cr_assert_eq(fk.t.regs.rbx, XEN_CPUID_SIGNATURE_EBX);
	cr_assert_eq(fk.t.regs.rcx, XEN_CPUID_SIGNATURE_ECX);
	cr_assert_eq(fk.t.regs.rdx, XEN_CPUID_SIGNATURE_EDX);
	cr_assert_geq(fk.t.regs.rax, XEN_CPUID_LEAF(2));
}

Test(xenpers, forced_emulation_prefix_before_anything_else_stays_ud)
{
	p->v.traps[VEC_UD] = (struct trap_info){.vector = VEC_UD, .address = HANDLER};
	memcpy(at(CODE), "\x0f\x0bxen\x90", 6);
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	fk.t.vector = VEC_UD;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	cr_assert_eq(q(fk.t.regs.rsp + 16), CODE, "#UD at the prefix");
}

Test(xenpers, int_n_follows_the_trap_tables_dpl)
{
	p->v.traps[0x80] = (struct trap_info){.vector = 0x80, .flags = 3, .address = HANDLER};
	p->v.traps[0x81] = (struct trap_info){.vector = 0x81, .flags = 0, .address = HANDLER + 16};
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER + 32};
	to_user();
	memcpy(at(CODE), "\xcd\x80", 2);
	fk.t.vector = VEC_UD; /* kvm_pvm: int $n at CPL3 is #UD */
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	cr_assert_eq(q(fk.t.regs.rsp + 16), CODE + 2, "returns past the int");

	to_user();
	memcpy(at(CODE), "\xcd\x81", 2);
	fk.t.vector = VEC_UD;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER + 32, "DPL 0 from user mode: #GP");
	cr_assert_eq(q(fk.t.regs.rsp + 16), 0x81 << 3 | 2, "Xen's error code");
	cr_assert_eq(q(fk.t.regs.rsp + 24), CODE, "at the instruction");
}

Test(xenpers, m2p_reads_are_identity_and_writes_fault)
{
	struct event e = {.vector = VEC_PF, .kind = EV_EXCEPTION, .has_error = true, .error = 0};

	memcpy(at(CODE), "\x48\x8b\x03", 3); /* mov (%rbx), %rax */
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	fk.t.regs.rbx = XEN_M2P_DEFAULT + 5 * 8;
	e.cr2 = fk.t.regs.rbx;
	cr_assert_eq(xen_pers_deliver(&fk.t, &e), 0);
	cr_assert_eq(fk.t.regs.rax, 5, "m2p[5] = 5");
	cr_assert_eq(fk.t.regs.rip, CODE + 3);

	fk.t.regs.rip = CODE;
	fk.t.regs.rbx = XEN_M2P_REPORTED + (guest.d.nr_pages + XEN_RESERVED_PAGES) * 8;
	e.cr2 = fk.t.regs.rbx;
	if ((e.cr2 & 0xfff) != 0) { /* still on the last page of entries: INVALID */
		cr_assert_eq(xen_pers_deliver(&fk.t, &e), 0);
		cr_assert_eq(fk.t.regs.rax, ~0ULL);
	}

	p->v.traps[VEC_PF] = (struct trap_info){.vector = VEC_PF, .address = HANDLER};
	memcpy(at(CODE), "\x48\x89\x03", 3); /* mov %rax, (%rbx) */
	fk.t.regs.rip = CODE;
	fk.t.regs.rbx = XEN_M2P_DEFAULT;
	e.cr2 = XEN_M2P_DEFAULT;
	e.error = PFEC_W;
	cr_assert_eq(xen_pers_deliver(&fk.t, &e), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER, "a write is the guest's #PF");
	cr_assert_eq(q(fk.t.regs.rsp + 16), PFEC_W | PFEC_P, "read-only and present");
}

Test(xenpers, hooks_reach_the_shadow_core)
{
	struct mmuext_op op = {.cmd = MMUEXT_NEW_USER_BASEPTR, .arg1.mfn = guest.l.cr3 >> 12};
	bool found = false;

	memcpy(at(DATA), &op, sizeof(op));
	fk.t.regs.r10 = 0;
	fk.t.regs.rdx = 0;
	fk.t.regs.rax = __HYPERVISOR_mmuext_op;
	fk.t.regs.rdi = DATA;
	fk.t.regs.rsi = 1;
	fk.t.regs.rcx = CODE;
	fk.t.regs.r11 = RFLAGS_FIXED;
	fk.t.regs.r10 = DOMID_SELF;
	cr_assert_eq(xen_pers_syscall(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rax, 0);
	cr_assert_eq(p->v.user_cr3, guest.l.cr3);
	for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++)
		found |= fk.g->shadow.roots[i].in_use && fk.g->shadow.roots[i].user &&
			 fk.g->shadow.roots[i].guest_cr3 == guest.l.cr3;
	cr_assert(found, "the user base pointer has its (flushed) shadow root");
}

Test(xenpers, loads_of_xens_flat_selectors_complete)
{
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	memcpy(at(CODE), "\x8e\xe0", 2); /* mov %eax, %fs */
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	fk.t.regs.rax = FLAT_RING3_SS64; /* XTF's __USER_DS */
	fk.t.sregs.fs.base = 0x1234;
	fk.t.vector = VEC_GP;
	fk.t.has_error = true;
	fk.t.error = FLAT_RING3_SS64 & ~3;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 2, "completed");
	cr_assert_eq(fk.t.sregs.fs.base, 0, "a flat descriptor's base");

	fk.t.regs.rax = 0x1238; /* a selector Xen does not provide: the guest's #GP */
	fk.t.regs.rip = CODE;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
}

Test(xenpers, mov_from_cr3_is_the_base_pointer_in_kernel_mode_and_gp_in_user_mode)
{
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	memcpy(at(CODE), "\x0f\x20\xd8", 3); /* mov %cr3, %rax */
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	fk.t.regs.rax = 0;
	fk.t.vector = VEC_GP;
	fk.t.has_error = true;
	fk.t.error = 0;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 3, "completed");
	cr_assert_eq(fk.t.regs.rax, p->v.kernel_cr3);

	/* Guest user code reading CR3: Xen's #GP, bounced to the kernel's handler. */
	to_user();
	fk.t.regs.rax = 0;
	fk.t.vector = VEC_GP;
	fk.t.has_error = true;
	fk.t.error = 0;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	cr_assert_eq(fk.t.regs.rax, 0, "nothing read for user mode");
}

/* A #GP (or vector) at CODE holding `bytes`, from the mode the guest is in. */
static int trap_at(unsigned vector, const char *bytes, unsigned len)
{
	memcpy(at(CODE), bytes, len);
	fk.t.regs.rip = CODE;
	if (!fk.g->user)
		fk.t.regs.rsp = KSTACK;
	fk.t.vector = vector;
	fk.t.has_error = vector == VEC_GP || vector == VEC_SS || vector == VEC_NP;
	fk.t.error = 0;
	return xen_pers_exception(&fk.t);
}

Test(xenpers, mov_to_and_from_debug_registers_follow_xens_rules)
{
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	p->v.traps[VEC_UD] = (struct trap_info){.vector = VEC_UD, .address = HANDLER + 16};
	fk.t.regs.rax = 0x5000;
	cr_assert_eq(trap_at(VEC_GP, "\x0f\x23\xc0", 3), 0); /* mov %rax, %dr0 */
	cr_assert_eq(fk.t.regs.rip, CODE + 3);
	cr_assert_eq(p->v.dr[0], 0x5000);
	cr_assert_eq(trap_at(VEC_GP, "\x0f\x21\xf9", 3), 0); /* mov %dr7, %rcx */
	cr_assert_eq(fk.t.regs.rcx, 0x400, "DR7 as Xen resets it");
	/* a breakpoint on Xen's range: #GP(0), and nothing stored */
	fk.t.regs.rax = __HYPERVISOR_VIRT_START;
	cr_assert_eq(trap_at(VEC_GP, "\x0f\x23\xc8", 3), 0); /* mov %rax, %dr1 */
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	cr_assert_eq(p->v.dr[1], 0);
	/* general detect is Xen's */
	fk.t.regs.rax = 0x2000;
	cr_assert_eq(trap_at(VEC_GP, "\x0f\x23\xf8", 3), 0); /* mov %rax, %dr7 */
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	cr_assert_eq(p->v.dr[7], 0x400);
	/* from user mode: the #GP stands */
	to_user();
	fk.t.regs.rax = 0x6000;
	cr_assert_eq(trap_at(VEC_GP, "\x0f\x23\xc0", 3), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	cr_assert_eq(p->v.dr[0], 0x5000);
}

Test(xenpers, sidt_and_sgdt_give_xens_tables)
{
	to_user(); /* Xen does not set UMIP: user mode reads them too */
	fk.t.regs.rbx = DATA;
	cr_assert_eq(trap_at(VEC_GP, "\x0f\x01\x0b", 3), 0); /* sidt (%rbx) */
	cr_assert_eq(fk.t.regs.rip, CODE + 3);
	cr_assert_eq(*(uint16_t *)at(DATA), 0xfff);
	cr_assert_eq(q(DATA + 2), 0xffff82d080000000ULL);
	cr_assert_eq(trap_at(VEC_GP, "\x0f\x01\x03", 3), 0); /* sgdt (%rbx) */
	cr_assert_eq(*(uint16_t *)at(DATA), 0xefff);
	cr_assert_eq(q(DATA + 2), 0xffff820000000000ULL);
	cr_assert_eq(trap_at(VEC_GP, "\x0f\x00\xc8", 3), 0); /* str %eax */
	cr_assert_eq(fk.t.regs.rax, 0xe040);
	/* an operand the guest cannot write: its own #PF */
	p->v.traps[VEC_PF] = (struct trap_info){.vector = VEC_PF, .address = HANDLER};
	fk.t.regs.rbx = 0x7fff00000000ULL;
	cr_assert_eq(trap_at(VEC_GP, "\x0f\x01\x0b", 3), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	cr_assert_eq(vinfo()->arch.cr2, 0x7fff00000000ULL);
}

Test(xenpers, cli_and_port_io_follow_the_virtual_iopl)
{
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	/* vIOPL 0: the kernel (CPL 1) faults */
	cr_assert_eq(trap_at(VEC_GP, "\xfa", 1), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	/* vIOPL 1: the kernel's cli is a no-op, its `in` reads all ones */
	p->v.iopl = 1;
	vinfo()->evtchn_upcall_mask = 0;
	cr_assert_eq(trap_at(VEC_GP, "\xfa", 1), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 1);
	cr_assert_eq(vinfo()->evtchn_upcall_mask, 0, "the virtual IF is the guest's own");
	fk.t.regs.rax = 0x1234;
	cr_assert_eq(trap_at(VEC_GP, "\xe4\x80", 2), 0); /* in $0x80, %al */
	cr_assert_eq(fk.t.regs.rip, CODE + 2);
	cr_assert_eq(fk.t.regs.rax, 0x12ff);
	/* ... but user mode (CPL 3) still faults */
	to_user();
	cr_assert_eq(trap_at(VEC_GP, "\xe6\x80", 2), 0); /* out %al, $0x80 */
	cr_assert_eq(fk.t.regs.rip, HANDLER);
}

Test(xenpers, mov_ss_of_the_selector_the_guest_read_back)
{
	/* XTF: read_ss() then `mov mem, %ss`; the guest reads lodger's kernel selector */
	*(uint16_t *)at(DATA) = STUB_GUEST_KERNEL_DS;
	fk.t.regs.rbx = DATA;
	cr_assert_eq(trap_at(VEC_SS, "\x8e\x13", 2), 0); /* mov (%rbx), %ss */
	cr_assert_eq(fk.t.regs.rip, CODE + 2, "completed");
	/* any other selector: the guest's own fault */
	p->v.traps[VEC_SS] = (struct trap_info){.vector = VEC_SS, .address = HANDLER};
	*(uint16_t *)at(DATA) = 0x1233;
	cr_assert_eq(trap_at(VEC_SS, "\x8e\x13", 2), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	/* a code segment is no stack: #GP, as on Xen */
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER + 16};
	*(uint16_t *)at(DATA) = FLAT_RING3_CS64;
	cr_assert_eq(trap_at(VEC_GP, "\x8e\x13", 2), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER + 16);
}

Test(xenpers, iret_and_lret_to_self_through_the_selectors_read_back)
{
	/* Linux's sync_core: push %ss, %rsp, flags, %cs (as read: lodger's), RIP; iretq */
	uint64_t frame[5] = {CODE + 0x40, STUB_GUEST_KERNEL_CS,
			     RFLAGS_FIXED | RFLAGS_DF | RFLAGS_IOPL, KSTACK + 0x100,
			     STUB_GUEST_KERNEL_DS};

	memcpy(at(KSTACK), frame, sizeof(frame));
	fk.t.regs.rflags = RFLAGS_FIXED | RFLAGS_IF;
	cr_assert_eq(trap_at(VEC_NP, "\x48\xcf", 2), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 0x40);
	cr_assert_eq(fk.t.regs.rsp, KSTACK + 0x100);
	cr_assert_eq(fk.t.regs.rflags, RFLAGS_FIXED | RFLAGS_DF | RFLAGS_IF,
		     "DF from the frame; IF and IOPL stay (CPL 3)");
	cr_assert_not(fk.g->user, "still the guest kernel");
	/* lretq through Xen's own flat selector */
	frame[0] = CODE + 0x80, frame[1] = FLAT_KERNEL_CS;
	memcpy(at(KSTACK), frame, 16);
	cr_assert_eq(trap_at(VEC_GP, "\x48\xcb", 2), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 0x80);
	cr_assert_eq(fk.t.regs.rsp, KSTACK + 16);
	/* any other code selector keeps its fault */
	p->v.traps[VEC_NP] = (struct trap_info){.vector = VEC_NP, .address = HANDLER};
	frame[1] = 0x4b; /* a guest GDT selector, as XTF's xsa-296 uses */
	memcpy(at(KSTACK), frame, 16);
	cr_assert_eq(trap_at(VEC_NP, "\x48\xcb", 2), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
}

/* Linux's sync_core (iret_to_self): an iretq to the kernel's own CS and SS. */
static void iret_frame(uint64_t rip, uint64_t cs, uint64_t rflags, uint64_t rsp, uint64_t ss)
{
	uint64_t f[5] = {rip, cs, rflags, rsp, ss};

	memcpy(at(KSTACK), f, sizeof(f));
	memcpy(at(CODE), "\x48\xcf", 2); /* iretq */
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	fk.t.regs.rflags = RFLAGS_FIXED | RFLAGS_IF;
	fk.t.vector = VEC_NP;
	fk.t.has_error = true;
	fk.t.error = STUB_GUEST_KERNEL_CS & ~3;
}

Test(xenpers, iretq_to_the_same_mode_completes)
{
	iret_frame(CODE + 0x10, STUB_GUEST_KERNEL_CS, RFLAGS_FIXED | 1 /* CF */ | RFLAGS_IOPL,
		   KSTACK + 0x28, STUB_GUEST_KERNEL_DS);
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 0x10);
	cr_assert_eq(fk.t.regs.rsp, KSTACK + 0x28);
	cr_assert_eq(fk.t.regs.rflags & 1, 1, "CF from the frame");
	cr_assert(fk.t.regs.rflags & RFLAGS_IF, "the real IF stays");
	cr_assert_eq(fk.t.regs.rflags & RFLAGS_IOPL, 0, "IOPL is never taken from the frame");
	cr_assert(!fk.g->user, "still kernel mode");

	/* the stub's alias, as the kernel reads CS there, and Xen's flat selectors too */
	iret_frame(CODE + 0x18, STUB_ALIAS_KERNEL_CS, RFLAGS_FIXED, KSTACK + 0x28,
		   STUB_ALIAS_KERNEL_DS);
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 0x18);
	iret_frame(CODE + 0x20, FLAT_KERNEL_CS64, RFLAGS_FIXED, KSTACK + 0x28, FLAT_KERNEL_SS64);
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 0x20);
}

Test(xenpers, iretq_never_changes_mode_and_a_bad_rip_stays_the_guests_fault)
{
	p->v.traps[VEC_NP] = (struct trap_info){.vector = VEC_NP, .address = HANDLER};
	/* a user selector: the same flat segment on Xen, so the mode does not change (only
	 * the iret hypercall changes it) */
	iret_frame(CODE + 0x10, STUB_GUEST_USER_CS, RFLAGS_FIXED, KSTACK + 0x28,
		   STUB_GUEST_USER_DS);
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert(!fk.g->user, "still the guest kernel");
	/* a non-canonical RIP */
	iret_frame(0x0000800000000000ULL, STUB_GUEST_KERNEL_CS, RFLAGS_FIXED, KSTACK + 0x28,
		   STUB_GUEST_KERNEL_DS);
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	/* a frame that cannot be read: the fault stands */
	iret_frame(CODE, STUB_GUEST_KERNEL_CS, RFLAGS_FIXED, KSTACK, STUB_GUEST_KERNEL_DS);
	fk.t.regs.rsp = 0x0000700000000000ULL;
	p->v.kernel_sp = KSTACK;
	cr_assert_neq(xen_pers_exception(&fk.t), 0, "no stack for the bounce: a crash");
}

Test(xenpers, store_to_a_read_only_l1_table_is_emulated)
{
	uint64_t l1 = 0, data_pte = 0x180000 | PTE_P | PTE_W | PTE_U | PTE_A;
	struct event e = {.vector = VEC_PF,
			  .kind = EV_EXCEPTION,
			  .has_error = true,
			  .error = PFEC_P | PFEC_W | PFEC_U};

	for (uint64_t f = 0; f < guest.d.nr_pages && !l1; f++)
		if (guest.d.frame_type[f] == 1)
			l1 = f * 4096;
	cr_assert_neq(l1, 0);
	guest.d.vm_assist |= 1UL << VMASST_TYPE_writable_pagetables;
	p->v.traps[VEC_PF] = (struct trap_info){.vector = VEC_PF, .address = HANDLER};
	memcpy(at(CODE), "\x48\x89\x07", 3); /* mov %rax, (%rdi) */
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	fk.t.regs.rdi = l1 + 511 * 8;
	fk.t.regs.rax = data_pte;
	e.cr2 = fk.t.regs.rdi;
	cr_assert_eq(xen_pers_deliver(&fk.t, &e), 0);
	cr_assert_eq(q(l1 + 511 * 8), data_pte, "the entry written");
	cr_assert_eq(fk.t.regs.rip, CODE + 3, "past the store");
	cr_assert_eq(guest.d.ptwr_emulated, 1);

	/* an entry mmu_update would refuse (a writable mapping of a page table): the #PF */
	fk.t.regs.rip = CODE;
	fk.t.regs.rax = l1 | PTE_P | PTE_W;
	cr_assert_eq(xen_pers_deliver(&fk.t, &e), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER, "refused: the guest's own #PF");
	cr_assert_eq(q(l1 + 511 * 8), data_pte, "unchanged");
}

Test(xenpers, time_is_published_at_boot_and_follows_the_guest_tsc)
{
	struct shared_info *s = at(guest.d.shared_info_gpa);
	uint64_t t0, t1;

	cr_assert_eq(vinfo()->time.version & 1, 0, "a complete record");
	cr_assert_gt(vinfo()->time.version, 0);
	cr_assert_neq(vinfo()->time.tsc_to_system_mul, 0);
	cr_assert_eq(s->wc_version & 1, 0);
	cr_assert_gt(s->wc_sec, 1700000000, "UTC now");
	t0 = p->v.hooks->now_ns(p);
	usleep(2000);
	t1 = p->v.hooks->now_ns(p);
	cr_assert_geq(t1 - t0, 1000000, "system time advances with the TSC");
	cr_assert_lt(t1 - t0, 2000000000);
}

Test(xenpers, terminal_keys_reach_the_console_ring_on_the_way_back)
{
	struct xencons_interface *ring = at(guest.d.console_gpa);

	cr_assert(p->conin_ok);
	cr_assert_eq(xen_conin_push(&p->conin, (const uint8_t *)"ls\r", 3), 3);
	cr_assert_eq(xen_pers_pending(&fk.t), 0);
	cr_assert_eq(ring->in_prod, 3);
	cr_assert_eq(memcmp(ring->in, "ls\r", 3), 0);
	cr_assert(!xen_conin_waiting(&p->conin), "the queue drained");
	/* a ring whose indexes the guest corrupted takes nothing, and the keys wait */
	ring->in_cons = 0x80000000u;
	cr_assert_eq(xen_conin_push(&p->conin, (const uint8_t *)"x", 1), 1);
	cr_assert_eq(xen_pers_pending(&fk.t), 0);
	cr_assert_eq(ring->in_prod, 3);
	cr_assert(xen_conin_waiting(&p->conin));
}

Test(xenpers, block_wakes_for_a_key_from_the_terminal)
{
	p->v.event_cb = EVENT_CB;
	fk.t.regs.rsp = KSTACK;
	p->terminal = true; /* keys may come: no timer is no reason to end the run */
	cr_assert_eq(xen_conin_push(&p->conin, (const uint8_t *)"a", 1), 1);
	cr_assert_eq(hypercall(__HYPERVISOR_sched_op, SCHEDOP_block, 0), 0);
	cr_assert(vinfo()->evtchn_upcall_pending, "woken by the console port");
}

/* What the backends' I/O thread does when a disk request completes: the port pending,
 * then the wake eventfd. */
static void *complete_later(void *port)
{
	uint64_t one = 1;

	usleep(20000);
	xen_evtchn_set_pending(&p->v, (evtchn_port_t)(uintptr_t)port);
	cr_assert_eq(write(p->wake_fd, &one, sizeof(one)), sizeof(one));
	return NULL;
}

Test(xenpers, block_wakes_for_a_disk_completion)
{
	struct evtchn_alloc_unbound alloc = {.dom = DOMID_SELF, .remote_dom = 0};
	evtchn_port_t port;
	pthread_t th;

	cr_assert_geq(p->wake_fd, 0, "the boot made the wake eventfd");
	memcpy(at(DATA), &alloc, sizeof(alloc));
	fk.t.regs.rsp = KSTACK;
	cr_assert_eq(hypercall(__HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, DATA), 0);
	cr_assert_eq(fk.t.regs.rax, 0);
	memcpy(&port, at(DATA + offsetof(struct evtchn_alloc_unbound, port)), sizeof(port));
	p->v.event_cb = EVENT_CB;
	vinfo()->evtchn_upcall_mask = 0;
	/* no timer, no terminal: without a disk this block would end the run */
	p->terminal = false;
	p->disks = true;
	cr_assert_eq(pthread_create(&th, NULL, complete_later, (void *)(uintptr_t)port), 0);
	cr_assert_eq(hypercall(__HYPERVISOR_sched_op, SCHEDOP_block, 0), 0);
	pthread_join(th, NULL);
	cr_assert(vinfo()->evtchn_upcall_pending, "woken by the completion");
}

/* Port I/O as Xen gives a domU: with the virtual IOPL of PHYSDEVOP_set_iopl, reads are all
 * ones and writes dropped; without it, the guest's #GP. */
Test(xenpers, port_io_follows_the_virtual_iopl)
{
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	fk.t.vector = VEC_GP;
	fk.t.has_error = true;
	fk.t.error = 0;
	fk.t.regs.rsp = KSTACK;
	memcpy(at(CODE), "\xed", 1); /* in (%dx), %eax */
	fk.t.regs.rip = CODE;
	fk.t.regs.rax = 0x1234567812345678ULL;
	fk.t.regs.rdx = 0xcfc;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER, "IOPL 0: the #GP is the guest's");

	p->v.iopl = 1; /* Linux's PHYSDEVOP_set_iopl */
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 1);
	cr_assert_eq(fk.t.regs.rax, 0xffffffffULL, "no device: all ones, bits 63:32 cleared");
	memcpy(at(CODE), "\xe4\x71", 2); /* in $0x71, %al */
	fk.t.regs.rip = CODE;
	fk.t.regs.rax = 0x1200;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rax, 0x12ff);
	/* Xen's PV PIT: port 0x61 is there (gate, speaker, OUT2 all low at first) */
	memcpy(at(CODE), "\xe6\x61", 2); /* out %al, $0x61: gate 2 high */
	fk.t.regs.rip = CODE;
	fk.t.regs.rax = 0x01;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	memcpy(at(CODE), "\xe4\x61", 2); /* in $0x61, %al */
	fk.t.regs.rip = CODE;
	fk.t.regs.rax = 0x1200;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rax, 0x1201, "expected the PIT's port 0x61, gate high");
	memcpy(at(CODE), "\xef", 1); /* out %eax, (%dx): dropped */
	fk.t.regs.rip = CODE;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 1);
	memcpy(at(CODE), "\xf3\x6c", 2); /* rep insb: not completed */
	fk.t.regs.rip = CODE;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);

	/* user mode needs IOPL 3 */
	to_user();
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	memcpy(at(CODE), "\xec", 1); /* in (%dx), %al */
	fk.t.vector = VEC_GP;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
}

/* Xen's PV CPUID policy: features a PV kernel cannot use are hidden (PGE: Linux would
 * write CR4), those every guest has stay. */
Test(xenpers, cpuid_features_follow_xens_pv_policy)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 4 * sizeof(c->entries[0]));

	cr_assert_not_null(c);
	c->nent = 3;
	c->entries[0] = (struct kvm_cpuid_entry2){.function = 1, .ecx = ~0u, .edx = ~0u};
	c->entries[1] = (struct kvm_cpuid_entry2){.function = 7, .ebx = ~0u, .ecx = ~0u};
	c->entries[2] = (struct kvm_cpuid_entry2){.function = 0x80000001, .ecx = ~0u, .edx = ~0u};
	xen_cpuid_leaves(c, 4);
	cr_assert_eq(c->entries[0].edx & (1u << 13 | 1u << 3), 0, "no PGE, no PSE");
	cr_assert_eq(c->entries[0].edx & (1u << 7 | 1u << 14), 0, "no MCE, MCA: no virtual MCE");
	cr_assert(c->entries[0].edx & 1u, "FPU stays");
	cr_assert_eq(c->entries[0].ecx & (1u << 3 | 1u << 21 | 1u << 24), 0,
		     "no MONITOR, X2APIC, TSC_DEADLINE");
	cr_assert(c->entries[0].ecx & 1u << 31, "the hypervisor bit stays");
	cr_assert_eq(c->entries[1].ebx & (1u << 7 | 1u << 20), 0, "no SMEP, SMAP");
	cr_assert_eq(c->entries[2].edx & (1u << 13 | 1u << 26), 0, "no PGE copy, no 1 GiB pages");
	cr_assert(c->entries[2].edx & 1u << 29, "long mode stays");
	free(c);
}

/* Linux's xen_write_cr4 ends in a real mov to CR4: Xen completes it, keeping its own view */
Test(xenpers, mov_to_cr4_completes_in_kernel_mode_and_changes_nothing)
{
	uint64_t cr4 = fk.g->cr4;

	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	memcpy(at(CODE), "\x0f\x22\xe7", 3); /* mov %rdi, %cr4 */
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	fk.t.regs.rdi = CR4_PAE | CR4_PGE | CR4_OSFXSR | (1ULL << 2) /* TSD */;
	fk.t.vector = VEC_GP;
	fk.t.has_error = true;
	fk.t.error = 0;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 3);
	cr_assert_eq(fk.g->cr4, cr4, "the PV view is Xen's own");
	memcpy(at(CODE), "\x0f\x22\xc7", 3); /* mov %rdi, %cr0: not completed */
	fk.t.regs.rip = CODE;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
	to_user();
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	memcpy(at(CODE), "\x0f\x22\xe7", 3);
	fk.t.vector = VEC_GP;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER, "user mode: #GP");
}

/* cli/sti: Xen completes them as nothing under the virtual IOPL, else the guest's #GP */
Test(xenpers, cli_and_sti_complete_as_nothing_under_the_virtual_iopl)
{
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	fk.t.vector = VEC_GP;
	fk.t.has_error = true;
	fk.t.error = 0;
	fk.t.regs.rsp = KSTACK;
	fk.t.regs.rip = CODE;
	memcpy(at(CODE), "\xfa", 1); /* cli */
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER, "IOPL 0: #GP");
	p->v.iopl = 1;
	vinfo()->evtchn_upcall_mask = 0;
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 1);
	cr_assert_eq(vinfo()->evtchn_upcall_mask, 0, "the virtual IF is not touched");
	memcpy(at(CODE), "\xfb", 1); /* sti */
	fk.t.regs.rip = CODE;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 1);
}

/* The stub's #GP fast path completes a kernel cli/sti itself exactly where Xen would
 * complete it as nothing; elsewhere lodger decides (the guest's #GP above). The area
 * byte follows the virtual IOPL on every return to the guest. */
Test(xenpers, the_stubs_fast_path_completes_kernel_cli_and_sti_only_under_the_iopl)
{
	const struct stub_area *area = stub_area(&fk.g->stub);

	cr_assert_not_null(xen_personality.kernel_cli_sti);
	cr_assert_eq(xen_personality.kernel_cli_sti(fk.g), STUB_CLI_STI_LODGER, "IOPL 0");
	p->v.iopl = 1; /* Linux's PHYSDEVOP_set_iopl: the kernel counts as CPL 1 */
	cr_assert_eq(xen_personality.kernel_cli_sti(fk.g), STUB_CLI_STI_NOP);
	p->v.kernel_mode = false; /* asked for the kernel, whatever the mode now */
	cr_assert_eq(xen_personality.kernel_cli_sti(fk.g), STUB_CLI_STI_NOP);
	p->v.kernel_mode = true;
	p->v.iopl = 0;
	p->v.d->vm_assist |= 1UL << VMASST_TYPE_architectural_iopl; /* the kernel is CPL 0 */
	cr_assert_eq(xen_personality.kernel_cli_sti(fk.g), STUB_CLI_STI_NOP);
	p->v.d->vm_assist = 0;
	fk.t.regs.rip = CODE;
	fk.t.regs.rsp = KSTACK;
	trap_set_mode(&fk.t, false);
	cr_assert_eq(transport_resume(&fk.t), 0);
	cr_assert_eq(area->kernel_cli_sti, STUB_CLI_STI_LODGER);
	p->v.iopl = 1;
	cr_assert_eq(transport_resume(&fk.t), 0);
	cr_assert_eq(area->kernel_cli_sti, STUB_CLI_STI_NOP, "written on the way back");
}

/* A guest that never traps still gets its timer: KVM's local APIC timer is armed for the
 * next deadline on the way back, and its interrupt is only a kick. */
Test(xenpers, the_next_deadline_arms_the_local_apic_timer)
{
	uint32_t lvtt, tmict, svr;

	p->v.timer_deadline_ns = p->v.hooks->now_ns(p) + 3000000; /* 3 ms */
	cr_assert_eq(xen_pers_pending(&fk.t), 0);
	cr_assert_eq(fk.lapic_sets, 1);
	memcpy(&lvtt, fk.lapic.regs + 0x320, 4);
	memcpy(&tmict, fk.lapic.regs + 0x380, 4);
	memcpy(&svr, fk.lapic.regs + 0xf0, 4);
	cr_assert_eq(lvtt, 0xef, "one-shot, unmasked, lodger's vector");
	cr_assert(tmict > 1000000 && tmict <= 3000000, "about 3 ms at 1 GHz: %u", tmict);
	cr_assert(svr & 0x100, "software-enabled");
	cr_assert_eq(xen_pers_pending(&fk.t), 0);
	cr_assert_eq(fk.lapic_sets, 1, "the same deadline is not armed twice");
	/* the kick arrives: dropped, and the next return arms again */
	struct event e = {.vector = 0xef, .kind = EV_EXTERNAL};
	cr_assert_eq(xen_pers_deliver(&fk.t, &e), 0);
	cr_assert_eq(xen_pers_pending(&fk.t), 0);
	cr_assert_eq(fk.lapic_sets, 2);
	/* no timer: masked */
	p->v.timer_deadline_ns = 0;
	cr_assert_eq(xen_pers_pending(&fk.t), 0);
	memcpy(&lvtt, fk.lapic.regs + 0x320, 4);
	cr_assert(lvtt & 1u << 16, "masked without a deadline");
}

/* Linux loads its own GDT's selectors (__USER_DS into FS in a fixup): Xen has the guest's
 * GDT frames in the real GDT, lodger completes the load from the descriptor. */
Test(xenpers, loads_of_the_guests_own_gdt_selectors_complete)
{
	uint64_t *gdt = at(DATA + 0x1000);

	gdt[5] = 0x00cff3000000ffffULL; /* data, writable, DPL 3, base 0 */
	gdt[6] = 0x12cff3345678ffffULL; /* base 0x12345678 */
	gdt[7] = 0x00cf93000000ffffULL; /* DPL 0: refused */
	gdt[8] = 0x00cf73000000ffffULL; /* not present */
	p->v.gdt_frames[0] = (DATA + 0x1000) >> 12;
	p->v.gdt_ents = 9;
	p->v.traps[VEC_GP] = (struct trap_info){.vector = VEC_GP, .address = HANDLER};
	memcpy(at(CODE), "\x8e\xe0", 2); /* mov %eax, %fs */
	fk.t.vector = VEC_GP;
	fk.t.has_error = true;
	fk.t.regs.rsp = KSTACK;

	fk.t.regs.rip = CODE, fk.t.regs.rax = 0x2b, fk.t.sregs.fs.base = 0x99;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, CODE + 2);
	cr_assert_eq(fk.t.sregs.fs.base, 0);
	fk.t.regs.rip = CODE, fk.t.regs.rax = 0x33;
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.sregs.fs.base, 0x12345678, "the descriptor's base");
	for (unsigned sel = 0x3b; sel <= 0x4b; sel += 8) { /* DPL 0, not present, past the end */
		fk.t.regs.rip = CODE, fk.t.regs.rax = sel, fk.t.regs.rsp = KSTACK;
		cr_assert_eq(xen_pers_exception(&fk.t), 0);
		cr_assert_eq(fk.t.regs.rip, HANDLER, "selector %#x: the guest's #GP", sel);
	}
	fk.t.regs.rip = CODE, fk.t.regs.rax = 0x2f, fk.t.regs.rsp = KSTACK; /* LDT */
	cr_assert_eq(xen_pers_exception(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, HANDLER);
}
