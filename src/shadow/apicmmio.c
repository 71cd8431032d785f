/* apicmmio.c - see apicmmio.h. */
#include "shadow/apicmmio.h"

#include <Zydis/Zydis.h>

#include "arch/x86.h"
#include "arch/x86dec.h"
#include "front/log.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"
#include "shadow/park.h"
#include "shadow/personality.h"

bool apicmmio_dropped(uint32_t x2apic_index, uint64_t value)
{
	unsigned mode = (value >> 8) & 7;

	/* ICR 0x830; LVT CMCI 0x82f and timer .. error 0x832-0x837 */
	if (x2apic_index != 0x830 && x2apic_index != 0x82f &&
	    (x2apic_index < 0x832 || x2apic_index > 0x837))
		return false;
	return mode == 2 || mode == 5 || mode == 6; /* SMI, INIT, Start-up */
}

/* The instruction at RIP, as the guest's fetch would read it; false with *f on a fault. */
static bool fetch(struct trap *t, ZydisDecodedInstruction *in, ZydisDecodedOperand *ops,
		  struct gfault *f)
{
	struct gview v = trap_view(t, t->g->user);
	uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
	unsigned n = sizeof(bytes);

	/* Shortened at an unmapped page boundary: the instruction may end before it. */
	while (n > 1 && !gmem_read(&v, t->regs.rip, bytes, n, true, f))
		n--;
	if (!gmem_read(&v, t->regs.rip, bytes, n, true, f))
		return false;
	f->vector = VEC_GP;
	f->error = 0;
	return x86_decode(bytes, n, t->sregs.cs.selector == STUB_GUEST_USER32_CS, in, ops);
}

int apicmmio_write(struct trap *t, uint64_t la)
{
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	struct gfault f = {0};
	uint32_t offset = la & 0xfff;
	uint64_t value;

	if (!fetch(t, &in, ops, &f))
		return personality_fault(t, &f);
	if (in.mnemonic != ZYDIS_MNEMONIC_MOV || ops[0].type != ZYDIS_OPERAND_TYPE_MEMORY ||
	    ops[0].size != 32 || (offset & 3))
		goto unsupported;
	if (ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		value = ops[1].imm.value.u;
	else if (ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER ||
		 !x86_reg_get(&t->regs, ops[1].reg.value, &value))
		goto unsupported;
	value = (uint32_t)value;
	t->regs.rip += in.length;
	t->g->stats.by_kind[TK_EMULATED]++;
	if (apicmmio_dropped(0x800 + (offset >> 4), value)) {
		pr_debug(LOG_TRAP, "dropped xAPIC write %#x = %#llx (SMI/INIT/SIPI)", offset,
			 (unsigned long long)value);
		return park_step_trap(t);
	}
	return park_apic_write(t, offset, (uint32_t)value);
unsupported:
	pr_debug(LOG_TRAP, "xAPIC write at %#x by an instruction lodger does not do: #GP", offset);
	f = (struct gfault){.vector = VEC_GP};
	return personality_fault(t, &f);
}
