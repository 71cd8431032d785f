/*
 * serial.h - where the terminal's keys go. By default the UART's receiver; a guest whose
 * console is elsewhere (a Xen PV guest's console ring, xen/console_input.h) takes them
 * here. The Ctrl-A keys stay lodger's either way (front/console.h).
 */
#ifndef LODGER_SERIAL_H
#define LODGER_SERIAL_H

#include <stdint.h>

typedef void serial_receive_fn(void *ctx, const uint8_t *bytes, unsigned n);

/* From now on the terminal's keys go to receive(ctx, ...) (called from the console's
 * thread); NULL gives them back to the UART. */
void serial_route_input(serial_receive_fn *receive, void *ctx);

#endif
