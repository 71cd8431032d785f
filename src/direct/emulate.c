/*
 * emulate.c - completing the instructions that KVM's emulator gives up on.
 *
 * On kvm_pvm (docs/platform.md) guest CPL0 code is interpreted by KVM's instruction
 * emulator, which fails on a few instructions and reports KVM_EXIT_INTERNAL_ERROR
 * (emulation failure) instead of running them. Hardware KVM executes them natively, so
 * this path is never taken there. lodger reads the instruction from guest memory,
 * decodes it with Zydis and completes the ones it knows with their architectural effect:
 *   int3        -> #BP delivered with RIP after the int3 (a trap)
 *   invpcid     -> #UD, since the vCPU's CPUID does not offer INVPCID on this backend
 *   cmpxchg16b  -> the compare-exchange on guest memory, with #GP on misalignment and #PF
 *                  as the guest's page tables dictate
 * Anything else stays fatal, with the instruction bytes printed.
 */
#include <Zydis/Zydis.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86.h"
#include "kvm/kvm.h"
#include "front/log.h"
#include "shadow/pagewalk.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "arch/x86dec.h"

#define CPUID7_EBX_INVPCID (1u << 10)

struct emu {
	struct vcpu *vcpu;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	ZydisDecodedInstruction insn;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
	unsigned nbytes;
};

static bool inject_exception(struct emu *e, unsigned vector, bool has_error, uint32_t error)
{
	struct kvm_vcpu_events ev;

	if (kvm_ioctl(e->vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return false;
	ev.exception.injected = 1;
	ev.exception.nr = vector;
	ev.exception.has_error_code = has_error;
	ev.exception.error_code = error;
	ev.flags = 0;
	return kvm_ioctl(e->vcpu->fd, KVM_SET_VCPU_EVENTS, &ev) == 0;
}

static bool commit_regs(struct emu *e)
{
	return kvm_ioctl(e->vcpu->fd, KVM_SET_REGS, &e->regs) == 0;
}

static bool page_fault(struct emu *e, uint64_t la, uint32_t pfec)
{
	e->sregs.cr2 = la;
	return kvm_ioctl(e->vcpu->fd, KVM_SET_SREGS, &e->sregs) == 0 &&
	       inject_exception(e, VEC_PF, true, pfec);
}

static bool cpuid_has_invpcid(struct vcpu *vcpu)
{
	struct {
		struct kvm_cpuid2 h;
		struct kvm_cpuid_entry2 e[256];
	} c = {.h.nent = 256};

	if (ioctl(vcpu->fd, KVM_GET_CPUID2, &c) < 0)
		return false;
	for (unsigned i = 0; i < c.h.nent; i++)
		if (c.e[i].function == 7 && c.e[i].index == 0)
			return c.e[i].ebx & CPUID7_EBX_INVPCID;
	return false;
}

static bool complete_int3(struct emu *e)
{
	/* #BP is a trap: the frame's RIP is the instruction after int3. */
	e->regs.rip += e->insn.length;
	return commit_regs(e) && inject_exception(e, VEC_BP, false, 0);
}

static bool complete_invpcid(struct emu *e)
{
	if (cpuid_has_invpcid(e->vcpu))
		return false; /* offered but failed: not ours to fake */
	return inject_exception(e, VEC_UD, false, 0);
}

static bool complete_cmpxchg16b(struct emu *e)
{
	const ZydisDecodedOperand *op = &e->ops[0];
	uint64_t la, *mem;
	struct walk w;
	enum walk_status ws;

	if (!x86_operand_address(&e->regs, &e->sregs, &e->insn, op, &la))
		return false;
	if (la & 15)
		return inject_exception(e, VEC_GP, true, 0);
	ws = pagewalk(&e->vcpu->vm->mem, e->sregs.cr3, la, &w);
	if (ws == WALK_NONCANONICAL)
		return inject_exception(e, VEC_GP, true, 0);
	if (ws != WALK_OK)
		return page_fault(e, la, PFEC_W | (ws == WALK_RESERVED ? PFEC_P | PFEC_RSVD : 0));
	/* CPL0 with CR0.WP: a read-only page faults even for the kernel. */
	if (!w.writable && (e->sregs.cr0 & CR0_WP))
		return page_fault(e, la, PFEC_P | PFEC_W);
	mem = gpa_ptr_guest(&e->vcpu->vm->mem, w.gpa, 16);
	if (!mem)
		return false; /* MMIO operand: not something to fake */
	pagewalk_set_ad(&e->vcpu->vm->mem, &w, true);
	if (mem[0] == e->regs.rax && mem[1] == e->regs.rdx) {
		mem[0] = e->regs.rbx;
		mem[1] = e->regs.rcx;
		e->regs.rflags |= RFLAGS_ZF;
	} else {
		e->regs.rax = mem[0];
		e->regs.rdx = mem[1];
		e->regs.rflags &= ~RFLAGS_ZF;
	}
	e->regs.rip += e->insn.length;
	return commit_regs(e);
}

static bool fetch_and_decode(struct emu *e)
{
	struct guest_mem *mem = &e->vcpu->vm->mem;

	if (ioctl(e->vcpu->fd, KVM_GET_REGS, &e->regs) < 0 ||
	    ioctl(e->vcpu->fd, KVM_GET_SREGS, &e->sregs) < 0)
		return false;
	/* Read as much of the longest instruction as is mapped. */
	for (e->nbytes = sizeof(e->bytes); e->nbytes > 0; e->nbytes--)
		if (read_linear(mem, e->sregs.cr3, e->regs.rip, e->bytes, e->nbytes))
			break;
	return x86_decode(e->bytes, e->nbytes, false, &e->insn, e->ops);
}

static void report_failure(const struct emu *e)
{
	char hex[3 * ZYDIS_MAX_INSTRUCTION_LENGTH + 1] = "";

	for (unsigned i = 0; i < e->nbytes; i++)
		snprintf(hex + 3 * i, 4, "%02x ", e->bytes[i]);
	pr_err("vcpu%u: KVM could not emulate the instruction at %#llx: %s(%s)", e->vcpu->id,
	       (unsigned long long)e->regs.rip,
	       e->nbytes ? ZydisMnemonicGetString(e->insn.mnemonic) : "unreadable ", hex);
}

bool emulate_after_failure(struct vcpu *vcpu)
{
	struct emu e = {.vcpu = vcpu};
	bool done = false;

	if (!fetch_and_decode(&e)) {
		report_failure(&e);
		return false;
	}
	/* Only CPL0 code is emulated by KVM; a CPL3 failure is not expected here. */
	if (e.sregs.cs.dpl == 0) {
		switch (e.insn.mnemonic) {
		case ZYDIS_MNEMONIC_INT3:
			done = complete_int3(&e);
			break;
		case ZYDIS_MNEMONIC_INVPCID:
			done = complete_invpcid(&e);
			break;
		case ZYDIS_MNEMONIC_CMPXCHG16B:
			done = complete_cmpxchg16b(&e);
			break;
		default:
			break;
		}
	}
	if (!done) {
		report_failure(&e);
		return false;
	}
	vcpu->completed++;
	pr_debug(LOG_EMUL, "vcpu%u: completed %s at %#llx", vcpu->id,
		 ZydisMnemonicGetString(e.insn.mnemonic), (unsigned long long)e.regs.rip);
	return true;
}
