/*
 * rt.h - the tiny freestanding runtime every lodger test guest links with.
 *
 * A guest is an ELF64 image loaded at 1 MiB and entered in long mode at CPL0
 * (docs/guest-contract.md, include/lodger/boot.h). entry.S sets a stack, zeroes .bss and
 * calls rt_main(), which checks the boot magic, reads the device tree, installs the
 * guest's own GDT, TSS and IDT (from the selectors /lodger gives), sets up the page
 * allocator and calls guest_main(). guest_main() tells its story with STEP / CHECK /
 * CHECK_EQ and ends with DONE().
 *
 * Everything here must behave identically when the guest kernel runs at CPL0 (direct
 * mode) and when it runs deprivileged under lodger's monitor (shadow mode): the runtime
 * relies only on architectural behaviour, uses the selectors it is given, and prints
 * nothing that depends on the mode (no CPL, selector values, monitor addresses, timing).
 */
#ifndef GUEST_RT_H
#define GUEST_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lodger/boot.h"

/* ---- exit values written to isa-debug-exit (lodger exits (v << 1) | 1) ------------- */
#define RT_EXIT_FAIL	   0x01 /* a CHECK failed or an exception was unexpected: exit 3 */
#define RT_EXIT_LIMITATION 0x3e /* a known kvm_pvm direct-mode departure: exit 125 */
#define RT_EXIT_STATUS(v)  (((v) << 1) | 1)

/* Each guest names itself once, at file scope: GUEST("hello"); */
#define GUEST(name) const char rt_guest_name[] = name
extern const char rt_guest_name[];

/* The guest's story; it must end in DONE() (returning from it is a failure). */
void guest_main(void);

/* ---- what the runtime learnt at boot ----------------------------------------------- */
struct rt_boot {
	const void *fdt; /* the flattened device tree (RDI at entry) */
	uint64_t magic;	 /* RSI at entry */
	uint64_t ram_size;
	/* Selectors from /lodger: opaque values, placed at their index in our GDT. */
	uint16_t kernel_cs, kernel_ds, user_cs, user_ds, user32_cs;
	uint16_t tss_sel;	 /* a free slot of our choosing */
	uint64_t trap_stack_top; /* TSS.RSP0: traps from CPL3 land here */
	const char *cmdline;	 /* /chosen bootargs, or PVH's command line; never NULL */
	bool pvh;		 /* entered through the PVH note (QEMU -kernel), not lodger's */
};
extern struct rt_boot rt_boot;

/*
 * The PVH way in (pvh.c): true if info/magic are QEMU's hvm_start_info and its magic, after
 * filling rt_boot from it; false (nothing changed) otherwise. Only guests linked with pvh.S
 * are entered that way.
 */
bool rt_pvh_boot(uint64_t info, uint64_t magic);

/* ---- port I/O, MMIO, control registers, MSRs ---------------------------------------- */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t mmio_read32(uint64_t addr)
{
	return *(volatile uint32_t *)addr;
}
static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	*(volatile uint32_t *)addr = v;
}

#define CR0_WP	     (1ULL << 16)
#define CR0_PG	     (1ULL << 31)
#define RFLAGS_CF    (1ULL << 0)
#define RFLAGS_FIXED (1ULL << 1) /* always 1 */
#define RFLAGS_PF    (1ULL << 2)
#define RFLAGS_AF    (1ULL << 4)
#define RFLAGS_ZF    (1ULL << 6)
#define RFLAGS_SF    (1ULL << 7)
#define RFLAGS_IF    (1ULL << 9)
#define RFLAGS_DF    (1ULL << 10)
#define RFLAGS_OF    (1ULL << 11)
/*
 * The flags a trap must carry over unchanged into its frame, and that code can also read
 * with pushfq in both modes. IF is not among them: with the kernel deprivileged (shadow
 * mode) pushfq shows the real IF, not the guest's virtual one, so IF is only ever
 * checked in frames.
 */
#define RFLAGS_STATUS                                                                              \
	(RFLAGS_CF | RFLAGS_FIXED | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_DF |    \
	 RFLAGS_OF)

#define MSR_APIC_BASE 0x1b
#define MSR_EFER      0xc0000080
#define MSR_STAR      0xc0000081
#define MSR_LSTAR     0xc0000082
#define MSR_FMASK     0xc0000084

