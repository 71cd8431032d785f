/*
 * test_trapexit.c - the shadow-mode core without KVM: a stub exit from recognition to
 * resumption (src/shadow/stubexit.c, dispatch.c, transport.c), syscall routing to the
 * personality (syscall.c), and every failing KVM ioctl ending the run with status 12,
 * named. A fake vCPU (fake_vcpu.h) whose KVM is a function.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "arch/x86.h"
#include "fake_vcpu.h"
#include "front/exitcode.h"
#include "kvm/kvm.h"
#include "kvm/mode.h"
#include "lodger/stub_abi.h"
#include "native/native.h"
#include "shadow/conflict.h"
#include "shadow/dispatch.h"
#include "shadow/held.h"
#include "shadow/monitor.h"
#include "shadow/pagewalk.h"
#include "shadow/stub.h"
#include "shadow/syscall.h"
#include "shadow/transport.h"
#include "xen/personality.h"

#define SYNC_REGS (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)

static void setup(void)
{
	fake_setup();
	fake_all_gates();
	cr_redirect_stderr();
}

TestSuite(stubexit, .init = setup, .fini = fake_teardown);
TestSuite(syscall, .init = setup, .fini = fake_teardown);
TestSuite(dispatch, .init = setup, .fini = fake_teardown);

/* The vCPU as KVM leaves it after vector `v`'s stub entry ran for a guest in user mode at
 * FAKE_CODE: RIP past the entry's `out`, the hardware frame on the stub's stack. */
static void stub_exit_of_vector(unsigned v, uint32_t error, bool sync)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t words[6] = {
		error,	       FAKE_CODE,	  STUB_GUEST_USER_CS, RFLAGS_FIXED | RFLAGS_IF,
		FAKE_USER_RSP, STUB_GUEST_USER_DS};
	unsigned n = x86_has_error_code(v) ? 6 : 5;
	uint64_t rsp_off = STUB_STACK_TOP - n * 8;
	struct kvm_regs regs = {
		.rip = stub_linear(&fk.g->stub, STUB_CODE + v * STUB_ENTRY_SIZE + STUB_ENTRY_SIZE),
		.rsp = stub_linear(&fk.g->stub, rsp_off)};
	struct kvm_sregs sregs = {.cs = {.selector = STUB_CS}};

	fk.g->user = true;
	memcpy(fk.vm.mem.monitor + fk.g->stub.mon_off + rsp_off, words + (6 - n), n * 8);
	run->exit_reason = KVM_EXIT_IO;
	run->io.port = STUB_EXIT_PORT;
	run->io.direction = KVM_EXIT_IO_OUT;
	if (sync) {
		run->kvm_valid_regs = SYNC_REGS;
		run->s.regs.regs = regs;
		run->s.regs.sregs = sregs;
	} else {
		run->kvm_valid_regs = 0;
		fk.kvm_regs = regs;
		fk.kvm_sregs = sregs;
	}
}

static int mode_exit(void)
{
	return shadow_mode.exit(fk.vcpu);
}

Test(stubexit, a_user_gp_on_cli_is_delivered_to_the_guests_handler_and_resumed)
{
	struct kvm_run *run = fk.vcpu->run;

	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_HANDLER + VEC_GP * 16,
		     "expected the guest's #GP handler, RIP %#llx",
		     (unsigned long long)run->s.regs.regs.rip);
	cr_assert(run->kvm_dirty_regs & KVM_SYNC_X86_REGS, "registers handed to KVM");
	cr_assert_eq(run->s.regs.sregs.cs.selector, STUB_GUEST_KERNEL_CS);
	cr_assert_eq(run->s.regs.sregs.cr3, shadow_root(&fk.g->shadow, fk.g->cr3, false, false),
		     "real CR3 at the kernel shadow root");
	cr_assert_eq(run->s.regs.sregs.idt.base, fk.g->stub.base + STUB_IDT, "the stub's IDT");
	cr_assert_eq(fk.g->stats.by_vector[VEC_GP], 1);
	cr_assert_eq(fk.g->stats.by_kind[TK_REFLECTED], 1);
}

/* A personality whose kernel runs on the stub's present aliases (Xen PV) gets them back
 * on every way into kernel mode, so what the kernel reads from CS and SS reloads natively;
 * the native personality keeps the guest's own selectors. */
Test(stubexit, a_kernel_on_the_aliases_is_resumed_on_them_after_any_trap)
{
	struct kvm_run *run = fk.vcpu->run;
	struct personality on_aliases = *fk.g->pers;

	on_aliases.kernel_on_aliases = true;
	fk.g->pers = &on_aliases;
	fk.g->stub.aliases = true;
	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_HANDLER + VEC_GP * 16);
	cr_assert_eq(run->s.regs.sregs.cs.selector, STUB_ALIAS_KERNEL_CS);
	cr_assert_eq(run->s.regs.sregs.ss.selector, STUB_ALIAS_KERNEL_DS);
}

Test(stubexit, the_same_through_the_register_ioctls)
{
	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, false);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(fk.kvm_regs.rip, FAKE_HANDLER + VEC_GP * 16);
}

Test(stubexit, an_exit_not_from_the_stub_is_left_to_the_run_loop)
{
	stub_exit_of_vector(VEC_GP, 0, true);
	fk.vcpu->run->s.regs.sregs.cs.selector = STUB_GUEST_KERNEL_CS; /* the guest's own out */
	cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED);
	stub_exit_of_vector(VEC_GP, 0, true);
	fk.vcpu->run->io.port = 0x3f8;
	cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED);
	stub_exit_of_vector(VEC_GP, 0, true);
	fk.vcpu->run->s.regs.regs.rip = stub_linear(&fk.g->stub, STUB_CODE + STUB_IDLE);
	cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED);
}

/* Each KVM ioctl on the way fails in turn: the run ends with 12 and the ioctl's name. */
static void assert_host_error(unsigned long req, const char *line)
{
	fk.fail_req = req;
	cr_assert_eq(mode_exit(), EXIT_HOST_ERROR, "a failing %s must end the run with 12", line);
	fflush(stderr);
	cr_assert_stderr_eq_str(line);
}

Test(stubexit, a_failing_get_regs_ends_the_run_named_and_is_no_guest_port_write)
{
	stub_exit_of_vector(VEC_GP, 0, false);
	assert_host_error(KVM_GET_REGS, "lodger: KVM_GET_REGS: Input/output error\n");
}

Test(stubexit, a_failing_get_sregs_ends_the_run_named)
{
	stub_exit_of_vector(VEC_GP, 0, false);
	assert_host_error(KVM_GET_SREGS, "lodger: KVM_GET_SREGS: Input/output error\n");
}

Test(stubexit, a_failing_completion_run_ends_the_run_named)
{
	stub_exit_of_vector(VEC_GP, 0, true);
	assert_host_error(
		KVM_RUN, "lodger: vcpu0: KVM_RUN (completing the stub exit): Input/output error\n");
}

Test(stubexit, a_failing_set_regs_on_resumption_ends_the_run_named)
{
	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, false);
	assert_host_error(KVM_SET_SREGS, "lodger: KVM_SET_SREGS: Input/output error\n");
}

Test(stubexit, a_failing_sti_shadow_ends_the_run_named)
{
	fake_put(FAKE_CODE, (const uint8_t[]){0xfb, 0x90}, 2);
	stub_exit_of_vector(VEC_GP, 0, true);
	fk.g->user = false;
	memcpy(fk.vm.mem.monitor + fk.g->stub.mon_off + STUB_STACK_TOP - 4 * 8,
	       (const uint64_t[]){STUB_GUEST_KERNEL_CS}, 8);
	assert_host_error(KVM_GET_VCPU_EVENTS, "lodger: KVM_GET_VCPU_EVENTS: Input/output error\n");
}

Test(stubexit, a_failing_msr_write_when_the_stub_moves_ends_the_run_named)
{
	struct trap t = {.vcpu = fk.vcpu, .g = fk.g};

	fk.fail_req = KVM_SET_MSRS;
	cr_assert_eq(conflict_move_stub(&t, 0x200000000ULL), EXIT_HOST_ERROR);
	fflush(stderr);
	cr_assert_stderr_eq_str("lodger: KVM_SET_MSRS: Input/output error\n");
}

/* ---- syscall routing ---- */

static unsigned syscalls_seen, pending_seen;
static bool syscall_user;

static int counting_syscall(struct trap *t)
{
	syscalls_seen++;
	syscall_user = t->g->user;
	return 0;
}

static int counting_pending(struct trap *t)
{
	(void)t;
	pending_seen++;
	return 0;
}

/* A second personality, as a paravirtual one would plug in: its own syscall. */
static struct personality other;

static void use_other_personality(void)
{
	other = native_personality;
	other.name = "other";
	other.syscall = counting_syscall;
	other.pending = counting_pending;
	fk.g->pers = &other;
	syscalls_seen = pending_seen = 0;
}

