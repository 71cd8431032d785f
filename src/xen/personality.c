/* personality.c - the Xen PV personality's table of operations (xen/personality.h). */
#include "xen/personality.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <xen/sched.h>

#include "arch/x86.h"
#include "dev/devices.h"
#include "dev/disk.h"
#include "dev/serial.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "front/stats.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"
#include "xen/backend.h"
#include "xen/bounce.h"
#include "xen/families.h"
#include "xen/hypercall.h"
#include "xen/ptwr.h"
#include "xen/trapemu.h"

/* lodger's own vector for the local APIC timer that interrupts a guest which does not
 * trap (arm_kick) */
#define KICK_VECTOR 0xef

static struct xen_pstate *pstate(const struct trap *t)
{
	return t->g->pstate;
}

int xen_shutdown_status(unsigned reason)
{
	switch (reason) {
	case SHUTDOWN_poweroff:
		return EXIT_GUEST_POWEROFF;
	case SHUTDOWN_reboot:
		return XEN_EXIT_REBOOT;
	case SHUTDOWN_suspend:
		return XEN_EXIT_SUSPEND;
	case SHUTDOWN_watchdog:
		return XEN_EXIT_WATCHDOG;
	case SHUTDOWN_soft_reset:
		return XEN_EXIT_SOFT_RESET;
	default: /* SHUTDOWN_crash, and a reason Xen does not know (Xen: a crash too) */
		return XEN_EXIT_CRASH;
	}
}

void xen_regs_in(struct xen_pstate *p, struct trap *t)
{
	struct xen_regs *r = &p->v.regs;
	const struct kvm_regs *k = &t->regs;

	r->rax = k->rax, r->rbx = k->rbx, r->rcx = k->rcx, r->rdx = k->rdx;
	r->rsi = k->rsi, r->rdi = k->rdi, r->rbp = k->rbp, r->rsp = k->rsp;
	r->r8 = k->r8, r->r9 = k->r9, r->r10 = k->r10, r->r11 = k->r11;
	r->r12 = k->r12, r->r13 = k->r13, r->r14 = k->r14, r->r15 = k->r15;
	r->rip = k->rip, r->rflags = k->rflags;
	p->v.kernel_mode = !t->g->user;
	/* The guest may have changed its bases itself (kvm_pvm runs wrfsbase at CPL3). */
	p->v.fs_base = t->sregs.fs.base;
	if (p->v.kernel_mode)
		p->v.gs_base_kernel = t->sregs.gs.base;
	else
		p->v.gs_base_user = t->sregs.gs.base;
	p->t = t;
}

void xen_regs_out(struct xen_pstate *p, struct trap *t)
{
	const struct xen_regs *r = &p->v.regs;
	struct kvm_regs *k = &t->regs;
	struct guestcpu *g = t->g;
	bool user = !p->v.kernel_mode;

	k->rax = r->rax, k->rbx = r->rbx, k->rcx = r->rcx, k->rdx = r->rdx;
	k->rsi = r->rsi, k->rdi = r->rdi, k->rbp = r->rbp, k->rsp = r->rsp;
	k->r8 = r->r8, k->r9 = r->r9, k->r10 = r->r10, k->r11 = r->r11;
	k->r12 = r->r12, k->r13 = r->r13, k->r14 = r->r14, k->r15 = r->r15;
	k->rip = r->rip, k->rflags = r->rflags;
	/* kernel mode on the stub's present aliases (kernel_on_aliases): what it reads from
	 * CS and SS then loads natively, as Xen's ring-3 kernel selectors do. User mode keeps
	 * the not-present ones: nothing there can reach a kernel descriptor. */
	trap_set_mode(t, user);
	/* Each mode runs on the shadow of its own base pointer (Xen switches them too). */
	g->cr3 = user && p->v.user_cr3 ? p->v.user_cr3 : p->v.kernel_cr3;
	t->sregs.fs.base = p->v.fs_base;
	t->sregs.gs.base = user ? p->v.gs_base_user : p->v.gs_base_kernel;
}

