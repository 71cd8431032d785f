/* x86dec.c - register and operand helpers over Zydis decodings. */
#include "arch/x86dec.h"

#include <stddef.h>

/* kvm_regs field for each 64-bit GPR, in Zydis's RAX..R15 order. */
static const size_t gpr_offset[16] = {
	offsetof(struct kvm_regs, rax), offsetof(struct kvm_regs, rcx),
	offsetof(struct kvm_regs, rdx), offsetof(struct kvm_regs, rbx),
	offsetof(struct kvm_regs, rsp), offsetof(struct kvm_regs, rbp),
	offsetof(struct kvm_regs, rsi), offsetof(struct kvm_regs, rdi),
	offsetof(struct kvm_regs, r8),	offsetof(struct kvm_regs, r9),
	offsetof(struct kvm_regs, r10), offsetof(struct kvm_regs, r11),
	offsetof(struct kvm_regs, r12), offsetof(struct kvm_regs, r13),
	offsetof(struct kvm_regs, r14), offsetof(struct kvm_regs, r15),
};

bool x86_decode(const uint8_t *bytes, unsigned len, bool compat, ZydisDecodedInstruction *insn,
		ZydisDecodedOperand *ops)
{
	ZydisDecoder dec;

	ZydisDecoderInit(&dec,
			 compat ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 : ZYDIS_MACHINE_MODE_LONG_64,
			 compat ? ZYDIS_STACK_WIDTH_32 : ZYDIS_STACK_WIDTH_64);
	return len && ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, bytes, len, insn, ops));
}

/* The 64-bit register holding `reg`, its width in bits, and whether it is AH..BH. */
static int gpr_index(ZydisRegister reg, unsigned *width, bool *high8)
{
	ZydisRegister r64 = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);

	*width = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, reg);
	*high8 = reg == ZYDIS_REGISTER_AH || reg == ZYDIS_REGISTER_CH || reg == ZYDIS_REGISTER_DH ||
		 reg == ZYDIS_REGISTER_BH;
	if (r64 < ZYDIS_REGISTER_RAX || r64 > ZYDIS_REGISTER_R15)
		return -1;
	return r64 - ZYDIS_REGISTER_RAX;
}

bool x86_reg_get(const struct kvm_regs *r, ZydisRegister reg, uint64_t *value)
{
	unsigned width;
	bool high8;
	int i;
	uint64_t v;

	if (reg == ZYDIS_REGISTER_NONE) {
		*value = 0;
		return true;
	}
	if (reg == ZYDIS_REGISTER_RIP || reg == ZYDIS_REGISTER_EIP) {
		*value = r->rip;
		return true;
	}
	i = gpr_index(reg, &width, &high8);
	if (i < 0)
		return false;
	v = *(const uint64_t *)((const uint8_t *)r + gpr_offset[i]);
	if (high8)
		v >>= 8;
	*value = width >= 64 ? v : v & ((1ULL << (high8 ? 8 : width)) - 1);
	return true;
}

bool x86_reg_set(struct kvm_regs *r, ZydisRegister reg, uint64_t value)
{
	unsigned width;
	bool high8;
	int i = gpr_index(reg, &width, &high8);
	uint64_t *slot;

	if (i < 0)
		return false;
	slot = (uint64_t *)((uint8_t *)r + gpr_offset[i]);
	if (high8)
		*slot = (*slot & ~0xff00ULL) | ((value & 0xff) << 8);
	else if (width == 64 || width == 32) /* a 32-bit write clears bits 63:32 */
		*slot = width == 32 ? (uint32_t)value : value;
	else
		*slot = (*slot & ~((1ULL << width) - 1)) | (value & ((1ULL << width) - 1));
	return true;
}

bool x86_operand_address(const struct kvm_regs *r, const struct kvm_sregs *s,
			 const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *op,
			 uint64_t *la)
{
	uint64_t base, index, seg = 0;

	if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || !x86_reg_get(r, op->mem.base, &base) ||
	    !x86_reg_get(r, op->mem.index, &index))
		return false;
	if (op->mem.base == ZYDIS_REGISTER_RIP || op->mem.base == ZYDIS_REGISTER_EIP)
		base += insn->length;
	if (op->mem.segment == ZYDIS_REGISTER_FS)
		seg = s->fs.base;
	else if (op->mem.segment == ZYDIS_REGISTER_GS)
		seg = s->gs.base;
	*la = seg + base + index * op->mem.scale + (uint64_t)op->mem.disp.value;
	if (insn->address_width == 32)
		*la = seg + (uint32_t)(*la - seg);
	return true;
}
