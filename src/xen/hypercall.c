/* hypercall.c - the hypercall table, multicall, and checked guest-linear copies. */
#include "xen/hypercall.h"

#include <stdio.h>
#include <string.h>

#include "front/log.h"
#include "front/phase.h"
#include "shadow/gmem.h"
#include "xen/bounce.h"
#include "xen/families.h"

/* The hypercalls whose first argument is a sub-op (counted by it in -stats); mmuext_op
 * counts each of its list's commands itself (mm.c). */
#define SUBOP_MASK                                                                                 \
	(1ULL << __HYPERVISOR_memory_op | 1ULL << __HYPERVISOR_xen_version |                       \
	 1ULL << __HYPERVISOR_console_io | 1ULL << __HYPERVISOR_vm_assist |                        \
	 1ULL << __HYPERVISOR_vcpu_op | 1ULL << __HYPERVISOR_set_segment_base |                    \
	 1ULL << __HYPERVISOR_sched_op | 1ULL << __HYPERVISOR_callback_op |                        \
	 1ULL << __HYPERVISOR_event_channel_op | 1ULL << __HYPERVISOR_physdev_op |                 \
	 1ULL << __HYPERVISOR_set_debugreg | 1ULL << __HYPERVISOR_get_debugreg)

static const struct {
	const char *name;
	xen_handler *fn;
} table[] = {
	[__HYPERVISOR_set_trap_table] = {"set_trap_table", xen_set_trap_table},
	[__HYPERVISOR_mmu_update] = {"mmu_update", xen_mmu_update},
	[__HYPERVISOR_set_gdt] = {"set_gdt", xen_set_gdt},
	[__HYPERVISOR_stack_switch] = {"stack_switch", xen_stack_switch},
	[__HYPERVISOR_set_callbacks] = {"set_callbacks", NULL},
	[__HYPERVISOR_fpu_taskswitch] = {"fpu_taskswitch", xen_fpu_taskswitch},
	[__HYPERVISOR_platform_op] = {"platform_op", NULL},
	[__HYPERVISOR_set_debugreg] = {"set_debugreg", xen_set_debugreg},
	[__HYPERVISOR_get_debugreg] = {"get_debugreg", xen_get_debugreg},
	[__HYPERVISOR_update_descriptor] = {"update_descriptor", xen_update_descriptor},
	[__HYPERVISOR_memory_op] = {"memory_op", xen_memory_op},
	[__HYPERVISOR_multicall] = {"multicall", NULL}, /* below: it recurses */
	[__HYPERVISOR_update_va_mapping] = {"update_va_mapping", xen_update_va_mapping},
	[__HYPERVISOR_set_timer_op] = {"set_timer_op", xen_set_timer_op},
	[__HYPERVISOR_xen_version] = {"xen_version", xen_xen_version},
	[__HYPERVISOR_console_io] = {"console_io", xen_console_io},
	[__HYPERVISOR_grant_table_op] = {"grant_table_op", xen_grant_table_op},
	[__HYPERVISOR_vm_assist] = {"vm_assist", xen_vm_assist},
	[__HYPERVISOR_iret] = {"iret", NULL}, /* xen/bounce.h: it replaces the registers */
	[__HYPERVISOR_vcpu_op] = {"vcpu_op", xen_vcpu_op},
	[__HYPERVISOR_set_segment_base] = {"set_segment_base", xen_set_segment_base},
	[__HYPERVISOR_mmuext_op] = {"mmuext_op", xen_mmuext_op},
	[__HYPERVISOR_sched_op] = {"sched_op", xen_sched_op},
	[__HYPERVISOR_callback_op] = {"callback_op", xen_callback_op},
	[__HYPERVISOR_event_channel_op] = {"event_channel_op", xen_event_channel_op},
	[__HYPERVISOR_physdev_op] = {"physdev_op", xen_physdev_op},
};
#define TABLE_SIZE (sizeof(table) / sizeof(table[0]))

const char *xen_hypercall_name(uint64_t nr)
{
	return nr < TABLE_SIZE ? table[nr].name : NULL;
}

bool xen_preempt(const struct xen_vcpu *v)
{
	return v->hcall_work >= XEN_HCALL_WORK_MAX;
}

void xen_continue(struct xen_vcpu *v, uint64_t nr, const uint64_t args[6])
{
	v->cont.pending = true;
	v->cont.nr = nr;
	memcpy(v->cont.args, args, sizeof(v->cont.args));
}