Test(syscall, from_user_mode_the_native_one_enters_lstar_in_kernel_mode)
{
	fake_mode(true);
	fk.t.regs.rcx = FAKE_CODE + 2;
	fk.t.regs.r11 = RFLAGS_FIXED | RFLAGS_IF | RFLAGS_TF | RFLAGS_ZF;
	cr_assert_eq(syscall_from_stub(&fk.t), 0);
	cr_assert(!fk.g->user);
	cr_assert_eq(fk.t.regs.rip, fk.g->lstar);
	cr_assert_eq(fk.t.regs.rflags, RFLAGS_FIXED | RFLAGS_ZF, "FMASK applied");
	cr_assert(!fk.g->vif);
	cr_assert_eq(fk.g->stats.by_kind[TK_SYSCALL], 1);
}

Test(syscall, from_compatibility_mode_it_enters_cstar)
{
	fake_mode(true);
	fk.t.sregs.cs = trap_segment(STUB_GUEST_USER32_CS);
	cr_assert_eq(native_syscall(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, fk.g->cstar);
}

Test(syscall, with_efer_sce_clear_it_is_ud_at_the_instruction)
{
	fk.g->efer &= ~EFER_SCE;
	fake_mode(true);
	fk.t.regs.rcx = FAKE_CODE + 2;
	cr_assert_eq(syscall_from_stub(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_UD * 16);
	cr_assert_eq(fake_q(fk.t.regs.rsp), FAKE_CODE, "#UD points at the syscall");
}

Test(syscall, a_kernel_mode_syscall_goes_to_the_personality_in_kernel_mode)
{
	use_other_personality();
	fake_mode(false);
	cr_assert_eq(syscall_from_stub(&fk.t), 0);
	cr_assert_eq(syscalls_seen, 1);
	cr_assert(!syscall_user, "the personality sees kernel mode");
	fake_mode(true);
	cr_assert_eq(syscall_from_stub(&fk.t), 0);
	cr_assert_eq(syscalls_seen, 2);
	cr_assert(syscall_user);
}

Test(syscall, kvm_pvms_fetch_fault_at_lstar_is_a_syscall_only_after_a_syscall_insn)
{
	uint64_t entry = stub_linear(&fk.g->stub, STUB_CODE + STUB_SYSCALL_ENTRY);

	fake_mode(true);
	fk.t.regs.rcx = FAKE_CODE + 2;
	fk.t.error = PFEC_I | PFEC_U;
	fake_put(FAKE_CODE, (const uint8_t[]){0x0f, 0x05}, 2);
	cr_assert(syscall_is_fetch_fault(&fk.t, entry));
	cr_assert(!syscall_is_fetch_fault(&fk.t, entry + 0x1000), "elsewhere: a conflict");
	fake_put(FAKE_CODE, (const uint8_t[]){0xff, 0xe0}, 2); /* jmp *%rax */
	cr_assert(!syscall_is_fetch_fault(&fk.t, entry), "a jump to LSTAR is no syscall");
}

Test(syscall, the_pending_check_runs_before_every_resumption_but_not_when_parked)
{
	use_other_personality();
	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(pending_seen, 1);
	fake_put(FAKE_CODE, (const uint8_t[]){0xf4}, 1); /* hlt in kernel mode: parked */
	stub_exit_of_vector(VEC_GP, 0, true);
	fk.g->user = false;
	memcpy(fk.vm.mem.monitor + fk.g->stub.mon_off + STUB_STACK_TOP - 4 * 8,
	       (const uint64_t[]){STUB_GUEST_KERNEL_CS}, 8);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(fk.g->halted);
	cr_assert_eq(pending_seen, 1, "no pending check while parked");
}

/* ---- dispatch: the core's own cases ---- */

Test(dispatch, a_double_fault_or_machine_check_in_the_guest_ends_the_run)
{
	fk.t.vector = VEC_DF;
	cr_assert_eq(dispatch_trap(&fk.t), EXIT_INTERNAL);
	fk.t.vector = VEC_MC;
	cr_assert_eq(dispatch_trap(&fk.t), EXIT_INTERNAL);
}

Test(dispatch, ac_in_kernel_mode_drops_ac_and_retries_in_user_mode_is_the_guests)
{
	fk.t.vector = VEC_AC;
	fk.t.regs.rflags = RFLAGS_FIXED | RFLAGS_AC;
	cr_assert_eq(dispatch_trap(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rflags, RFLAGS_FIXED);
	cr_assert_eq(fk.t.regs.rip, FAKE_CODE, "the access runs again");
	fake_mode(true);
	fk.t.has_error = true;
	cr_assert_eq(dispatch_trap(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_AC * 16);
}

Test(dispatch, int3_raised_as_bp_is_a_software_interrupt_checked_against_the_gate)
{
	fake_mode(true);
	fk.t.vector = VEC_BP;
	fk.t.regs.rip = FAKE_CODE + 1; /* #BP is a trap: after the int3 */
	cr_assert_eq(dispatch_trap(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_GP * 16, "DPL-0 gate: #GP");
	cr_assert_eq(fake_q(fk.t.regs.rsp), VEC_BP * 8 + 2);
	cr_assert_eq(fake_q(fk.t.regs.rsp + 8), FAKE_CODE, "pointing at the int3");
}

Test(dispatch, an_unmapped_guest_address_is_the_guests_page_fault)
{
	fake_mode(true);
	fk.t.vector = VEC_PF;
	fk.t.has_error = true;
	fk.t.error = PFEC_U;
	fk.t.sregs.cr2 = FAKE_UNMAPPED + 8;
	cr_assert_eq(dispatch_trap(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_PF * 16);
	cr_assert_eq(fk.g->cr2, FAKE_UNMAPPED + 8);
	cr_assert_eq(fake_q(fk.t.regs.rsp), PFEC_U, "not present, read, user");
}

Test(dispatch, a_mapped_address_is_a_hidden_shadow_fill)
{
	fake_mode(true);
	fk.t.vector = VEC_PF;
	fk.t.has_error = true;
	fk.t.sregs.cr2 = FAKE_DATA;
	cr_assert_eq(dispatch_trap(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, FAKE_CODE, "the access runs again");
	cr_assert_eq(fk.g->stats.by_kind[TK_SHADOW_FILL], 1);
}

/* ---- claim 12's policy, on the guest's clock ---- */

TestSuite(policy, .init = setup, .fini = fake_teardown);

/* One displaced access served, `traps` traps after the previous one. */
static int served_after(unsigned traps)
{
	fk.g->stats.by_place[TRAP_IN_VMM] += traps;
	fk.g->reloc.displacing = true;
	fk.g->step.active = true;
	fk.g->step.home = fk.g->stub.base;
	return conflict_step_end(&fk.t);
}

Test(policy, more_than_hot_accesses_within_a_window_of_guest_time_move_the_stub)
{
	unsigned window = fk.g->reloc.window_ns / RELOC_TICK_NS;

	for (unsigned i = 0; i < fk.g->reloc.hot; i++)
		cr_assert_eq(served_after(window / (2 * fk.g->reloc.hot)), 0);
	cr_assert_eq(fk.g->reloc.stats.hot_moves, 0, "not hot yet");
	cr_assert_eq(served_after(1), 0);
	cr_assert_eq(fk.g->reloc.stats.hot_moves, 1, "access %u in one window: hot",
		     fk.g->reloc.hot + 1);
	cr_assert_eq(fk.g->reloc.stats.displaced, fk.g->reloc.hot + 1u);
}

Test(policy, the_same_accesses_spread_over_guest_time_never_move_it_whatever_the_host_does)
{
	unsigned window = fk.g->reloc.window_ns / RELOC_TICK_NS;

	for (unsigned i = 0; i < 10 * fk.g->reloc.hot; i++)
		cr_assert_eq(served_after(window / fk.g->reloc.hot + 1), 0);
	cr_assert_eq(fk.g->reloc.stats.hot_moves, 0,
		     "accesses spread over the guest's time: never hot");
}

/* ---- port I/O through the stub's trampoline ---- */

/* The vCPU as KVM leaves it after a KVM_EXIT_IO (an `out` unless `in`) on port 0xe5 with
 * RIP at `off` from the stub's code, the parked trampoline's registers otherwise kept. */
static void pio_exit_dir(uint64_t off, uint64_t rax, bool in)
{
	struct kvm_run *run = fk.vcpu->run;

	run->exit_reason = KVM_EXIT_IO;
	run->io.port = STUB_EXIT_PORT;
	run->io.direction = in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->kvm_valid_regs = SYNC_REGS;
	run->s.regs.regs.rip = stub_linear(&fk.g->stub, STUB_CODE + off);
	run->s.regs.regs.rax = rax;
	run->s.regs.sregs.cs.selector = STUB_CS;
}

static void pio_exit_at(uint64_t off, uint64_t rax)
{
	pio_exit_dir(off, rax, false);
}

Test(stubexit, a_guest_in_from_port_0xe5_is_an_ordinary_port_not_the_trampolines_exit)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t entry = STUB_PIO + STUB_PIO_IN32 * STUB_PIO_SIZE;

	/* Guest kernel: inl $0xe5, %eax (#GP at CPL3), parked in the in32 trampoline. */
	fake_put(FAKE_CODE, (const uint8_t[]){0xe5, 0xe5}, 2);
	stub_exit_of_vector(VEC_GP, 0, true);
	fk.g->user = false;
	memcpy(fk.vm.mem.monitor + fk.g->stub.mon_off + STUB_STACK_TOP - 4 * 8,
	       (const uint64_t[]){STUB_GUEST_KERNEL_CS}, 8);
	run->s.regs.regs.rax = 0x12345678;
	cr_assert_eq(mode_exit(), 0);
	cr_assert(fk.g->pio_pending, "parked in the trampoline");
	cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + entry));
	cr_assert_eq(run->s.regs.regs.rdx, 0xe5);
	/* The trampoline's own inl from port 0xe5 exits past the 1-byte inl: the guest's
	 * access, for the run loop's port bus. */
	pio_exit_dir(entry + 1, 0x12345678, true);
	cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED);
	cr_assert(fk.g->pio_pending, "still parked");
	/* Then the trampoline's exit, past its out: the value goes to the guest. */
	pio_exit_at(entry + 1 + STUB_ENTRY_SIZE, 0xffffffff);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(!fk.g->pio_pending);
	cr_assert_eq(run->s.regs.regs.rax, 0xffffffff);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_CODE + 2);
}

Test(stubexit, a_trampoline_exit_anywhere_but_past_its_out_is_not_a_completion)
{
	static const unsigned len[STUB_PIO_ENTRIES] = {1, 2, 1, 1, 2, 1};

	for (unsigned op = 0; op < STUB_PIO_ENTRIES; op++) {
		uint64_t entry = STUB_PIO + op * STUB_PIO_SIZE;

		fk.g->pio_pending = true;
		fk.g->pio_in = op < STUB_PIO_OUT8;
		fk.g->pio_size = 1u << (op % 3);
		for (uint64_t off = entry + 1; off < entry + STUB_PIO_SIZE; off++) {
			if (off == entry + len[op] + STUB_ENTRY_SIZE)
				continue;
			pio_exit_at(off, 0);
			cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED, "op %u at +%llu", op,
				     (unsigned long long)(off - entry));
			cr_assert(fk.g->pio_pending);
		}
	}
}

/* ---- resumption ---- */

/* Where KVM walks the tables in hardware, a removed shadow entry costs the stub's CR3
 * reload on the way back, not a memslot re-registration; the guest then resumes from the
 * trampoline's exit exactly where it would have. */
Test(dispatch, with_hardware_paging_the_stub_flushes_the_tlb_before_the_guest_runs)
{
	struct kvm_run *run = fk.vcpu->run;
	unsigned slots = fk.memslot_sets;

	fk.g->tlb_flush_in_stub = true;
	fk.g->shadow.kvm_stale = true;
	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(fk.g->flush_pending);
	cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + STUB_TLB_FLUSH));
	cr_assert_eq(run->s.regs.sregs.cs.selector, STUB_CS, "the trampoline runs at CPL0");
	cr_assert_eq(run->s.regs.sregs.cr3, shadow_root(&fk.g->shadow, fk.g->cr3, false, false),
		     "on the root the guest resumes on");
	cr_assert_eq(fk.memslot_sets, slots, "no memslot re-registration");

	pio_exit_at(STUB_TLB_FLUSH_DONE - 1, 0); /* anywhere else: not the flush's exit */
	cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED);
	pio_exit_at(STUB_TLB_FLUSH_DONE, 0);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(!fk.g->flush_pending && !fk.g->shadow.kvm_stale);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_HANDLER + VEC_GP * 16, "the guest's #GP handler");
	cr_assert_eq(run->s.regs.sregs.cs.selector, STUB_GUEST_KERNEL_CS);
	cr_assert_eq(fk.g->shadow.stats.kvm_tlb_flushes, 1);
	cr_assert_eq(fk.memslot_sets, slots);
}