/* The domain shut down (SCHEDOP_shutdown, or a crash bounce.c decided): end the run. */
static int check_shutdown(struct xen_pstate *p, struct trap *t)
{
	struct xen_domain *d = &p->guest->d;
	int status;

	if (!d->shut_down)
		return 0;
	status = xen_shutdown_status(d->shutdown_reason);
	pr_debug(LOG_XEN, "shutdown, reason %u: exit status %d", d->shutdown_reason, status);
	if (d->shutdown_reason == SHUTDOWN_crash)
		pr_err("vcpu%u: the Xen PV guest crashed (SHUTDOWN_crash), RIP %#llx", t->vcpu->id,
		       (unsigned long long)p->v.regs.rip);
	vm_request_exit(t->vcpu->vm, status);
	return status;
}

/* ---- the hooks (state.h struct xen_hooks) ---- */

static void hook_pte_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct xen_pstate *p = opaque;

	/* The shadow knows which of its entries each guest table frame gave (its mirrors):
	 * only those derived from these entries go. */
	shadow_pte_written(&p->t->g->shadow, gpa, len);
}

/* A TLB flush. Every write to a guest table reaches the shadow as it happens
 * (pte_written: mmu_update, ptwr), so what a flush must bring up to date is what a CR3
 * load syncs: the mirrors the guest wrote directly and the roots' top entries. */
static void hook_flush_all(void *opaque)
{
	struct xen_pstate *p = opaque;
	struct shadow *s = &p->t->g->shadow;

	if (!shadow_root(s, p->v.kernel_cr3, false, true))
		shadow_flush_all(s);
	if (p->v.user_cr3 && !shadow_root(s, p->v.user_cr3, true, true))
		shadow_flush_all(s);
}

static void hook_invlpg(void *opaque, uint64_t la)
{
	struct xen_pstate *p = opaque;
	struct shadow *s = &p->t->g->shadow;

	shadow_invlpg(s, p->v.kernel_cr3, la);
	if (p->v.user_cr3 && p->v.user_cr3 != p->v.kernel_cr3)
		shadow_invlpg(s, p->v.user_cr3, la);
}

static void hook_pinned(void *opaque)
{
	struct xen_pstate *p = opaque;

	shadow_flush_point(&p->t->g->shadow);
}

static void hook_new_root(void *opaque, bool user, uint64_t l4_gpa)
{
	struct xen_pstate *p = opaque;

	/* A new base pointer flushes the TLB, as Xen's write_ptbase does. xen_regs_out
	 * makes it the current root when its mode runs. */
	if (!shadow_root(&p->t->g->shadow, l4_gpa, user, true))
		pr_warn("Xen PV guest: no shadow root for base pointer %#llx",
			(unsigned long long)l4_gpa);
}

static void hook_console_write(void *opaque, const char *buf, unsigned len)
{
	(void)opaque;
	serial_console_write(buf, len);
}

static uint64_t host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The guest's rdtsc now, estimated: KVM runs it at the host's rate plus an offset,
 * taken again at every exact reading. For lodger's timers, never for the guest's record. */
static uint64_t guest_tsc_estimate(const struct xen_pstate *p)
{
	return __rdtsc() + (uint64_t)p->tsc_offset;
}

/*
 * The guest's TSC exactly, from KVM (IA32_TIME_STAMP_COUNTER), for the pvclock record:
 * the guest reads its TSC after this, so it never sees one below the record's timestamp
 * (pvclock's delta is unsigned: a TSC a little behind would read as centuries ahead).
 * The estimate when KVM does not answer.
 */
static uint64_t hook_guest_tsc(void *opaque)
{
	struct xen_pstate *p = opaque;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h.nmsrs = 1, .e.index = 0x10 /* IA32_TIME_STAMP_COUNTER */};
	uint64_t host = __rdtsc();

	if (!p->vcpu || kvm_raw_ioctl(p->vcpu->fd, KVM_GET_MSRS, &m) != 1 || !m.e.data)
		return guest_tsc_estimate(p);
	p->tsc_offset = (int64_t)(m.e.data - host);
	return m.e.data;
}

/* Xen's system time: the guest's pvclock line at the guest's TSC, so lodger's timers and
 * the guest's clock agree (to the estimate's error, microseconds). */
static uint64_t hook_now_ns(void *opaque)
{
	struct xen_pstate *p = opaque;

	return xen_clock_ns(&p->clock, guest_tsc_estimate(p));
}

static const struct xen_hooks hooks = {
	.pte_written = hook_pte_written,
	.flush_all = hook_flush_all,
	.invlpg = hook_invlpg,
	.pinned = hook_pinned,
	.new_root = hook_new_root,
	.console_write = hook_console_write,
	.now_ns = hook_now_ns,
	.guest_tsc = hook_guest_tsc,
};

