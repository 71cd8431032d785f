/*
 * trap.c - the shadow-mode trap path: from the stub's exit to the guest's resumption.
 *
 * Every trap the guest takes lands on a one-instruction stub entry that exits to lodger
 * (claims 8/20: the second portion handles what the first cannot). In order:
 *   1. recognise the exit: which stub entry ran (a vector, the syscall entry, the end of
 *      a port-I/O trampoline), from RIP;
 *   2. let KVM finish the stub's `out` (a KVM_RUN with immediate_exit), so that setting
 *      the registers afterwards is safe;
 *   3. rebuild the guest's context from the hardware frame on the stub's stack, read
 *      through lodger's own mapping of monitor memory;
 *   4. dispatch: a shadow miss is filled and hidden; a privileged instruction is emulated;
 *      anything else is delivered through the guest's own IDT (reflect.c);
 *   5. resume the guest by loading its registers, with the real CR3 set to the shadow
 *      root of its current CR3 and mode.
 */
#include "shadow/guestcpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "arch/x86.h"
#include "boot/bootmap.h"
#include "shadow/monitor.h"
#include "front/exitcode.h"
#include "kvm/kvm.h"
#include "front/log.h"
#include "lodger/boot.h"
#include "lodger/stub_abi.h"
#include "shadow/pagewalk.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

#define SYNC_REGS (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)

/* The real segment register for one of the guest's selectors. */
static struct kvm_segment guest_segment(uint16_t sel)
{
	/* After a fast path the frame shows the stub's aliases: they are the kernel's. */
	if (sel == STUB_ALIAS_KERNEL_CS)
		sel = STUB_GUEST_KERNEL_CS;
	else if (sel == STUB_ALIAS_KERNEL_DS)
		sel = STUB_GUEST_KERNEL_DS;
	switch (sel) {
	case STUB_GUEST_KERNEL_CS:
	case STUB_GUEST_USER_CS:
		return cpu_flat_segment(sel, true, true);
	case STUB_GUEST_USER32_CS:
		return cpu_flat_segment(sel, true, false);
	default:
		return cpu_flat_segment(sel, false, false);
	}
}

struct gview trap_view(const struct trap *t, bool user)
{
	struct guest_mem *mem = &t->vcpu->vm->mem;

	return (struct gview){
		.mem = mem,
		.cr3 = t->g->cr3,
		.user = user,
		.wp = t->g->cr0 & CR0_WP,
		.nxe = t->g->efer & EFER_NXE,
		.monitor_lo = mem->monitor_gpa,
		.monitor_hi = mem->monitor_gpa + mem->monitor_size,
	};
}

void trap_set_mode(struct trap *t, bool user)
{
	t->g->user = user;
	t->sregs.cs = guest_segment(user ? STUB_GUEST_USER_CS : STUB_GUEST_KERNEL_CS);
	t->sregs.ss = guest_segment(user ? STUB_GUEST_USER_DS : STUB_GUEST_KERNEL_DS);
}