Test(dispatch, a_stub_move_or_a_shadowing_kvm_still_re_registers_the_memslot)
{
	struct kvm_run *run = fk.vcpu->run;
	unsigned slots = fk.memslot_sets;

	fk.g->tlb_flush_in_stub = true; /* the stub's new region may be stale: no trampoline */
	fk.g->shadow.kvm_stale = fk.g->shadow.kvm_stale_stub = true;
	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(!fk.g->flush_pending && !fk.g->shadow.kvm_stale);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_HANDLER + VEC_GP * 16);
	cr_assert_eq(fk.memslot_sets, slots + 2, "removed and added again");

	fk.g->tlb_flush_in_stub = false; /* kvm_pvm, or EPT/NPT off */
	fk.g->shadow.kvm_stale = true;
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(!fk.g->flush_pending);
	cr_assert_eq(fk.memslot_sets, slots + 4);
}

static int flush_kvm_of_fake(void *ctx)
{
	(void)ctx;
	return guestcpu_flush_kvm(fk.vcpu);
}

/* The zap log on (a KVM without TDP), and one shadow entry removed since KVM saw it. */
static void zap_mode_with_one_removal(void)
{
	struct shadow_guest_mode mode = {.wp = true, .nxe = true};
	uint32_t pfec;

	fk.g->pool_window = MON_PTR(&fk.vm.mem, MON_STUB_PT + STUB_POOL_WINDOW / 0x1000 * 8,
				    STUB_POOL_SLOTS * 8);
	cr_assert_eq(shadow_zap_enable(&fk.g->shadow, flush_kvm_of_fake, NULL), 0);
	cr_assert_eq(shadow_fill(&fk.g->shadow, FAKE_PML4, false, FAKE_DATA, 0, &mode, &pfec),
		     SHADOW_FILLED);
	fake_unmap(FAKE_DATA);
	shadow_invlpg(&fk.g->shadow, FAKE_PML4, FAKE_DATA);
}

/* Without TDP a removed shadow entry is written again by the stub (the zap log) on the
 * way back: one trampoline, no memslot; a window entry left over falls back to one. */
Test(dispatch, without_hardware_paging_the_stub_writes_the_zap_log_before_the_guest_runs)
{
	struct kvm_run *run = fk.vcpu->run;
	const struct stub_zap_log *log = stub_zap_log(&fk.g->stub);
	unsigned slots = fk.memslot_sets;

	zap_mode_with_one_removal();
	cr_assert(fk.g->shadow.kvm_stale);
	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(fk.g->flush_pending);
	cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + STUB_ZAP));
	cr_assert_eq(run->s.regs.sregs.cs.selector, STUB_CS, "the trampoline runs at CPL0");
	cr_assert_eq(log->nr_writes, 1, "expected the one dropped entry, got %u", log->nr_writes);
	cr_assert_eq(log->nr_slots, 1);
	cr_assert_eq(fk.g->pool_window[0] & (PTE_P | PTE_W | PTE_U | PTE_NX),
		     PTE_P | PTE_W | PTE_NX, "a supervisor window onto the pool");
	cr_assert_eq(fk.memslot_sets, slots, "no memslot re-registration");
	/* The stub clears the window and leaves through the TLB flush's exit. */
	fk.g->pool_window[0] = 0;
	pio_exit_at(STUB_TLB_FLUSH_DONE, 0);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(!fk.g->flush_pending && !fk.g->shadow.kvm_stale);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_HANDLER + VEC_GP * 16, "the guest's #GP handler");
	cr_assert_eq(fk.g->shadow.stats.kvm_zaps, 1);
	cr_assert_eq(fk.g->shadow.nr_zaps, 0);
	cr_assert_eq(fk.memslot_sets, slots);

	/* A window entry the stub never cleared: KVM may still map it, so the memslot. */
	fk.g->pool_window[7] = 0x1000 | PTE_P;
	fk.g->shadow.kvm_stale = true;
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(!fk.g->flush_pending);
	cr_assert_eq(fk.memslot_sets, slots + 2, "removed and added again");
	cr_assert_eq(fk.g->pool_window[7], 0, "the window cleared once KVM forgot it");
}

/* What a kernel cli/sti does in the #GP fast path is written on every way back: it flips
 * the real IF only where that is the guest's; a cleared area leaves it to lodger. */
Test(stubexit, the_fast_paths_cli_and_sti_act_on_the_real_if_only_where_it_is_the_guests)
{
	const struct stub_area *area = stub_area(&fk.g->stub);
	struct personality virtual_if = *fk.g->pers;

	cr_assert_eq(area->kernel_cli_sti, STUB_CLI_STI_LODGER, "before any resumption");
	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(area->kernel_cli_sti, STUB_CLI_STI_FLIP_IF, "native: the real IF");
	virtual_if.kernel_if_is_real = false;
	fk.g->pers = &virtual_if;
	stub_exit_of_vector(VEC_GP, 0, true);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(area->kernel_cli_sti, STUB_CLI_STI_LODGER);
}

/* A personality whose virtual IF is elsewhere gets the #GP fast path only where it says
 * what a kernel cli/sti does there (Xen: kernel_cli_sti). */
Test(stubexit, the_gp_fast_path_serves_a_virtual_if_only_with_the_personalitys_word)
{
	uint64_t gate13[2];
	struct personality silent = xen_personality;

	fake_teardown();
	fake_setup_as(&xen_personality);
	memcpy(gate13, fk.vm.mem.monitor + fk.g->stub.mon_off + STUB_IDT + 13 * 16, 16);
	cr_assert(fk.g->stub.fast_paths, "Xen PV: its kernel's cli/sti complete in the stub");
	cr_assert_eq((gate13[0] & 0xffff) | (gate13[0] >> 32 & 0xffff0000),
		     (uint32_t)stub_linear(&fk.g->stub, STUB_CODE + STUB_GP_FAST));
	silent.kernel_cli_sti = NULL;
	fake_teardown();
	fake_setup_as(&silent);
	cr_assert(!fk.g->stub.fast_paths, "its IF is not the real one: no fast path");
}

