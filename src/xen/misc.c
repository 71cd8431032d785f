/*
 * misc.c - the small hypercalls: trap table, callbacks, stacks, segments, debug
 * registers, descriptors, xen_version, vm_assist, physdev_op (set_iopl).
 */
#include <stdint.h>
#include <string.h>

#include <xen/callback.h>
#include <xen/physdev.h>
#include <xen/version.h>

#include "xen/families.h"
#include "xen/hypercall.h"
#include "xen/notes.h"

/* A trap table longer than this is refused (Xen would preempt and continue). */
#define MAX_TRAP_ENTRIES (1u << 16)

static bool canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

long xen_set_trap_table(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t list = a[0];

	if (!list) { /* no table: clear the virtual IDT */
		memset(v->traps, 0, sizeof(v->traps));
		return 0;
	}
	for (unsigned i = 0; i < MAX_TRAP_ENTRIES; i++) {
		struct trap_info t;

		if (xen_copy_from_guest(v, &t, list + i * sizeof(t), sizeof(t)))
			return -XEN_EFAULT;
		if (!t.address)
			return 0;
		if (!canonical(t.address))
			return -XEN_EINVAL;
		v->traps[t.vector] = t;
	}
	return -XEN_E2BIG;
}

long xen_set_gdt(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t list = a[0], ents = a[1];
	uint64_t frames[16] = {0};
	unsigned nr = (unsigned)((ents + 511) / 512);

	if (ents > 8192 - 16) /* Xen: FIRST_RESERVED_GDT_ENTRY */
		return -XEN_EINVAL;
	if (xen_copy_from_guest(v, frames, list, nr * 8ULL))
		return -XEN_EFAULT;
	for (unsigned i = 0; i < nr; i++)
		if (!xen_frame_ok(v->d, frames[i]))
			return -XEN_EINVAL;
	memcpy(v->gdt_frames, frames, sizeof(frames));
	v->gdt_ents = (unsigned)ents;
	return 0;
}

long xen_stack_switch(struct xen_vcpu *v, const uint64_t a[6])
{
	v->kernel_ss = a[0] | 3; /* Xen's fixup_guest_stack_selector: guest privilege */
	v->kernel_sp = a[1];
	return 0;
}

long xen_fpu_taskswitch(struct xen_vcpu *v, const uint64_t a[6])
{
	v->fpu_ts = a[0] != 0;
	return 0;
}

/*
 * Xen's set_debugreg (pv/misc-hypercalls.c), for the hypercall and for `mov %reg, %drN`:
 * -ENODEV (#UD), -EINVAL (#GP: a reserved bit), -EPERM (#GP: not permitted). The guest's
 * CR4.DE is always clear here, so DR4/DR5 alias DR6/DR7 and I/O breakpoints are refused.
 * The values are kept, not armed (docs/xen-pv.md).
 */
long xen_dr_write(struct xen_vcpu *v, unsigned reg, uint64_t value)
{
	switch (reg) {
	case 0:
	case 1:
	case 2:
	case 3:
		/* breakpoint_addr_ok: the lower canonical half, or above Xen's range */
		if (!(value < (1ULL << 47) || value >= __HYPERVISOR_VIRT_END))
			return -XEN_EPERM;
		v->dr[reg] = value;
		return 0;
	case 4:
	case 6:
		if (value >> 32)
			return -XEN_EINVAL; /* the upper half is strictly reserved */
		v->dr[6] = (value | XEN_DR6_DEFAULT) & ~XEN_DR6_ZEROS;
		return 0;
	case 5:
	case 7:
		if (value >> 32)
			return -XEN_EINVAL;
		value = (value & ~(XEN_DR7_ZEROS | XEN_DR7_RTM)) | XEN_DR7_DEFAULT;
		if (value & XEN_DR7_GD)
			return -XEN_EPERM; /* general detect is Xen's */
		if (value & 0xff)	   /* any breakpoint enabled: I/O ones need CR4.DE */
			for (unsigned i = 16; i < 32; i += 4)
				if (((value >> i) & 3) == 2)
					return -XEN_EPERM;
		v->dr[7] = value;
		return 0;
	default:
		return -XEN_ENODEV;
	}
}

/* Xen's x86emul_read_dr: false for a register that does not exist (#UD, -ENODEV). */
bool xen_dr_read(const struct xen_vcpu *v, unsigned reg, uint64_t *value)
{
	if (reg > 7 || reg == 4 || reg == 5) {
		if (reg > 7)
			return false;
		reg += 2; /* aliases of DR6/DR7 while CR4.DE is clear */
	}
	*value = v->dr[reg];
	return true;
}

long xen_set_debugreg(struct xen_vcpu *v, const uint64_t a[6])
{
	return a[0] > 7 ? -XEN_ENODEV : xen_dr_write(v, (unsigned)a[0], a[1]);
}

long xen_get_debugreg(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t value;

	if (a[0] > 7 || !xen_dr_read(v, (unsigned)a[0], &value))
		return -XEN_ENODEV;
	return (long)value;
}

long xen_update_descriptor(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t maddr = a[0], desc = a[1];
	uint64_t *slot;

	if ((maddr & 7) || !xen_frame_ok(v->d, maddr >> 12))
		return -XEN_EINVAL;
	if ((v->d->frame_type[maddr >> 12] & XEN_FRAME_LEVEL))
		return -XEN_EINVAL; /* a page table is not a descriptor table */
	/* Xen's check_descriptor: no DPL0 code or call gates for a PV guest */
	if ((desc & (1ULL << 47)) && (desc & (1ULL << 44)) && ((desc >> 45) & 3) == 0 &&
	    (desc & (1ULL << 43)))
		return -XEN_EINVAL;
	slot = gpa_ptr_guest(v->d->mem, maddr, 8);
	if (!slot)
		return -XEN_EINVAL;
	*slot = desc;
	return 0;
}