/* The interrupt shadow of sti: the instruction after it runs before any interrupt. */
static int set_sti_shadow(struct vcpu *vcpu)
{
	struct kvm_vcpu_events ev;

	if (kvm_ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return EXIT_HOST_ERROR;
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
	return kvm_ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? EXIT_HOST_ERROR : 0;
}

/* Shadow entries were removed: KVM must not keep using what it derived from them. */
static int sync_kvm(struct trap *t)
{
	struct shadow *s = &t->g->shadow;

	if (!s->kvm_stale)
		return 0;
	s->kvm_stale = false;
	s->stats.kvm_flushes++;
	return vm_flush_monitor(t->vcpu->vm);
}

/*
 * Hands t's registers to the vCPU. With KVM_CAP_SYNC_REGS they travel in kvm_run and KVM
 * applies them at the next KVM_RUN: two ioctls fewer per trap, each ~7 us on kvm_pvm.
 */
static int commit(struct trap *t)
{
	struct kvm_run *run = t->vcpu->run;

	if ((run->kvm_valid_regs & SYNC_REGS) == SYNC_REGS) {
		run->s.regs.regs = t->regs;
		run->s.regs.sregs = t->sregs;
		run->kvm_dirty_regs |= SYNC_REGS;
		return 0;
	}
	if (kvm_ioctl(t->vcpu->fd, KVM_SET_SREGS, &t->sregs) < 0 ||
	    kvm_ioctl(t->vcpu->fd, KVM_SET_REGS, &t->regs) < 0)
		return EXIT_HOST_ERROR;
	return 0;
}

/* Step 5: loads the guest's context into the vCPU. Returns 0 or an exit status. */
static int resume(struct trap *t)
{
	struct guestcpu *g = t->g;
	uint64_t root = shadow_root(&g->shadow, g->cr3, g->user, false);
	int r = sync_kvm(t);

	if (!root) {
		pr_err("vcpu%u: out of shadow page-table memory", t->vcpu->id);
		return EXIT_HOST_ERROR;
	}
	if (r)
		return r;
	t->sregs.cr3 = root;
	stub_load_tables(&g->stub, &t->sregs);
	stub_set_guest_mode(&g->stub, g->user);
	/* IOPL 0 so cli/sti/in/out trap; IF is the guest's in kernel mode, always on in user
	 * mode (where the guest cannot clear it). */
	t->regs.rflags = (t->regs.rflags & ~(RFLAGS_IF | RFLAGS_IOPL | RFLAGS_NT | RFLAGS_VM)) | 2 |
			 (g->user || g->vif ? RFLAGS_IF : 0);
	if (commit(t))
		return EXIT_HOST_ERROR;
	return t->sti_shadow ? set_sti_shadow(t->vcpu) : 0;
}

/* Sends the vCPU into the stub: to the idle loop (hlt) or a port-I/O trampoline. The
 * caller commits t once it has set the registers the stub code takes. */
static int run_in_stub(struct trap *t, uint64_t offset, bool interrupts)
{
	struct guestcpu *g = t->g;

	g->saved = t->regs;
	g->saved_sregs = t->sregs;
	t->regs.rip = stub_linear(&g->stub, STUB_CODE + offset);
	t->regs.rsp = stub_linear(&g->stub, STUB_STACK_TOP);
	t->regs.rflags = 2 | (interrupts ? RFLAGS_IF : 0);
	t->sregs.cs = cpu_flat_segment(STUB_CS, true, true);
	t->sregs.ss = cpu_flat_segment(STUB_DS, false, false);
	t->sregs.cr3 = shadow_root(&g->shadow, g->cr3, g->user, false);
	if (sync_kvm(t))
		return EXIT_HOST_ERROR;
	stub_load_tables(&g->stub, &t->sregs);
	t->parked = true;
	return 0;
}

int trap_halt(struct trap *t)
{
	t->g->halted = true;
	return run_in_stub(t, STUB_IDLE, true) ?: commit(t);
}

int trap_port_io(struct trap *t, uint16_t port, unsigned size, bool in)
{
	static const unsigned op[2][5] = {
		{0, STUB_PIO_OUT8, STUB_PIO_OUT16, 0, STUB_PIO_OUT32},
		{0, STUB_PIO_IN8, STUB_PIO_IN16, 0, STUB_PIO_IN32},
	};
	struct kvm_regs guest = t->regs;
	int r;

	t->g->pio_pending = true;
	t->g->pio_size = size;
	t->g->pio_in = in;
	r = run_in_stub(t, STUB_PIO + op[in][size] * STUB_PIO_SIZE, false);
	if (r)
		return r;
	t->regs.rdx = port;
	t->regs.rax = guest.rax;
	return commit(t);
}

/* The trampoline's access is done: merge the value read and go back to the guest. */
static int finish_port_io(struct trap *t)
{
	struct guestcpu *g = t->g;
	uint64_t value = t->regs.rax;

	g->pio_pending = false;
	t->regs = g->saved;
	t->sregs.cs = g->saved_sregs.cs;
	t->sregs.ss = g->saved_sregs.ss;
	if (g->pio_in) {
		if (g->pio_size == 4)
			t->regs.rax = (uint32_t)value;
		else if (g->pio_size == 2)
			t->regs.rax = (t->regs.rax & ~0xffffULL) | (value & 0xffff);
		else
			t->regs.rax = (t->regs.rax & ~0xffULL) | (value & 0xff);
	}
	g->stats.by_kind[TK_PIO]++;
	return 0;
}

int trap_syscall(struct trap *t)
{
	struct guestcpu *g = t->g;
	bool compat = t->sregs.cs.selector == STUB_GUEST_USER32_CS;

	g->stats.by_kind[TK_SYSCALL]++;
	if (!(g->efer & 1)) { /* EFER.SCE clear: syscall is #UD at the instruction */
		t->regs.rip = t->regs.rcx - 2;
		return reflect_event(t, 6, false, 0, EV_EXCEPTION);
	}
	/* RCX and R11 were set by the CPU: the return RIP and RFLAGS. */
	t->regs.rip = compat ? g->cstar : g->lstar;
	t->regs.rflags = (t->regs.r11 & ~g->fmask & ~(1ULL << 16)) | 2;
	g->vif = t->regs.rflags & RFLAGS_IF;
	trap_set_mode(t, false);
	return 0;
}

/* The syscall MSRs hold the stub's entry: they move with it. */
static int set_syscall_msrs(struct vcpu *vcpu, struct guestcpu *g)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[4];
	} msrs = {.h.nmsrs = 4};
	uint64_t entry = stub_linear(&g->stub, STUB_CODE + STUB_SYSCALL_ENTRY);

	/* Hardware KVM: syscall enters the stub at CPL0 with IF, TF, DF, AC and NT clear. */
	msrs.e[0] = (struct kvm_msr_entry){.index = 0xc0000081,
					   .data = (uint64_t)STUB_CS << 32 |
						   (uint64_t)STUB_GUEST_USER32_CS << 48};
	msrs.e[1] = (struct kvm_msr_entry){.index = 0xc0000082, .data = entry};
	msrs.e[2] = (struct kvm_msr_entry){.index = 0xc0000083, .data = entry};
	msrs.e[3] = (struct kvm_msr_entry){.index = 0xc0000084, .data = 0x47700};
	return kvm_ioctl(vcpu->fd, KVM_SET_MSRS, &msrs) == 4 ? 0 : EXIT_HOST_ERROR;
}

