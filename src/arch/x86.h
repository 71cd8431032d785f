/*
 * x86.h - x86-64 architectural definitions: control-register, EFER and RFLAGS bits, MSR
 * numbers, exception vectors and their classes, canonical addresses, descriptor encoders.
 *
 * One place for what the SDM defines, so no file of lodger spells a bit or a vector as a
 * bare number. Only architecture here: nothing about lodger's own layouts.
 */
#ifndef LODGER_ARCH_X86_H
#define LODGER_ARCH_X86_H

#include <stdbool.h>
#include <stdint.h>

/* CR0 */
#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_TS (1ULL << 3)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_WP (1ULL << 16)
#define CR0_AM (1ULL << 18)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR0_PG (1ULL << 31)

/* CR4 */
#define CR4_DE	       (1ULL << 3)
#define CR4_PSE	       (1ULL << 4)
#define CR4_PAE	       (1ULL << 5)
#define CR4_MCE	       (1ULL << 6)
#define CR4_PGE	       (1ULL << 7)
#define CR4_PCE	       (1ULL << 8)
#define CR4_OSFXSR     (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)
#define CR4_UMIP       (1ULL << 11)
#define CR4_OSXSAVE    (1ULL << 18)
#define CR4_SMEP       (1ULL << 20)

/* EFER */
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)

/* RFLAGS */
#define RFLAGS_FIXED (1ULL << 1) /* always reads as 1 */
#define RFLAGS_ZF    (1ULL << 6)
#define RFLAGS_TF    (1ULL << 8)
#define DR6_BS	     (1ULL << 14) /* #DB: single step */
#define RFLAGS_IF    (1ULL << 9)
#define RFLAGS_DF    (1ULL << 10)
#define RFLAGS_IOPL  (3ULL << 12)
#define RFLAGS_NT    (1ULL << 14)
#define RFLAGS_RF    (1ULL << 16)
#define RFLAGS_VM    (1ULL << 17)
#define RFLAGS_AC    (1ULL << 18)

/* MSRs */
#define MSR_TSC		   0x10
#define MSR_APIC_BASE	   0x1b
#define APIC_MMIO_GPA	   0xfee00000ULL /* the xAPIC page at its reset base */
#define MSR_TSC_ADJUST	   0x3b
#define MSR_MTRRCAP	   0xfe
#define MSR_SYSENTER_CS	   0x174
#define MSR_SYSENTER_ESP   0x175
#define MSR_SYSENTER_EIP   0x176
#define MSR_MISC_ENABLE	   0x1a0
#define MSR_PAT		   0x277
#define MSR_TSC_DEADLINE   0x6e0
#define MSR_X2APIC_FIRST   0x800
#define MSR_X2APIC_LAST	   0x8ff
#define MSR_EFER	   0xc0000080
#define MSR_STAR	   0xc0000081
#define MSR_LSTAR	   0xc0000082
#define MSR_CSTAR	   0xc0000083
#define MSR_FMASK	   0xc0000084
#define MSR_FS_BASE	   0xc0000100
#define MSR_GS_BASE	   0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102

/* The PAT's power-on value: WB WT UC- UC, twice. */
#define PAT_RESET 0x0007040600070406ULL

/* Exception vectors. */
enum x86_vector {
	VEC_DE = 0,
	VEC_DB = 1,
	VEC_NMI = 2,
	VEC_BP = 3,
	VEC_OF = 4,
	VEC_BR = 5,
	VEC_UD = 6,
	VEC_NM = 7,
	VEC_DF = 8,
	VEC_TS = 10,
	VEC_NP = 11,
	VEC_SS = 12,
	VEC_GP = 13,
	VEC_PF = 14,
	VEC_MF = 16,
	VEC_AC = 17,
	VEC_MC = 18,
	VEC_XM = 19,
	VEC_VE = 20,
	VEC_CP = 21,
	VEC_HV = 28,
	VEC_VC = 29,
	VEC_SX = 30,
	VEC_FIRST_EXTERNAL = 32, /* vectors below are reserved for exceptions */
};

/* The SDM's mnemonic of an exception vector ("#GP"), or NULL for a reserved one or an
 * interrupt vector. */
static inline const char *x86_vector_name(unsigned vector)
{
	static const char *const names[VEC_FIRST_EXTERNAL] = {
		[VEC_DE] = "#DE", [VEC_DB] = "#DB", [VEC_NMI] = "NMI", [VEC_BP] = "#BP",
		[VEC_OF] = "#OF", [VEC_BR] = "#BR", [VEC_UD] = "#UD",  [VEC_NM] = "#NM",
		[VEC_DF] = "#DF", [VEC_TS] = "#TS", [VEC_NP] = "#NP",  [VEC_SS] = "#SS",
		[VEC_GP] = "#GP", [VEC_PF] = "#PF", [VEC_MF] = "#MF",  [VEC_AC] = "#AC",
		[VEC_MC] = "#MC", [VEC_XM] = "#XM", [VEC_VE] = "#VE",  [VEC_CP] = "#CP",
		[VEC_HV] = "#HV", [VEC_VC] = "#VC", [VEC_SX] = "#SX",
	};

	return vector < VEC_FIRST_EXTERNAL ? names[vector] : NULL;
}

