/*
 * cpu.c - the guest's own GDT, TSS and IDT, and trap dispatch.
 *
 * lodger's boot GDT/TSS live in reserved RAM and the boot IDTR is empty, so a guest that
 * wants to take exceptions builds its own. The selectors are not ours to choose: /lodger
 * names the kernel and user ones, and we place a descriptor at each selector's index with
 * DPL = the selector's RPL (in shadow mode the "kernel" selectors may well have RPL 3).
 * Our TSS goes in the first two free slots.
 */
#include "rt.h"

#define GDT_ENTRIES	128 /* room for whatever indexes /lodger names */
#define TRAP_STACK_SIZE 8192
#define DF_STACK_SIZE	4096

/* Descriptor access bytes: present, S=1, type; "accessed" preset so the CPU never writes. */
#define DESC_CODE 0x9b /* execute/read, accessed */
#define DESC_DATA 0x93 /* read/write, accessed */
#define DESC_TSS  0x89 /* 64-bit TSS, available */
#define DESC_G_L  0xa  /* flags: 4 KiB granularity, 64-bit code */
#define DESC_G_DB 0xc  /* flags: 4 KiB granularity, 32-bit */

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

struct idt_gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t off1;
	uint32_t off2;
	uint32_t zero;
};

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[256] __attribute__((aligned(16)));
static rt_handler_t handlers[256];
static uint8_t trap_stack[TRAP_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t df_stack[DF_STACK_SIZE] __attribute__((aligned(16)));

extern char rt_trap_stubs[];
void rt_trap(struct rt_frame *f);
void rt_trap_init(void);
void rt_cpu_init(void);

/* ---- IDT ------------------------------------------------------------------------------ */

static void set_gate_to(unsigned v, uint64_t off, uint16_t cs, unsigned dpl, unsigned ist)
{
	idt[v].off0 = (uint16_t)off;
	idt[v].sel = cs;
	idt[v].ist = (uint8_t)ist;
	idt[v].type_attr = (uint8_t)(0x8e | (dpl << 5)); /* present 64-bit interrupt gate */
	idt[v].off1 = (uint16_t)(off >> 16);
	idt[v].off2 = (uint32_t)(off >> 32);
	idt[v].zero = 0;
}

static void set_gate(unsigned v, uint16_t cs, unsigned dpl, unsigned ist)
{
	set_gate_to(v, (uint64_t)rt_trap_stubs + 16 * v, cs, dpl, ist);
}

static void load_idt(uint16_t cs)
{
	struct desc_ptr idtr = {sizeof(idt) - 1, (uint64_t)idt};

	for (unsigned v = 0; v < 256; v++)
		set_gate(v, cs, 0, v == VEC_DF ? 1 : 0); /* #DF on its own stack (IST1) */
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* First thing at boot: nothing may fault before there is an IDT (lodger gives none). */
void rt_trap_init(void)
{
	load_idt(read_cs());
}

void rt_set_handler(uint8_t vector, rt_handler_t h)
{
	handlers[vector] = h;
}

void rt_set_gate_entry(uint8_t vector, const void *entry)
{
	unsigned dpl = (idt[vector].type_attr >> 5) & 3;

	if (entry)
		set_gate_to(vector, (uint64_t)entry, idt[vector].sel, dpl, idt[vector].ist);
	else
		set_gate(vector, idt[vector].sel, dpl, idt[vector].ist);
}

static struct rt_segments frame_segments;
struct rt_segments rt_user_exit_segments;
struct rt_frame rt_user_exit_frame;

static void record_segments(struct rt_frame *f)
{
	frame_segments.cs = f->cs;
	frame_segments.ss = f->ss;
}

struct rt_segments rt_frame_segments(void)
{
	rt_handler_t old = handlers[VEC_BP];

	handlers[VEC_BP] = record_segments;
	__asm__ volatile("int3" : : : "memory");
	handlers[VEC_BP] = old;
	return frame_segments;
}

void rt_set_gate_dpl(uint8_t vector, unsigned dpl)
{
	idt[vector].type_attr = (uint8_t)(0x8e | ((dpl & 3) << 5));
}

/* ---- GDT and TSS ---------------------------------------------------------------------- */

static uint64_t seg_desc(unsigned access, unsigned dpl, unsigned flags)
{
	/* base 0, limit 0xfffff (ignored in 64-bit mode, but sane for compat code) */
	return 0xffffULL | (uint64_t)(access | (dpl << 5)) << 40 | 0xfULL << 48 |
	       (uint64_t)flags << 52;
}

static void place(uint16_t sel, uint64_t desc)
{
	unsigned i = sel >> 3;

	if ((sel & 4) || i == 0 || i >= GDT_ENTRIES)
		rt_fail("selector 0x%x is not a usable GDT selector", sel);
	if (gdt[i])
		rt_fail("two /lodger selectors share GDT index %u", i);
	gdt[i] = desc;
}

void rt_cpu_init(void)
{
	uint16_t cs = rt_boot.kernel_cs, ds = rt_boot.kernel_ds;
	struct desc_ptr gdtr = {sizeof(gdt) - 1, (uint64_t)gdt};
	uint64_t base = (uint64_t)&tss;
	unsigned t;

	place(cs, seg_desc(DESC_CODE, cs & 3, DESC_G_L));
	place(ds, seg_desc(DESC_DATA, ds & 3, DESC_G_DB));
	place(rt_boot.user_cs, seg_desc(DESC_CODE, rt_boot.user_cs & 3, DESC_G_L));
	place(rt_boot.user_ds, seg_desc(DESC_DATA, rt_boot.user_ds & 3, DESC_G_DB));
	place(rt_boot.user32_cs, seg_desc(DESC_CODE, rt_boot.user32_cs & 3, DESC_G_DB));

	/* The TSS descriptor is 16 bytes: the first two consecutive free slots. */
	for (t = 1; t + 1 < GDT_ENTRIES; t++)
		if (!gdt[t] && !gdt[t + 1])
			break;
	if (t + 1 >= GDT_ENTRIES)
		rt_fail("no free GDT slot for the TSS");
	gdt[t] = (sizeof(tss) - 1) | (base & 0xffffff) << 16 | (uint64_t)DESC_TSS << 40 |
		 ((base >> 24) & 0xff) << 56;
	gdt[t + 1] = base >> 32;
	rt_boot.tss_sel = (uint16_t)(t << 3);

	rt_boot.trap_stack_top = (uint64_t)trap_stack + sizeof(trap_stack);
	tss.rsp[0] = rt_boot.trap_stack_top;
	tss.ist[0] = (uint64_t)df_stack + sizeof(df_stack);
	tss.iomap_base = sizeof(tss); /* no I/O bitmap */

	__asm__ volatile("lgdt %0" : : "m"(gdtr));
	/* Reload CS from our GDT with a far return, then the data segments. */
	__asm__ volatile("pushq %q0\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:"
			 :
			 : "r"((uint64_t)cs)
			 : "rax", "memory");
	__asm__ volatile("mov %0, %%ds\n\t"
			 "mov %0, %%es\n\t"
			 "mov %0, %%ss\n\t"
			 "mov %1, %%fs\n\t"
			 "mov %1, %%gs"
			 :
			 : "r"(ds), "r"((uint16_t)0));
	__asm__ volatile("ltr %0" : : "r"(rt_boot.tss_sel));

	/* The early IDT used the CS we were entered with; the gates must name kernel-cs. */
	if (idt[0].sel != cs)
		load_idt(cs);
}

/* ---- dispatch --------------------------------------------------------------------------- */

static const char *const names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
	"#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	"#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

const char *rt_vector_name(unsigned vector)
{
	return vector < 32 ? names[vector] : "interrupt";
}

_Noreturn void rt_unexpected(struct rt_frame *f)
{
	static int nested;

	/* A fault while reporting one: give up quietly rather than loop. */
	if (nested++)
		rt_debug_exit(RT_EXIT_FAIL);
	rt_printf("%s: FAIL unexpected %s (vector %lu) error 0x%lx at rip 0x%lx cr2 0x%lx%s\n",
		  rt_guest_name, rt_vector_name((unsigned)f->vector), f->vector, f->error, f->rip,
		  read_cr2(), (f->cs & 0xffff) == rt_boot.user_cs ? " in user mode" : "");
	rt_debug_exit(RT_EXIT_FAIL);
}

/* Called by rt_trap_common (entry.S) with the frame on the stack it arrived on. */
void rt_trap(struct rt_frame *f)
{
	rt_handler_t h = handlers[f->vector & 0xff];

	/* CPL3 code that is finished jumps to rt_user_exit (a ud2): back to rt_user_call. */
	if (f->vector == VEC_UD && f->rip == (uint64_t)rt_user_exit) {
		rt_user_exit_segments.cs = f->cs;
		rt_user_exit_segments.ss = f->ss;
		rt_user_exit_frame = *f;
		rt_user_return(f->rax);
	}
	if (!h)
		rt_unexpected(f);
	h(f);
}

bool rt_fixup(struct rt_frame *f)
{
	extern const uint64_t __start_rt_extable[], __stop_rt_extable[];

	for (const uint64_t *e = __start_rt_extable; e < __stop_rt_extable; e += 2) {
		if (e[0] == f->rip) {
			f->rip = e[1];
			return true;
		}
	}
	return false;
}

uint64_t rt_probe_read(uint64_t va)
{
	uint64_t v;

	__asm__ volatile("xorl %k0, %k0\n"
			 "1:\tmovq (%1), %0\n"
			 "2:\n" RT_EXTABLE("1b", "2b")
			 : "=&r"(v)
			 : "r"(va)
			 : "memory");
	return v;
}

void rt_probe_write(uint64_t va, uint64_t v)
{
	__asm__ volatile("1:\tmovq %1, (%0)\n"
			 "2:\n" RT_EXTABLE("1b", "2b")
			 :
			 : "r"(va), "r"(v)
			 : "memory");
}
