/*
 * guestcpu.c - a shadow-mode virtual CPU from creation to destruction.
 *
 * guestcpu_create needs no KVM: it lays out monitor memory (monitor.h) - the stub, the
 * stub's page table, the shadow pool. guestcpu_start asks the personality for the boot
 * state and loads it, with the real CPU state deprivileging needs.
 */
#include "shadow/guestcpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "lodger/stub_abi.h"
#include "shadow/monitor.h"
#include "shadow/pagewalk.h"
#include "shadow/transport.h"

#define SYNC_REGS (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)

/* The real control registers a deprivileged guest runs with: long mode, paging, WP. */
#define REAL_CR0  (CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE)
#define REAL_CR4  (CR4_OSXMMEXCPT | CR4_OSFXSR | CR4_PAE)
#define REAL_EFER (EFER_NXE | EFER_LMA | EFER_LME | EFER_SCE)

/* The stub's own page table: its pages, supervisor-only, code executable, data not. */
static void build_stub_page_table(struct vcpu *vcpu, struct guestcpu *g)
{
	struct guest_mem *mem = &vcpu->vm->mem;
	uint64_t *pt = MON_PTR(mem, MON_STUB_PT, 0x1000);

	memset(pt, 0, 0x1000);
	for (unsigned i = 0; i < STUB_PAGES; i++)
		pt[i] = stub_page_gpa(&g->stub, i * 0x1000) | PTE_P | PTE_W |
			(i * 0x1000 == STUB_CODE ? 0 : PTE_NX);
	pt[STUB_APIC_WINDOW / 0x1000] =
		APIC_MMIO_GPA | PTE_P | PTE_W | PTE_NX | (1ULL << 4) | (1ULL << 3); /* PCD PWT */
	/* The zap log's windows (stub_abi.h): the pool's slots start empty. */
	if (g->pool_window)
		pt[STUB_PT_WINDOW / 0x1000] =
			(mem->monitor_gpa + MON_STUB_PT) | PTE_P | PTE_W | PTE_NX;
}

int guestcpu_flush_kvm(struct vcpu *vcpu)
{
	struct guestcpu *g = vcpu->guest;
	int r = vm_flush_monitor(vcpu->vm);

	/* KVM derives nothing from monitor memory now: the window may be cleared from here. */
	if (!r && g->pool_window)
		memset(g->pool_window, 0, STUB_POOL_SLOTS * sizeof(*g->pool_window));
	return r;
}

/* The shadow's pool is dry but for pages KVM may still shadow: make KVM drop them all. */
static int flush_kvm_for_pool(void *vcpu)
{
	return guestcpu_flush_kvm(vcpu);
}

int guestcpu_create(struct vcpu *vcpu, const struct guestcpu_options *opt)
{
	struct guest_mem *mem = &vcpu->vm->mem;
	struct guestcpu *g = calloc(1, sizeof(*g));

	if (!g)
		return EXIT_HOST_ERROR;
	vcpu->guest = g;
	g->pers = opt->personality;
	reloc_init(&g->reloc, opt->relocate, opt->seed);
	g->tlb_flush_in_stub = opt->tlb_flush_in_stub;
	g->reloc.hot = opt->reloc_hot;
	g->reloc.window_ns = opt->reloc_window_ms * 1000000ULL;
	/* The stub's cli/sti act on the real IF only where that is the guest's; elsewhere
	 * the personality says what they do (kernel_cli_sti). */
	stub_install(&g->stub, mem, MON_STUB,
		     opt->fast_paths && (g->pers->kernel_if_is_real || g->pers->kernel_cli_sti),
		     g->pers->kernel_on_aliases);
	stub_place(&g->stub, opt->stub_base);
	if (opt->zap_in_stub)
		g->pool_window = MON_PTR(mem, MON_STUB_PT + STUB_POOL_WINDOW / 0x1000 * 8,
					 STUB_POOL_SLOTS * 8);
	build_stub_page_table(vcpu, g);
	if (shadow_init(&g->shadow, mem, MON_POOL, (mem->monitor_size - MON_POOL) / 0x1000,
			opt->stub_base, mem->monitor_gpa + MON_STUB_PT, OPEN_BUS_WINDOW))
		return EXIT_HOST_ERROR;
	if (opt->zap_in_stub && shadow_zap_enable(&g->shadow, flush_kvm_for_pool, vcpu))
		return EXIT_HOST_ERROR;
	g->shadow.phases = vcpu->phases;
	return 0;
}