/* ---- the stub's flush returning to the guest itself ---- */

/* The kernel runs on the stub's present aliases (Xen PV), as in
 * a_kernel_on_the_aliases_is_resumed_on_them_after_any_trap. */
static struct personality on_aliases;

static void kernel_on_aliases(void)
{
	on_aliases = *fk.g->pers;
	on_aliases.kernel_on_aliases = true;
	fk.g->pers = &on_aliases;
	fk.g->stub.aliases = true;
}

/* A user cli (#GP) that lodger delivers to the guest kernel, with guest registers that
 * tell each other apart. */
static void user_cli_with_registers(void)
{
	struct kvm_run *run = fk.vcpu->run;

	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1);
	stub_exit_of_vector(VEC_GP, 0, true);
	run->s.regs.regs.rax = 0xa0;
	run->s.regs.regs.rbx = 0xb0;
	run->s.regs.regs.rcx = 0xc0;
	run->s.regs.regs.rdx = 0xd0;
	run->s.regs.regs.rsi = 0x50;
	run->s.regs.regs.rdi = 0xd1;
	run->s.regs.regs.r15 = 0xf15;
}

/* What the guest resumes with once the stub's iretq has run: the frame and registers on
 * its stack, KVM's registers for the rest. */
static void assert_returns_to_the_handler(unsigned scratch_words)
{
	struct kvm_run *run = fk.vcpu->run;
	const struct stub_ret_frame *f = stub_ret_frame(&fk.g->stub);
	uint64_t frame_rsp = stub_linear(&fk.g->stub, STUB_STACK_TOP - sizeof(*f));

	cr_assert_eq(run->s.regs.regs.rsp, frame_rsp + (4 - scratch_words) * 8,
		     "RSP at the first word the stub pops");
	cr_assert_eq(run->s.regs.sregs.cs.selector, STUB_CS, "the stub runs at CPL0");
	cr_assert_eq(run->s.regs.regs.rflags & (RFLAGS_IF | RFLAGS_TF), 0, "and uninterrupted");
	cr_assert_eq(run->s.regs.sregs.cr3, shadow_root(&fk.g->shadow, fk.g->cr3, false, false),
		     "on the root the guest resumes on");
	cr_assert_eq(f->rip, FAKE_HANDLER + VEC_GP * 16, "iretq to the guest's #GP handler");
	cr_assert_eq(f->cs, STUB_ALIAS_KERNEL_CS);
	cr_assert_eq(f->ss, STUB_ALIAS_KERNEL_DS);
	cr_assert_eq(f->rsp, FAKE_RSP0 - 6 * 8, "on RSP0, below the guest's frame");
	cr_assert_eq(fake_q(f->rsp + 8), FAKE_CODE, "the guest's frame: the cli");
	cr_assert_eq(f->rflags & (RFLAGS_IOPL | RFLAGS_FIXED), RFLAGS_FIXED, "IOPL 0");
	cr_assert_eq(f->rax, 0xa0);
	if (scratch_words)
		cr_assert(f->rcx == 0xc0 && f->rdx == 0xd0 && f->rsi == 0x50 && f->rdi == 0xd1,
			  "the registers the zap log uses, kept for the guest");
	cr_assert(run->s.regs.regs.rbx == 0xb0 && run->s.regs.regs.r15 == 0xf15,
		  "the guest's other registers in KVM");
	cr_assert(!fk.g->flush_pending, "no exit to wait for");
	cr_assert(!fk.g->shadow.kvm_stale);
	cr_assert_eq(fk.g->shadow.stats.kvm_flush_returns, 1);
}

/* With EPT/NPT: the stub's CR3 reload, then iretq; one trip through the stub, no exit. */
Test(dispatch, a_kernel_on_the_aliases_gets_its_tlb_flush_and_iretq_from_the_stub)
{
	struct kvm_run *run = fk.vcpu->run;
	unsigned slots = fk.memslot_sets;

	kernel_on_aliases();
	fk.g->tlb_flush_in_stub = true;
	fk.g->shadow.kvm_stale = true;
	user_cli_with_registers();
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip,
		     stub_linear(&fk.g->stub, STUB_CODE + STUB_TLB_FLUSH_RET));
	assert_returns_to_the_handler(0);
	cr_assert_eq(fk.g->shadow.stats.kvm_tlb_flushes, 1);
	cr_assert_eq(fk.memslot_sets, slots, "no memslot re-registration");
}

/* Without TDP: the zap log, the flush, then iretq. */
Test(dispatch, a_kernel_on_the_aliases_gets_the_zap_log_and_iretq_from_the_stub)
{
	struct kvm_run *run = fk.vcpu->run;
	const struct stub_zap_log *log = stub_zap_log(&fk.g->stub);
	unsigned slots = fk.memslot_sets;

	kernel_on_aliases();
	zap_mode_with_one_removal();
	user_cli_with_registers();
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + STUB_ZAP_RET));
	assert_returns_to_the_handler(4);
	cr_assert_eq(log->nr_writes, 1, "the dropped entry, for the stub to write");
	cr_assert_eq(log->nr_slots, 1);
	cr_assert(fk.g->pool_window[0] & PTE_P);
	cr_assert_eq(fk.g->shadow.nr_zaps, 0, "the log is the stub's now");
	cr_assert_eq(fk.g->shadow.stats.kvm_zaps, 1);
	cr_assert_eq(fk.memslot_sets, slots);

	/* Next time round, a window the stub never cleared still means the memslot. */
	fk.g->shadow.kvm_stale = true;
	user_cli_with_registers();
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(fk.memslot_sets, slots + 2, "removed and added again");
	cr_assert_eq(fk.g->shadow.stats.kvm_flush_returns, 1);
}

/* Where iretq would not give the guest what lodger gives it, the flush exits as before. */
Test(dispatch, the_stub_returns_only_where_iretq_gives_the_guest_what_lodger_would)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t exit_path = stub_linear(&fk.g->stub, STUB_CODE + STUB_TLB_FLUSH);

	fk.g->tlb_flush_in_stub = true;
	/* The native kernel's own selectors are not present: iretq would #NP. */
	fk.g->shadow.kvm_stale = true;
	user_cli_with_registers();
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip, exit_path);
	pio_exit_at(STUB_TLB_FLUSH_DONE, 0);
	cr_assert_eq(mode_exit(), 0);

	/* Nor a data segment of DPL 0: iretq to CPL3 would empty it. */
	kernel_on_aliases();
	fk.g->shadow.kvm_stale = true;
	user_cli_with_registers();
	run->s.regs.sregs.fs =
		(struct kvm_segment){.selector = 0x10, .present = 1, .s = 1, .type = 3, .dpl = 0};
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip, exit_path);
	pio_exit_at(STUB_TLB_FLUSH_DONE, 0);
	cr_assert_eq(mode_exit(), 0);

	/* Nor an sti's interrupt shadow, which only KVM_SET_VCPU_EVENTS gives. */
	fk.g->shadow.kvm_stale = true;
	fake_mode(false);
	run->kvm_valid_regs = SYNC_REGS;
	fk.t.sregs = (struct kvm_sregs){0};
	trap_set_mode(&fk.t, false);
	fk.t.regs.rip = FAKE_CODE;
	fk.t.regs.rsp = FAKE_RSP0;
	fk.t.regs.rflags = RFLAGS_FIXED | RFLAGS_IF;
	fk.t.sti_shadow = true;
	cr_assert_eq(transport_resume(&fk.t), 0);
	cr_assert_eq(run->s.regs.regs.rip, exit_path);
	cr_assert_eq(fk.g->shadow.stats.kvm_flush_returns, 0);
	cr_assert_eq(fk.g->shadow.stats.kvm_tlb_flushes, 2);
}

Test(dispatch, resuming_at_a_non_canonical_rip_is_the_guests_gp_there_never_kvms_entry)
{
	struct kvm_run *run = fk.vcpu->run;

	fake_mode(false);
	run->kvm_valid_regs = SYNC_REGS;
	fk.t.regs.rip = 0x0000800000000000ULL; /* past a cli at 0x7fffffffffff */
	fk.t.regs.rsp = FAKE_RSP0;
	fk.t.regs.rflags = RFLAGS_FIXED;
	cr_assert_eq(transport_resume(&fk.t), 0);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_HANDLER + VEC_GP * 16,
		     "expected the guest's #GP handler, RIP %#llx",
		     (unsigned long long)run->s.regs.regs.rip);
	cr_assert_eq(fake_q(run->s.regs.regs.rsp), 0, "error code 0");
	cr_assert_eq(fake_q(run->s.regs.regs.rsp + 8), 0x0000800000000000ULL, "the RIP");
}

/* ---- the guest's mode is lodger's record ---- */