/* SDM vol. 3, table 6-4: how a fault while delivering another one combines with it. */
enum x86_exception_class { X86_BENIGN, X86_CONTRIBUTORY, X86_PAGE_FAULT };

static inline enum x86_exception_class x86_exception_class(unsigned vector)
{
	switch (vector) {
	case VEC_DE:
	case VEC_TS:
	case VEC_NP:
	case VEC_SS:
	case VEC_GP:
		return X86_CONTRIBUTORY;
	case VEC_PF:
		return X86_PAGE_FAULT;
	default:
		return X86_BENIGN;
	}
}

/* True when a fault of class `second`, raised while delivering `first`, is a #DF. */
static inline bool x86_is_double_fault(unsigned first, unsigned second)
{
	enum x86_exception_class a = x86_exception_class(first), b = x86_exception_class(second);

	return (a == X86_CONTRIBUTORY && b == X86_CONTRIBUTORY) ||
	       (a == X86_PAGE_FAULT && b != X86_BENIGN);
}

/* The exceptions that push an error code. */
static inline bool x86_has_error_code(unsigned vector)
{
	switch (vector) {
	case VEC_DF:
	case VEC_TS:
	case VEC_NP:
	case VEC_SS:
	case VEC_GP:
	case VEC_PF:
	case VEC_AC:
	case VEC_CP:
	case VEC_VC:
	case VEC_SX:
		return true;
	default:
		return false;
	}
}

/* 48-bit linear addresses: bits 63..47 all equal. */
static inline uint64_t x86_canonicalize(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16);
}

static inline bool canonical(uint64_t la)
{
	return x86_canonicalize(la) == la;
}

/* System descriptor and gate types (S = 0). */
#define DESC_TSS_AVAILABLE 0x9
#define DESC_TSS_BUSY	   0xb
#define GATE_INTERRUPT	   0xe
#define GATE_TRAP	   0xf

/* A flat 4 GiB code or data descriptor with the given DPL (long mode: L for code). */
static inline uint64_t x86_code_data_desc(bool code, bool long_mode, unsigned dpl)
{
	uint64_t type = code ? 0xb : 0x3; /* execute/read accessed; read/write accessed */

	return 0xffffULL | (0xfULL << 48) |		    /* limit 4 GiB with G */
	       (type << 40) | (1ULL << 44) |		    /* type, S = code/data */
	       ((uint64_t)(dpl & 3) << 45) | (1ULL << 47) | /* DPL, present */
	       ((uint64_t)(code && long_mode) << 53) |	    /* L */
	       ((uint64_t) !(code && long_mode) << 54) |    /* D/B */
	       (1ULL << 55);				    /* G */
}

#define DESC_PRESENT (1ULL << 47)

/* A 64-bit busy TSS descriptor: two GDT slots, desc[0] and desc[1]. */
static inline void x86_tss_desc(uint64_t desc[2], uint64_t base, uint32_t limit)
{
	desc[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | ((uint64_t)DESC_TSS_BUSY << 40) |
		  DESC_PRESENT | ((uint64_t)((limit >> 16) & 0xf) << 48) |
		  (((base >> 24) & 0xff) << 56);
	desc[1] = base >> 32;
}

/* The base and limit of a 16-byte system descriptor (TSS, LDT). */
static inline uint64_t x86_system_desc_base(const uint64_t desc[2])
{
	return ((desc[0] >> 16) & 0xffffff) | ((desc[0] >> 32) & 0xff000000) | (desc[1] << 32);
}

static inline uint32_t x86_system_desc_limit(const uint64_t desc[2])
{
	return (desc[0] & 0xffff) | ((desc[0] >> 32) & 0xf0000);
}

/* A 64-bit IDT gate, decoded. */
struct x86_gate {
	uint64_t offset;
	uint16_t selector;
	unsigned ist, type, dpl;
	bool present;
};

static inline void x86_gate_encode(uint64_t raw[2], const struct x86_gate *g)
{
	raw[0] = (g->offset & 0xffff) | ((uint64_t)g->selector << 16) | ((uint64_t)g->ist << 32) |
		 ((uint64_t)(g->type & 0xf) << 40) | ((uint64_t)(g->dpl & 3) << 45) |
		 ((uint64_t)g->present << 47) | (((g->offset >> 16) & 0xffff) << 48);
	raw[1] = g->offset >> 32;
}

static inline struct x86_gate x86_gate_decode(const uint64_t raw[2])
{
	return (struct x86_gate){
		.offset = (raw[0] & 0xffff) | ((raw[0] >> 32) & 0xffff0000) | (raw[1] << 32),
		.selector = raw[0] >> 16,
		.ist = (raw[0] >> 32) & 7,
		.type = (raw[0] >> 40) & 0xf,
		.dpl = (raw[0] >> 45) & 3,
		.present = (raw[0] >> 47) & 1,
	};
}

/* 64-bit TSS offsets. */
#define TSS_RSP0 0x04
#define TSS_IST1 0x24
#define TSS_IOPB 0x66

#endif