static inline uint64_t read_cr0(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}
static inline void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}
static inline uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}
static inline uint64_t read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}
static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}
static inline uint64_t read_cr4(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}
static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}
static inline uint64_t read_rflags(void)
{
	uint64_t v;
	__asm__ volatile("pushfq; popq %0" : "=r"(v));
	return v;
}
static inline uint16_t read_cs(void)
{
	uint16_t v;
	__asm__ volatile("mov %%cs, %0" : "=r"(v));
	return v;
}
static inline uint16_t read_ss(void)
{
	uint16_t v;
	__asm__ volatile("mov %%ss, %0" : "=r"(v));
	return v;
}
static inline void write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}
#define CR4_UMIP (1ULL << 11) /* sgdt/sidt/sldt/str/smsw #GP at CPL > 0 */

/* CPUID leaf/subleaf: r[0..3] = EAX, EBX, ECX, EDX. */
static inline void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(subleaf));
}

static inline void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}
static inline void sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

/* ---- console (16550A at LODGER_UART_PORT) ------------------------------------------- */
void rt_putc(char c);
void rt_puts(const char *s); /* no newline added */
/* %s %c %d %i %u %x %p %%, with l/ll, the flags '-' and '0', and a width. */
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_vprintf(const char *fmt, va_list ap);

/* ---- leaving: power-off (exit 0) and isa-debug-exit (exit (v << 1) | 1) ------------ */
_Noreturn void rt_poweroff(void);
_Noreturn void rt_debug_exit(uint8_t v);

/* ---- the story: STEP, CHECK, CHECK_EQ, DONE, LIMITATION ----------------------------- */
void rt_step(const char *what);
_Noreturn void rt_check_failed(const char *file, int line, const char *expr, bool values,
			       uint64_t a, uint64_t b);
_Noreturn void rt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void rt_done(void);
void rt_note_limitation(const char *reason);
_Noreturn void rt_limitation(const char *reason);

/* "<guest>: STEP what" */
#define STEP(what) rt_step(what)
/* On failure: "<guest>: FAIL file:line: expr", then isa-debug-exit RT_EXIT_FAIL. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			rt_check_failed(__FILE_NAME__, __LINE__, #cond, false, 0, 0);              \
	} while (0)
/* On failure: "<guest>: FAIL file:line: a == b (a=0x.. b=0x..)". */
#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);                       \
		if (check_a_ != check_b_)                                                          \
			rt_check_failed(__FILE_NAME__, __LINE__, #a " == " #b, true, check_a_,     \
					check_b_);                                                 \
	} while (0)
/* "<guest>: PASS" and power-off; if a limitation was noted, exit through it instead. */
#define DONE() rt_done()
/*
 * "<guest>: LIMITATION: reason" and isa-debug-exit RT_EXIT_LIMITATION. ONLY for the known
 * departures of kvm_pvm in direct mode from the architecture (PLATFORM.md), detected, never
 * assumed: the test harness turns it into a skip on kvm_pvm and a failure anywhere else.
 * rt_note_limitation() prints the same line but lets the story go on; DONE() then exits
 * with RT_EXIT_LIMITATION instead of passing.
 */
#define LIMITATION(reason) rt_limitation(reason)

/* ---- the command line (/chosen bootargs) -------------------------------------------- */
/*
 * The value of `key=value` among the space-separated bootargs, copied NUL-terminated into
 * buf (at most size - 1 characters). False if the key is absent or the value too long.
 * A bare `key` has the value "".
 */
bool rt_bootarg(const char *key, char *buf, size_t size);
/* The value of `key=0x...` as a number; 0 when absent or not hex. */
uint64_t rt_bootarg_hex(const char *key);

/* Calls fn(arg) on the stack whose top is `top` (16-byte aligned), returns its result. */
uint64_t rt_call_on_stack(uint64_t (*fn)(uint64_t), uint64_t arg, uint64_t top);
bool rt_streq(const char *a, const char *b);

