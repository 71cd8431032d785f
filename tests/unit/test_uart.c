/*
 * test_uart.c - the 16550A model (src/dev/uart16550.c), driven register by register.
 *
 * Transmitted bytes go to the write end of a pipe and are read back from the read end
 * (non-blocking, so "nothing was sent" is checkable); the IRQ callback records the line.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "dev/uart16550.h"

enum {
	RBR = 0,
	THR = 0,
	DLL = 0,
	IER = 1,
	DLM = 1,
	IIR = 2,
	FCR = 2,
	LCR = 3,
	MCR = 4,
	LSR = 5,
	MSR = 6,
	SCR = 7
};

#define LSR_DR	 0x01
#define LSR_OE	 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

static struct uart uart;
static int pipefd[2];
static bool irq_level;
static unsigned irq_changes;

static void set_irq(void *ctx, bool level)
{
	cr_assert_eq(ctx, &irq_level, "expected the irq context given at init");
	irq_level = level;
	irq_changes++;
}

static void setup(void)
{
	cr_assert_eq(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
	irq_level = false;
	irq_changes = 0;
	uart_model_init(&uart, pipefd[1], set_irq, &irq_level);
}

static void teardown(void)
{
	uart_model_destroy(&uart);
	close(pipefd[0]);
	close(pipefd[1]);
}

TestSuite(uart, .init = setup, .fini = teardown);

static void wr(unsigned reg, uint8_t v)
{
	uart_io(&uart, reg, &v, 1, true);
}

static uint8_t rd(unsigned reg)
{
	uint8_t v = 0;

	uart_io(&uart, reg, &v, 1, false);
	return v;
}

/* Bytes waiting on the pipe (up to max); 0 when nothing was sent. */
static ssize_t sent(uint8_t *buf, size_t max)
{
	ssize_t n = read(pipefd[0], buf, max);

	return n < 0 && errno == EAGAIN ? 0 : n;
}

Test(uart, a_thr_write_goes_to_the_output_fd)
{
	uint8_t buf[8];
	ssize_t n;

	wr(THR, 'h');
	wr(THR, 'i');
	n = sent(buf, sizeof(buf));
	cr_assert_eq(n, 2, "expected 2 bytes on the fd, got %zd", n);
	cr_assert(buf[0] == 'h' && buf[1] == 'i', "expected \"hi\", got %02x %02x", buf[0], buf[1]);
}

Test(uart, lsr_always_reports_the_transmitter_empty)
{
	uint8_t lsr = rd(LSR);

	cr_assert_eq(lsr & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT,
		     "expected THRE|TEMT (0x60) set at reset, LSR = %#x", lsr);
	wr(THR, 'x');
	lsr = rd(LSR);
	cr_assert_eq(lsr & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT,
		     "expected THRE|TEMT (0x60) set after a write, LSR = %#x", lsr);
	cr_assert_eq(lsr & LSR_DR, 0, "expected no data ready, LSR = %#x", lsr);
}

Test(uart, the_divisor_latch_reads_back_and_does_not_transmit)
{
	uint8_t buf[4];
	ssize_t n;
	uint8_t dll, dlm;

	wr(LCR, 0x83); /* DLAB, 8N1 */
	wr(DLL, 0x01);
	wr(DLM, 0x02);
	dll = rd(DLL);
	dlm = rd(DLM);
	cr_assert_eq(dll, 0x01, "expected DLL 0x01, got %#x", dll);
	cr_assert_eq(dlm, 0x02, "expected DLM 0x02, got %#x", dlm);
	n = sent(buf, sizeof(buf));
	cr_assert_eq(n, 0, "expected nothing transmitted while DLAB is set, got %zd bytes", n);
}

Test(uart, clearing_dlab_restores_ier_and_thr)
{
	uint8_t buf[4], ier;
	ssize_t n;

	wr(LCR, 0x80);
	wr(DLM, 0x0c);
	wr(LCR, 0x03);
	ier = rd(IER);
	cr_assert_eq(ier, 0, "expected IER 0 (the DLM write must not reach IER), got %#x", ier);
	wr(THR, 'z');
	n = sent(buf, sizeof(buf));
	cr_assert(n == 1 && buf[0] == 'z', "expected 'z' sent after DLAB cleared, got %zd bytes",
		  n);
}

