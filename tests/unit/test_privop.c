/*
 * test_privop.c - privileged-instruction emulation for a deprivileged native guest kernel
 * (src/native/privop.c through native_exception): control registers and their reserved
 * bits, descriptor-table registers, iretq and sysret, UMIP, hlt and cli/sti. A fake vCPU
 * (fake_vcpu.h), no KVM.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "arch/x86.h"
#include "fake_vcpu.h"
#include "lodger/stub_abi.h"
#include "native/native.h"

static void setup(void)
{
	fake_setup();
	fake_all_gates();
}

TestSuite(privop, .init = setup, .fini = fake_teardown);

#define INSN(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static const uint8_t mov_rax_cr0[] = {0x0f, 0x22, 0xc0};
static const uint8_t mov_cr0_rax[] = {0x0f, 0x20, 0xc0};
static const uint8_t mov_rax_cr3[] = {0x0f, 0x22, 0xd8};
static const uint8_t mov_rax_cr4[] = {0x0f, 0x22, 0xe0};
static const uint8_t lidt_rax[] = {0x0f, 0x01, 0x18};
static const uint8_t lgdt_rax[] = {0x0f, 0x01, 0x10};
static const uint8_t sgdt_rax[] = {0x0f, 0x01, 0x00};
static const uint8_t smsw_eax[] = {0x0f, 0x01, 0xe0};
static const uint8_t iretq[] = {0x48, 0xcf};
static const uint8_t sysretq[] = {0x48, 0x0f, 0x07};

/* Runs the instruction (raising #GP at CPL3, as the privileged ones do). */
static int run(const uint8_t *insn, unsigned len)
{
	fake_insn(insn, len, VEC_GP);
	return native_exception(&fk.t);
}

static void assert_emulated(unsigned len)
{
	cr_assert_eq(fk.t.regs.rip, FAKE_CODE + len, "expected RIP past the instruction, got %#llx",
		     (unsigned long long)fk.t.regs.rip);
}

/* The guest got #GP(error) pointing at the instruction. */
static void assert_gp(uint32_t error)
{
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_GP * 16,
		     "expected the guest's #GP handler, RIP %#llx",
		     (unsigned long long)fk.t.regs.rip);
	cr_assert_eq(fake_q(fk.t.regs.rsp), error, "#GP error code");
	cr_assert_eq(fake_q(fk.t.regs.rsp + 8), FAKE_CODE, "#GP points at the instruction");
}

Test(privop, mov_to_cr0_takes_a_valid_value)
{
	uint64_t v = fk.g->cr0 | CR0_TS;

	fk.t.regs.rax = v;
	cr_assert_eq(run(mov_rax_cr0, sizeof(mov_rax_cr0)), 0);
	assert_emulated(sizeof(mov_rax_cr0));
	cr_assert_eq(fk.g->cr0, v);
}

Test(privop, mov_to_cr0_with_reserved_or_forbidden_bits_is_gp)
{
	uint64_t before = fk.g->cr0;
	const uint64_t bad[] = {before | (1ULL << 32), before & ~CR0_PG, before & ~CR0_PE,
				before | CR0_NW};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fake_mode(false);
		fk.t.regs.rax = bad[i];
		cr_assert_eq(run(mov_rax_cr0, sizeof(mov_rax_cr0)), 0);
		assert_gp(0);
		cr_assert_eq(fk.g->cr0, before, "CR0 %#llx must be refused",
			     (unsigned long long)bad[i]);
	}
}

Test(privop, mov_from_cr0_reads_the_virtual_register)
{
	cr_assert_eq(run(mov_cr0_rax, sizeof(mov_cr0_rax)), 0);
	assert_emulated(sizeof(mov_cr0_rax));
	cr_assert_eq(fk.t.regs.rax, fk.g->cr0);
}