/* The host TSC's rate, measured against CLOCK_MONOTONIC (when KVM does not say). */
static uint64_t measure_tsc_hz(void)
{
	uint64_t t0 = host_ns(), c0 = __rdtsc(), t1, c1;
	struct timespec ts = {.tv_nsec = 10000000};

	nanosleep(&ts, NULL);
	t1 = host_ns();
	c1 = __rdtsc();
	return t1 > t0 ? (uint64_t)((unsigned __int128)(c1 - c0) * 1000000000ULL / (t1 - t0))
		       : 1000000000ULL;
}

/* The guest's clock: TSC rate and offset from KVM, system time 0 now, UTC now. */
static void clock_start(struct xen_pstate *p, struct vcpu *vcpu)
{
	int khz = kvm_raw_ioctl(vcpu->fd, KVM_GET_TSC_KHZ, NULL);
	uint64_t hz = khz > 0 ? (uint64_t)khz * 1000 : measure_tsc_hz(), tsc0;
	struct timespec wall;

	p->vcpu = vcpu;
	p->tsc_offset = 0;
	tsc0 = hook_guest_tsc(p);
	clock_gettime(CLOCK_REALTIME, &wall);
	xen_clock_init(&p->clock, hz, tsc0,
		       (uint64_t)wall.tv_sec * 1000000000ULL + (uint64_t)wall.tv_nsec, false);
	p->guest->d.clock = &p->clock;
	pr_debug(LOG_XEN, "clock: TSC %llu Hz (%s), mul %#x shift %d", (unsigned long long)hz,
		 khz > 0 ? "KVM" : "measured", p->clock.mul, p->clock.shift);
}

/* The terminal's thread: keys for the guest's console ring. */
static void conin_receive(void *ctx, const uint8_t *bytes, unsigned n)
{
	xen_conin_push(ctx, bytes, n);
}

/*
 * The backends' I/O thread set an event pending (a disk request completed): wake a vCPU
 * blocked in SCHEDOP_block (the eventfd), or interrupt a running guest with lodger's kick
 * vector so that the event is delivered on the way back from that trap.
 */
static void backend_wake(void *ctx)
{
	struct xen_pstate *p = ctx;
	struct kvm_msi msi = {.address_lo = 0xfee00000, .data = KICK_VECTOR}; /* APIC 0, fixed */
	uint64_t one = 1;

	if (p->wake_fd >= 0 && write(p->wake_fd, &one, sizeof(one)) < 0)
		pr_debug(LOG_XEN, "wake: %s", strerror(errno));
	(void)kvm_raw_ioctl(p->vm_fd, KVM_SIGNAL_MSI, &msi);
}

/* ---- the operations ---- */

/* The vCPU's CPUID table as lodger gave it to KVM (cpu_set_cpuid ran before boot). */
static struct kvm_cpuid2 *read_cpuid(struct vcpu *vcpu)
{
	enum { N = 1024 }; /* KVM_GET_CPUID2 fails (E2BIG) on a short buffer */
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + N * sizeof(c->entries[0]));

	if (!c)
		return NULL;
	c->nent = N;
	if (kvm_raw_ioctl(vcpu->fd, KVM_GET_CPUID2, c) < 0)
		c->nent = 0;
	return c;
}