int trap_move_stub(struct trap *t, uint64_t to)
{
	struct guestcpu *g = t->g;

	stub_place(&g->stub, to);
	shadow_set_stub_base(&g->shadow, to);
	return set_syscall_msrs(t->vcpu, g);
}

/* kvm_pvm: a syscall reaches LSTAR at CPL3 and faults fetching the stub's entry, with
 * RCX holding the address after the syscall; a plain jump there is a conflict instead. */
static bool is_pvm_syscall(struct trap *t, uint64_t la)
{
	struct gview v = trap_view(t, t->g->user);
	struct gfault f;
	uint8_t insn[2];

	return la == stub_linear(&t->g->stub, STUB_CODE + STUB_SYSCALL_ENTRY) &&
	       (t->error & PFEC_I) && gmem_read(&v, t->regs.rcx - 2, insn, 2, true, &f) &&
	       insn[0] == 0x0f && insn[1] == 0x05;
}

static int page_fault(struct trap *t)
{
	struct guestcpu *g = t->g;
	uint64_t la = t->sregs.cr2;
	struct shadow_guest_mode mode = {.wp = g->cr0 & CR0_WP, .nxe = g->efer & EFER_NXE};
	int r;
	uint32_t access = (t->error & (PFEC_W | PFEC_I)) | (g->user ? PFEC_U : 0), pfec = 0;

	if (is_pvm_syscall(t, la)) {
		/* A syscall stepped in a displaced region: the step ends, and its TF must not
		 * reach the guest through the RFLAGS the CPU saved in R11. */
		if (g->step.active) {
			if (!g->step.guest_tf)
				t->regs.r11 &= ~(1ULL << 8);
			if ((r = conflict_step_end(t)))
				return r;
		}
		return trap_syscall(t);
	}
	/* A reserved bit in a shadow entry would fault forever: the guest's walk decides. */
	if (t->error & PFEC_RSVD) {
		g->cr2 = la;
		return reflect_event(t, 14, true, access | PFEC_P | PFEC_RSVD, EV_EXCEPTION);
	}
	switch (shadow_fill(&g->shadow, g->cr3, g->user, la, access, &mode, &pfec)) {
	case SHADOW_FILLED:
		g->stats.by_kind[TK_SHADOW_FILL]++;
		/* An entry that is there already, filled again and again: the backend does not
		 * honour it. End the run with one clear line rather than spin. */
		g->same_fills =
			g->shadow.refilled_same && la == g->last_fill_la ? g->same_fills + 1 : 0;
		g->last_fill_la = la;
		if (g->same_fills > 64) {
			pr_err("vcpu%u: KVM keeps faulting on guest address %#llx although it is "
			       "mapped (a backend limit: docs/platform.md)",
			       t->vcpu->id, (unsigned long long)la);
			return EXIT_INTERNAL;
		}
		pr_debug(LOG_SHADOW, "fill %#llx (%s%s%s)", (unsigned long long)la,
			 access & PFEC_W ? "w" : "r", access & PFEC_U ? "u" : "k",
			 access & PFEC_I ? "x" : "");
		return 0;
	case SHADOW_GUEST_FAULT:
		if (g->step.active && (r = conflict_step_end(t)))
			return r;
		g->cr2 = la;
		return reflect_event(t, 14, true, pfec, EV_EXCEPTION);
	case SHADOW_NONCANONICAL:
		if (g->step.active && (r = conflict_step_end(t)))
			return r;
		return reflect_event(t, 13, true, 0, EV_EXCEPTION);
	case SHADOW_STUB_CONFLICT:
		return conflict_handle(t, la, access);
	case SHADOW_NO_MEMORY:
	default:
		pr_err("vcpu%u: out of shadow page-table memory", t->vcpu->id);
		return EXIT_HOST_ERROR;
	}
}