/* ---- flattened device tree (read-only) ---------------------------------------------- */
bool rt_fdt_valid(const void *fdt);
uint32_t rt_fdt_totalsize(const void *fdt);
/* Offset of the node's FDT_BEGIN_NODE token, or -1. "/memory" matches "memory@0". */
int rt_fdt_path_offset(const void *fdt, const char *path);
const void *rt_fdt_getprop(const void *fdt, int node, const char *name, uint32_t *len);
/* The property as a NUL-terminated string, or NULL (missing or not terminated). */
const char *rt_fdt_getprop_string(const void *fdt, int node, const char *name);
bool rt_fdt_getprop_u32(const void *fdt, int node, const char *name, uint32_t *out);
/* The next node after `after` (-1: from the start) whose first compatible string is
 * `compat`, or -1. */
int rt_fdt_next_compatible(const void *fdt, int after, const char *compat);
int rt_fdt_num_mem_rsv(const void *fdt);
bool rt_fdt_get_mem_rsv(const void *fdt, int i, uint64_t *addr, uint64_t *size);
static inline uint32_t rt_be32(const void *p)
{
	const uint8_t *b = p;
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}
static inline uint64_t rt_be64(const void *p)
{
	return ((uint64_t)rt_be32(p) << 32) | rt_be32((const uint8_t *)p + 4);
}

/* ---- traps: a uniform frame, C handlers per vector ----------------------------------- */
/* What entry.S pushes: the GPRs, then vector and error code (0 if the CPU pushed none),
 * then the CPU's own frame. Handlers may change it; the stub restores it and iretq's. */
struct rt_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
typedef void (*rt_handler_t)(struct rt_frame *f);

#define VEC_DE 0
#define VEC_DB 1
#define VEC_BP 3
#define VEC_UD 6
#define VEC_DF 8
#define VEC_GP 13
#define VEC_PF 14

#define PF_P	(1u << 0) /* the page was present (protection violation) */
#define PF_W	(1u << 1) /* a write */
#define PF_U	(1u << 2) /* from CPL3 */
#define PF_RSVD (1u << 3)
#define PF_I	(1u << 4) /* an instruction fetch */

void rt_set_handler(uint8_t vector, rt_handler_t h);
/*
 * Points the gate straight at entry, bypassing the runtime's frame and C dispatch: for
 * handlers a few instructions long (bench). entry must end in iretq itself and keep every
 * register. NULL gives the gate back to the runtime.
 */
void rt_set_gate_entry(uint8_t vector, const void *entry);

/*
 * CS and SS as an exception frame shows them (an int3 and a #BP handler). This is the view
 * of the current selectors a guest can rely on in both modes: in shadow mode a direct
 * `mov %cs` may show the backend's own selector (on kvm_pvm, the host's user CS), see
 * docs/guest-contract.md.
 */
struct rt_segments {
	uint16_t cs, ss;
};
struct rt_segments rt_frame_segments(void);
/* CS and SS of the user code at its last rt_user_exit, from the #UD frame. */
extern struct rt_segments rt_user_exit_segments;
/* That whole frame (RFLAGS, RSP, the registers the user code left). */
extern struct rt_frame rt_user_exit_frame;
void rt_set_gate_dpl(uint8_t vector, unsigned dpl);
const char *rt_vector_name(unsigned vector);
_Noreturn void rt_unexpected(struct rt_frame *f);

/*
 * An exception table, as in Linux: RT_EXTABLE("1b", "2b") inside an asm statement says
 * "a fault at 1b resumes at 2b". rt_fixup() applies it to a frame (true if found).
 */
#define RT_EXTABLE(from, to)                                                                       \
	".pushsection .rt_extable, \"a\"\n\t.balign 8\n\t.quad " from ", " to "\n\t.popsection\n"
bool rt_fixup(struct rt_frame *f);

/* One 64-bit access that must not be merged or removed by the compiler. */
static inline uint64_t peek(uint64_t va)
{
	return *(volatile uint64_t *)va;
}
static inline void poke(uint64_t va, uint64_t v)
{
	*(volatile uint64_t *)va = v;
}
/* The same, for an access that may fault: a handler that calls rt_fixup() resumes after
 * it; a faulting read gives 0, a faulting write is skipped. */
uint64_t rt_probe_read(uint64_t va);
void rt_probe_write(uint64_t va, uint64_t v);

