/*
 * serial.c - console output on the 16550A at LODGER_UART_PORT, and a minimal printf.
 *
 * Each port access is a KVM exit (~12 us on kvm_pvm), so output is polled, unbuffered
 * and kept short; no interrupts are used.
 */
#include "rt.h"

#define UART_THR      0 /* transmit holding register */
#define UART_IER      1
#define UART_FCR      2
#define UART_LCR      3
#define UART_MCR      4
#define UART_LSR      5
#define UART_LSR_THRE 0x20

void rt_serial_init(void);
void rt_serial_init(void)
{
	outb(LODGER_UART_PORT + UART_IER, 0);	 /* no interrupts: we poll */
	outb(LODGER_UART_PORT + UART_LCR, 0x03); /* 8N1, DLAB off */
	outb(LODGER_UART_PORT + UART_FCR, 0x01); /* FIFO on */
	outb(LODGER_UART_PORT + UART_MCR, 0x03); /* DTR, RTS */
}

void rt_putc(char c)
{
	/* Bounded: a UART that never drains must not hang the guest silently forever. */
	for (int i = 0; i < 100000; i++)
		if (inb(LODGER_UART_PORT + UART_LSR) & UART_LSR_THRE)
			break;
	outb(LODGER_UART_PORT + UART_THR, (uint8_t)c);
}

void rt_puts(const char *s)
{
	while (*s)
		rt_putc(*s++);
}

static void pad_to(int width, int n, char pad)
{
	for (; width > n; width--)
		rt_putc(pad);
}

/* width < 0: left-justified in -width columns. */
static void put_string(const char *s, int width)
{
	int n = 0;

	while (s[n])
		n++;
	if (width > 0)
		pad_to(width, n, ' ');
	rt_puts(s);
	pad_to(-width, n, ' ');
}

static void put_unsigned(uint64_t v, unsigned base, int width, char pad)
{
	char buf[24];
	int n = 0;

	do {
		unsigned d = (unsigned)(v % base);
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	buf[n] = '\0';
	for (int i = 0; i < n / 2; i++) {
		char t = buf[i];
		buf[i] = buf[n - 1 - i];
		buf[n - 1 - i] = t;
	}
	if (width > 0)
		pad_to(width, n, pad);
	rt_puts(buf);
	pad_to(-width, n, ' ');
}

void rt_vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		int width = 0, longs = 0;
		bool left = false;
		char pad = ' ';
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			rt_putc(*fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '0')
				pad = '0';
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (left)
			width = -width;
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 'c':
			rt_putc((char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			put_string(str ? str : "(null)", width);
			break;
		}
		case 'd':
		case 'i':
			s = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (s < 0) {
				rt_putc('-');
				u = -(uint64_t)s;
			} else {
				u = (uint64_t)s;
			}
			put_unsigned(u, 10, width, pad);
			break;
		case 'u':
			u = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_unsigned(u, 10, width, pad);
			break;
		case 'x':
			u = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_unsigned(u, 16, width, pad);
			break;
		case 'p':
			rt_puts("0x");
			put_unsigned((uint64_t)va_arg(ap, void *), 16, width, pad);
			break;
		case '%':
			rt_putc('%');
			break;
		case '\0':
			return;
		default: /* unknown: show it rather than guess */
			rt_putc('%');
			rt_putc(*fmt);
			break;
		}
	}
}

void rt_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
}
