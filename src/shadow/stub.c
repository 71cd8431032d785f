/*
 * stub.c - the monitor stub in monitor memory: install once, place at any base.
 *
 * Absolute addresses that depend on the stub's base, all rewritten by stub_place():
 *   1. the 256 IDT gate offsets (each points at its one-instruction entry);
 *   2. TSS.RSP0 (the trap stack) and TSS.IST1 (NMI, #DF, #MC);
 *   3. the base in the GDT's TSS descriptor;
 *   4. IDTR, GDTR and TR, and LSTAR, which the vCPU loads (stub_load_tables; MSRs by the
 *      caller from stub_linear(STUB_SYSCALL_ENTRY)).
 * The code itself has none (stub/entry.S).
 */
#include "shadow/stub.h"

#include <string.h>

#include "arch/x86.h"
#include "boot/bootmap.h"
#include "lodger/stub_abi.h"

extern const uint8_t stub_code_start[], stub_code_end[];

static void *stub_ptr(const struct stub *stub, uint64_t offset, uint64_t len)
{
	return MON_PTR(stub->mem, stub->mon_off + offset, len);
}

void stub_install(struct stub *stub, struct guest_mem *mem, uint64_t mon_off, bool fast_paths,
		  bool aliases)
{
	uint64_t *gdt, not_present = ~DESC_PRESENT;
	uint32_t version = STUB_ABI_VERSION;

	stub->mem = mem;
	stub->mon_off = mon_off;
	stub->fast_paths = fast_paths;
	stub->aliases = fast_paths || aliases;
	memset(stub_ptr(stub, 0, STUB_MONITOR_SIZE), 0, STUB_MONITOR_SIZE);
	memcpy(stub_ptr(stub, STUB_CODE, stub_code_end - stub_code_start), stub_code_start,
	       stub_code_end - stub_code_start);

	gdt = stub_ptr(stub, STUB_GDT, STUB_GDT_ENTRIES * 8);
	gdt[STUB_CS >> 3] = x86_code_data_desc(true, true, 0);
	gdt[STUB_DS >> 3] = x86_code_data_desc(false, false, 0);
	/* The guest's descriptors stay not present (bit 47 clear): see stub_abi.h. */
	gdt[STUB_GUEST_KERNEL_CS >> 3] = x86_code_data_desc(true, true, 3) & not_present;
	gdt[STUB_GUEST_KERNEL_DS >> 3] = x86_code_data_desc(false, false, 3) & not_present;
	gdt[STUB_GUEST_USER32_CS >> 3] = x86_code_data_desc(true, false, 3) & not_present;
	gdt[STUB_GUEST_USER_DS >> 3] = x86_code_data_desc(false, false, 3) & not_present;
	gdt[STUB_GUEST_USER_CS >> 3] = x86_code_data_desc(true, true, 3) & not_present;
	if (stub->aliases) { /* what the stub's own iretq loads */
		gdt[STUB_ALIAS_KERNEL_CS >> 3] = x86_code_data_desc(true, true, 3);
		gdt[STUB_ALIAS_KERNEL_DS >> 3] = x86_code_data_desc(false, false, 3);
	}
	stub_area(stub)->abi_version = version;
}

static void write_gate(uint64_t *gate, uint64_t handler, unsigned ist, unsigned dpl)
{
	struct x86_gate g = {.offset = handler,
			     .selector = STUB_CS,
			     .ist = ist,
			     .type = GATE_INTERRUPT,
			     .dpl = dpl,
			     .present = true};

	x86_gate_encode(gate, &g);
}

