/*
 * uart16550.c - 16550A UART at I/O port 0x3f8, IRQ 4: the guest console.
 *
 * Emulated: the eight registers with the divisor latch, the IER/IIR interrupt logic
 * (received data, THR empty, line status), the scratch register, loopback (MCR bit 4)
 * and a receive FIFO. Transmission is instantaneous, so LSR always reports THRE|TEMT.
 * Left out: baud-rate timing, modem-line changes, FIFO trigger levels (the received-data
 * interrupt fires on the first byte) and the character-timeout interrupt.
 * Output goes to stdout, a file or nowhere (-serial); input comes from stdin when it is a
 * terminal (src/dev/serial.c).
 */
#include "dev/uart16550.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "front/log.h"

/* Register offsets, as in the 16550A datasheet. */
enum {
	UART_RBR_THR = 0, /* DLAB=1: DLL */
	UART_IER = 1,	  /* DLAB=1: DLM */
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define IER_RDI	 0x01 /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MASK 0x0f

#define IIR_NO_INT	 0x01
#define IIR_RLSI	 0x06
#define IIR_RDI		 0x04
#define IIR_THRI	 0x02
#define IIR_FIFO_ENABLED 0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	 0x01
#define LSR_OE	 0x02
#define LSR_BI	 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_DCD 0x80

void uart_model_init(struct uart *u, int out_fd, uart_irq_fn set_irq, void *irq_ctx)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	u->set_irq = set_irq;
	u->irq_ctx = irq_ctx;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
}

void uart_model_destroy(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}

/* Highest-priority pending interrupt, as IIR reports it. */
static uint8_t pending_iir(const struct uart *u)
{
	if ((u->ier & IER_RLSI) && (u->lsr & (LSR_OE | LSR_BI)))
		return IIR_RLSI;
	if ((u->ier & IER_RDI) && (u->lsr & LSR_DR))
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thr_ipending)
		return IIR_THRI;
	return IIR_NO_INT;
}

static void update_irq(struct uart *u)
{
	bool level = pending_iir(u) != IIR_NO_INT;

	if (level != u->irq_level && u->set_irq)
		u->set_irq(u->irq_ctx, level);
	u->irq_level = level;
}

static void rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count == UART_RX_FIFO) {
		u->lsr |= LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count++) % UART_RX_FIFO] = byte;
	u->lsr |= LSR_DR;
}

static uint8_t rx_pop(struct uart *u)
{
	uint8_t byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_RX_FIFO;
	if (!--u->rx_count)
		u->lsr &= ~LSR_DR;
	return byte;
}

static void transmit(struct uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP) {
		rx_push(u, byte);
	} else if (u->out_fd >= 0) {
		ssize_t n;

		/* The console is best effort: a closed pipe must not stop the guest. */
		while ((n = write(u->out_fd, &byte, 1)) < 0 && errno == EINTR)
			;
		if (n < 0 && errno != EAGAIN) {
			int err = errno;

			u->out_fd = -1;
			if (u->out_error)
				u->out_error(u->out_error_ctx, err);
		}
	}
	u->thr_ipending = true;
}

static void uart_write(struct uart *u, unsigned reg, uint8_t v)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab) {
			u->dll = v;
			break;
		}
		u->thr_ipending = false;
		transmit(u, v);
		break;
	case UART_IER:
		if (dlab) {
			u->dlm = v;
			break;
		}
		/* Enabling THRI with the holder empty raises it at once, as on a 16550A. */
		if (!(u->ier & IER_THRI) && (v & IER_THRI))
			u->thr_ipending = true;
		u->ier = v & IER_MASK;
		break;
	case UART_IIR_FCR:
		u->fcr = v & FCR_ENABLE ? v : 0;
		if (v & FCR_CLEAR_RX) {
			u->rx_count = 0;
			u->lsr &= ~LSR_DR;
		}
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & MCR_MASK;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

static uint8_t uart_read(struct uart *u, unsigned reg)
{
	bool dlab = u->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case UART_RBR_THR:
		return dlab ? u->dll : rx_pop(u);
	case UART_IER:
		return dlab ? u->dlm : u->ier;
	case UART_IIR_FCR:
		v = pending_iir(u);
		if (v == IIR_THRI)
			u->thr_ipending = false; /* reading IIR acknowledges THR empty */
		return v | (u->fcr & FCR_ENABLE ? IIR_FIFO_ENABLED : 0);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = u->lsr;
		u->lsr &= ~(LSR_OE | LSR_BI); /* error bits clear on read */
		return v;
	case UART_MSR:
		if (u->mcr & MCR_LOOP) /* loopback: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD */
			return ((u->mcr & 0x02) << 3) | ((u->mcr & 0x01) << 5) |
			       ((u->mcr & 0x0c) << 4);
		return u->msr;
	default:
		return u->scr;
	}
}

void uart_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct uart *u = opaque;

	/* The 16550A is a byte device; wider accesses touch one register and read 0xff above. */
	pthread_mutex_lock(&u->lock);
	if (is_write) {
		uart_write(u, offset, data[0]);
	} else {
		memset(data, 0xff, len);
		data[0] = uart_read(u, offset);
	}
	pr_debug(LOG_SERIAL, "%s reg %llu = %#x", is_write ? "write" : "read",
		 (unsigned long long)offset, data[0]);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

unsigned uart_receive(struct uart *u, const uint8_t *bytes, unsigned n)
{
	unsigned taken = 0;

	pthread_mutex_lock(&u->lock);
	while (taken < n && u->rx_count < UART_RX_FIFO)
		rx_push(u, bytes[taken++]);
	if (taken < n)
		u->lsr |= LSR_OE; /* the rest is lost, as on a UART whose FIFO is full */
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return taken;
}

void uart_on_output_error(struct uart *u, void (*fn)(void *ctx, int err), void *ctx)
{
	u->out_error = fn;
	u->out_error_ctx = ctx;
}

void uart_break(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	rx_push(u, 0);
	u->lsr |= LSR_BI;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}
