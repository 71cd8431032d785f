/*
 * test_deliver.c - event delivery through the native personality (src/native/reflect.c,
 * native.c): gates, stacks, frames, error codes, CR2, and the double- and triple-fault
 * rules by exception class. A fake vCPU (fake_vcpu.h), no KVM.
 */
#include <criterion/criterion.h>

#include "arch/x86.h"
#include "fake_vcpu.h"
#include "front/exitcode.h"
#include "lodger/stub_abi.h"
#include "native/native.h"
#include "shadow/guestcpu.h"
#include "shadow/personality.h"

TestSuite(deliver, .init = fake_setup, .fini = fake_teardown);

static int deliver(unsigned vector, enum event_kind kind, bool has_error, uint32_t error)
{
	struct event e = {.vector = vector, .kind = kind, .has_error = has_error, .error = error};

	return native_deliver(&fk.t, &e);
}

/* The handler the guest is in after delivery. */
static void assert_in_handler(unsigned vector)
{
	cr_assert_eq(fk.t.regs.rip, FAKE_HANDLER + vector * 16,
		     "expected the handler of vector %u at %#llx, RIP is %#llx", vector,
		     (unsigned long long)(FAKE_HANDLER + vector * 16),
		     (unsigned long long)fk.t.regs.rip);
	cr_assert(!fk.g->user, "expected guest kernel mode after delivery");
	cr_assert_eq(fk.t.sregs.cs.selector, STUB_GUEST_KERNEL_CS);
}

/* Frame word i (0: the first pushed-last word: error code or RIP) at the new RSP. */
static uint64_t frame(unsigned i)
{
	return fake_q(fk.t.regs.rsp + 8 * i);
}

Test(deliver, a_user_mode_exception_switches_to_rsp0_with_the_error_code_and_user_frame)
{
	fake_all_gates();
	fake_mode(true);
	fk.t.regs.rip = FAKE_CODE;
	fk.t.regs.rflags = RFLAGS_FIXED | RFLAGS_IF;
	cr_assert_eq(deliver(VEC_GP, EV_EXCEPTION, true, 0x1234), 0);
	assert_in_handler(VEC_GP);
	cr_assert_eq(fk.t.regs.rsp, FAKE_RSP0 - 6 * 8, "expected 6 words on RSP0, RSP %#llx",
		     (unsigned long long)fk.t.regs.rsp);
	cr_assert_eq(frame(0), 0x1234, "error code");
	cr_assert_eq(frame(1), FAKE_CODE, "RIP");
	cr_assert_eq(frame(2), STUB_GUEST_USER_CS, "CS");
	cr_assert(frame(3) & RFLAGS_IF, "RFLAGS as the guest had them");
	cr_assert_eq(frame(4), FAKE_USER_RSP, "RSP");
	cr_assert_eq(frame(5), STUB_GUEST_USER_DS, "SS");
	cr_assert(!fk.g->vif, "an interrupt gate clears the virtual IF");
}

Test(deliver, no_error_code_for_vectors_without_one_and_a_trap_gate_keeps_if)
{
	fake_all_gates();
	fake_gate(VEC_BP, GATE_TRAP, 3, 0, true);
	fake_mode(true);
	cr_assert_eq(deliver(VEC_BP, EV_EXCEPTION, false, 0), 0);
	assert_in_handler(VEC_BP);
	cr_assert_eq(fk.t.regs.rsp, FAKE_RSP0 - 5 * 8);
	cr_assert_eq(frame(0), FAKE_CODE, "RIP first: no error code");
	cr_assert(fk.g->vif, "a trap gate from user mode leaves IF set");
}

Test(deliver, kernel_mode_stays_on_its_stack_aligned_down)
{
	fake_all_gates();
	fk.t.regs.rsp = 0x60008;
	cr_assert_eq(deliver(40, EV_EXTERNAL, false, 0), 0);
	assert_in_handler(40);
	cr_assert_eq(fk.t.regs.rsp, 0x60000 - 5 * 8);
	cr_assert_eq(frame(3), 0x60008, "the interrupted RSP");
	cr_assert_eq(frame(1), STUB_GUEST_KERNEL_CS);
}

Test(deliver, an_ist_gate_takes_its_stack_from_the_tss_in_either_mode)
{
	fake_all_gates();
	fake_gate(VEC_NMI, GATE_INTERRUPT, 0, 1, true);
	cr_assert_eq(deliver(VEC_NMI, EV_EXTERNAL, false, 0), 0);
	cr_assert_eq(fk.t.regs.rsp, FAKE_IST1 - 5 * 8, "kernel: expected IST1, RSP %#llx",
		     (unsigned long long)fk.t.regs.rsp);
	fake_mode(true);
	cr_assert_eq(deliver(VEC_NMI, EV_EXTERNAL, false, 0), 0);
	cr_assert_eq(fk.t.regs.rsp, FAKE_IST1 - 5 * 8, "user: expected IST1 over RSP0");
}