void stub_place(struct stub *stub, uint64_t base)
{
	uint64_t *idt = stub_ptr(stub, STUB_IDT, 256 * 16);
	uint64_t *gdt = stub_ptr(stub, STUB_GDT, STUB_GDT_ENTRIES * 8);
	uint8_t *tss = stub_ptr(stub, STUB_TSS, BOOT_TSS_LIMIT + 1);
	uint64_t tss_base = base + STUB_TSS, rsp0 = base + STUB_STACK_TOP;
	uint64_t ist1 = base + STUB_IST_TOP, limit = BOOT_TSS_LIMIT;

	stub->base = base;
	/* 1. Gates: DPL 0, so a guest `int n` traps (#GP, or #UD on kvm_pvm) and lodger
	 * applies the guest's own gate's DPL. Except #BP's, DPL 3: an int3 then arrives as
	 * the #BP it is on every backend (kvm_pvm raises it even through a DPL-0 gate),
	 * never as a failed delivery, which a hypervisor below may re-inject as the int3
	 * with RIP already past it (nested SVM without NRIPS: the #GP then names the next
	 * instruction). lodger still applies the guest's gate's DPL (dispatch_trap). */
	for (unsigned v = 0; v < 256; v++) {
		unsigned ist = v == VEC_NMI || v == VEC_DF || v == VEC_MC;

		write_gate(&idt[2 * v], base + STUB_CODE + v * STUB_ENTRY_SIZE, ist,
			   v == VEC_BP ? 3 : 0);
	}
	if (stub->fast_paths)
		write_gate(&idt[2 * 13], base + STUB_CODE + STUB_GP_FAST, 0, 0);
	/* 2. TSS stacks. */
	memset(tss, 0, BOOT_TSS_LIMIT + 1);
	memcpy(tss + TSS_RSP0, &rsp0, 8);
	memcpy(tss + TSS_IST1, &ist1, 8);
	tss[TSS_IOPB] = BOOT_TSS_LIMIT + 1; /* no I/O bitmap: CPL3 port I/O always traps */
	/* 3. The TSS descriptor, busy (type 0xb), as TR is loaded with it. */
	x86_tss_desc(&gdt[STUB_TSS_SEL >> 3], tss_base, limit);
}

void stub_load_tables(const struct stub *stub, struct kvm_sregs *s)
{
	/* 4. The registers. */
	s->idt.base = stub->base + STUB_IDT;
	s->idt.limit = 256 * 16 - 1;
	s->gdt.base = stub->base + STUB_GDT;
	s->gdt.limit = STUB_GDT_ENTRIES * 8 - 1;
	s->tr = (struct kvm_segment){.base = stub->base + STUB_TSS,
				     .limit = BOOT_TSS_LIMIT,
				     .selector = STUB_TSS_SEL,
				     .type = DESC_TSS_BUSY,
				     .present = 1};
	s->ldt = (struct kvm_segment){.type = 0x2, .present = 1, .unusable = 1};
}

uint64_t stub_linear(const struct stub *stub, uint64_t offset)
{
	return stub->base + offset;
}

uint64_t stub_page_gpa(const struct stub *stub, uint64_t offset)
{
	return stub->mem->monitor_gpa + stub->mon_off + offset;
}

void stub_set_guest_mode(const struct stub *stub, bool user)
{
	uint64_t *gdt = stub_ptr(stub, STUB_GDT, STUB_GDT_ENTRIES * 8);

	stub_area(stub)->guest_user = user;
	if (!stub->aliases)
		return;
	/* The aliases are DPL 3: present only while the guest is in kernel mode, so guest
	 * user code loading one (iretq, lret, mov) faults #NP, which lodger turns into the
	 * guest's #GP(selector), and never runs on a kernel descriptor. */
	for (unsigned sel = STUB_ALIAS_KERNEL_CS; sel <= STUB_ALIAS_KERNEL_DS; sel += 8) {
		if (user)
			gdt[sel >> 3] &= ~DESC_PRESENT;
		else
			gdt[sel >> 3] |= DESC_PRESENT;
	}
}

void stub_set_kernel_cli_sti(const struct stub *stub, unsigned what)
{
	stub_area(stub)->kernel_cli_sti = (uint8_t)what;
}

struct stub_zap_log *stub_zap_log(const struct stub *stub)
{
	return stub_ptr(stub, STUB_ZAP_LOG, sizeof(struct stub_zap_log));
}

struct stub_ret_frame *stub_ret_frame(const struct stub *stub)
{
	return stub_ptr(stub, STUB_STACK_TOP - sizeof(struct stub_ret_frame),
			sizeof(struct stub_ret_frame));
}

struct stub_area *stub_area(const struct stub *stub)
{
	return stub_ptr(stub, STUB_AREA, sizeof(struct stub_area));
}

int stub_vector_at(const struct stub *stub, uint64_t rip)
{
	uint64_t first = stub->base + STUB_CODE + STUB_VECTOR_ENTRIES + STUB_ENTRY_SIZE;

	if (stub->fast_paths && rip == stub->base + STUB_CODE + STUB_GP_FAST_EXIT + STUB_ENTRY_SIZE)
		return 13; /* the #GP fast path handed the trap over */
	if (rip < first || rip >= first + 256 * STUB_ENTRY_SIZE || (rip - first) % STUB_ENTRY_SIZE)
		return -1;
	return (rip - first) / STUB_ENTRY_SIZE;
}