/* What lodger writes into guest RAM may be a page table (a hostile guest's output buffer
 * can be one): the shadow must drop what it derived from it, as for a guest's store. */
static void copied_out(void *ctx, uint64_t gpa, uint64_t len)
{
	struct xen_vcpu *v = ctx;

	if (v->hooks && v->hooks->pte_written)
		v->hooks->pte_written(v->opaque, gpa, len);
}

static void view(struct xen_vcpu *v, struct gview *g)
{
	/* Xen reads guest memory with the guest kernel's rights: supervisor, WP set. */
	*g = (struct gview){
		.written = copied_out,
		.written_ctx = v,
		.mem = v->d->mem,
		.cr3 = v->kernel_mode || !v->user_cr3 ? v->kernel_cr3 : v->user_cr3,
		.wp = true,
		.nxe = v->nxe,
		.monitor_lo = v->d->mem->monitor_gpa,
		.monitor_hi = v->d->mem->monitor_gpa + v->d->mem->monitor_size,
	};
}

int xen_copy_from_guest(struct xen_vcpu *v, void *dst, uint64_t va, uint64_t len)
{
	struct gview g;
	struct gfault f;

	view(v, &g);
	if (va + len < va)
		return -XEN_EFAULT;
	while (len) {
		unsigned chunk = len > 4096 ? 4096 : (unsigned)len;

		if (!gmem_read(&g, va, dst, chunk, false, &f))
			return -XEN_EFAULT;
		dst = (uint8_t *)dst + chunk;
		va += chunk;
		len -= chunk;
	}
	return 0;
}

int xen_copy_to_guest(struct xen_vcpu *v, uint64_t va, const void *src, uint64_t len)
{
	struct gview g;
	struct gfault f;

	view(v, &g);
	if (va + len < va)
		return -XEN_EFAULT;
	while (len) {
		unsigned chunk = len > 4096 ? 4096 : (unsigned)len;

		if (!gmem_write(&g, va, src, chunk, &f))
			return -XEN_EFAULT;
		src = (const uint8_t *)src + chunk;
		va += chunk;
		len -= chunk;
	}
	return 0;
}

/*
 * Xen's do_multicall: each entry runs and its result is stored in the entry; a fault on
 * the list ends the call with -EFAULT. A multicall inside a multicall is refused with
 * -EINVAL ("Multicall reentry is disallowed"). An iret entry is performed and ends the
 * batch (Xen's mc_exit, the fix of XSA-213): the entries after it never run in the
 * context it returned to, and the multicall returns what the iret did (the RAX it
 * restored).
 */
static long multicall_from(struct xen_vcpu *v, uint64_t list, uint64_t i, uint64_t nr)
{
	const uint64_t args[6] = {list + i * sizeof(struct multicall_entry), nr - i};

	xen_continue(v, __HYPERVISOR_multicall, args);
	return 0;
}

static long multicall(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t list = a[0], nr = (uint32_t)a[1];

	for (uint64_t i = 0; i < nr; i++) {
		struct multicall_entry e;
		uint64_t args[6];
		long r;

		if (i && xen_preempt(v))
			return multicall_from(v, list, i, nr);
		v->hcall_work++;
		if (xen_copy_from_guest(v, &e, list + i * sizeof(e), sizeof(e)))
			return -XEN_EFAULT;
		memcpy(args, e.args, sizeof(args));
		if (e.op == __HYPERVISOR_iret) {
			v->d->hypercalls[__HYPERVISOR_iret]++;
			if (xen_iret(v))
				return 0; /* the domain crashed (bounce.c): nothing returns */
			e.result = v->regs.rax;
			/* best effort, as Xen: the iret has happened either way */
			(void)xen_copy_to_guest(
				v, list + i * sizeof(e) + offsetof(struct multicall_entry, result),
				&e.result, sizeof(e.result));
			pr_debug(LOG_XEN, "multicall: iret to %#llx (%s mode) ends the batch",
				 (unsigned long long)v->regs.rip,
				 v->kernel_mode ? "kernel" : "user");
			return (long)e.result;
		}
		if (e.op == __HYPERVISOR_multicall) {
			r = -XEN_EINVAL;
		} else {
			v->in_multicall = true;
			v->cont.pending = false;
			r = xen_hypercall(v, e.op, args);
			v->in_multicall = false;
		}
		if (v->cont.pending) { /* the entry continues where its call stopped */
			v->cont.pending = false;
			e.op = v->cont.nr;
			memcpy(e.args, v->cont.args, sizeof(e.args));
			if (xen_copy_to_guest(v, list + i * sizeof(e), &e, sizeof(e)))
				return -XEN_EFAULT;
			return multicall_from(v, list, i, nr);
		}
		e.result = (xen_ulong_t)r;
		if (xen_copy_to_guest(
			    v, list + i * sizeof(e) + offsetof(struct multicall_entry, result),
			    &e.result, sizeof(e.result)))
			return -XEN_EFAULT;
		if (v->d->shut_down)
			break; /* a shutdown in the batch ends it, as Xen's preemption would */
		if (v->blocked && i + 1 < nr) /* the vCPU sleeps now; the rest when it wakes */
			return multicall_from(v, list, i + 1, nr);
	}
	return 0;
}