int guestcpu_start(struct vcpu *vcpu, const struct personality_boot *boot)
{
	struct guestcpu *g = vcpu->guest;
	struct trap t = {.vcpu = vcpu, .g = g};
	int r;

	if (cpu_set_cpuid(vcpu) ||
	    shadow_set_open_bus(&g->shadow, open_bus_window(vcpu->vm->mem.phys_bits)))
		return EXIT_HOST_ERROR;
	if (kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &t.sregs) < 0)
		return EXIT_HOST_ERROR;
	trap_set_mode(&t, false);
	r = g->pers->boot(&t, boot);
	if (r)
		return r;
	t.sregs.ds = t.sregs.es = t.sregs.fs = t.sregs.gs = t.sregs.ss;
	t.sregs.cr0 = REAL_CR0;
	t.sregs.efer = REAL_EFER;
	/* UMIP: sgdt/sidt/sldt/smsw/str trap at CPL3. KVM refuses CR4.UMIP unless the vCPU's
	 * CPUID has it, and some backends even then (nested SVM): asked quietly. Without it
	 * the guest's sgdt shows the stub's tables. */
	t.sregs.cr4 = REAL_CR4 | CR4_UMIP;
	if (!vcpu->umip || kvm_raw_ioctl(vcpu->fd, KVM_SET_SREGS, &t.sregs) < 0) {
		pr_warn("shadow mode without UMIP: sgdt/sidt are not virtualized");
		t.sregs.cr4 = REAL_CR4;
	}
	r = transport_set_syscall_msrs(vcpu, g);
	if (!r)
		r = transport_resume(&t);
	/* From here on registers travel in kvm_run when KVM can do that (transport.c). The
	 * entry state above went through the ioctls, so a refusal was reported right there. */
	if (!r && (kvm_raw_ioctl(vcpu->vm->kvm_fd, KVM_CHECK_EXTENSION,
				 (void *)(uintptr_t)KVM_CAP_SYNC_REGS) &
		   SYNC_REGS) == SYNC_REGS)
		vcpu->run->kvm_valid_regs = SYNC_REGS;
	return r;
}

void guestcpu_sync_stats(struct vcpu *vcpu)
{
	struct guestcpu *g = vcpu->guest;

	if (!g)
		return;
	g->stats.stub_cli = stub_area(&g->stub)->fast_cli;
	g->stats.stub_sti = stub_area(&g->stub)->fast_sti;
	g->stats.by_place[TRAP_IN_STUB] = g->stats.stub_cli + g->stats.stub_sti;
}

void guestcpu_destroy(struct vcpu *vcpu)
{
	struct guestcpu *g = vcpu->guest;

	if (!g)
		return;
	if (g->pers && g->pers->destroy)
		g->pers->destroy(g);
	shadow_destroy(&g->shadow);
	free(g);
	vcpu->guest = NULL;
}

void guestcpu_triple_text(const struct guestcpu *g, char *buf, size_t size)
{
	size_t used = 0;

	if (!g->triple.n) {
		snprintf(buf, size, "an exception, then faults delivering it");
		return;
	}
	buf[0] = 0;
	for (unsigned i = 0; i < g->triple.n && used < size; i++) {
		unsigned v = g->triple.ev[i].vector;
		const char *name = x86_vector_name(v), *sep = i ? " -> " : "";
		int n;

		if (g->triple.ev[i].kind == EV_SOFTWARE)
			n = snprintf(buf + used, size - used, "%sint $%u", sep, v);
		else if (g->triple.ev[i].kind == EV_EXTERNAL && v == VEC_NMI)
			n = snprintf(buf + used, size - used, "%sNMI", sep);
		else if (g->triple.ev[i].kind == EV_EXTERNAL || !name)
			n = snprintf(buf + used, size - used, "%sinterrupt %u", sep, v);
		else if (g->triple.ev[i].has_error)
			n = snprintf(buf + used, size - used, "%s%s(%#x)", sep, name,
				     g->triple.ev[i].error);
		else
			n = snprintf(buf + used, size - used, "%s%s", sep, name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}
