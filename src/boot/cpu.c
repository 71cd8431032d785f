/*
 * cpu.c - the vCPU's architectural state: CPUID, the boot protocol's 64-bit entry state
 * (docs/guest-contract.md), and register dumps for fatal exits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86.h"
#include "kvm/kvm.h"
#include "front/log.h"
#include "lodger/boot.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "xen/cpuid.h"

/*
 * In shadow mode, the features lodger's virtual CPU does not honour: their CR4 bits are
 * #GP there (privop.c), so the guest must not be told it has them. VMX SMX PCID XSAVE
 * OSXSAVE (leaf 1 ECX); FSGSBASE SMAP (7 EBX); PKU OSPKE CET-SS LA57 PKS (7 ECX); CET-IBT
 * (7 EDX); FRED LAM (7.1 EAX: LAM would also make CR3 bits 61-62 legal).
 */
static void hide_unhonoured(struct kvm_cpuid_entry2 *e)
{
	if (e->function == 1)
		e->ecx &= ~((1u << 5) | (1u << 6) | (1u << 17) | (1u << 26) | (1u << 27));
	if (e->function == 7 && e->index == 0) {
		e->ebx &= ~((1u << 0) | (1u << 20));
		e->ecx &= ~((1u << 3) | (1u << 4) | (1u << 7) | (1u << 16) | (1u << 31));
		e->edx &= ~(1u << 20);
	}
	if (e->function == 7 && e->index == 1)
		e->eax &= ~((1u << 17) | (1u << 26));
}

/* Gives the vCPU everything KVM supports, so the guest sees what the backend can do
 * (in shadow mode, less what lodger does not honour). */
int cpu_set_cpuid(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned cap = 0;
	int r = -1;

	for (unsigned n = 64; n <= 4096; n *= 2) {
		free(c);
		c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		cap = n;
		r = kvm_raw_ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r == 0 || errno != E2BIG)
			break;
	}
	if (r < 0) {
		r = -errno;
		pr_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		free(c);
		return r;
	}
	for (unsigned i = 0; i < c->nent; i++) {
		if (c->entries[i].function == 1) /* leaf 1 EBX[31:24]: the initial APIC id */
			c->entries[i].ebx = (c->entries[i].ebx & 0x00ffffff) | (vcpu->id << 24);
		if (c->entries[i].function == 7 && c->entries[i].index == 0)
			vcpu->umip = c->entries[i].ecx & (1u << 2);
		if (c->entries[i].function == 0x80000008) /* the walker checks reserved bits */
			vcpu->vm->mem.phys_bits = c->entries[i].eax & 0xff;
		if (vcpu->guest) /* shadow mode: guestcpu_init sets it before calling here */
			hide_unhonoured(&c->entries[i]);
	}
	/* A Xen PV guest sees Xen's hypervisor leaves (docs/xen-pv.md) */
	if (vcpu->vm->cfg && vcpu->vm->cfg->personality == PERSONALITY_XEN)
		xen_cpuid_leaves(c, cap);
	r = kvm_ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return r;
}

struct kvm_segment cpu_flat_segment(uint16_t selector, bool code, bool long_mode)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = code ? 0xb : 0x3,
		.present = 1,
		.dpl = selector & 3,
		.s = 1,
		.l = code && long_mode,
		.db = !(code && long_mode),
		.g = 1,
	};
}

int cpu_set_boot_state(struct vcpu *vcpu, const struct boot_layout *layout, uint64_t entry,
		       uint64_t fdt_gpa)
{
	struct kvm_sregs s;
	struct kvm_regs regs = {
		.rip = entry,
		.rdi = fdt_gpa,
		.rsi = LODGER_BOOT_MAGIC,
		.rflags = 0x2, /* interrupts off, DF clear */
	};
	int r = cpu_set_cpuid(vcpu);

	if (r)
		return r;
	if (kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs = cpu_flat_segment(LODGER_SEL_KERNEL_CS, true, true);
	s.ds = cpu_flat_segment(LODGER_SEL_KERNEL_DS, false, false);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.tr = (struct kvm_segment){.base = layout->tss,
				    .limit = BOOT_TSS_LIMIT,
				    .selector = LODGER_SEL_BOOT_TSS,
				    .type = 0xb,
				    .present = 1};
	s.ldt = (struct kvm_segment){.type = 0x2, .present = 1, .unusable = 1};
	s.gdt.base = layout->gdt;
	s.gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0; /* no IDT until the guest loads one: an early fault is a triple fault */
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s.cr3 = layout->pml4;
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s.efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
	if (kvm_ioctl(vcpu->fd, KVM_SET_SREGS, &s) < 0 ||
	    kvm_ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	pr_debug(LOG_CPU, "vcpu%u: entry %#llx, device tree %#llx, cr3 %#llx", vcpu->id,
		 (unsigned long long)entry, (unsigned long long)fdt_gpa, (unsigned long long)s.cr3);
	return 0;
}

static void dump_segment(FILE *f, const char *name, const struct kvm_segment *s)
{
	fprintf(f, "  %-3s %04x base %016llx limit %08x type %x dpl %u p %u l %u db %u\n", name,
		s->selector, (unsigned long long)s->base, s->limit, s->type, s->dpl, s->present,
		s->l, s->db);
}

void cpu_dump(struct vcpu *vcpu, FILE *f)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(f, "  (registers unavailable: %s)\n", strerror(errno));
		return;
	}
	fprintf(f,
		"  rip %016llx rflags %016llx\n"
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx rsp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n",
		r.rip, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9,
		r.r10, r.r11, r.r12, r.r13, r.r14, r.r15);
	dump_segment(f, "cs", &s.cs);
	dump_segment(f, "ss", &s.ss);
	dump_segment(f, "ds", &s.ds);
	dump_segment(f, "tr", &s.tr);
	fprintf(f,
		"  cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %016llx\n"
		"  gdt %016llx/%04x idt %016llx/%04x\n",
		s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.gdt.base, s.gdt.limit, s.idt.base,
		s.idt.limit);
}

void cpu_shutdown_cause(const struct kvm_vcpu_events *ev, const struct kvm_regs *r,
			const struct kvm_sregs *s, char *buf, size_t size)
{
	unsigned v = ev->exception.nr;
	const char *name = x86_vector_name(v);

	/* pending: set only where userspace enabled KVM_CAP_EXCEPTION_PAYLOAD */
	if (ev->exception.injected || ev->exception.pending) {
		if (ev->exception.has_error_code)
			snprintf(buf, size, "delivering %s (vector %u, error %#x)",
				 name ? name : "an exception", v, ev->exception.error_code);
		else
			snprintf(buf, size, "delivering %s (vector %u)",
				 name ? name : "an exception", v);
	} else if (ev->nmi.injected) {
		snprintf(buf, size, "delivering an NMI");
	} else if (ev->interrupt.injected) {
		snprintf(buf, size, "delivering %s%u", ev->interrupt.soft ? "int $" : "interrupt ",
			 ev->interrupt.nr);
	} else if (r->rip == 0xfff0 && s->cs.selector == 0xf000 && s->cs.base == 0xffff0000 &&
		   !(s->cr0 & CR0_PE)) {
		/* kvm_amd: the VMCB is undefined after a shutdown intercept, so KVM INITs the
		 * vCPU before it reports the exit. */
		snprintf(buf, size,
			 "KVM does not say which exception, and reset the vCPU: the registers "
			 "below are its reset state, not the guest's");
	} else {
		snprintf(buf, size, "KVM does not say which exception");
	}
}