int xen_pers_boot(struct trap *t, const struct personality_boot *b)
{
	struct guestcpu *g = t->g;
	struct xen_pstate *p = calloc(1, sizeof(*p));

	if (!p || !b->prepared) {
		free(p);
		pr_err("Xen PV guest: nothing prepared to boot");
		return EXIT_INTERNAL;
	}
	p->guest = b->prepared;
	p->cpuid = read_cpuid(t->vcpu);
	xen_vcpu_init(&p->v, &p->guest->d, &p->guest->l);
	xen_evtchn_init(&p->guest->d);
	clock_start(p, t->vcpu);
	/* lodger as domain 0: the grant table, xenstore and a vbd per -drive if=xen
	 * (docs/block.md) */
	struct xen_backend_disk disks[XEN_BACKEND_DISKS];
	unsigned ndisks = disks_xen(disks, XEN_BACKEND_DISKS);

	p->vm_fd = t->vcpu->vm->vm_fd;
	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int err = xen_backends_start(&(struct xen_backends_params){.d = &p->guest->d,
								   .v = &p->v,
								   .name = "lodger",
								   .disks = disks,
								   .ndisks = ndisks,
								   .wake = backend_wake,
								   .wake_ctx = p});
	if (err && ndisks) {
		pr_err("Xen PV guest: cannot start the disk backends: %s", strerror(-err));
		return EXIT_HOST_ERROR;
	}
	if (err)
		pr_warn("Xen PV guest: no grant table or xenstore (%s)", strerror(-err));
	p->disks = !err && ndisks;
	p->v.hooks = &hooks;
	p->v.opaque = p;
	g->pstate = p;
	xen_time_publish(&p->v, hook_guest_tsc(p));
	xen_wallclock_publish(&p->guest->d);
	p->conin_ok = !xen_conin_init(&p->conin);
	if (p->conin_ok) {
		/* Keys can only come from a terminal on stdin (front/console.c) */
		p->terminal = isatty(STDIN_FILENO);
		serial_route_input(conin_receive, &p->conin);
	}
	/* A 64-bit PV vCPU: long mode, paging with WP (guest kernel writes honour read-only
	 * pages: Xen runs the kernel in ring 3), NX. */
	g->cr0 = CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE;
	g->cr4 = CR4_OSXMMEXCPT | CR4_OSFXSR | CR4_PAE;
	g->efer = EFER_NXE | EFER_LMA | EFER_LME | EFER_SCE;
	g->pat = PAT_RESET;
	g->vif = false;
	t->regs = (struct kvm_regs){0};
	xen_regs_out(p, t);
	pr_debug(LOG_XEN, "boot: entry %#llx, RSP %#llx, start_info %#llx, L4 %#llx",
		 (unsigned long long)p->v.regs.rip, (unsigned long long)p->v.regs.rsp,
		 (unsigned long long)p->v.regs.rsi, (unsigned long long)p->v.kernel_cr3);
	return 0;
}

/*
 * A `syscall`: RCX holds the return RIP and R11 the RFLAGS the CPU saved (on kvm_pvm it
 * arrives as the fetch fault on LSTAR, so RIP is no help). Kernel mode: a hypercall, as
 * the hypercall page makes them (RCX and R11 were pushed before, and are popped after);
 * user mode: to the guest's syscall callback.
 */
int xen_pers_syscall(struct trap *t)
{
	struct xen_pstate *p = pstate(t);
	struct xen_vcpu *v = &p->v;
	int r = 0;

	xen_regs_in(p, t);
	v->regs.rip = v->regs.rcx;
	v->regs.rflags = v->regs.r11;
	if (!v->kernel_mode) {
		pr_debug(LOG_XEN, "syscall from user mode at %#llx",
			 (unsigned long long)v->regs.rip);
		r = xen_bounce_syscall(v);
	} else if (v->regs.rax == __HYPERVISOR_iret) {
		v->d->hypercalls[__HYPERVISOR_iret]++;
		r = xen_iret(v);
		pr_debug(LOG_XEN, "iret to %#llx (%s mode) = %d", (unsigned long long)v->regs.rip,
			 v->kernel_mode ? "kernel" : "user", r);
	} else {
		xen_hypercall_regs(v);
	}
	(void)r; /* a failed iret or bounce crashed the domain: check_shutdown says so */
	xen_regs_out(p, t);
	if (v->blocked) {
		v->blocked = false;
		int w = v->d->shut_down
				? 0
				: xen_wait_for_event(p, t); /* a batch's block, then shutdown */

		if (w)
			return w;
	}
	return check_shutdown(p, t);
}

