/*
 * console_input.h - keys from lodger's terminal into a Xen PV guest's console ring.
 *
 * The terminal's thread (front/console.c, with the Ctrl-A keys kept for lodger) pushes
 * keys into a queue; the vCPU thread, which alone touches guest memory and the event
 * channels, moves them into the console page's in[] ring as xenconsoled does (bytes,
 * write barrier, in_prod, then the console event channel) and the guest's hvc0 reads them.
 * A queue that is full drops keys, as a UART's FIFO does; a ring whose indexes the guest
 * has corrupted takes nothing.
 */
#ifndef LODGER_XEN_CONSOLE_INPUT_H
#define LODGER_XEN_CONSOLE_INPUT_H

#include <pthread.h>
#include <stdint.h>

#include "xen/state.h"

#define XEN_CONIN_QUEUE 4096

struct xen_conin {
	pthread_mutex_t lock;
	uint8_t buf[XEN_CONIN_QUEUE];
	unsigned head, len;
	int wake_fd; /* an eventfd, readable while keys wait: the core's idle wait polls it */
};

/* 0 or -errno. */
int xen_conin_init(struct xen_conin *q);
void xen_conin_destroy(struct xen_conin *q);

/* From any thread: queues n keys; returns how many were kept. */
unsigned xen_conin_push(struct xen_conin *q, const uint8_t *bytes, unsigned n);

/* From the vCPU thread, cheaply (no lock): whether keys wait. */
bool xen_conin_waiting(struct xen_conin *q);

/* From the vCPU thread: moves what fits into the ring and notifies the console port;
 * returns the number of keys delivered. */
unsigned xen_conin_deliver(struct xen_conin *q, struct xen_vcpu *v);

/* The ring write alone: puts what fits of bytes[0..n) into in[], notifies the console
 * port when anything was put, returns the count. */
unsigned xen_console_ring_put(struct xen_vcpu *v, const uint8_t *bytes, unsigned n);

#endif
