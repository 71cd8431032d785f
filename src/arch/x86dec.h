/*
 * x86dec.h - what emulate.c and privop.c share about decoded instructions (Zydis):
 * register access by Zydis name and the linear address of a memory operand.
 */
#ifndef LODGER_X86DEC_H
#define LODGER_X86DEC_H

#include <Zydis/Zydis.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

/* Decodes up to `len` bytes; false if they do not start with a valid instruction. */
bool x86_decode(const uint8_t *bytes, unsigned len, bool compat, ZydisDecodedInstruction *insn,
		ZydisDecodedOperand *ops);

/* Value of a general-purpose register of any width (RIP included); false if not a GPR. */
bool x86_reg_get(const struct kvm_regs *r, ZydisRegister reg, uint64_t *value);
/* Writes a GPR with the architectural width rules (32-bit writes zero-extend). */
bool x86_reg_set(struct kvm_regs *r, ZydisRegister reg, uint64_t value);

/*
 * Linear address of memory operand `op` of `insn`, whose RIP is r->rip: segment base
 * (only FS and GS have one in 64-bit mode) + base + index * scale + displacement.
 */
bool x86_operand_address(const struct kvm_regs *r, const struct kvm_sregs *s,
			 const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *op,
			 uint64_t *la);

#endif