/* Bounces an exception through the trap table (#PF: CR2 into vcpu_info too). */
int xen_bounce(struct xen_pstate *p, struct trap *t, unsigned vector, bool has_error,
	       uint32_t error, uint64_t cr2)
{
	xen_regs_in(p, t);
	if (vector < 256)
		p->guest->d.bounces[vector]++;
	pr_debug(LOG_XEN, "bounce vector %u error %#x at %#llx (%s), cr2 %#llx", vector, error,
		 (unsigned long long)p->v.regs.rip, p->v.kernel_mode ? "kernel" : "user",
		 (unsigned long long)cr2);
	if (log_enabled(LOG_XEN)) {
		/* the stack's top words: the return addresses that say how the guest got here */
		struct gview gv = trap_view(t, t->g->user);
		struct gfault f;
		uint64_t w[8] = {0};

		if (gmem_read(&gv, t->regs.rsp, w, sizeof(w), false, &f))
			pr_debug(LOG_XEN,
				 "  RSP %#llx: %#llx %#llx %#llx %#llx %#llx %#llx %#llx %#llx",
				 (unsigned long long)t->regs.rsp, (unsigned long long)w[0],
				 (unsigned long long)w[1], (unsigned long long)w[2],
				 (unsigned long long)w[3], (unsigned long long)w[4],
				 (unsigned long long)w[5], (unsigned long long)w[6],
				 (unsigned long long)w[7]);
	}
	(void)xen_bounce_exception(&p->v, vector, has_error, error, cr2);
	t->g->stats.by_kind[TK_REFLECTED]++;
	xen_regs_out(p, t);
	return check_shutdown(p, t);
}

int xen_pers_exception(struct trap *t)
{
	struct xen_pstate *p = pstate(t);
	int r;

	if ((t->vector == VEC_UD || t->vector == VEC_GP || t->vector == VEC_NP ||
	     t->vector == VEC_SS) &&
	    xen_trapemu(p, t, &r))
		return r ? r : check_shutdown(p, t);
	return xen_bounce(p, t, t->vector, t->has_error, t->error, 0);
}

/* A kernel store to one of its read-only L1 tables (writable page tables, xen/ptwr.h):
 * true when it was emulated (or retried, or faulted in the emulation), with *status. */
static bool ptwr(struct xen_pstate *p, struct trap *t, const struct event *e, int *status)
{
	struct gfault f;

	xen_regs_in(p, t);
	switch (xen_ptwr_fault(&p->v, e->cr2, e->error, &f)) {
	case XEN_PTWR_DONE:
		p->emulated++;
		t->g->stats.by_kind[TK_EMULATED]++;
		xen_regs_out(p, t);
		*status = check_shutdown(p, t);
		return true;
	case XEN_PTWR_RETRY: /* nothing changed: the store runs again */
		*status = 0;
		return true;
	case XEN_PTWR_FAULT:
		*status = xen_bounce(p, t, f.vector, true, f.error, f.cr2);
		return true;
	case XEN_PTWR_NOT_MINE:
	default:
		return false;
	}
}

int xen_pers_deliver(struct trap *t, const struct event *e)
{
	struct xen_pstate *p = pstate(t);
	int r;

	switch (e->kind) {
	case EV_EXTERNAL:
		/* No device interrupts a PV guest (its events are channels): lodger's timer
		 * kick (arm_kick) or nothing. The timers are polled on the way back; the kick
		 * is armed again there. */
		if (e->vector == KICK_VECTOR)
			p->kick_deadline = 0;
		else
			pr_debug(LOG_XEN, "external interrupt %u dropped", e->vector);
		return 0;
	case EV_SOFTWARE:
		/* int3 (the core's #BP path): Xen's #BP gate is DPL3, so no check; RIP is
		 * past the instruction in the frame */
		t->regs.rip += t->soft_len;
		return xen_bounce(p, t, e->vector, false, 0, 0);
	case EV_EXCEPTION:
	default:
		if (e->vector == VEC_PF && xen_m2p_fault(p, t, e->cr2, e->error, &r))
			return r;
		if (e->vector == VEC_PF && ptwr(p, t, e, &r))
			return r;
		return xen_bounce(p, t, e->vector, e->has_error, e->error, e->cr2);
	}
}

/*
 * A guest that does not trap would never see its timers (events are delivered on the way
 * back from a trap). So lodger arms KVM's in-kernel local APIC timer, one-shot, for the
 * next deadline: its interrupt (the stub takes every vector) is such a trap. The vector
 * is lodger's alone: a PV guest has no APIC of its own. The ISR bit it leaves (nobody
 * sends an EOI) is cleared at the next arming.
 */
#define APIC_SVR   0xf0
#define APIC_ISR   0x100
#define APIC_IRR   0x200
#define APIC_LVTT  0x320
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR  0x3e0

static void apic_set(struct kvm_lapic_state *s, unsigned reg, uint32_t v)
{
	memcpy(s->regs + reg, &v, sizeof(v));
}