/* Step 4. Returns 0 to go on, or an exit status. */
static int dispatch(struct trap *t)
{
	int r;

	switch (t->vector) {
	case 14:
		return page_fault(t);
	case 6:
	case 11:
	case 12:
	case 13:
		r = privop_emulate(t);
		if (r > 0)
			return 0;
		if (r < 0)
			return -r;
		return reflect_event(t, t->vector, t->has_error, t->error, EV_EXCEPTION);
	case 17:
		/* #AC in guest kernel mode: the guest's CPL0 is never alignment-checked, but the
		 * CPU checks CPL3 code with AC set (on kvm_pvm the host's CR0.AM shows through).
		 * Drop AC and run the access again (guest contract: AC does not survive in
		 * kernel mode). */
		if (!t->g->user) {
			t->regs.rflags &= ~(1ULL << 18);
			return 0;
		}
		return reflect_event(t, 17, true, t->error, EV_EXCEPTION);
	case 3:
		/* On kvm_pvm a CPL3 int3 raises #BP through the stub's DPL-0 gate; on hardware it
		 * is a #GP, emulated in privop.c. Either way the guest's own gate's DPL decides. */
		t->regs.rip -= 1;
		t->soft_len = 1;
		return reflect_event(t, 3, false, 0, EV_SOFTWARE);
	case 8:
	case 18:
		pr_err("vcpu%u: %s while running the guest", t->vcpu->id,
		       t->vector == 8 ? "double fault" : "machine check");
		return EXIT_INTERNAL;
	default:
		return reflect_event(t, t->vector, t->has_error, t->error,
				     t->vector >= 32 || t->vector == 2 ? EV_EXTERNAL
								       : EV_EXCEPTION);
	}
}

/* Step 2: completes the stub's `out` before lodger changes any register. */
static int complete_stub_exit(struct vcpu *vcpu)
{
	vcpu->run->kvm_dirty_regs = 0; /* nothing of lodger's may go in before the completion */
	vcpu->run->immediate_exit = 1;
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0 && errno != EINTR) {
		pr_err("vcpu%u: KVM_RUN (completing the stub exit): %s", vcpu->id, strerror(errno));
		return EXIT_HOST_ERROR;
	}
	vcpu->run->immediate_exit = 0;
	return 0;
}

/* Step 3: the hardware frame on the stub's stack. */
static int read_frame(struct trap *t, uint64_t frame[5])
{
	struct guestcpu *g = t->g;
	uint64_t off = t->regs.rsp - g->stub.base;
	unsigned words = 5 + t->has_error;

	if (off < STUB_STACK_BOTTOM || off + words * 8 > STUB_IST_TOP) {
		pr_err("vcpu%u: stub exit with RSP %#llx outside the stub's stacks", t->vcpu->id,
		       (unsigned long long)t->regs.rsp);
		return EXIT_INTERNAL;
	}
	const uint64_t *p = MON_PTR(&t->vcpu->vm->mem, g->stub.mon_off + off, words * 8);

	t->error = t->has_error ? (uint32_t)p[0] : 0;
	memcpy(frame, p + t->has_error, 5 * 8);
	return 0;
}

