/*
 * target.c - the x86-64 register set GDB is told about, and its wire encoding.
 *
 * GDB's amd64 description needs the core feature's 40 registers (the x87 ones included);
 * lodger reports those it does not save as unavailable. The segment bases and control
 * registers follow in their own features.
 */
#include "gdb/target.h"

#include <string.h>

#include "gdb/packet.h"
#include "kvm/mem.h"
#include "shadow/pagewalk.h"

#define R64(n, t) "<reg name=\"" n "\" bitsize=\"64\" type=\"" t "\"/>"
#define R32(n)	  "<reg name=\"" n "\" bitsize=\"32\" type=\"int32\"/>"
#define ST(n)	  "<reg name=\"st" n "\" bitsize=\"80\" type=\"i387_ext\"/>"
#define F32(n)	  "<reg name=\"" n "\" bitsize=\"32\" type=\"int\" group=\"float\"/>"

const char gdb_target_xml[] =
	"<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
	"<target version=\"1.0\"><architecture>i386:x86-64</architecture>"
	"<feature name=\"org.gnu.gdb.i386.core\">" R64("rax", "int64") R64("rbx", "int64") R64(
		"rcx", "int64") R64("rdx", "int64") R64("rsi", "int64") R64("rdi", "int64")
		R64("rbp", "data_ptr") R64("rsp", "data_ptr") R64("r8", "int64") R64(
			"r9", "int64") R64("r10", "int64") R64("r11", "int64") R64("r12", "int64")
			R64("r13", "int64") R64("r14", "int64") R64("r15", "int64") R64(
				"rip",
				"code_ptr") R32("eflags") R32("cs") R32("ss") R32("ds") R32("es")
				R32("fs") R32("gs") ST("0") ST("1") ST("2") ST("3") ST("4") ST(
					"5") ST("6") ST("7") F32("fctrl") F32("fstat") F32("ftag")
					F32("fiseg") F32("fioff") F32("foseg") F32("fooff") F32(
						"fop") "</feature><feature "
						       "name=\"org.gnu.gdb.i386."
						       "segments\">" R64("fs_base", "int") R64(
							       "gs_base",
							       "int") "</feature><feature "
								      "name=\"org.lodger.x86-"
								      "64.sys\">" R64(
									      "cr0",
									      "int") R64("cr2",
											 "int")
									      R64("cr3", "int") R64(
										      "cr4",
										      "int") R64("c"
												 "r"
												 "8",
												 "i"
												 "n"
												 "t")
										      R64("efe"
											  "r",
											  "int") "<"
												 "/"
												 "f"
												 "e"
												 "a"
												 "t"
												 "u"
												 "r"
												 "e"
												 ">"
												 "<"
												 "/"
												 "t"
												 "a"
												 "r"
												 "g"
												 "e"
												 "t"
												 ">";

enum {
	REG_GPR0 = 0,
	REG_RIP = 16,
	REG_EFLAGS,
	REG_SEG0,
	REG_ST0 = 24,
	REG_FCTRL = 32,
	REG_FS_BASE = 40,
	REG_GS_BASE,
	REG_CR0,
	REG_CR2,
	REG_CR3,
	REG_CR4,
	REG_CR8,
	REG_EFER,
	REG_COUNT
};

/* Where register n lives in r and its size; NULL (with its size) when unavailable. */
static void *reg_slot(struct gdb_regs *r, unsigned n, unsigned *size)
{
	if (n < REG_RIP) {
		*size = 8;
		return &r->gpr[n];
	}
	if (n >= REG_SEG0 && n < REG_ST0) {
		*size = 4;
		return &r->seg[n - REG_SEG0];
	}
	if (n >= REG_ST0 && n < REG_FS_BASE) {
		*size = n < REG_FCTRL ? 10 : 4;
		return NULL;
	}
	*size = n == REG_EFLAGS ? 4 : 8;
	switch (n) {
	case REG_RIP:
		return &r->rip;
	case REG_EFLAGS:
		return &r->eflags;
	case REG_FS_BASE:
		return &r->fs_base;
	case REG_GS_BASE:
		return &r->gs_base;
	case REG_CR0:
		return &r->cr0;
	case REG_CR2:
		return &r->cr2;
	case REG_CR3:
		return &r->cr3;
	case REG_CR4:
		return &r->cr4;
	case REG_CR8:
		return &r->cr8;
	default:
		return &r->efer;
	}
}

/* Little-endian hosts only (x86-64): the wire order is the target's, as in memory. */
bool gdb_reg_encode(const struct gdb_regs *r, unsigned n, char *out)
{
	unsigned size;
	const void *p;

	if (n >= REG_COUNT)
		return false;
	p = reg_slot((struct gdb_regs *)r, n, &size);
	if (p)
		gdb_hex_encode(p, size, out);
	else {
		memset(out, 'x', 2 * size);
		out[2 * size] = '\0';
	}
	return true;
}

bool gdb_reg_decode(struct gdb_regs *r, unsigned n, const char *hex)
{
	unsigned size;
	void *p;

	if (n >= REG_COUNT)
		return false;
	p = reg_slot(r, n, &size);
	if (strlen(hex) != 2 * size)
		return false;
	if (!p || hex[0] == 'x')
		return true; /* an unavailable register: nothing to write */
	return gdb_hex_decode(hex, p, size);
}

void gdb_regs_encode(const struct gdb_regs *r, char *out)
{
	for (unsigned n = 0; n < REG_COUNT; n++) {
		gdb_reg_encode(r, n, out);
		out += strlen(out);
	}
}

bool gdb_regs_decode(const char *hex, struct gdb_regs *r)
{
	struct gdb_regs tmp = *r;
	char one[2 * 10 + 1];

	for (unsigned n = 0; n < REG_COUNT; n++) {
		unsigned size;

		reg_slot(&tmp, n, &size);
		if (strnlen(hex, 2 * size) != 2 * size)
			return false;
		memcpy(one, hex, 2 * size);
		one[2 * size] = '\0';
		if (!gdb_reg_decode(&tmp, n, one))
			return false;
		hex += 2 * size;
	}
	if (*hex)
		return false;
	*r = tmp;
	return true;
}

/* One pass over [la, la + len): copies unless `check`, which only translates. */
static int linear_pass(struct guest_mem *mem, uint64_t cr3, uint64_t la, uint8_t *p, size_t len,
		       bool write, bool check)
{
	while (len) {
		size_t chunk = 0x1000 - (la & 0xfff);
		struct walk w;
		uint8_t *host;

		if (chunk > len)
			chunk = len;
		if (pagewalk(mem, cr3, la, &w) != WALK_OK)
			return -1;
		host = gpa_ptr_guest(mem, w.gpa, chunk);
		if (!host)
			return -1;
		if (check)
			;
		else if (write)
			memcpy(host, p, chunk);
		else
			memcpy(p, host, chunk);
		p += chunk;
		la += chunk;
		len -= chunk;
	}
	return 0;
}

int gdb_linear_access(struct guest_mem *mem, uint64_t cr3, uint64_t la, void *buf, size_t len,
		      bool write)
{
	/* A write translates every page first: all of it lands, or none. */
	if (write && linear_pass(mem, cr3, la, buf, len, write, true))
		return -1;
	return linear_pass(mem, cr3, la, buf, len, write, false);
}