Test(privop, mov_from_cr0_in_user_mode_is_the_guests_gp)
{
	fake_mode(true);
	fk.t.regs.rax = 0x5555;
	cr_assert_eq(run(mov_cr0_rax, sizeof(mov_cr0_rax)), 0);
	assert_gp(0);
	cr_assert_eq(fake_q(fk.t.regs.rsp + 16), STUB_GUEST_USER_CS);
	cr_assert_eq(fk.t.regs.rax, 0x5555, "nothing read");
}

Test(privop, mov_to_cr3_switches_tables_and_refuses_reserved_bits)
{
	fk.t.regs.rax = FAKE_PML4 | (1ULL << 62);
	cr_assert_eq(run(mov_rax_cr3, sizeof(mov_rax_cr3)), 0);
	assert_gp(0);
	cr_assert_eq(fk.g->cr3, FAKE_PML4);

	fake_mode(false);
	fk.t.regs.rax = 0x5000;
	cr_assert_eq(run(mov_rax_cr3, sizeof(mov_rax_cr3)), 0);
	assert_emulated(sizeof(mov_rax_cr3));
	cr_assert_eq(fk.g->cr3, 0x5000);
}

Test(privop, mov_to_cr4_takes_allowed_bits_and_refuses_the_rest)
{
	uint64_t before = fk.g->cr4;

	fk.t.regs.rax = before | (1ULL << 12); /* LA57 */
	cr_assert_eq(run(mov_rax_cr4, sizeof(mov_rax_cr4)), 0);
	assert_gp(0);
	fake_mode(false);
	fk.t.regs.rax = before & ~CR4_PAE;
	cr_assert_eq(run(mov_rax_cr4, sizeof(mov_rax_cr4)), 0);
	assert_gp(0);
	cr_assert_eq(fk.g->cr4, before);
	fake_mode(false);
	fk.t.regs.rax = before | CR4_PGE;
	cr_assert_eq(run(mov_rax_cr4, sizeof(mov_rax_cr4)), 0);
	assert_emulated(sizeof(mov_rax_cr4));
	cr_assert_eq(fk.g->cr4, before | CR4_PGE);
}

static void put_table_operand(uint16_t limit, uint64_t base)
{
	fake_put(FAKE_DATA, &limit, 2);
	fake_put(FAKE_DATA + 2, &base, 8);
	fk.t.regs.rax = FAKE_DATA;
}

Test(privop, lidt_and_lgdt_load_the_virtual_registers)
{
	put_table_operand(0x7ff, 0xffff800000001000ULL);
	cr_assert_eq(run(lidt_rax, sizeof(lidt_rax)), 0);
	assert_emulated(sizeof(lidt_rax));
	cr_assert_eq(fk.g->idtr_base, 0xffff800000001000ULL);
	cr_assert_eq(fk.g->idtr_limit, 0x7ff);
	put_table_operand(0x3f, 0x2000);
	cr_assert_eq(run(lgdt_rax, sizeof(lgdt_rax)), 0);
	cr_assert_eq(fk.g->gdtr_base, 0x2000);
	cr_assert_eq(fk.g->gdtr_limit, 0x3f);
}

Test(privop, lidt_of_a_non_canonical_base_is_gp_and_changes_nothing)
{
	put_table_operand(0xfff, 0x0000800000000000ULL);
	cr_assert_eq(run(lidt_rax, sizeof(lidt_rax)), 0);
	assert_gp(0);
	cr_assert_eq(fk.g->idtr_base, FAKE_IDT);
}

Test(privop, lidt_from_user_mode_is_gp)
{
	fake_mode(true);
	put_table_operand(0, 0);
	cr_assert_eq(run(lidt_rax, sizeof(lidt_rax)), 0);
	assert_gp(0);
	cr_assert_eq(fk.g->idtr_base, FAKE_IDT);
}

static void put_iret_frame(uint64_t rip, uint64_t cs, uint64_t rflags, uint64_t rsp, uint64_t ss)
{
	uint64_t f[5] = {rip, cs, rflags, rsp, ss};

	fake_put(fk.t.regs.rsp, f, sizeof(f));
}

