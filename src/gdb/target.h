/*
 * target.h - what the GDB stub needs of the guest: the seam between the protocol
 * (src/gdb/) and a mode (src/direct/debug.c, src/shadow/debug.c).
 *
 * A mode that stops its vCPU for the debugger hands gdb_stop (server.h) a struct
 * gdb_target: these operations on the guest as it stands, in the guest's own view (in
 * shadow mode the guest's CR3, selectors and RFLAGS, never the stub's). Memory is linear,
 * through the guest's page tables.
 */
#ifndef LODGER_GDB_TARGET_H
#define LODGER_GDB_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;

/* The registers target.xml describes (GDB's order for the general ones). */
struct gdb_regs {
	uint64_t gpr[16]; /* rax rbx rcx rdx rsi rdi rbp rsp r8..r15 */
	uint64_t rip;
	uint32_t eflags;
	uint32_t seg[6]; /* cs ss ds es fs gs */
	uint64_t fs_base, gs_base;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
};

struct gdb_target_ops {
	/* 0, or -1 when the registers cannot be had. */
	int (*get_regs)(void *ctx, struct gdb_regs *r);
	/* Writes the general registers, RIP and RFLAGS; the rest is kept as it is. */
	int (*set_regs)(void *ctx, const struct gdb_regs *r);
	/* 0, or -1 when any byte is not mapped to guest RAM. */
	int (*read_mem)(void *ctx, uint64_t la, void *buf, size_t len);
	int (*write_mem)(void *ctx, uint64_t la, const void *buf, size_t len);
};

struct gdb_target {
	const struct gdb_target_ops *ops;
	void *ctx;
};

/* The target description (qXfer:features:read:target.xml). */
extern const char gdb_target_xml[];

/* The 'g' packet: every register in target.xml's order, as hex; x87 registers are
 * unavailable ('x'). out needs GDB_REGS_HEX_MAX bytes. */
#define GDB_REGS_HEX_MAX 1024
void gdb_regs_encode(const struct gdb_regs *r, char *out);
/* The 'G' packet back into r (its unavailable fields keep r's values). False when
 * malformed. */
bool gdb_regs_decode(const char *hex, struct gdb_regs *r);
/* One register by its number ('p'/'P'): its hex into out, or false when there is no
 * such register. */
bool gdb_reg_encode(const struct gdb_regs *r, unsigned n, char *out);
bool gdb_reg_decode(struct gdb_regs *r, unsigned n, const char *hex);

/* Linear-address access through the 4-level tables at cr3, bounds-checked against guest
 * RAM (monitor memory is never reached). 0, or -1 when a page is unmapped. */
int gdb_linear_access(struct guest_mem *mem, uint64_t cr3, uint64_t la, void *buf, size_t len,
		      bool write);

#endif
