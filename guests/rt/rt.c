/*
 * rt.c - the runtime's C entry, the report helpers and the few libc functions GCC may
 * call on its own (memset, memcpy, memmove, memcmp: -ffreestanding does not stop it).
 */
#include "rt.h"

struct rt_boot rt_boot;

static bool limitation_noted;

void rt_trap_init(void);
void rt_cpu_init(void);
void rt_serial_init(void);

static uint16_t lodger_selector(int node, const char *name)
{
	uint32_t v;

	if (!rt_fdt_getprop_u32(rt_boot.fdt, node, name, &v) || v == 0 || v > 0xffff)
		rt_fail("/lodger has no usable \"%s\"", name);
	return (uint16_t)v;
}

/* lodger's boot protocol: RDI = device tree (docs/guest-contract.md). */
static void lodger_boot(uint64_t fdt)
{
	int node;
	const void *reg;
	uint32_t len;

	rt_boot.fdt = (const void *)fdt;
	if (!rt_fdt_valid(rt_boot.fdt))
		rt_fail("no valid device tree at RDI");

	node = rt_fdt_path_offset(rt_boot.fdt, LODGER_FDT_NODE);
	if (node < 0)
		rt_fail("device tree has no %s node", LODGER_FDT_NODE);
	rt_boot.kernel_cs = lodger_selector(node, LODGER_FDT_PROP_KERNEL_CS);
	rt_boot.kernel_ds = lodger_selector(node, LODGER_FDT_PROP_KERNEL_DS);
	rt_boot.user_cs = lodger_selector(node, LODGER_FDT_PROP_USER_CS);
	rt_boot.user_ds = lodger_selector(node, LODGER_FDT_PROP_USER_DS);
	rt_boot.user32_cs = lodger_selector(node, LODGER_FDT_PROP_USER32_CS);

	node = rt_fdt_path_offset(rt_boot.fdt, "/memory");
	reg = node < 0 ? NULL : rt_fdt_getprop(rt_boot.fdt, node, "reg", &len);
	if (!reg || len < 16)
		rt_fail("device tree has no /memory reg");
	rt_boot.ram_size = rt_be64((const uint8_t *)reg + 8);
	rt_boot.cmdline = rt_fdt_getprop_string(
		rt_boot.fdt, rt_fdt_path_offset(rt_boot.fdt, "/chosen"), "bootargs");
	if (!rt_boot.cmdline)
		rt_boot.cmdline = "";
}

/*
 * Called by _start: RDI = device tree and RSI = LODGER_BOOT_MAGIC from lodger, or, in a
 * guest linked with pvh.S and booted by QEMU, RDI = hvm_start_info and RSI = its magic.
 */
_Noreturn void rt_main(uint64_t fdt, uint64_t magic);
_Noreturn void rt_main(uint64_t fdt, uint64_t magic)
{
	rt_trap_init();
	rt_serial_init();
	rt_boot.magic = magic;
	/* Without a magic we know, RDI means nothing: stop before reading through it. */
	if (magic == LODGER_BOOT_MAGIC)
		lodger_boot(fdt);
	else if (!rt_pvh_boot(fdt, magic))
		rt_fail("boot magic is 0x%lx, not 0x%x", magic, LODGER_BOOT_MAGIC);
	rt_cpu_init();
	rt_mem_init();
	guest_main();
	rt_fail("guest_main returned without DONE()");
}

/* ---- the command line ------------------------------------------------------------------ */

bool rt_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