static int vector_exit(struct trap *t, int vector)
{
	struct guestcpu *g = t->g;
	uint64_t frame[5]; /* rip, cs, rflags, rsp, ss */
	uint64_t idle = stub_linear(&g->stub, STUB_CODE + STUB_IDLE);
	int r;

	t->vector = vector;
	t->has_error = x86_has_error_code(vector);
	r = read_frame(t, frame);
	if (r)
		return r;
	g->stats.by_vector[vector]++;
	g->stats.by_place[TRAP_IN_VMM]++;
	if (frame[1] == STUB_CS) {
		/* Only the idle loop may be interrupted: the wake-up of a guest hlt. */
		if (!g->halted || frame[0] < idle || frame[0] > idle + 3) {
			pr_err("vcpu%u: vector %d inside the stub at %#llx", t->vcpu->id, vector,
			       (unsigned long long)frame[0]);
			return EXIT_INTERNAL;
		}
		g->halted = false;
		g->stats.by_kind[TK_HALT_WAKE]++;
		t->regs = g->saved;
		t->sregs.cs = g->saved_sregs.cs;
		t->sregs.ss = g->saved_sregs.ss;
		return reflect_event(t, vector, false, 0, EV_EXTERNAL);
	}
	t->regs.rip = frame[0];
	t->regs.rflags = frame[2];
	t->regs.rsp = frame[3];
	/* In kernel mode the real IF is the guest's: the stub's fast paths may have moved it. */
	if (!g->user)
		g->vif = frame[2] & RFLAGS_IF;
	t->sregs.cs = guest_segment(frame[1]);
	t->sregs.ss = guest_segment(frame[4]);
	pr_debug(LOG_TRAP, "vector %d error %#x at %#llx (%s)", vector, t->error,
		 (unsigned long long)t->regs.rip, g->user ? "user" : "kernel");
	if (g->step.active) {
		int status = 0;

		if (conflict_step_trap(t, &status) || status)
			return status;
	}
	return dispatch(t);
}

bool trap_handle(struct vcpu *vcpu, int *status)
{
	struct guestcpu *g = vcpu->guest;
	struct trap t = {.vcpu = vcpu, .g = g};
	uint64_t code = 0, syscall_exit, pio_lo, pio_hi;
	int vector;

	if (!g)
		return false;
	if ((vcpu->run->kvm_valid_regs & SYNC_REGS) == SYNC_REGS) {
		t.regs = vcpu->run->s.regs.regs;
		t.sregs = vcpu->run->s.regs.sregs;
	} else if (ioctl(vcpu->fd, KVM_GET_REGS, &t.regs) < 0 ||
		   ioctl(vcpu->fd, KVM_GET_SREGS, &t.sregs) < 0) {
		return false;
	}
	if (t.sregs.cs.selector != STUB_CS)
		return false;
	/* Step 1: which entry ran. RIP is past its `out`. */
	code = stub_linear(&g->stub, STUB_CODE);
	syscall_exit = code + STUB_SYSCALL_ENTRY + STUB_ENTRY_SIZE;
	pio_lo = code + STUB_PIO;
	pio_hi = pio_lo + 6 * STUB_PIO_SIZE;
	vector = stub_vector_at(&g->stub, t.regs.rip);
	if (vector < 0 && t.regs.rip != syscall_exit &&
	    !(g->pio_pending && t.regs.rip > pio_lo && t.regs.rip < pio_hi))
		return false;
	*status = complete_stub_exit(vcpu);
	if (*status)
		return true;
	if (vector >= 0) {
		*status = vector_exit(&t, vector);
	} else if (t.regs.rip == syscall_exit) {
		/* Hardware KVM: syscall entered the stub at CPL0, guest RSP untouched. */
		t.sregs.cs = guest_segment(g->user ? STUB_GUEST_USER_CS : STUB_GUEST_KERNEL_CS);
		t.sregs.ss = guest_segment(g->user ? STUB_GUEST_USER_DS : STUB_GUEST_KERNEL_DS);
		*status = trap_syscall(&t);
	} else {
		*status = finish_port_io(&t);
	}
	if (!*status && !t.parked)
		*status = resume(&t);
	if (*status == EXIT_TRIPLE_FAULT)
		pr_err("vcpu%u: guest triple fault (delivering an exception failed twice), guest "
		       "RIP %#llx",
		       vcpu->id, (unsigned long long)t.regs.rip);
	return true;
}

