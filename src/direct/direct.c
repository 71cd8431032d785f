/*
 * direct.c - direct mode: the guest kernel at real CPL0; KVM virtualizes, lodger sets the
 * boot state and completes the instructions KVM's emulator gives up on (emulate.c).
 */
#include "direct/debug.h"
#include "front/exitcode.h"
#include "kvm/mode.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

static int direct_start(struct vm *vm)
{
	if (cpu_set_boot_state(vm->vcpu, &vm->layout, vm->image.entry, vm->layout.fdt))
		return EXIT_HOST_ERROR;
	return 0;
}

/* Direct mode's only exits of its own are the GDB stub's (KVM_EXIT_DEBUG). */
static int direct_exit(struct vcpu *vcpu)
{
	return vcpu->run->exit_reason == KVM_EXIT_DEBUG ? direct_debug_exit(vcpu)
							: MODE_EXIT_UNCLAIMED;
}

const struct mode direct_mode = {
	.name = "direct",
	.selectors = &direct_selectors,
	.start = direct_start,
	.exit = direct_exit,
	.debug_stop = direct_debug_stop,
};
