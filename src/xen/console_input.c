/* console_input.c - the terminal's keys into the console ring's in[] (xen/console_input.h). */
#include "xen/console_input.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <xen/io/console.h>

#include "xen/families.h"

int xen_conin_init(struct xen_conin *q)
{
	memset(q, 0, sizeof(*q));
	q->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->wake_fd < 0)
		return -errno;
	pthread_mutex_init(&q->lock, NULL);
	return 0;
}

void xen_conin_destroy(struct xen_conin *q)
{
	if (q->wake_fd >= 0)
		close(q->wake_fd);
	q->wake_fd = -1;
	pthread_mutex_destroy(&q->lock);
}

unsigned xen_conin_push(struct xen_conin *q, const uint8_t *bytes, unsigned n)
{
	unsigned kept = 0;

	pthread_mutex_lock(&q->lock);
	for (; kept < n && q->len + kept < XEN_CONIN_QUEUE; kept++)
		q->buf[(q->head + q->len + kept) % XEN_CONIN_QUEUE] = bytes[kept];
	__atomic_store_n(&q->len, q->len + kept, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&q->lock);
	if (kept) {
		uint64_t one = 1;

		/* a full counter (never, at one per push) only means it is already readable */
		(void)!write(q->wake_fd, &one, sizeof(one));
	}
	return kept;
}

bool xen_conin_waiting(struct xen_conin *q)
{
	return __atomic_load_n(&q->len, __ATOMIC_ACQUIRE) != 0;
}

unsigned xen_console_ring_put(struct xen_vcpu *v, const uint8_t *bytes, unsigned n)
{
	struct xencons_interface *ring = gpa_ptr_guest(v->d->mem, v->d->console_gpa, sizeof(*ring));
	XENCONS_RING_IDX cons, prod;
	unsigned put = 0;

	if (!ring)
		return 0;
	cons = __atomic_load_n(&ring->in_cons, __ATOMIC_ACQUIRE);
	prod = ring->in_prod;
	if (prod - cons > sizeof(ring->in))
		return 0; /* corrupted indexes: xenconsoled gives up on such a ring */
	while (put < n && prod - cons < sizeof(ring->in))
		ring->in[MASK_XENCONS_IDX(prod++, ring->in)] = (char)bytes[put++];
	if (!put)
		return 0;
	__atomic_store_n(&ring->in_prod, prod, __ATOMIC_RELEASE);
	if (v->d->console_port)
		xen_evtchn_set_pending(v, v->d->console_port);
	return put;
}

unsigned xen_conin_deliver(struct xen_conin *q, struct xen_vcpu *v)
{
	uint8_t chunk[XEN_CONIN_QUEUE];
	unsigned n, put, first;
	uint64_t count;

	pthread_mutex_lock(&q->lock);
	n = q->len;
	first = XEN_CONIN_QUEUE - q->head < n ? XEN_CONIN_QUEUE - q->head : n;
	memcpy(chunk, q->buf + q->head, first);
	memcpy(chunk + first, q->buf, n - first);
	put = n ? xen_console_ring_put(v, chunk, n) : 0;
	q->head = (q->head + put) % XEN_CONIN_QUEUE;
	__atomic_store_n(&q->len, q->len - put, __ATOMIC_RELEASE);
	if (!q->len) /* drained: the idle wait need not wake for keys any more */
		(void)!read(q->wake_fd, &count, sizeof(count));
	pthread_mutex_unlock(&q->lock);
	return put;
}