Test(stubexit, a_user_trap_whose_frame_shows_the_kernel_alias_is_still_a_user_trap)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t rsp_off = STUB_STACK_TOP - 6 * 8;
	uint8_t *frame = fk.vm.mem.monitor + fk.g->stub.mon_off + rsp_off;

	fake_put(FAKE_CODE, (const uint8_t[]){0xfa}, 1); /* cli from user mode: #GP */
	stub_exit_of_vector(VEC_GP, 0, true);
	memcpy(frame + 2 * 8, (const uint64_t[]){STUB_ALIAS_KERNEL_CS}, 8);
	memcpy(frame + 5 * 8, (const uint64_t[]){STUB_ALIAS_KERNEL_DS}, 8);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_HANDLER + VEC_GP * 16);
	/* Delivered from user mode: on RSP0, and the frame says user mode. */
	cr_assert_eq(run->s.regs.regs.rsp, FAKE_RSP0 - 6 * 8, "a user trap switches to RSP0");
	cr_assert_eq(fake_q(FAKE_RSP0 - 6 * 8 + 2 * 8), STUB_GUEST_USER_CS,
		     "the frame's CS is the user's, got %#llx",
		     (unsigned long long)fake_q(FAKE_RSP0 - 6 * 8 + 2 * 8));
	cr_assert_eq(fake_q(FAKE_RSP0 - 6 * 8 + 5 * 8), STUB_GUEST_USER_DS);
}

Test(stubexit, a_kernel_trap_after_a_fast_path_shows_the_kernels_own_selectors)
{
	uint64_t rsp_off = STUB_STACK_TOP - 6 * 8;
	uint8_t *frame = fk.vm.mem.monitor + fk.g->stub.mon_off + rsp_off;

	fake_put(FAKE_CODE, (const uint8_t[]){0x0f, 0x0b}, 2); /* ud2 */
	stub_exit_of_vector(VEC_GP, 0, true);
	fk.g->user = false;
	memcpy(frame + 2 * 8, (const uint64_t[]){STUB_ALIAS_KERNEL_CS}, 8);
	memcpy(frame + 4 * 8, (const uint64_t[]){FAKE_RSP0 - 0x100}, 8);
	memcpy(frame + 5 * 8, (const uint64_t[]){STUB_ALIAS_KERNEL_DS}, 8);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(fake_q(FAKE_RSP0 - 0x100 - 6 * 8 + 2 * 8), STUB_GUEST_KERNEL_CS);
	cr_assert_eq(fake_q(FAKE_RSP0 - 0x100 - 6 * 8 + 5 * 8), STUB_GUEST_KERNEL_DS);
}

/* ---- where KVM leaves RIP at a stub exit ---- */

/* kvm_intel and kvm_amd leave RIP at the `out` until KVM completes it (its fast port-I/O
 * path); kvm_pvm's emulator leaves it past. The stub's entries are back to back, so RIP
 * at entry v is RIP past entry v-1. */
static void rip_at_the_out(void)
{
	fk.vcpu->run->s.regs.regs.rip -= STUB_ENTRY_SIZE;
	fk.complete_len = STUB_ENTRY_SIZE;
	fk.exit_rip = fk.vcpu->run->s.regs.regs.rip;
}

Test(stubexit, the_first_fetch_fault_is_a_shadow_fill_where_kvm_leaves_rip_at_the_out)
{
	struct kvm_run *run = fk.vcpu->run;

	/* The guest's first instruction on an empty shadow root: #PF(fetch, user, not
	 * present), error 0x14. Read as the #GP whose entry precedes it, it was a triple
	 * fault on kvm_amd. */
	stub_exit_of_vector(VEC_PF, PFEC_I | PFEC_U, true);
	run->s.regs.sregs.cr2 = FAKE_CODE;
	rip_at_the_out();
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(fk.g->stats.by_vector[VEC_PF], 1, "read as #PF");
	cr_assert_eq(fk.g->stats.by_vector[VEC_GP], 0, "not as the #GP its entry follows");
	cr_assert_eq(fk.g->stats.by_kind[TK_SHADOW_FILL], 1);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_CODE, "the fetch runs again");
}

Test(stubexit, every_vector_is_the_same_whether_kvm_leaves_rip_at_or_past_the_out)
{
	for (unsigned v = 0; v < 256; v++) {
		for (int at = 0; at < 2; at++) {
			uint64_t before = 0, after = 0;

			fk.g->out_exit_rip = OUT_EXIT_RIP_UNKNOWN; /* each a first exit */
			for (unsigned i = 0; i < 256; i++)
				before += fk.g->stats.by_vector[i];
			stub_exit_of_vector(v, 0, at);
			if (at)
				rip_at_the_out();
			else
				fk.complete_len = 0;
			(void)mode_exit(); /* #DF/#MC end the run; the vector is what counts */
			for (unsigned i = 0; i < 256; i++)
				after += fk.g->stats.by_vector[i];
			cr_assert_eq(after, before + 1, "vector %u (%s): one trap", v,
				     at ? "at" : "past");
			cr_assert_eq(fk.g->stats.by_vector[v], 1u + at, "vector %u (%s)", v,
				     at ? "at" : "past");
		}
	}
}

Test(stubexit, a_syscall_is_told_from_its_entry_whether_kvm_leaves_rip_at_or_past_the_out)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t entry = stub_linear(&fk.g->stub, STUB_CODE + STUB_SYSCALL_ENTRY);

	use_other_personality();
	for (int at = 0; at < 2; at++) {
		fk.g->out_exit_rip = OUT_EXIT_RIP_UNKNOWN; /* each a first exit */
		stub_exit_of_vector(0, 0, true);
		run->s.regs.regs.rip = entry + (at ? 0 : STUB_ENTRY_SIZE);
		fk.complete_len = at ? STUB_ENTRY_SIZE : 0;
		cr_assert_eq(mode_exit(), 0);
		cr_assert_eq(syscalls_seen, at + 1u, "(%s)", at ? "at" : "past");
	}
	for (unsigned v = 0; v < 256; v++)
		cr_assert_eq(fk.g->stats.by_vector[v], 0, "no vector %u taken for it", v);
}

Test(stubexit, where_kvm_leaves_rip_at_the_in_the_guests_port_0xe5_read_is_not_completed_early)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t entry = STUB_PIO + STUB_PIO_IN32 * STUB_PIO_SIZE;

	fake_put(FAKE_CODE, (const uint8_t[]){0xe5, 0xe5}, 2); /* inl $0xe5, %eax */
	stub_exit_of_vector(VEC_GP, 0, true);
	rip_at_the_out();
	fk.g->user = false;
	memcpy(fk.vm.mem.monitor + fk.g->stub.mon_off + STUB_STACK_TOP - 4 * 8,
	       (const uint64_t[]){STUB_GUEST_KERNEL_CS}, 8);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(fk.g->pio_pending, "parked in the in32 trampoline");
	cr_assert_eq(fk.g->out_exit_rip, OUT_EXIT_RIP_AT_OUT, "learnt at the first exit");
	/* Its inl exits with RIP at the inl: the run loop answers before KVM completes it. */
	pio_exit_dir(entry, 0x12345678, true);
	fk.complete_len = 1;
	cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED);
	cr_assert_eq(fk.complete_len, 1u, "lodger did not complete the guest's in");
	cr_assert(fk.g->pio_pending, "still parked");
	/* The trampoline's exit `out`, RIP at it: lodger knows it is past it, and KVM's
	 * completion at the next KVM_RUN leaves the guest's RIP alone. */
	pio_exit_at(entry + 1, 0xffffffff);
	fk.complete_len = STUB_ENTRY_SIZE;
	fk.exit_rip = run->s.regs.regs.rip;
	fk.kvm_runs = 0;
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(fk.kvm_runs, 0, "no completion run");
	cr_assert(!fk.g->pio_pending);
	cr_assert_eq(run->s.regs.regs.rax, 0xffffffff);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_CODE + 2);
	cr_assert_eq(kvm_ioctl_hook(fk.vcpu->fd, KVM_RUN, NULL), 0); /* the run loop's */
	cr_assert_eq(run->s.regs.regs.rip, FAKE_CODE + 2, "KVM's completion moved nothing");
}

Test(stubexit, where_kvm_leaves_rip_at_the_out_the_guests_port_0xe5_write_is_not_the_end)
{
	uint64_t entry = STUB_PIO + STUB_PIO_OUT8 * STUB_PIO_SIZE;

	fk.g->pio_pending = true;
	fk.g->pio_in = false;
	fk.g->pio_size = 1;
	/* The trampoline's outb %al, %dx to port 0xe5, RIP at it: completed, it ends at the
	 * trampoline's exit `out`, not past it. */
	pio_exit_at(entry, 0);
	fk.complete_len = 1;
	cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED);
	cr_assert(fk.g->pio_pending, "still parked");
}

/* ---- NMIs and interrupts taken inside a stub path: held for the guest (held.c) ---- */

TestSuite(held, .init = setup, .fini = fake_teardown);

/* KVM's state after vector v's entry ran for an event taken in stub code: the frame
 * (rip, cs, rflags, rsp, ss) on the stack at `rsp_off` (IST1 for an NMI). */