Test(privop, iretq_to_user_mode_enters_user_mode_with_the_popped_state)
{
	fk.g->vif = false;
	put_iret_frame(0x41000, STUB_GUEST_USER_CS, RFLAGS_FIXED | RFLAGS_IF, 0x71000,
		       STUB_GUEST_USER_DS);
	cr_assert_eq(run(iretq, sizeof(iretq)), 0);
	cr_assert(fk.g->user, "expected user mode");
	cr_assert_eq(fk.t.regs.rip, 0x41000);
	cr_assert_eq(fk.t.regs.rsp, 0x71000);
	cr_assert_eq(fk.t.sregs.cs.selector, STUB_GUEST_USER_CS);
	cr_assert(fk.g->vif, "IF from the frame");
}

Test(privop, iretq_to_kernel_mode_stays_in_kernel_mode)
{
	put_iret_frame(0x42000, STUB_GUEST_KERNEL_CS, RFLAGS_FIXED, 0x72000, STUB_GUEST_KERNEL_DS);
	cr_assert_eq(run(iretq, sizeof(iretq)), 0);
	cr_assert(!fk.g->user);
	cr_assert_eq(fk.t.regs.rip, 0x42000);
	cr_assert_eq(fk.t.regs.rsp, 0x72000);
	cr_assert(!fk.g->vif, "IF clear in the frame");
}

Test(privop, iretq_to_a_non_canonical_rip_or_from_user_to_kernel_is_gp)
{
	uint64_t rsp = fk.t.regs.rsp;

	put_iret_frame(0x0000800000000000ULL, STUB_GUEST_USER_CS, RFLAGS_FIXED, 0x71000,
		       STUB_GUEST_USER_DS);
	cr_assert_eq(run(iretq, sizeof(iretq)), 0);
	assert_gp(0);
	cr_assert(!fk.g->user);

	fake_mode(true);
	rsp = fk.t.regs.rsp;
	put_iret_frame(0x41000, STUB_GUEST_KERNEL_CS, RFLAGS_FIXED, 0x71000, STUB_GUEST_KERNEL_DS);
	cr_assert_eq(run(iretq, sizeof(iretq)), 0);
	assert_gp(STUB_GUEST_KERNEL_CS & 0xfffc);
	(void)rsp;
}

Test(privop, sysret_enters_user_mode_at_rcx_with_r11s_flags)
{
	fk.t.regs.rcx = 0x43000;
	fk.t.regs.r11 = RFLAGS_FIXED | RFLAGS_IF | RFLAGS_RF;
	cr_assert_eq(run(sysretq, sizeof(sysretq)), 0);
	cr_assert(fk.g->user);
	cr_assert_eq(fk.t.regs.rip, 0x43000);
	cr_assert_eq(fk.t.regs.rflags, RFLAGS_FIXED | RFLAGS_IF, "RF dropped");
	cr_assert_eq(fk.t.sregs.cs.selector, STUB_GUEST_USER_CS);
}

Test(privop, sysret_to_a_non_canonical_rcx_is_gp_in_kernel_mode)
{
	fk.t.regs.rcx = 0x0000800000000000ULL;
	cr_assert_eq(run(sysretq, sizeof(sysretq)), 0);
	assert_gp(0);
	cr_assert(!fk.g->user, "the #GP is taken in kernel mode");
	cr_assert_eq(fake_q(fk.t.regs.rsp + 16), STUB_GUEST_KERNEL_CS);
}

Test(privop, sysret_from_user_mode_is_the_guests_gp)
{
	fake_mode(true);
	fk.t.regs.rcx = 0x43000;
	cr_assert_eq(run(sysretq, sizeof(sysretq)), 0);
	assert_gp(0);
}