/* The stub's own page table: its pages, supervisor-only, code executable, data not. */
static void build_stub_page_table(struct vcpu *vcpu, struct guestcpu *g)
{
	struct guest_mem *mem = &vcpu->vm->mem;
	uint64_t *pt = MON_PTR(mem, MON_STUB_PT, 0x1000);

	memset(pt, 0, 0x1000);
	for (unsigned i = 0; i < STUB_PAGES; i++)
		pt[i] = stub_page_gpa(&g->stub, i * 0x1000) | PTE_P | PTE_W |
			(i * 0x1000 == STUB_CODE ? 0 : PTE_NX);
}

int guestcpu_init(struct vcpu *vcpu, const struct guestcpu_options *opt, uint64_t entry,
		  uint64_t fdt_gpa, const struct boot_layout *layout)
{
	struct guest_mem *mem = &vcpu->vm->mem;
	struct guestcpu *g = calloc(1, sizeof(*g));
	struct trap t = {.vcpu = vcpu, .g = g};
	int r;

	if (!g)
		return EXIT_HOST_ERROR;
	vcpu->guest = g;
	reloc_init(&g->reloc, opt->relocate, opt->seed);
	g->reloc.hot = opt->reloc_hot;
	g->reloc.window_ns = opt->reloc_window_ms * 1000000ULL;
	stub_install(&g->stub, mem, MON_STUB, opt->fast_paths);
	stub_place(&g->stub, opt->stub_base);
	build_stub_page_table(vcpu, g);
	if (shadow_init(&g->shadow, mem, MON_POOL, (mem->monitor_size - MON_POOL) / 0x1000,
			opt->stub_base, mem->monitor_gpa + MON_STUB_PT, OPEN_BUS_WINDOW))
		return EXIT_HOST_ERROR;
	r = cpu_set_cpuid(vcpu);
	if (r)
		return EXIT_HOST_ERROR;

	/* The boot protocol's state, as the guest sees it (guest-contract.md). */
	g->cr0 = 0x80010033; /* PG WP NE ET MP PE */
	g->cr4 = 0x620;	     /* OSXMMEXCPT OSFXSR PAE */
	g->efer = 0xd01;     /* NXE LMA LME SCE */
	g->cr3 = layout->pml4;
	g->gdtr_base = layout->gdt;
	g->gdtr_limit = BOOT_GDT_ENTRIES * 8 - 1;
	g->tr = shadow_selectors.boot_tss;
	g->tr_base = layout->tss;
	g->tr_limit = BOOT_TSS_LIMIT;
	g->pat = 0x0007040600070406ULL;

	if (kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &t.sregs) < 0)
		return EXIT_HOST_ERROR;
	trap_set_mode(&t, false);
	t.sregs.ds = t.sregs.es = t.sregs.fs = t.sregs.gs = t.sregs.ss;
	t.sregs.cr0 = g->cr0;
	t.sregs.cr4 = g->cr4 | (1ULL << 11); /* UMIP: sgdt/sidt/sldt/smsw/str trap at CPL3 */
	t.sregs.efer = g->efer;
	t.regs = (struct kvm_regs){
		.rip = entry, .rdi = fdt_gpa, .rsi = LODGER_BOOT_MAGIC, .rflags = 2};
	r = set_syscall_msrs(vcpu, g);
	if (!r)
		r = resume(&t);
	if (r && t.sregs.cr4 & (1ULL << 11)) {
		/* A backend without UMIP: the guest's sgdt then shows the stub's tables. */
		pr_warn("shadow mode without UMIP: sgdt/sidt are not virtualized");
		t.sregs.cr4 &= ~(1ULL << 11);
		r = resume(&t);
	}
	/* From here on registers travel in kvm_run when KVM can do that (commit()). The entry
	 * state above went through the ioctls, so a refusal was reported right there. */
	if (!r && (ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) & SYNC_REGS) ==
			  SYNC_REGS)
		vcpu->run->kvm_valid_regs = SYNC_REGS;
	return r;
}

void guestcpu_sync_stats(struct vcpu *vcpu)
{
	struct guestcpu *g = vcpu->guest;

	if (!g)
		return;
	g->stats.stub_cli = stub_area(&g->stub)->fast_cli;
	g->stats.stub_sti = stub_area(&g->stub)->fast_sti;
	g->stats.by_place[TRAP_IN_STUB] = g->stats.stub_cli + g->stats.stub_sti;
}

void guestcpu_destroy(struct vcpu *vcpu)
{
	if (!vcpu->guest)
		return;
	shadow_destroy(&vcpu->guest->shadow);
	free(vcpu->guest);
	vcpu->guest = NULL;
}