static long dispatch(struct xen_vcpu *v, uint64_t nr, const uint64_t a[6])
{
	if (nr < 64) {
		v->d->hypercalls[nr]++;
		if ((SUBOP_MASK >> nr & 1) && a[0] < 64)
			v->d->subops[nr][a[0]]++;
		else if (nr == __HYPERVISOR_memory_op)
			v->d->subops[nr][a[0] & 0x3f]++;
	}
	if (nr == __HYPERVISOR_multicall)
		return multicall(v, a);
	if (nr >= TABLE_SIZE || !table[nr].fn)
		return -XEN_ENOSYS;
	return table[nr].fn(v, a);
}

long xen_hypercall(struct xen_vcpu *v, uint64_t nr, const uint64_t a[6])
{
	uint64_t start = phase_now(), from = v->regs.rip, stack[3] = {0};
	long r;

	if (!v->in_multicall) {
		v->hcall_work = 0;
		v->cont.pending = false;
	}
	/* For -d xen: the top of the guest's stack, where its caller is when the call went
	 * through a common function (Linux's xen_hypercall_pv pushes RCX and R11 first). */
	if (log_enabled(LOG_XEN) && xen_copy_from_guest(v, stack, v->regs.rsp, sizeof(stack)))
		memset(stack, 0, sizeof(stack));
	r = dispatch(v, nr, a);
	const char *name = xen_hypercall_name(nr);
	char unnamed[32];

	if (nr < 64)
		v->d->hypercall_ns[nr] += phase_now() - start;

	if (!name) {
		snprintf(unnamed, sizeof(unnamed), "hypercall_%llu", (unsigned long long)nr);
		name = unnamed;
	}
	pr_debug(LOG_XEN,
		 "%s(%#llx, %#llx, %#llx, %#llx, %#llx) = %ld at %#llx (stack %#llx %#llx %#llx)",
		 name, (unsigned long long)a[0], (unsigned long long)a[1], (unsigned long long)a[2],
		 (unsigned long long)a[3], (unsigned long long)a[4], r, (unsigned long long)from,
		 (unsigned long long)stack[0], (unsigned long long)stack[1],
		 (unsigned long long)stack[2]);
	return r;
}

void xen_hypercall_regs(struct xen_vcpu *v)
{
	const uint64_t a[6] = {v->regs.rdi, v->regs.rsi, v->regs.rdx,
			       v->regs.r10, v->regs.r8,	 v->regs.r9};

	long r = xen_hypercall(v, v->regs.rax, a);

	if (!v->cont.pending) {
		v->regs.rax = (uint64_t)r;
		return;
	}
	/* made again: the `syscall` (2 bytes, RIP is past it) with the new arguments */
	v->cont.pending = false;
	v->d->continuations++;
	v->regs.rax = v->cont.nr;
	v->regs.rdi = v->cont.args[0];
	v->regs.rsi = v->cont.args[1];
	v->regs.rdx = v->cont.args[2];
	v->regs.r10 = v->cont.args[3];
	v->regs.r8 = v->cont.args[4];
	v->regs.r9 = v->cont.args[5];
	v->regs.rip -= 2;
	pr_debug(LOG_XEN, "hypercall %llu continues at %#llx", (unsigned long long)v->regs.rax,
		 (unsigned long long)v->regs.rip);
}