Test(privop, umip_gates_sgdt_and_smsw_in_user_mode)
{
	uint8_t out[10], want[10];
	uint16_t limit = fk.g->gdtr_limit;

	fake_mode(true);
	fk.t.regs.rax = FAKE_DATA;
	memset(fake_ptr(FAKE_DATA), 0xaa, 10);
	cr_assert_eq(run(sgdt_rax, sizeof(sgdt_rax)), 0);
	assert_emulated(sizeof(sgdt_rax));
	memcpy(want, &limit, 2);
	memcpy(want + 2, &fk.g->gdtr_base, 8);
	memcpy(out, fake_ptr(FAKE_DATA), 10);
	cr_assert_arr_eq(out, want, 10, "without UMIP, user sgdt gives the virtual GDTR");

	fk.g->cr4 |= CR4_UMIP;
	fake_mode(true);
	cr_assert_eq(run(sgdt_rax, sizeof(sgdt_rax)), 0);
	assert_gp(0);
	fake_mode(true);
	fk.t.regs.rax = 0x1234;
	cr_assert_eq(run(smsw_eax, sizeof(smsw_eax)), 0);
	assert_gp(0);
	cr_assert_eq(fk.t.regs.rax, 0x1234);

	fake_mode(false); /* kernel mode: UMIP does not apply */
	cr_assert_eq(run(smsw_eax, sizeof(smsw_eax)), 0);
	assert_emulated(sizeof(smsw_eax));
	cr_assert_eq(fk.t.regs.rax & 0xffff, fk.g->cr0 & 0xffff);
}

Test(privop, hlt_parks_the_vcpu_in_the_stubs_idle_loop)
{
	fk.vcpu->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	cr_assert_eq(run(INSN(0xf4)), 0);
	cr_assert(fk.t.parked && fk.g->halted);
	cr_assert_eq(fk.t.regs.rip, stub_linear(&fk.g->stub, STUB_CODE + STUB_IDLE));
	cr_assert_eq(fk.g->saved.rip, FAKE_CODE + 1, "the guest resumes after its hlt");
	cr_assert_eq(fk.vcpu->run->s.regs.regs.rip, fk.t.regs.rip, "committed to kvm_run");
}

Test(privop, cli_and_sti_move_the_virtual_if_sti_with_its_shadow)
{
	fk.g->vif = true;
	cr_assert_eq(run(INSN(0xfa)), 0);
	cr_assert(!fk.g->vif);
	assert_emulated(1);
	cr_assert_eq(run(INSN(0xfb)), 0);
	cr_assert(fk.g->vif && fk.t.sti_shadow);
}

Test(privop, sti_then_hlt_with_if_clear_halts_in_one_step_past_the_hlt)
{
	fk.vcpu->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	fk.g->vif = false;
	cr_assert_eq(run(INSN(0xfb, 0xf4)), 0);
	cr_assert(fk.g->vif && fk.t.parked && fk.g->halted, "halted with the virtual IF set");
	cr_assert_eq(fk.g->saved.rip, FAKE_CODE + 2, "an interrupt wakes it past the hlt");
	cr_assert(!fk.t.sti_shadow);
}

Test(privop, sti_then_hlt_steps_one_by_one_when_if_is_set_or_tf_traps)
{
	fk.g->vif = true; /* no shadow: sti changes nothing, the hlt traps on its own */
	cr_assert_eq(run(INSN(0xfb, 0xf4)), 0);
	cr_assert(!fk.g->halted);
	assert_emulated(1);

	fk.g->vif = false; /* single-stepping: the #DB after the sti comes first */
	fk.t.regs.rflags |= RFLAGS_TF;
	cr_assert_eq(run(INSN(0xfb, 0xf4)), 0);
	cr_assert(!fk.g->halted);
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_DB * 16, "the #DB after the sti, got %#llx",
		     (unsigned long long)fk.t.regs.rip);
}

Test(privop, user_iretq_or_lret_to_the_stubs_kernel_alias_is_gp_of_the_selector)
{
	static const uint8_t lretq[] = {0x48, 0xcb};

	fake_mode(true);
	put_iret_frame(0x41000, STUB_ALIAS_KERNEL_CS, RFLAGS_FIXED, 0x71000, STUB_ALIAS_KERNEL_DS);
	cr_assert_eq(run(iretq, sizeof(iretq)), 0);
	assert_gp(STUB_ALIAS_KERNEL_CS & 0xfffc);

	fake_mode(true);
	put_iret_frame(0x41000, STUB_ALIAS_KERNEL_CS, 0, 0, 0);
	cr_assert_eq(run(lretq, sizeof(lretq)), 0);
	assert_gp(STUB_ALIAS_KERNEL_CS & 0xfffc);
}