static void apic_clear_bit(struct kvm_lapic_state *s, unsigned base, unsigned vector)
{
	uint32_t w;

	memcpy(&w, s->regs + base + vector / 32 * 0x10, sizeof(w));
	w &= ~(1u << (vector % 32));
	memcpy(s->regs + base + vector / 32 * 0x10, &w, sizeof(w));
}

static void arm_kick(struct xen_pstate *p, uint64_t deadline)
{
	struct kvm_lapic_state st;
	uint64_t now, ns;

	if (deadline == p->kick_deadline || !p->vcpu)
		return;
	p->kick_deadline = deadline;
	if (kvm_raw_ioctl(p->vcpu->fd, KVM_GET_LAPIC, &st) < 0)
		return;
	now = hook_now_ns(p);
	/* KVM's APIC bus runs at 1 GHz: with divide-by-1, one count is one nanosecond; a
	 * deadline past 2^32 ns is re-armed when this one fires */
	ns = deadline > now ? deadline - now : 1;
	if (ns > UINT32_MAX)
		ns = UINT32_MAX;
	apic_set(&st, APIC_SVR, 0x1ff); /* software-enabled, spurious vector 0xff */
	apic_set(&st, APIC_LVTT, deadline ? KICK_VECTOR : 1u << 16 /* masked */);
	apic_set(&st, APIC_TDCR, 0xb);
	apic_set(&st, APIC_TMICT, deadline ? (uint32_t)ns : 0);
	apic_set(&st, APIC_TMCCT, deadline ? (uint32_t)ns : 0);
	apic_clear_bit(&st, APIC_ISR, KICK_VECTOR);
	apic_clear_bit(&st, APIC_IRR, KICK_VECTOR);
	if (kvm_raw_ioctl(p->vcpu->fd, KVM_SET_LAPIC, &st) < 0)
		p->kick_deadline = 0; /* try again at the next return */
}

/* VIRQ_TIMER when a timer is due (the time republished with it), and the terminal's
 * keys into the console ring. Returns the next timer deadline, 0 for none. */
static uint64_t poll_sources(struct xen_pstate *p)
{
	struct xen_vcpu *v = &p->v;
	uint64_t single = v->timer_deadline_ns, periodic = v->periodic_next_ns, next;

	next = xen_timer_poll(v, hook_now_ns(p));
	if (v->timer_deadline_ns != single || v->periodic_next_ns != periodic)
		xen_time_publish(v, hook_guest_tsc(p)); /* a timer fired: Xen's update too */
	if (p->conin_ok && xen_conin_waiting(&p->conin))
		xen_conin_deliver(&p->conin, v);
	return next;
}

int xen_pers_pending(struct trap *t)
{
	struct xen_pstate *p = pstate(t);
	struct xen_vcpu *v = &p->v;

	if (v->d->shut_down)
		return 0;
	p->t = t;
	arm_kick(p, poll_sources(p));
	if (!xen_event_pending(v))
		return 0;
	xen_regs_in(p, t);
	pr_debug(LOG_XEN, "event upcall at %#llx (%s)", (unsigned long long)v->regs.rip,
		 v->kernel_mode ? "kernel" : "user");
	(void)xen_deliver_event(v);
	t->g->stats.by_kind[TK_REFLECTED]++;
	xen_regs_out(p, t);
	return check_shutdown(p, t);
}

int xen_wait_for_event(struct xen_pstate *p, struct trap *t)
{
	struct xen_vcpu *v = &p->v;

	for (;;) {
		uint64_t now, until = poll_sources(p);
		struct pollfd pfd[2] = {
			{.fd = p->conin_ok ? p->conin.wake_fd : -1, .events = POLLIN},
			{.fd = p->wake_fd, .events = POLLIN}};
		uint64_t count;
		struct timespec ts, *tsp = NULL;

		if (xen_event_pending(v) || t->vcpu->vm->stop)
			return 0;
		if (!until && !p->terminal && !p->disks) {
			/* Nothing lodger drives could ever wake it (no timer, terminal, disk) */
			pr_err("vcpu%u: the Xen PV guest blocked with no timer and no event "
			       "source (RIP %#llx)",
			       t->vcpu->id, (unsigned long long)v->regs.rip);
			return EXIT_INTERNAL;
		}
		now = hook_now_ns(p);
		if (until) {
			uint64_t ns = until > now ? until - now : 0;

			ts = (struct timespec){.tv_sec = (time_t)(ns / 1000000000ULL),
					       .tv_nsec = (long)(ns % 1000000000ULL)};
			tsp = &ts;
		}
		/* a signal (Ctrl-A x, SIGTERM: vm->stop) ends the wait with EINTR */
		(void)ppoll(pfd, 2, tsp, NULL);
		if (pfd[1].revents & POLLIN && read(p->wake_fd, &count, sizeof(count)) < 0)
			pr_debug(LOG_XEN, "wake: %s", strerror(errno));
	}
}