long xen_xen_version(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t cmd = a[0], arg = a[1];

	switch (cmd) {
	case XENVER_version:
		return 4 << 16 | 17; /* the ABI of libxen-dev 4.17 */
	case XENVER_extraversion: {
		xen_extraversion_t s = "-lodger"; /* zero-filled: nothing leaks */

		return xen_copy_to_guest(v, arg, s, sizeof(s));
	}
	case XENVER_capabilities: {
		xen_capabilities_info_t s = "xen-3.0-x86_64";

		return xen_copy_to_guest(v, arg, s, sizeof(s));
	}
	case XENVER_changeset: {
		xen_changeset_info_t s = "lodger";

		return xen_copy_to_guest(v, arg, s, sizeof(s));
	}
	case XENVER_compile_info: {
		xen_compile_info_t s;

		memset(&s, 0, sizeof(s));
		strcpy(s.compiler, "lodger");
		return xen_copy_to_guest(v, arg, &s, sizeof(s));
	}
	case XENVER_platform_parameters: {
		xen_platform_parameters_t p = {.virt_start = __HYPERVISOR_VIRT_START};

		return xen_copy_to_guest(v, arg, &p, sizeof(p));
	}
	case XENVER_get_features: {
		xen_feature_info_t f;

		if (xen_copy_from_guest(v, &f, arg, sizeof(f)))
			return -XEN_EFAULT;
		if (f.submap_idx >= XENFEAT_NR_SUBMAPS)
			return -XEN_EINVAL;
		f.submap = xen_notes_lodger_features(f.submap_idx);
		return xen_copy_to_guest(v, arg, &f, sizeof(f));
	}
	case XENVER_pagesize:
		return XEN_PAGE_SIZE;
	case XENVER_guest_handle: {
		xen_domain_handle_t h = {0};

		return xen_copy_to_guest(v, arg, h, sizeof(h));
	}
	case XENVER_commandline:
	case XENVER_build_id:
		return -XEN_EPERM; /* Xen: privileged domains only */
	default:
		return -XEN_ENOSYS;
	}
}

long xen_vm_assist(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t cmd = a[0], type = a[1];
	/* what lodger honours: emulated page-table writes, and architectural IOPL */
	const unsigned long valid = 1UL << VMASST_TYPE_writable_pagetables |
				    1UL << VMASST_TYPE_architectural_iopl |
				    1UL << VMASST_TYPE_runstate_update_flag;

	if (type >= 64 || !((valid >> type) & 1))
		return -XEN_EINVAL;
	switch (cmd) {
	case VMASST_CMD_enable:
		v->d->vm_assist |= 1UL << type;
		return 0;
	case VMASST_CMD_disable:
		v->d->vm_assist &= ~(1UL << type);
		return 0;
	default:
		return -XEN_ENOSYS;
	}
}

long xen_set_segment_base(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t which = a[0], base = a[1];

	if (which != SEGBASE_GS_USER_SEL && !canonical(base))
		return -XEN_EINVAL;
	switch (which) {
	case SEGBASE_FS:
		v->fs_base = base;
		return 0;
	case SEGBASE_GS_USER:
		v->gs_base_user = base;
		return 0;
	case SEGBASE_GS_KERNEL:
		v->gs_base_kernel = base;
		return 0;
	case SEGBASE_GS_USER_SEL:
		v->gs_sel_user = (uint16_t)base;
		return 0;
	default:
		return -XEN_EINVAL;
	}
}

long xen_callback_op(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t cmd = a[0], arg = a[1];

	if (cmd == CALLBACKOP_register) {
		struct callback_register r;
		bool mask;

		if (xen_copy_from_guest(v, &r, arg, sizeof(r)))
			return -XEN_EFAULT;
		if (!canonical(r.address))
			return -XEN_EINVAL;
		mask = r.flags & CALLBACKF_mask_events;
		switch (r.type) {
		case CALLBACKTYPE_event:
			v->event_cb = r.address, v->event_mask = mask;
			return 0;
		case CALLBACKTYPE_failsafe:
			v->failsafe_cb = r.address, v->failsafe_mask = mask;
			return 0;
		case CALLBACKTYPE_syscall:
			v->syscall_cb = r.address, v->syscall_mask = mask;
			return 0;
		case CALLBACKTYPE_syscall32:
			v->syscall32_cb = r.address;
			return 0;
		case CALLBACKTYPE_sysenter:
			v->sysenter_cb = r.address;
			return 0;
		case CALLBACKTYPE_nmi:
			return 0; /* lodger delivers no NMIs */
		default:
			return -XEN_ENOSYS;
		}
	}
	if (cmd == CALLBACKOP_unregister) {
		struct callback_unregister r;

		if (xen_copy_from_guest(v, &r, arg, sizeof(r)))
			return -XEN_EFAULT;
		switch (r.type) {
		case CALLBACKTYPE_event:
		case CALLBACKTYPE_failsafe:
		case CALLBACKTYPE_syscall:
			return -XEN_EINVAL; /* Xen: these cannot be unregistered */
		case CALLBACKTYPE_nmi:
			return 0;
		default:
			return -XEN_ENOSYS;
		}
	}
	return -XEN_ENOSYS;
}

long xen_physdev_op(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t cmd = a[0], arg = a[1];

	if (cmd == PHYSDEVOP_set_iopl) {
		struct physdev_set_iopl s;

		if (xen_copy_from_guest(v, &s, arg, sizeof(s)))
			return -XEN_EFAULT;
		if (s.iopl > 3)
			return -XEN_EINVAL;
		v->iopl = s.iopl;
		return 0;
	}
	return -XEN_ENOSYS;
}