Test(deliver, a_not_present_gate_raises_np_with_the_idt_error_code)
{
	fake_all_gates();
	fake_gate(40, GATE_INTERRUPT, 0, 0, false);
	cr_assert_eq(deliver(40, EV_EXTERNAL, false, 0), 0);
	assert_in_handler(VEC_NP);
	/* IDT bit (2) and EXT (1): an event from outside. */
	cr_assert_eq(frame(0), 40 * 8 + 2 + 1, "expected #NP(%#x), got %#llx", 40 * 8 + 3,
		     (unsigned long long)frame(0));
}

Test(deliver, a_software_interrupt_through_a_dpl0_gate_from_user_mode_is_gp_at_the_insn)
{
	fake_all_gates();
	fake_mode(true);
	fk.t.soft_len = 2;
	cr_assert_eq(deliver(0x80, EV_SOFTWARE, false, 0), 0);
	assert_in_handler(VEC_GP);
	cr_assert_eq(frame(0), 0x80 * 8 + 2, "#GP(vector * 8 + IDT), no EXT");
	cr_assert_eq(frame(1), FAKE_CODE, "the #GP points at the int instruction");
}

Test(deliver, a_software_interrupt_through_a_dpl3_gate_returns_after_the_insn)
{
	fake_all_gates();
	fake_gate(0x80, GATE_TRAP, 3, 0, true);
	fake_mode(true);
	fk.t.soft_len = 2;
	cr_assert_eq(deliver(0x80, EV_SOFTWARE, false, 0), 0);
	assert_in_handler(0x80);
	cr_assert_eq(frame(0), FAKE_CODE + 2);
}

Test(deliver, a_vector_beyond_the_idt_limit_is_gp)
{
	fake_all_gates();
	fk.g->idtr_limit = 50 * 16 - 1;
	cr_assert_eq(deliver(60, EV_EXTERNAL, false, 0), 0);
	assert_in_handler(VEC_GP);
	cr_assert_eq(frame(0), 60 * 8 + 2 + 1);
}

Test(deliver, a_page_fault_sets_cr2)
{
	struct gfault f = {.vector = VEC_PF, .error = 7, .cr2 = 0xdead000};

	fake_all_gates();
	cr_assert_eq(personality_fault(&fk.t, &f), 0);
	assert_in_handler(VEC_PF);
	cr_assert_eq(fk.g->cr2, 0xdead000);
	cr_assert_eq(frame(0), 7);
}

Test(deliver, contributory_then_contributory_is_a_double_fault_with_error_zero)
{
	fake_all_gates();
	fake_gate(VEC_GP, GATE_INTERRUPT, 0, 0, false); /* #GP's gate raises #NP */
	cr_assert_eq(deliver(VEC_GP, EV_EXCEPTION, true, 0), 0);
	assert_in_handler(VEC_DF);
	cr_assert_eq(frame(0), 0, "#DF's error code is 0");
}

static void set_rsp0(uint64_t rsp0)
{
	fake_put(FAKE_TSS + TSS_RSP0, &rsp0, 8);
}

Test(deliver, page_fault_then_page_fault_is_a_double_fault_on_its_ist_stack)
{
	fake_all_gates();
	fake_gate(VEC_DF, GATE_INTERRUPT, 0, 1, true);
	fake_mode(true);
	set_rsp0(FAKE_UNMAPPED + 0x800); /* pushing the #PF frame faults */
	cr_assert_eq(deliver(VEC_PF, EV_EXCEPTION, true, 4), 0);
	assert_in_handler(VEC_DF);
	cr_assert_eq(fk.t.regs.rsp, FAKE_IST1 - 6 * 8);
	cr_assert_eq(fk.g->cr2 & ~0xfffULL, FAKE_UNMAPPED, "CR2: the failed push, got %#llx",
		     (unsigned long long)fk.g->cr2);
}

Test(deliver, page_fault_then_gp_is_a_double_fault)
{
	fake_all_gates();
	fake_gate(VEC_PF, GATE_INTERRUPT, 0, 0, false); /* #NP: contributory */
	cr_assert_eq(deliver(VEC_PF, EV_EXCEPTION, true, 0), 0);
	assert_in_handler(VEC_DF);
}