bool rt_bootarg(const char *key, char *buf, size_t size)
{
	const char *p = rt_boot.cmdline;

	while (p && *p) {
		const char *k = key;
		size_t n = 0;

		while (*p == ' ')
			p++;
		while (*k && *p == *k) {
			p++;
			k++;
		}
		if (!*k && (*p == '=' || *p == ' ' || !*p)) {
			if (*p == '=')
				p++;
			while (p[n] && p[n] != ' ')
				n++;
			if (n >= size)
				return false;
			for (size_t i = 0; i < n; i++)
				buf[i] = p[i];
			buf[n] = 0;
			return true;
		}
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

/* ---- leaving ------------------------------------------------------------------------- */

_Noreturn void rt_debug_exit(uint8_t v)
{
	outb(LODGER_DEBUG_EXIT_PORT, v);
	/* Only reached if the device is missing: stop without a result. */
	for (;;)
		__asm__ volatile("cli; hlt");
}

_Noreturn void rt_poweroff(void)
{
	outw(LODGER_POWEROFF_PORT, LODGER_POWEROFF_VALUE);
	/* QEMU (a PVH boot) powers off from its main loop, a little later: wait a few
	 * seconds of TSC for it. lodger stops at the write itself. */
	if (rt_boot.pvh) {
		uint32_t lo, hi;
		uint64_t start;

		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		start = (uint64_t)hi << 32 | lo;
		do
			__asm__ volatile("pause; rdtsc" : "=a"(lo), "=d"(hi));
		while (((uint64_t)hi << 32 | lo) - start < (10ULL << 30));
	}
	rt_printf("%s: FAIL power-off did not stop the machine\n", rt_guest_name);
	rt_debug_exit(RT_EXIT_FAIL);
}

/* ---- the story ------------------------------------------------------------------------ */

void rt_step(const char *what)
{
	rt_printf("%s: STEP %s\n", rt_guest_name, what);
}

_Noreturn void rt_check_failed(const char *file, int line, const char *expr, bool values,
			       uint64_t a, uint64_t b)
{
	if (values)
		rt_printf("%s: FAIL %s:%d: %s (a=0x%lx b=0x%lx)\n", rt_guest_name, file, line, expr,
			  a, b);
	else
		rt_printf("%s: FAIL %s:%d: %s\n", rt_guest_name, file, line, expr);
	rt_debug_exit(RT_EXIT_FAIL);
}

_Noreturn void rt_fail(const char *fmt, ...)
{
	va_list ap;

	rt_printf("%s: FAIL ", rt_guest_name);
	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
	rt_putc('\n');
	rt_debug_exit(RT_EXIT_FAIL);
}

void rt_note_limitation(const char *reason)
{
	rt_printf("%s: LIMITATION: %s\n", rt_guest_name, reason);
	limitation_noted = true;
}

_Noreturn void rt_limitation(const char *reason)
{
	rt_note_limitation(reason);
	rt_debug_exit(RT_EXIT_LIMITATION);
}

_Noreturn void rt_done(void)
{
	/* Every check ran, but some could not run as the architecture says: not a pass. */
	if (limitation_noted)
		rt_debug_exit(RT_EXIT_LIMITATION);
	rt_printf("%s: PASS\n", rt_guest_name);
	rt_poweroff();
}

/* ---- what GCC may call ------------------------------------------------------------------ */

/* String instructions: KVM's emulator runs a rep-prefixed one in a single exit. */
void *memset(void *d, int c, size_t n)
{
	void *r = d;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return r;
}

void *rt_memset(void *d, int c, size_t n)
{
	return memset(d, c, n);
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return r;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

uint64_t rt_bootarg_hex(const char *key)
{
	char buf[24];
	uint64_t v = 0;

	if (!rt_bootarg(key, buf, sizeof(buf)) || buf[0] != '0' || buf[1] != 'x')
		return 0;
	for (const char *p = buf + 2; *p; p++) {
		char c = *p | 0x20;

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return 0;
		v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return v;
}

uint64_t rt_call_on_stack(uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t top)
{
	uint64_t ret;

	/* The old RSP is saved on the new stack; the extra 8 keeps the call 16-aligned. */
	__asm__ volatile("movq %%rsp, %%rbx\n\t"
			 "movq %[top], %%rsp\n\t"
			 "pushq %%rbx\n\t"
			 "subq $8, %%rsp\n\t"
			 "call *%[fn]\n\t"
			 "addq $8, %%rsp\n\t"
			 "popq %%rsp\n\t"
			 : "=a"(ret)
			 : [top] "r"(top), [fn] "r"(fn), "D"(arg)
			 : "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory", "cc");
	return ret;
}
