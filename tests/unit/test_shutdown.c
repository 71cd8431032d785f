/*
 * test_shutdown.c - direct mode's triple-fault line (src/boot/cpu.c, cpu_shutdown_cause):
 * the event KVM's vCPU events hold at a KVM_EXIT_SHUTDOWN, and what it says when KVM
 * keeps none.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "arch/x86.h"
#include "kvm/vcpu.h"

static char text[200];
static struct kvm_regs regs = {.rip = 0x100234};
static struct kvm_sregs sregs = {.cs = {.selector = 0x10}, .cr0 = CR0_PE | CR0_PG};

static const char *cause(const struct kvm_vcpu_events *ev, const struct kvm_regs *r,
			 const struct kvm_sregs *s)
{
	cpu_shutdown_cause(ev, r, s, text, sizeof(text));
	return text;
}

Test(shutdown, names_the_exception_kvm_was_delivering)
{
	struct kvm_vcpu_events ev = {0};

	ev.exception.injected = 1;
	ev.exception.nr = VEC_DF;
	ev.exception.has_error_code = 1;
	cr_assert_str_eq(cause(&ev, &regs, &sregs), "delivering #DF (vector 8, error 0)");
	ev.exception.injected = 0;
	ev.exception.pending = 1; /* KVM_CAP_EXCEPTION_PAYLOAD's spelling */
	ev.exception.nr = VEC_PF;
	ev.exception.error_code = 0x14;
	cr_assert_str_eq(cause(&ev, &regs, &sregs), "delivering #PF (vector 14, error 0x14)");
	ev.exception.has_error_code = 0;
	ev.exception.nr = VEC_UD;
	cr_assert_str_eq(cause(&ev, &regs, &sregs), "delivering #UD (vector 6)");
	ev.exception.nr = 22; /* reserved: no mnemonic */
	cr_assert_str_eq(cause(&ev, &regs, &sregs), "delivering an exception (vector 22)");
}

Test(shutdown, names_an_nmi_or_an_interrupt)
{
	struct kvm_vcpu_events ev = {0};

	ev.nmi.injected = 1;
	cr_assert_str_eq(cause(&ev, &regs, &sregs), "delivering an NMI");
	ev.nmi.injected = 0;
	ev.interrupt.injected = 1;
	ev.interrupt.nr = 0x30;
	cr_assert_str_eq(cause(&ev, &regs, &sregs), "delivering interrupt 48");
	ev.interrupt.soft = 1;
	cr_assert_str_eq(cause(&ev, &regs, &sregs), "delivering int $48");
}

Test(shutdown, says_when_kvm_keeps_nothing_and_when_it_reset_the_vcpu)
{
	struct kvm_vcpu_events ev = {0};
	struct kvm_regs reset = {.rip = 0xfff0};
	struct kvm_sregs reset_s = {.cs = {.selector = 0xf000, .base = 0xffff0000},
				    .cr0 = 0x60000010};

	cr_assert_str_eq(cause(&ev, &regs, &sregs), "KVM does not say which exception");
	cr_assert_str_eq(cause(&ev, &reset, &reset_s),
			 "KVM does not say which exception, and reset the vCPU: the registers "
			 "below are its reset state, not the guest's");
}