Test(uart, the_scratch_register_reads_back)
{
	uint8_t v;

	wr(SCR, 0xa5);
	v = rd(SCR);
	cr_assert_eq(v, 0xa5, "expected SCR 0xa5, got %#x", v);
}

Test(uart, iir_reports_no_interrupt_when_nothing_is_pending)
{
	uint8_t iir = rd(IIR);

	cr_assert_eq(iir, 0x01, "expected IIR 0x01, got %#x", iir);
}

Test(uart, iir_reports_fifos_enabled_after_fcr_bit_0)
{
	uint8_t iir;

	wr(FCR, 0x01);
	iir = rd(IIR);
	cr_assert_eq(iir, 0xc1, "expected IIR 0xc1, got %#x", iir);
	wr(FCR, 0x00);
	iir = rd(IIR);
	cr_assert_eq(iir, 0x01, "expected IIR 0x01 once FIFOs are disabled, got %#x", iir);
}

Test(uart, enabling_thri_raises_the_irq_and_iir_reports_thr_empty)
{
	uint8_t iir;

	wr(IER, 0x02);
	cr_assert(irq_level, "expected the IRQ raised when IER.THRI is enabled");
	iir = rd(IIR);
	cr_assert_eq(iir, 0x02, "expected IIR 0x02 (THR empty), got %#x", iir);
}

Test(uart, reading_iir_acknowledges_thr_empty_and_drops_the_irq)
{
	uint8_t iir;

	wr(IER, 0x02);
	cr_assert(irq_level, "expected the IRQ raised when IER.THRI is enabled");
	rd(IIR);
	cr_assert_not(irq_level, "expected the IRQ dropped after IIR was read");
	iir = rd(IIR);
	cr_assert_eq(iir, 0x01, "expected IIR 0x01 after the acknowledgement, got %#x", iir);
}

Test(uart, a_thr_write_with_thri_enabled_raises_the_irq_again)
{
	wr(IER, 0x02);
	rd(IIR);
	cr_assert_not(irq_level, "expected the IRQ dropped after IIR was read");
	wr(THR, 'a');
	cr_assert(irq_level, "expected the IRQ raised again once the byte is sent");
}

Test(uart, received_bytes_set_data_ready)
{
	uint8_t lsr;
	unsigned n = uart_receive(&uart, (const uint8_t *)"x", 1);

	cr_assert_eq(n, 1, "expected 1 byte taken, got %u", n);
	lsr = rd(LSR);
	cr_assert(lsr & LSR_DR, "expected LSR.DR set, LSR = %#x", lsr);
	cr_assert_not(irq_level, "expected no IRQ with IER.RDI off");
}

Test(uart, received_bytes_raise_the_irq_with_rdi_and_iir_reports_data)
{
	uint8_t iir;

	wr(IER, 0x01);
	cr_assert_not(irq_level, "expected no IRQ before data arrives");
	uart_receive(&uart, (const uint8_t *)"x", 1);
	cr_assert(irq_level, "expected the IRQ raised by received data with IER.RDI");
	iir = rd(IIR);
	cr_assert_eq(iir, 0x04, "expected IIR 0x04 (received data), got %#x", iir);
}

Test(uart, received_bytes_read_back_in_order_and_data_ready_clears_when_empty)
{
	const uint8_t in[] = {'a', 'b', 'c'};
	uint8_t lsr;

	wr(IER, 0x01);
	uart_receive(&uart, in, sizeof(in));
	for (unsigned i = 0; i < sizeof(in); i++) {
		uint8_t v = rd(RBR);

		cr_assert_eq(v, in[i], "expected byte %u = '%c', got %#x", i, in[i], v);
	}
	lsr = rd(LSR);
	cr_assert_eq(lsr & LSR_DR, 0, "expected LSR.DR clear when empty, LSR = %#x", lsr);
	cr_assert_not(irq_level, "expected the IRQ dropped when the FIFO is empty");
}