/* ---- CPL3 ---------------------------------------------------------------------------- */
/*
 * Enters CPL3 at fn with iretq (user CS/SS from /lodger, RFLAGS.IF=1, RSP at the top of
 * the runtime's user stack, RDI = arg). The user code comes back by jumping to
 * rt_user_exit (a ud2 in a user page: its #UD is recognised by the runtime) with its
 * result in RAX, or a CPL0 handler calls rt_user_return(); rt_user_call returns that value.
 * User code and data must live in sections .user.text / .user.data, which the linker
 * script page-aligns (map them U=1 with rt_map_user_pages()).
 */
uint64_t rt_user_enter(void (*fn)(void), uint64_t arg, uint64_t cs, uint64_t ss);
static inline uint64_t rt_user_call(void (*fn)(void), uint64_t arg)
{
	return rt_user_enter(fn, arg, rt_boot.user_cs, rt_boot.user_ds);
}
_Noreturn void rt_user_return(uint64_t value);
extern char rt_user_exit[];
extern char __user_start[], __user_end[], __user_text_end[];

/* ---- physical pages and 4-level page tables ------------------------------------------ */
#define PAGE_SIZE 4096ULL
#define PTE_P	  (1ULL << 0)
#define PTE_W	  (1ULL << 1)
#define PTE_U	  (1ULL << 2)
#define PTE_PWT	  (1ULL << 3)
#define PTE_PCD	  (1ULL << 4)
#define PTE_A	  (1ULL << 5)
#define PTE_D	  (1ULL << 6)
#define PTE_PS	  (1ULL << 7)
#define PTE_NX	  (1ULL << 63)
#define PTE_ADDR  0x000ffffffffff000ULL

void rt_mem_init(void);
/* A zeroed page of free RAM (identity-mapped, so its address is also its pointer). */
void *rt_alloc_page(void);
/* n physically contiguous pages aligned to `align` (a power of two >= PAGE_SIZE), not
 * zeroed; the pages skipped to align are lost. */
void *rt_alloc_pages(uint64_t n, uint64_t align);
void *rt_memset(void *d, int c, size_t n);

/* The address space the runtime built (rt_paging_init), or 0 while on the boot map. */
extern uint64_t *rt_kernel_root;
/* A new root mapping RAM 1:1 (2 MiB pages, RW, supervisor) and the IOAPIC/LAPIC pages. */
uint64_t *pt_new_kernel_space(void);
/* Builds such a space and loads it into CR3 (the guest then owns all its tables). */
void rt_paging_init(void);
/* Maps the 4 KiB page va -> pa with flags (PTE_P added); splits a 2 MiB page if needed.
 * Intermediate entries are P|W|U: the leaf decides. The caller invalidates (invlpg). */
void pt_map(uint64_t *root, uint64_t va, uint64_t pa, uint64_t flags);
/* Maps the 2 MiB page va -> pa (both 2 MiB-aligned) with flags (PTE_P|PTE_PS added); the
 * page directory must not hold a page table there already. The caller invalidates. */
void pt_map_large(uint64_t *root, uint64_t va, uint64_t pa, uint64_t flags);
/* Clears the leaf entry of va (splitting a 2 MiB page if needed); returns it. */
uint64_t pt_unmap(uint64_t *root, uint64_t va);
/* The entry for va at level 4 (PML4E) .. 1 (PTE), or NULL if a level above is absent or a
 * large page ends the walk earlier. */
uint64_t *pt_entry(uint64_t *root, uint64_t va, int level);
/* The leaf entry that maps va (a PTE, or a PDE with PS), or NULL if not present. */
uint64_t *pt_walk(uint64_t *root, uint64_t va, int *level);
/* Maps [__user_start, __user_end) U=1 (text read-only) in root and flushes them. */
void rt_map_user_pages(uint64_t *root);

/* ---- local APIC (xAPIC, in-kernel) ---------------------------------------------------- */
#define LAPIC_ID	 0x020
#define LAPIC_VER	 0x030
#define LAPIC_TPR	 0x080
#define LAPIC_EOI	 0x0b0
#define LAPIC_SVR	 0x0f0
#define LAPIC_ISR	 0x100
#define LAPIC_IRR	 0x200
#define LAPIC_LVT_TIMER	 0x320
#define LAPIC_LVT_LINT0	 0x350
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR	 0x390
#define LAPIC_TIMER_DIV	 0x3e0
static inline uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LODGER_LAPIC_BASE + reg);
}
static inline void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LODGER_LAPIC_BASE + reg, v);
}

#endif