static void write_stats(struct json *j, const struct guestcpu *g)
{
	const struct xen_pstate *p = g->pstate;
	const struct xen_domain *d;
	char key[48];

	if (!p)
		return;
	d = &p->guest->d;
	json_open(j, "xen");
	json_open(j, "hypercalls");
	for (unsigned nr = 0; nr < 64; nr++) {
		const char *name = xen_hypercall_name(nr);
		bool any_sub = false;

		if (!d->hypercalls[nr])
			continue;
		if (!name) {
			snprintf(key, sizeof(key), "hypercall_%u", nr);
			name = key;
		}
		for (unsigned s = 0; s < 64; s++)
			any_sub |= d->subops[nr][s] != 0;
		if (!any_sub) {
			json_u64(j, name, d->hypercalls[nr]);
			continue;
		}
		json_open(j, name);
		json_u64(j, "total", d->hypercalls[nr]);
		for (unsigned s = 0; s < 64; s++) {
			if (!d->subops[nr][s])
				continue;
			snprintf(key, sizeof(key), "%u", s);
			json_u64(j, key, d->subops[nr][s]);
		}
		json_close(j);
	}
	json_close(j);
	json_open(j, "hypercall_time_ns");
	for (unsigned nr = 0; nr < 64; nr++) {
		const char *name = xen_hypercall_name(nr);

		if (!d->hypercalls[nr])
			continue;
		if (!name) {
			snprintf(key, sizeof(key), "hypercall_%u", nr);
			name = key;
		}
		json_u64(j, name, d->hypercall_ns[nr]);
	}
	json_close(j);
	json_open(j, "bounces_by_vector");
	for (unsigned vec = 0; vec < 256; vec++) {
		if (!d->bounces[vec])
			continue;
		snprintf(key, sizeof(key), "%u", vec);
		json_u64(j, key, d->bounces[vec]);
	}
	json_close(j);
	json_open(j, "events_by_port");
	for (unsigned port = 0; port < XEN_NR_PORTS; port++) {
		if (!d->events[port])
			continue;
		snprintf(key, sizeof(key), "%u", port);
		json_u64(j, key, d->events[port]);
	}
	json_close(j);
	json_u64(j, "emulated", p->emulated);
	json_u64(j, "ptwr_emulated", d->ptwr_emulated);
	json_u64(j, "continuations", d->continuations);
	if (d->shut_down)
		json_u64(j, "shutdown_reason", d->shutdown_reason);
	json_close(j);
}

void xen_pers_destroy(struct guestcpu *g)
{
	struct xen_pstate *p = g->pstate;

	if (!p)
		return;
	xen_backends_stop(&p->guest->d); /* its thread is what writes wake_fd */
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	if (p->conin_ok) {
		serial_route_input(NULL, NULL);
		xen_conin_destroy(&p->conin);
	}
	p->guest->d.clock = NULL;
	free(p->cpuid); /* the guest (domain, layout) is vm.c's */
	free(p);
	g->pstate = NULL;
}

/* Under the virtual IOPL a kernel cli/sti completes and changes nothing (trapemu.c), which
 * the stub's #GP fast path does itself: no exit (Linux's cmpxchg16b emulation runs a cli
 * thousands of times before its alternatives are patched). */
static unsigned kernel_cli_sti(const struct guestcpu *g)
{
	return g->pstate && xen_kernel_iopl_ok(g->pstate) ? STUB_CLI_STI_NOP : STUB_CLI_STI_LODGER;
}

const struct personality xen_personality = {
	.name = "xen",
	.kernel_if_is_real = false,
	.kernel_on_aliases = true,
	.kernel_cli_sti = kernel_cli_sti,
	.boot = xen_pers_boot,
	.syscall = xen_pers_syscall,
	.exception = xen_pers_exception,
	.deliver = xen_pers_deliver,
	.pending = xen_pers_pending,
	.write_stats = write_stats,
	.destroy = xen_pers_destroy,
};