static void exit_in_stub(unsigned v, uint64_t rip_off, uint64_t rflags, uint64_t rsp)
{
	struct kvm_run *run = fk.vcpu->run;
	unsigned n = x86_has_error_code(v) ? 6 : 5;
	uint64_t rsp_off = (v == VEC_NMI ? STUB_IST_TOP : STUB_STACK_TOP) - n * 8;
	uint64_t words[6] = {
		0, stub_linear(&fk.g->stub, STUB_CODE + rip_off), STUB_CS, rflags, rsp, STUB_DS};

	memcpy(fk.vm.mem.monitor + fk.g->stub.mon_off + rsp_off, words + 6 - n, n * 8);
	run->exit_reason = KVM_EXIT_IO;
	run->io.port = STUB_EXIT_PORT;
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.size = 1;
	run->kvm_valid_regs = SYNC_REGS;
	run->s.regs.regs.rip = stub_linear(&fk.g->stub, STUB_CODE + (v + 1) * STUB_ENTRY_SIZE);
	run->s.regs.regs.rsp = stub_linear(&fk.g->stub, rsp_off);
	run->s.regs.sregs.cs.selector = STUB_CS;
}

/* A guest kernel `inb $0x21, %al` with IF as given: parked in the in8 trampoline. */
static uint64_t park_kernel_inb(bool vif)
{
	struct kvm_run *run = fk.vcpu->run;

	fake_put(FAKE_CODE, (const uint8_t[]){0xe4, 0x21}, 2);
	stub_exit_of_vector(VEC_GP, 0, true);
	fk.g->user = false;
	memcpy(fk.vm.mem.monitor + fk.g->stub.mon_off + STUB_STACK_TOP - 4 * 8,
	       (const uint64_t[]){STUB_GUEST_KERNEL_CS}, 8);
	memcpy(fk.vm.mem.monitor + fk.g->stub.mon_off + STUB_STACK_TOP - 3 * 8,
	       (const uint64_t[]){RFLAGS_FIXED | (vif ? RFLAGS_IF : 0)}, 8);
	memcpy(fk.vm.mem.monitor + fk.g->stub.mon_off + STUB_STACK_TOP - 2 * 8,
	       (const uint64_t[]){FAKE_RSP0 - 0x100}, 8);
	run->s.regs.regs.rax = 0x12345678;
	cr_assert_eq(mode_exit(), 0);
	cr_assert(fk.g->pio_pending, "parked in the trampoline");
	return STUB_PIO + STUB_PIO_IN8 * STUB_PIO_SIZE;
}

/* The guest kernel's handler of `v` was entered from FAKE_CODE + 2, the RIP after inb. */
static void assert_delivered_after_inb(unsigned v)
{
	struct kvm_run *run = fk.vcpu->run;

	cr_assert_eq(run->s.regs.regs.rip, FAKE_HANDLER + v * 16,
		     "expected the guest's handler of %u, RIP %#llx", v,
		     (unsigned long long)run->s.regs.regs.rip);
	cr_assert_eq(fake_q(run->s.regs.regs.rsp), FAKE_CODE + 2, "the frame's RIP: after inb");
	cr_assert_eq(run->s.regs.sregs.cs.selector, STUB_GUEST_KERNEL_CS);
}

Test(held, an_nmi_in_the_port_io_trampoline_is_held_and_delivered_after_it)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t entry = park_kernel_inb(false),
		 tramp = stub_linear(&fk.g->stub, STUB_CODE + entry);

	/* Before the trampoline's inb: the NMI's frame points at it. */
	exit_in_stub(VEC_NMI, entry, RFLAGS_FIXED, stub_linear(&fk.g->stub, STUB_STACK_TOP));
	run->s.regs.regs.rdx = 0x21;
	cr_assert_eq(mode_exit(), 0, "an NMI in the trampoline must not end the run");
	cr_assert(fk.g->held.nmi, "held");
	cr_assert(fk.g->pio_pending, "still parked");
	cr_assert_eq(run->s.regs.regs.rip, tramp, "the trampoline goes on where it was");
	cr_assert_eq(run->s.regs.regs.rsp, stub_linear(&fk.g->stub, STUB_STACK_TOP));
	cr_assert_eq(run->s.regs.regs.rflags & (RFLAGS_TF | RFLAGS_IF), 0);
	cr_assert_eq(run->s.regs.regs.rdx, 0x21, "its registers kept");
	/* The trampoline's exit: the value goes to the guest, then the NMI. */
	pio_exit_at(entry + 1 + STUB_ENTRY_SIZE, 0xab);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(!fk.g->pio_pending);
	cr_assert(!fk.g->held.nmi, "delivered");
	assert_delivered_after_inb(VEC_NMI);
	cr_assert_eq(run->s.regs.regs.rax, 0x123456ab, "the port's value merged");
}

Test(held, an_nmi_after_the_trampolines_access_resumes_at_its_exit)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t entry = park_kernel_inb(false);

	exit_in_stub(VEC_NMI, entry + 1, RFLAGS_FIXED, stub_linear(&fk.g->stub, STUB_STACK_TOP));
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + entry + 1));
	pio_exit_at(entry + 1 + STUB_ENTRY_SIZE, 0xff);
	cr_assert_eq(mode_exit(), 0);
	assert_delivered_after_inb(VEC_NMI);
}

Test(held, an_interrupt_in_a_stub_path_waits_for_the_guests_if)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t entry = park_kernel_inb(false);

	exit_in_stub(0x30, entry, RFLAGS_FIXED, stub_linear(&fk.g->stub, STUB_STACK_TOP));
	cr_assert_eq(mode_exit(), 0);
	pio_exit_at(entry + 1 + STUB_ENTRY_SIZE, 0xff);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_CODE + 2, "IF clear: the guest goes on");
	cr_assert(fk.g->held.irq[0x30 / 64] & 1ULL << (0x30 % 64), "still held");
	/* The next resumption with IF set delivers it. */
	fk.g->vif = true;
	fk.t.regs = run->s.regs.regs;
	fk.t.regs.rflags |= RFLAGS_IF;
	fk.t.sregs = run->s.regs.sregs;
	cr_assert_eq(held_deliver(&fk.t), 0);
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + 0x30 * 16);
	cr_assert_eq(fk.g->held.irq[0], 0);
}

Test(held, an_nmi_in_the_gp_fast_path_steps_it_back_to_the_guest_then_is_delivered)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t frame_rsp = stub_linear(&fk.g->stub, STUB_STACK_TOP - 7 * 8);
	uint64_t rsp_off = STUB_STACK_TOP - 5 * 8; /* the #DB's frame after the iretq */
	uint8_t *frame = fk.vm.mem.monitor + fk.g->stub.mon_off + rsp_off;

	fk.g->user = false;
	fk.g->vif = true;
	exit_in_stub(VEC_NMI, STUB_GP_FAST + 8, RFLAGS_FIXED, frame_rsp);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(fk.g->held.nmi);
	cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + STUB_GP_FAST + 8));
	cr_assert_eq(run->s.regs.regs.rsp, frame_rsp);
	cr_assert(run->s.regs.regs.rflags & RFLAGS_TF, "stepped: the fast path may iretq");
	/* Its #DB inside the stub: stepping goes on. */
	exit_in_stub(VEC_DB, STUB_GP_FAST + 12, RFLAGS_FIXED | RFLAGS_TF, frame_rsp);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(run->s.regs.regs.rflags & RFLAGS_TF);
	cr_assert(fk.g->held.nmi, "still held");
	/* The #DB after its iretq, in the guest kernel (the alias CS): the NMI, not a #DB. */
	stub_exit_of_vector(VEC_DB, 0, true);
	fk.g->user = false;
	memcpy(frame + 1 * 8, (const uint64_t[]){STUB_ALIAS_KERNEL_CS}, 8);
	memcpy(frame + 3 * 8, (const uint64_t[]){FAKE_RSP0 - 0x100}, 8);
	memcpy(frame + 4 * 8, (const uint64_t[]){STUB_ALIAS_KERNEL_DS}, 8);
	fk.g->vif = true;
	cr_assert_eq(mode_exit(), 0);
	cr_assert(!fk.g->held.nmi && !fk.g->held.stepping);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_HANDLER + VEC_NMI * 16,
		     "expected the guest's NMI handler, RIP %#llx",
		     (unsigned long long)run->s.regs.regs.rip);
	cr_assert_eq(fake_q(run->s.regs.regs.rsp), FAKE_CODE, "the NMI's frame: the guest's RIP");
	cr_assert_eq(run->s.regs.regs.rflags & RFLAGS_TF, 0);
}

/* An NMI while the stub flushes on its way back: held, the stub stepped to its iretq,
 * then delivered in the guest. */
Test(held, an_nmi_in_the_stubs_flush_steps_it_back_to_the_guest)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t frame_rsp = stub_linear(&fk.g->stub, STUB_STACK_TOP - 6 * 8);

	fk.g->user = false;
	for (uint64_t off = STUB_TLB_FLUSH_RET; off < STUB_CODE_END; off += 0x20) {
		exit_in_stub(VEC_NMI, off, RFLAGS_FIXED, frame_rsp);
		run->s.regs.regs.rcx = 7; /* the zap log's counter */
		cr_assert_eq(mode_exit(), 0, "at %#llx", (unsigned long long)off);
		cr_assert_eq(run->s.regs.regs.rcx, 7, "the stub's registers kept");
		cr_assert(fk.g->held.nmi);
		cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + off));
		cr_assert(run->s.regs.regs.rflags & RFLAGS_TF, "stepped: it ends in iretq");
		fk.g->held.stepping = false;
	}
	/* The exit path's flush is not: its own exit ends it. */
	exit_in_stub(VEC_NMI, STUB_ZAP + 8, RFLAGS_FIXED, frame_rsp);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rflags & RFLAGS_TF, 0);
}