Test(deliver, a_benign_event_that_faults_gets_the_fault_not_a_double_fault)
{
	fake_all_gates();
	fake_gate(VEC_UD, GATE_INTERRUPT, 0, 0, false);
	cr_assert_eq(deliver(VEC_UD, EV_EXCEPTION, false, 0), 0);
	assert_in_handler(VEC_NP);
	cr_assert_eq(frame(0), VEC_UD * 8 + 2 + 1);
}

Test(deliver, contributory_then_page_fault_is_the_page_fault)
{
	fake_all_gates();
	fake_mode(true);
	set_rsp0(FAKE_UNMAPPED + 0x800);
	fake_gate(VEC_PF, GATE_INTERRUPT, 0, 1, true); /* #PF on its IST stack works */
	cr_assert_eq(deliver(VEC_GP, EV_EXCEPTION, true, 0), 0);
	assert_in_handler(VEC_PF);
}

Test(deliver, a_fault_while_delivering_a_double_fault_is_a_triple_fault)
{
	fake_all_gates();
	fake_gate(VEC_GP, GATE_INTERRUPT, 0, 0, false);
	fake_gate(VEC_DF, GATE_INTERRUPT, 0, 0, false);
	cr_assert_eq(deliver(VEC_GP, EV_EXCEPTION, true, 0), EXIT_TRIPLE_FAULT);
}

/* The triple-fault dump names every event of the chain (stubexit.c). */
Test(deliver, a_triple_fault_names_each_event_of_its_chain)
{
	char text[200];

	fake_all_gates();
	fake_gate(VEC_UD, GATE_INTERRUPT, 0, 0, false);
	fake_gate(VEC_NP, GATE_INTERRUPT, 0, 0, false);
	fake_gate(VEC_DF, GATE_INTERRUPT, 0, 0, false);
	cr_assert_eq(deliver(VEC_UD, EV_EXCEPTION, false, 0), EXIT_TRIPLE_FAULT);
	guestcpu_triple_text(fk.g, text, sizeof(text));
	/* #UD is benign: its #NP is delivered as it is; #NP meeting #NP is a #DF */
	cr_assert_str_eq(text, "#UD -> #NP(0x33) -> #NP(0x5b) -> #DF(0) -> #NP(0x43)");

	fake_all_gates();
	fake_mode(true);
	fake_gate(VEC_GP, GATE_INTERRUPT, 0, 0, false);
	fake_gate(VEC_DF, GATE_INTERRUPT, 0, 0, false);
	fk.t.soft_len = 2;
	cr_assert_eq(deliver(0x80, EV_SOFTWARE, false, 0), EXIT_TRIPLE_FAULT);
	guestcpu_triple_text(fk.g, text, sizeof(text));
	cr_assert_str_eq(text, "int $128 -> #GP(0x402) -> #NP(0x6b) -> #DF(0) -> #NP(0x43)");

	fk.g->triple.n = 0;
	guestcpu_triple_text(fk.g, text, sizeof(text));
	cr_assert_str_eq(text, "an exception, then faults delivering it");
}

Test(deliver, a_gate_with_a_foreign_selector_is_gp_of_the_selector)
{
	struct x86_gate g = {.offset = FAKE_HANDLER,
			     .selector = STUB_GUEST_USER_CS,
			     .type = GATE_INTERRUPT,
			     .present = true};
	uint64_t raw[2];

	fake_all_gates();
	x86_gate_encode(raw, &g);
	fake_put(FAKE_IDT + 40 * 16, raw, 16);
	cr_assert_eq(deliver(40, EV_EXTERNAL, false, 0), 0);
	assert_in_handler(VEC_GP);
	cr_assert_eq(frame(0), (STUB_GUEST_USER_CS & ~3) + 1);
}

/* int n is not an exception: no double-fault promotion, whatever the vector's class. */
Test(deliver, int_13_and_int_8_from_user_mode_through_dpl0_gates_are_gp_not_df)
{
	fake_all_gates();
	fake_mode(true);
	fk.t.soft_len = 2;
	cr_assert_eq(deliver(VEC_GP, EV_SOFTWARE, false, 0), 0);
	assert_in_handler(VEC_GP);
	cr_assert_eq(frame(0), VEC_GP * 8 + 2, "expected #GP(0x6a), got %#llx",
		     (unsigned long long)frame(0));
	fake_mode(true);
	cr_assert_eq(deliver(VEC_DF, EV_SOFTWARE, false, 0), 0, "int $8 must not triple fault");
	assert_in_handler(VEC_GP);
	cr_assert_eq(frame(0), VEC_DF * 8 + 2);
	fake_mode(true);
	cr_assert_eq(deliver(VEC_PF, EV_SOFTWARE, false, 0), 0);
	assert_in_handler(VEC_GP);
	cr_assert_eq(frame(0), VEC_PF * 8 + 2);
}
