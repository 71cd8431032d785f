/*
 * shadowmode.c - shadow mode as the VM sees it (kvm/mode.h): monitor memory and the
 * virtual CPU at start, the stub's exits during the run, its statistics at the end.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front/exitcode.h"
#include "front/log.h"
#include "kvm/kvm.h"
#include "kvm/mode.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"
#include "shadow/monitor.h"
#include "shadow/report.h"
#include "shadow/stubexit.h"
#include "xen/personality.h"

/* Monitor memory in its own memslot, then the guest's virtual CPU. */
static int shadow_start(struct vm *vm)
{
	const struct config *cfg = vm->cfg;
	bool xen = cfg->personality == PERSONALITY_XEN; /* chosen from the notes (config.h) */
	struct guestcpu_options opt = {
		/* The guest ABI: a native x86-64 kernel, or Xen's PV ABI. */
		.personality = personality_find(xen ? "xen" : "native"),
		/* A PV guest's stub sits in the hole the ABI keeps from it (xen/personality.h) */
		.stub_base = cfg->stub_base_set ? cfg->stub_base
			     : xen		? XEN_STUB_BASE
						: DEFAULT_STUB_BASE,
		.relocate = cfg->relocate,
		.seed = cfg->seed_set ? cfg->seed : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32,
		/* Measured (docs/shadow-mode.md): on kvm_pvm a trap the stub handles costs a third
		 * of one handed to lodger; hardware KVM would favour the stub even more. */
		.fast_paths = cfg->traps == TRAPS_AUTO,
		/* Where KVM walks the shadow tables in hardware, a removed entry needs only the
		 * CPU's TLB flush, which the stub does; elsewhere KVM must drop its own copy
		 * (docs/shadow-mode.md, "KVM must not keep stale views"). */
		.tlb_flush_in_stub =
			cfg->traps == TRAPS_AUTO && !cfg->kvm_sync_memslot && kvm_backend_has_tdp(),
		/* Elsewhere the stub writes each removed entry again, where KVM sees it
		 * (docs/shadow-mode.md, "Removals on a KVM without TDP"). */
		.zap_in_stub = cfg->traps == TRAPS_AUTO && !cfg->kvm_sync_memslot &&
			       !kvm_backend_has_tdp(),
		.reloc_hot = cfg->reloc_hot,
		.reloc_window_ms = cfg->reloc_window_ms,
	};
	struct personality_boot boot = {
		.entry = vm->image.entry,
		.fdt_gpa = vm->layout.fdt,
		.pml4 = vm->layout.pml4,
		.gdt = vm->layout.gdt,
		.tss = vm->layout.tss,
		.prepared = vm->xen,
	};
	int r = mem_alloc_monitor(&vm->mem, MONITOR_GPA, MONITOR_SIZE);

	if (r) {
		pr_err("cannot allocate monitor memory: %s", strerror(-r));
		return EXIT_HOST_ERROR;
	}
	if (vm_map_monitor(vm))
		return EXIT_HOST_ERROR;
	pr_debug(LOG_STUB, "stub at %#llx (%s), monitor memory at guest-physical %#llx",
		 (unsigned long long)opt.stub_base, cfg->stub_base_set ? "stub-base=" : "default",
		 (unsigned long long)MONITOR_GPA);
	pr_debug(LOG_RELOC, "relocation %s, seed %llu", opt.relocate ? "on" : "off",
		 (unsigned long long)opt.seed);
	r = guestcpu_create(vm->vcpu, &opt);
	return r ? r : guestcpu_start(vm->vcpu, &boot);
}

/* The stub hands every trap over as a KVM_EXIT_IO on STUB_EXIT_PORT. */
static int shadow_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason != KVM_EXIT_IO || run->io.port != STUB_EXIT_PORT || !vcpu->guest)
		return MODE_EXIT_UNCLAIMED;
	int r = stubexit_handle(vcpu);

	return r == STUBEXIT_NOT_STUB ? MODE_EXIT_UNCLAIMED : r;
}

static void shadow_write_stats(struct json *j, const struct vcpu *vcpu)
{
	if (vcpu && vcpu->guest)
		report_write(j, vcpu->guest);
}

static void shadow_stop(struct vm *vm)
{
	if (vm->vcpu)
		guestcpu_destroy(vm->vcpu);
}

const struct mode shadow_mode = {
	.name = "shadow",
	.selectors = &shadow_selectors,
	.start = shadow_start,
	.exit = shadow_exit,
	.write_stats = shadow_write_stats,
	.sync_stats = guestcpu_sync_stats,
	.stop = shadow_stop,
};