/* ljmpl *(%rax) from user mode: the guest's user code selectors are not present in the
 * real GDT (#NP); lodger jumps for them, and refuses every other not-present one. */
Test(privop, user_ljmp_to_the_user_code_selector_lands_and_to_an_alias_is_gp)
{
	static const uint8_t ljmp_rax[] = {0xff, 0x28};
	uint8_t far[6] = {0x00, 0x30, 0x04, 0x00}; /* offset 0x43000 */

	fake_mode(true);
	far[4] = STUB_GUEST_USER_CS;
	fake_put(0x60000, far, sizeof(far));
	fk.t.regs.rax = 0x60000;
	fake_insn(ljmp_rax, sizeof(ljmp_rax), VEC_NP);
	fk.t.error = STUB_GUEST_USER_CS & 0xfffc;
	cr_assert_eq(native_exception(&fk.t), 0);
	cr_assert(fk.g->user, "expected user mode");
	cr_assert_eq(fk.t.regs.rip, 0x43000);
	cr_assert_eq(fk.t.sregs.cs.selector, STUB_GUEST_USER_CS);

	fake_mode(true);
	far[4] = STUB_ALIAS_KERNEL_CS;
	fake_put(0x60000, far, sizeof(far));
	fk.t.regs.rax = 0x60000;
	fake_insn(ljmp_rax, sizeof(ljmp_rax), VEC_NP);
	fk.t.error = STUB_ALIAS_KERNEL_CS & 0xfffc;
	cr_assert_eq(native_exception(&fk.t), 0);
	assert_gp(STUB_ALIAS_KERNEL_CS & 0xfffc);
	cr_assert(!fk.g->user, "the #GP handler runs in kernel mode");
}

/* ---- single step (TF) over an emulated instruction ---- */

static void assert_single_step_after(unsigned len)
{
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + VEC_DB * 16,
		     "expected the guest's #DB handler, RIP %#llx",
		     (unsigned long long)fk.t.regs.rip);
	cr_assert_eq(fake_q(fk.t.regs.rsp), FAKE_CODE + len, "a trap: RIP after the instruction");
	cr_assert(fake_q(fk.t.regs.rsp + 16) & RFLAGS_TF, "TF in the frame");
	cr_assert(fk.g->dr[6] & DR6_BS, "DR6.BS");
}

Test(privop, an_emulated_instruction_with_tf_set_ends_in_a_single_step_db)
{
	fk.t.regs.rflags |= RFLAGS_TF;
	cr_assert_eq(run(mov_cr0_rax, sizeof(mov_cr0_rax)), 0);
	assert_single_step_after(sizeof(mov_cr0_rax));
}

Test(privop, no_single_step_without_tf_after_a_fault_or_after_a_load_of_ss)
{
	static const uint8_t mov_ss_ax[] = {0x8e, 0xd0};

	cr_assert_eq(run(mov_cr0_rax, sizeof(mov_cr0_rax)), 0);
	assert_emulated(sizeof(mov_cr0_rax));

	fake_mode(true); /* mov from CR0 in user mode: #GP, and no #DB */
	fk.t.regs.rflags |= RFLAGS_TF;
	cr_assert_eq(run(mov_cr0_rax, sizeof(mov_cr0_rax)), 0);
	assert_gp(0);

	fake_mode(false);
	fk.t.regs.rflags |= RFLAGS_TF;
	fk.t.regs.rax = STUB_GUEST_KERNEL_DS;
	cr_assert_eq(run(mov_ss_ax, sizeof(mov_ss_ax)), 0);
	assert_emulated(sizeof(mov_ss_ax));
}
