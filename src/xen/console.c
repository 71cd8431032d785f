/* console.c - console_io and the PV console ring (<xen/io/console.h>). */
#include <stdint.h>
#include <string.h>

#include <xen/io/console.h>

#include "front/log.h"
#include "xen/families.h"
#include "xen/hypercall.h"

static void out(struct xen_vcpu *v, const char *buf, unsigned len)
{
	if (len && v->hooks && v->hooks->console_write)
		v->hooks->console_write(v->opaque, buf, len);
}

long xen_console_io(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t cmd = a[0], count = (uint32_t)a[1], buf = a[2];
	char chunk[256];

	switch (cmd) {
	case CONSOLEIO_write:
		for (bool started = false; count; started = true) {
			unsigned n = count > sizeof(chunk) ? sizeof(chunk) : (unsigned)count;

			if (started && xen_preempt(v)) { /* as Xen's guest_console_write */
				const uint64_t rest[6] = {CONSOLEIO_write, count, buf};

				xen_continue(v, __HYPERVISOR_console_io, rest);
				return 0;
			}
			v->hcall_work++;
			if (xen_copy_from_guest(v, chunk, buf, n))
				return -XEN_EFAULT;
			/* Xen's own console, not the guest's: once the guest uses its console
			 * ring, what it also writes here (XTF writes both) is only traced */
			if (v->d->ring_used)
				pr_debug(LOG_XEN, "console_io: %.*s", (int)n, chunk);
			else
				out(v, chunk, n);
			buf += n;
			count -= n;
		}
		return 0;
	case CONSOLEIO_read:
		return 0; /* no input through console_io */
	default:
		return -XEN_ENOSYS;
	}
}

void xen_console_drain(struct xen_vcpu *v)
{
	struct xencons_interface *ring = gpa_ptr_guest(v->d->mem, v->d->console_gpa, sizeof(*ring));
	XENCONS_RING_IDX cons, prod;

	if (!ring)
		return;
	cons = ring->out_cons;
	prod = __atomic_load_n(&ring->out_prod, __ATOMIC_ACQUIRE);
	/* a hostile producer index: at most one ring's worth */
	if (prod - cons > sizeof(ring->out))
		cons = prod - sizeof(ring->out);
	/* one write per contiguous run (two when the data wraps), not one per byte: a boot's
	 * console is tens of thousands of bytes */
	while (cons != prod) {
		XENCONS_RING_IDX at = MASK_XENCONS_IDX(cons, ring->out);
		unsigned run = sizeof(ring->out) - at;
		char chunk[sizeof(ring->out)];

		if (run > prod - cons)
			run = prod - cons;
		/* copied first: the guest may rewrite the ring while lodger writes it out */
		memcpy(chunk, &ring->out[at], run);
		out(v, chunk, run);
		cons += run;
	}
	__atomic_store_n(&ring->out_cons, cons, __ATOMIC_RELEASE);
}
