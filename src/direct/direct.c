/*
 * direct.c - direct mode: the guest kernel at real CPL0; KVM virtualizes, lodger sets the
 * boot state and completes the instructions KVM's emulator gives up on (emulate.c).
 */
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

const struct mode direct_mode = {
	.name = "direct",
	.selectors = &direct_selectors,
	.start = direct_start,
};