Test(held, stepping_ends_before_the_fast_paths_exit_to_lodger)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t frame_rsp = stub_linear(&fk.g->stub, STUB_STACK_TOP - 7 * 8);

	fk.g->user = false;
	exit_in_stub(VEC_NMI, STUB_GP_FAST + 8, RFLAGS_FIXED, frame_rsp);
	cr_assert_eq(mode_exit(), 0);
	exit_in_stub(VEC_DB, STUB_GP_FAST_EXIT, RFLAGS_FIXED | RFLAGS_TF, frame_rsp + 8);
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + STUB_GP_FAST_EXIT));
	cr_assert_eq(run->s.regs.regs.rflags & RFLAGS_TF, 0, "its out exits to lodger anyway");
	cr_assert(!fk.g->held.stepping);
	cr_assert(fk.g->held.nmi);
}

Test(held, any_other_vector_inside_the_stub_still_ends_the_run)
{
	uint64_t entry = park_kernel_inb(false);

	exit_in_stub(VEC_PF, entry, RFLAGS_FIXED, stub_linear(&fk.g->stub, STUB_STACK_TOP));
	cr_assert_eq(mode_exit(), EXIT_INTERNAL);
	/* a #DB inside the stub when lodger is not stepping it */
	exit_in_stub(VEC_DB, entry, RFLAGS_FIXED, stub_linear(&fk.g->stub, STUB_STACK_TOP));
	cr_assert_eq(mode_exit(), EXIT_INTERNAL);
	/* an NMI whose frame is outside the stub's code */
	exit_in_stub(VEC_NMI, STUB_CODE_END, RFLAGS_FIXED,
		     stub_linear(&fk.g->stub, STUB_STACK_TOP));
	cr_assert_eq(mode_exit(), EXIT_INTERNAL);
	cr_assert(!fk.g->held.nmi);
}

/* ---- guest writes to the xAPIC page (apicmmio.c) ---- */

TestSuite(apic, .init = setup, .fini = fake_teardown);

#define APIC_LA 0x1ff000ULL /* FAKE_UNMAPPED, mapped here to the xAPIC page */

/* The guest kernel's `insn` (writing *%rbx) faults on the read-only xAPIC page at
 * register `offset`, with %eax = value; dispatched as the core does. */
static int apic_write_by(const uint8_t *insn, unsigned len, uint32_t offset, uint32_t value)
{
	uint64_t pte = APIC_MMIO_GPA | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | (1ULL << 4);

	fake_put(FAKE_PT + (APIC_LA >> 12) * 8, &pte, 8);
	fk.vcpu->run->kvm_valid_regs = SYNC_REGS;
	fk.t.parked = fk.g->apic_pending = false; /* a fresh trap */
	fake_mode(false);
	fake_insn(insn, len, VEC_PF);
	fk.t.error = PFEC_P | PFEC_W | PFEC_U;
	fk.t.sregs.cr2 = APIC_LA + offset;
	fk.t.regs.rbx = APIC_LA + offset;
	fk.t.regs.rax = 0xabcd00000000ULL | value;
	return dispatch_trap(&fk.t);
}

static int apic_mov(uint32_t offset, uint32_t value)
{
	return apic_write_by((const uint8_t[]){0x89, 0x03}, 2, offset, value); /* mov %eax,(%rbx) */
}

static void assert_parked_write(uint32_t offset, uint32_t value)
{
	struct kvm_run *run = fk.vcpu->run;

	cr_assert(fk.t.parked && fk.g->apic_pending, "offset %#x = %#x: done in the stub", offset,
		  value);
	cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + STUB_APIC_W32));
	cr_assert_eq(run->s.regs.regs.rdx, stub_linear(&fk.g->stub, STUB_APIC_WINDOW + offset));
	cr_assert_eq(run->s.regs.regs.rax, value);
}

static void assert_dropped(uint32_t offset, uint32_t value)
{
	cr_assert(!fk.t.parked && !fk.g->apic_pending, "offset %#x = %#x: dropped", offset, value);
	cr_assert_eq(fk.t.regs.rip, FAKE_CODE + 2, "past the mov");
}

Test(apic, an_init_sipi_or_smi_through_the_icr_is_dropped_and_the_guest_goes_on)
{
	static const uint32_t modes[] = {2u << 8, 5u << 8 | 1u << 14, 5u << 8, 6u << 8 | 0x10};

	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(apic_mov(0x300, modes[i]), 0);
		assert_dropped(0x300, modes[i]);
	}
}

Test(apic, lvt_entries_asking_for_smi_or_init_are_dropped)
{
	static const uint32_t lvts[] = {0x2f0, 0x320, 0x330, 0x340, 0x350, 0x360, 0x370};

	for (unsigned i = 0; i < 7; i++) {
		cr_assert_eq(apic_mov(lvts[i], 5u << 8), 0);
		assert_dropped(lvts[i], 5u << 8);
		cr_assert_eq(apic_mov(lvts[i], 2u << 8), 0);
		assert_dropped(lvts[i], 2u << 8);
	}
}

Test(apic, a_fixed_or_nmi_ipi_an_eoi_and_an_nmi_lvt_are_written_at_cpl0)
{
	struct kvm_run *run = fk.vcpu->run;

	cr_assert_eq(apic_mov(0x300, 0x40fd), 0);
	assert_parked_write(0x300, 0x40fd);
	/* the trampoline's exit: the guest resumes after its mov, its registers back */
	pio_exit_at(STUB_APIC_W32 + 2 + STUB_ENTRY_SIZE, 0x40fd);
	cr_assert_eq(mode_exit(), 0);
	cr_assert(!fk.g->apic_pending);
	cr_assert_eq(run->s.regs.regs.rip, FAKE_CODE + 2);
	cr_assert_eq(run->s.regs.regs.rax, 0xabcd000040fdULL);
	cr_assert_eq(run->s.regs.regs.rbx, APIC_LA + 0x300);
	cr_assert_eq(apic_mov(0x300, 4u << 8), 0);
	assert_parked_write(0x300, 4u << 8);
	cr_assert_eq(apic_mov(0xb0, 0), 0);
	assert_parked_write(0xb0, 0);
	cr_assert_eq(apic_mov(0x350, 4u << 8), 0);
	assert_parked_write(0x350, 4u << 8);
	/* an immediate: movl $0x4500, (%rbx) is still an INIT */
	cr_assert_eq(
		apic_write_by((const uint8_t[]){0xc7, 0x03, 0x00, 0x45, 0x00, 0x00}, 6, 0x300, 0),
		0);
	cr_assert(!fk.g->apic_pending, "dropped");
	cr_assert_eq(fk.t.regs.rip, FAKE_CODE + 6);
}

Test(apic, any_other_write_form_is_the_guests_gp)
{
	/* add %eax, (%rbx): a read-modify-write lodger does not do */
	cr_assert_eq(apic_write_by((const uint8_t[]){0x01, 0x03}, 2, 0x300, 5u << 8), 0);
	cr_assert(!fk.g->apic_pending);
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_GP * 16);
	/* movq %rax, (%rbx): 64 bits at once */
	cr_assert_eq(apic_write_by((const uint8_t[]){0x48, 0x89, 0x03}, 3, 0x300, 5u << 8), 0);
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_GP * 16);
}

Test(apic, a_dropped_write_with_tf_set_ends_in_the_guests_single_step_db)
{
	fk.t.regs.rflags = RFLAGS_FIXED | RFLAGS_TF;
	cr_assert_eq(apic_write_by((const uint8_t[]){0x89, 0x03}, 2, 0x300, 5u << 8), 0);
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_DB * 16);
	cr_assert_eq(fake_q(fk.t.regs.rsp), FAKE_CODE + 2, "the #DB's RIP: after the mov");
	cr_assert(fk.g->dr[6] & DR6_BS);
}

/* ---- the guest's TF and lodger's stepping over displaced content (conflict.c) ---- */

/* A displaced access by `insn` at FAKE_CODE with the guest's TF as given, stepped; then
 * the step's #DB with the CPU's TF `tf_after`. Returns whether the #DB was lodger's alone
 * and leaves the guest's TF in fk.t.regs.rflags. */
static bool step_over(const uint8_t *insn, unsigned len, bool guest_tf, bool tf_after)
{
	bool done;

	fake_insn(insn, len, VEC_PF);
	fk.t.regs.rflags = RFLAGS_FIXED | (guest_tf ? RFLAGS_TF : 0);
	fk.g->reloc.displacing = true;
	cr_assert_eq(conflict_handle(&fk.t, FAKE_DATA, 0), 0);
	cr_assert(fk.g->step.active);
	cr_assert(fk.t.regs.rflags & RFLAGS_TF, "lodger steps with TF");
	fk.t.vector = VEC_DB;
	fk.t.has_error = false;
	fk.t.regs.rip += len;
	fk.t.regs.rflags = RFLAGS_FIXED | (tf_after ? RFLAGS_TF : 0);
	cr_assert_eq(conflict_step_trap(&fk.t, &done), 0);
	cr_assert(!fk.g->step.active);
	return done;
}

