/*
 * uart16550.h - a 16550A UART model, independent of KVM so tests can drive it.
 *
 * The model is the register file and its interrupt logic; the caller supplies where
 * transmitted bytes go (an fd, or -1 to drop them) and how to drive the IRQ line.
 */
#ifndef LODGER_UART16550_H
#define LODGER_UART16550_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define UART_RX_FIFO 256 /* deeper than a real 16550A's 16, so a paste is not dropped */

typedef void (*uart_irq_fn)(void *ctx, bool level);

struct uart {
	pthread_mutex_t lock; /* the vCPU thread and the stdin reader both touch it */
	int out_fd;
	uart_irq_fn set_irq;
	void *irq_ctx;
	bool irq_level;

	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint8_t dll, dlm;
	bool thr_ipending; /* THR-empty interrupt armed, until IIR read or THR write */
	uint8_t rx[UART_RX_FIFO];
	unsigned rx_head, rx_count;
	void (*out_error)(void *ctx, int err); /* output failed: said once, then dropped */
	void *out_error_ctx;
};

void uart_model_init(struct uart *u, int out_fd, uart_irq_fn set_irq, void *irq_ctx);
void uart_model_destroy(struct uart *u);

/* One guest access at `offset` (0..7) from the base port. */
void uart_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

/* Calls fn once when a write of the output fails (EPIPE: a closed pipe); the output is
 * dropped from then on, and the guest goes on. */
void uart_on_output_error(struct uart *u, void (*fn)(void *ctx, int err), void *ctx);

/* A break on the line (Ctrl-A b): LSR.BI with a zero byte received, as a 16550A does. */
void uart_break(struct uart *u);

/* Queues received bytes (from the terminal); returns how many fitted, and flags an
 * overrun (LSR.OE) when some did not. */
unsigned uart_receive(struct uart *u, const uint8_t *bytes, unsigned n);

#endif