Test(uart, receive_takes_no_more_than_the_fifo_holds)
{
	uint8_t in[UART_RX_FIFO + 10];
	unsigned n;

	memset(in, 'q', sizeof(in));
	n = uart_receive(&uart, in, sizeof(in));
	cr_assert_eq(n, UART_RX_FIFO, "expected %d bytes taken, got %u", UART_RX_FIFO, n);
}

Test(uart, fifo_overflow_sets_overrun_and_reading_lsr_clears_it)
{
	uint8_t lsr;

	wr(MCR, 0x10); /* loopback: every THR write is received */
	for (unsigned i = 0; i < UART_RX_FIFO; i++)
		wr(THR, (uint8_t)i);
	lsr = rd(LSR);
	cr_assert_eq(lsr & LSR_OE, 0, "expected no overrun with the FIFO just full, LSR = %#x",
		     lsr);
	wr(THR, 0xee);
	lsr = rd(LSR);
	cr_assert(lsr & LSR_OE, "expected LSR.OE after overflow, LSR = %#x", lsr);
	lsr = rd(LSR);
	cr_assert_eq(lsr & LSR_OE, 0, "expected LSR.OE cleared by the read, LSR = %#x", lsr);
	cr_assert(lsr & LSR_DR, "expected the data still ready, LSR = %#x", lsr);
}

Test(uart, overrun_raises_a_line_status_interrupt_with_rlsi)
{
	uint8_t iir;

	wr(MCR, 0x10);
	for (unsigned i = 0; i <= UART_RX_FIFO; i++)
		wr(THR, (uint8_t)i);
	wr(IER, 0x04);
	cr_assert(irq_level, "expected the IRQ raised by an overrun with IER.RLSI");
	iir = rd(IIR);
	cr_assert_eq(iir, 0x06, "expected IIR 0x06 (line status), got %#x", iir);
	rd(LSR);
	cr_assert_not(irq_level, "expected the IRQ dropped once LSR was read");
}

Test(uart, loopback_receives_a_thr_write_instead_of_sending_it)
{
	uint8_t buf[4], v;
	ssize_t n;

	wr(MCR, 0x10);
	wr(THR, 'L');
	n = sent(buf, sizeof(buf));
	cr_assert_eq(n, 0, "expected nothing on the fd in loopback, got %zd bytes", n);
	v = rd(RBR);
	cr_assert_eq(v, 'L', "expected 'L' in RBR, got %#x", v);
}

Test(uart, msr_in_loopback_maps_rts_to_cts)
{
	uint8_t msr;

	wr(MCR, 0x10 | 0x02);
	msr = rd(MSR);
	cr_assert_eq(msr & 0xf0, 0x10, "expected CTS (0x10) only, MSR = %#x", msr);
}

Test(uart, msr_in_loopback_maps_dtr_to_dsr)
{
	uint8_t msr;

	wr(MCR, 0x10 | 0x01);
	msr = rd(MSR);
	cr_assert_eq(msr & 0xf0, 0x20, "expected DSR (0x20) only, MSR = %#x", msr);
}

Test(uart, msr_in_loopback_maps_out1_to_ri)
{
	uint8_t msr;

	wr(MCR, 0x10 | 0x04);
	msr = rd(MSR);
	cr_assert_eq(msr & 0xf0, 0x40, "expected RI (0x40) only, MSR = %#x", msr);
}

Test(uart, msr_in_loopback_maps_out2_to_dcd)
{
	uint8_t msr;

	wr(MCR, 0x10 | 0x08);
	msr = rd(MSR);
	cr_assert_eq(msr & 0xf0, 0x80, "expected DCD (0x80) only, MSR = %#x", msr);
}

Test(uart, msr_in_loopback_with_no_modem_outputs_is_clear)
{
	uint8_t msr;

	wr(MCR, 0x10);
	msr = rd(MSR);
	cr_assert_eq(msr & 0xf0, 0x00, "expected no modem inputs, MSR = %#x", msr);
}

Test(uart, a_wide_read_fills_the_upper_bytes_with_ones)
{
	uint8_t data[2] = {0, 0};

	wr(SCR, 0x42);
	uart_io(&uart, SCR, data, 2, false);
	cr_assert(data[0] == 0x42 && data[1] == 0xff, "expected 42 ff, got %02x %02x", data[0],
		  data[1]);
}