static bool guest_tf(void)
{
	return fk.t.regs.rflags & RFLAGS_TF;
}

Test(dispatch, a_displaced_popf_that_sets_tf_keeps_it_and_the_db_waits_for_the_next_insn)
{
	cr_assert(step_over((const uint8_t[]){0x9d}, 1, false, true), "no guest #DB after it");
	cr_assert(guest_tf(), "the guest set TF itself: it stays");
	cr_assert(step_over((const uint8_t[]){0x66, 0x9d}, 2, false, true));
	cr_assert(guest_tf(), "popfw too");
	cr_assert(step_over((const uint8_t[]){0x48, 0x9d}, 2, false, true));
	cr_assert(guest_tf(), "and with a REX prefix");
}

Test(dispatch, a_displaced_popf_that_clears_tf_ends_the_guests_stepping)
{
	cr_assert(!step_over((const uint8_t[]){0x9d}, 1, true, false),
		  "TF was set at its start: the guest's #DB after it is due");
	cr_assert(!guest_tf(), "the guest cleared TF: no #DBs after this one");
}

Test(dispatch, any_other_displaced_instruction_keeps_the_guests_tf)
{
	static const uint8_t load[] = {0x48, 0x8b, 0x18}; /* mov (%rax), %rbx */

	cr_assert(step_over(load, 3, false, true), "lodger's step only");
	cr_assert(!guest_tf(), "lodger's TF is not the guest's");
	cr_assert(!step_over(load, 3, true, true), "the guest steps: its #DB is due");
	cr_assert(guest_tf());
	/* 0x9d after an opcode that is not a prefix is not popf */
	cr_assert(step_over((const uint8_t[]){0x90, 0x9d}, 1, false, true));
	cr_assert(!guest_tf());
}

Test(held, a_parked_port_access_with_tf_set_ends_in_the_guests_single_step_db)
{
	uint64_t entry = park_kernel_inb(false);

	fk.g->saved.rflags |= RFLAGS_TF; /* the guest's TF at its inb */
	pio_exit_at(entry + 1 + STUB_ENTRY_SIZE, 0xab);
	cr_assert_eq(mode_exit(), 0);
	assert_delivered_after_inb(VEC_DB);
	cr_assert(fk.g->dr[6] & DR6_BS);
}

/* ---- known backends: no completion run (stubexit.c, transport_commit) ---- */

/* Known backends: lodger knows where KVM leaves RIP and runs no completion; KVM moves RIP
 * past the `out` at the next KVM_RUN only if lodger left it there. */
Test(stubexit, on_a_known_backend_every_vector_is_read_without_a_completion_run)
{
	for (unsigned v = 0; v < 256; v++) {
		for (int at = 0; at < 2; at++) {
			fk.g->out_exit_rip = at ? OUT_EXIT_RIP_AT_OUT : OUT_EXIT_RIP_PAST_OUT;
			stub_exit_of_vector(v, 0, true);
			if (at)
				fk.vcpu->run->s.regs.regs.rip -= STUB_ENTRY_SIZE;
			fk.complete_len = 0;
			(void)mode_exit();
			cr_assert_eq(fk.g->stats.by_vector[v], 1u + at, "vector %u (%s)", v,
				     at ? "at" : "past");
			cr_assert_eq(fk.kvm_runs, 0, "vector %u: no completion run", v);
		}
	}
}

Test(stubexit, on_a_known_backend_a_syscall_is_told_without_a_completion_run)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t entry = stub_linear(&fk.g->stub, STUB_CODE + STUB_SYSCALL_ENTRY);

	use_other_personality();
	fk.g->out_exit_rip = OUT_EXIT_RIP_AT_OUT;
	stub_exit_of_vector(0, 0, true);
	run->s.regs.regs.rip = entry;
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(syscalls_seen, 1);
	cr_assert_eq(fk.kvm_runs, 0);
	cr_assert(!fk.g->out_pending, "the resumption moved RIP: KVM will not skip");
}

Test(stubexit, where_kvm_holds_the_out_a_resumption_at_that_out_completes_it_first)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t nmi_out = stub_linear(&fk.g->stub, STUB_CODE + VEC_NMI * STUB_ENTRY_SIZE);

	fk.g->out_exit_rip = OUT_EXIT_RIP_AT_OUT;
	fk.g->user = false;
	/* An NMI whose frame names the NMI entry's own `out`, where KVM's RIP still is: the
	 * stub goes on there, so KVM must not move RIP past it afterwards. */
	exit_in_stub(VEC_NMI, VEC_NMI * STUB_ENTRY_SIZE, RFLAGS_FIXED,
		     stub_linear(&fk.g->stub, STUB_STACK_TOP));
	run->s.regs.regs.rip -= STUB_ENTRY_SIZE;
	fk.complete_len = STUB_ENTRY_SIZE;
	fk.exit_rip = nmi_out;
	cr_assert_eq(mode_exit(), 0);
	cr_assert(fk.g->held.nmi, "held");
	cr_assert_eq(fk.kvm_runs, 1, "completed before the registers went in");
	cr_assert_eq(run->s.regs.regs.rip, nmi_out, "resumed at the out");
	cr_assert_eq(kvm_ioctl_hook(fk.vcpu->fd, KVM_RUN, NULL), 0); /* the run loop's */
	cr_assert_eq(run->s.regs.regs.rip, nmi_out, "the out not skipped");
	/* Anywhere else in the stub: no completion. */
	fk.kvm_runs = 0;
	fk.g->held.nmi = false;
	exit_in_stub(VEC_NMI, STUB_IDLE, RFLAGS_FIXED, stub_linear(&fk.g->stub, STUB_STACK_TOP));
	run->s.regs.regs.rip -= STUB_ENTRY_SIZE;
	cr_assert_eq(mode_exit(), 0);
	cr_assert_eq(fk.kvm_runs, 0);
}

Test(stubexit, on_a_known_backend_the_guests_port_0xe5_write_leaves_the_vcpu_untouched)
{
	struct kvm_run *run = fk.vcpu->run;
	uint64_t entry = STUB_PIO + STUB_PIO_OUT16 * STUB_PIO_SIZE;

	fk.g->out_exit_rip = OUT_EXIT_RIP_AT_OUT;
	fk.g->pio_pending = true;
	fk.g->pio_in = false;
	fk.g->pio_size = 2;
	/* outw %ax, %dx (2 bytes) to port 0xe5 with RIP at it: RIP + 2 is the trampoline's
	 * exit `out`, not past it. */
	pio_exit_at(entry, 0);
	run->kvm_dirty_regs = 0;
	cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED);
	cr_assert(fk.g->pio_pending, "still parked");
	cr_assert_eq(run->s.regs.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + entry));
	cr_assert_eq(run->kvm_dirty_regs, 0, "nothing written");
	cr_assert_eq(fk.kvm_runs, 0, "KVM_RUN of the run loop completes it");
}

Test(stubexit, the_first_exit_learns_where_kvm_leaves_rip)
{
	struct kvm_run *run = fk.vcpu->run;

	/* Hardware KVM: the completion moves RIP by the out's length. */
	stub_exit_of_vector(VEC_PF, PFEC_U, true);
	run->s.regs.sregs.cr2 = FAKE_UNMAPPED;
	rip_at_the_out();
	(void)mode_exit();
	cr_assert_eq(fk.g->out_exit_rip, OUT_EXIT_RIP_AT_OUT);
	cr_assert_eq(fk.kvm_runs, 1);
	stub_exit_of_vector(VEC_UD, 0, true);
	rip_at_the_out();
	(void)mode_exit();
	cr_assert_eq(fk.kvm_runs, 1, "no completion after the first exit");
	cr_assert_eq(fk.g->stats.by_vector[VEC_UD], 1, "read as #UD");
	/* kvm_pvm: RIP already past, the completion moves nothing. */
	fk.g->out_exit_rip = OUT_EXIT_RIP_UNKNOWN;
	stub_exit_of_vector(VEC_UD, 0, true);
	(void)mode_exit();
	cr_assert_eq(fk.g->out_exit_rip, OUT_EXIT_RIP_PAST_OUT);
	cr_assert_eq(fk.g->stats.by_vector[VEC_UD], 2);
	/* A guest's 1-byte outb to port 0xe5 through the trampoline teaches nothing. */
	fk.g->out_exit_rip = OUT_EXIT_RIP_UNKNOWN;
	fk.g->pio_pending = true;
	fk.g->pio_in = false;
	fk.g->pio_size = 1;
	pio_exit_at(STUB_PIO + STUB_PIO_OUT8 * STUB_PIO_SIZE, 0);
	fk.complete_len = 1;
	cr_assert_eq(mode_exit(), MODE_EXIT_UNCLAIMED);
	cr_assert_eq(fk.g->out_exit_rip, OUT_EXIT_RIP_UNKNOWN);
}
