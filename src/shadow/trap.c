/*
 * trap.c - the trap context: the guest's view of its memory and its mode, as the trap
 * path and the personality see them while handling one trap.
 */
#include "shadow/trap.h"

#include "arch/x86.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"

struct kvm_segment trap_segment(uint16_t sel)
{
	switch (sel) {
	case STUB_GUEST_KERNEL_CS:
	case STUB_GUEST_USER_CS:
		return cpu_flat_segment(sel, true, true);
	case STUB_GUEST_USER32_CS:
		return cpu_flat_segment(sel, true, false);
	default:
		return cpu_flat_segment(sel, false, false);
	}
}

/* lodger wrote guest memory for the guest (an exception frame, a descriptor's busy bit):
 * should it hold a page table, the shadow drops what it derived from it. */
static void guest_written(void *ctx, uint64_t gpa, uint64_t len)
{
	shadow_pte_written(ctx, gpa, len);
}

struct gview trap_view(const struct trap *t, bool user)
{
	struct guest_mem *mem = &t->vcpu->vm->mem;

	return (struct gview){
		.mem = mem,
		.cr3 = t->g->cr3,
		.user = user,
		.wp = t->g->cr0 & CR0_WP,
		.nxe = t->g->efer & EFER_NXE,
		.monitor_lo = mem->monitor_gpa,
		.monitor_hi = mem->monitor_gpa + mem->monitor_size,
		.written = guest_written,
		.written_ctx = &t->g->shadow,
	};
}

void trap_set_mode(struct trap *t, bool user)
{
	const struct guestcpu *g = t->g;

	t->g->user = user;
	/* A kernel that runs on the stub's present aliases of its selectors (Xen PV: what
	 * Linux reads from CS and SS it loads again, as iret_to_self does in every sync_core)
	 * gets them on every way back, or each such reload is a #NP for lodger. */
	if (!user && g->pers && g->pers->kernel_on_aliases && g->stub.aliases) {
		t->sregs.cs = cpu_flat_segment(STUB_ALIAS_KERNEL_CS, true, true);
		t->sregs.ss = cpu_flat_segment(STUB_ALIAS_KERNEL_DS, false, false);
		return;
	}
	t->sregs.cs = trap_segment(user ? STUB_GUEST_USER_CS : STUB_GUEST_KERNEL_CS);
	t->sregs.ss = trap_segment(user ? STUB_GUEST_USER_DS : STUB_GUEST_KERNEL_DS);
}
