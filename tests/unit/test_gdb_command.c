/*
 * test_gdb_command.c - the GDB stub's command dispatch (src/gdb/command.c, target.c)
 * against a fake target: 64 KiB of "guest memory" at linear 0x10000 and a register file.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "gdb/command.h"
#include "gdb/packet.h"

#define BASE 0x10000u
#define SIZE 0x10000u

static uint8_t mem[SIZE];
static struct gdb_regs regs;
static struct gdb_session s;
static char reply[GDB_PACKET_MAX + 1];

static int fake_get(void *ctx, struct gdb_regs *r)
{
	(void)ctx;
	*r = regs;
	return 0;
}

static int fake_set(void *ctx, const struct gdb_regs *r)
{
	(void)ctx;
	regs = *r;
	return 0;
}

static int fake_read(void *ctx, uint64_t la, void *buf, size_t len)
{
	(void)ctx;
	if (la < BASE || la - BASE > SIZE || len > SIZE - (la - BASE))
		return -1;
	memcpy(buf, mem + (la - BASE), len);
	return 0;
}

static int fake_write(void *ctx, uint64_t la, const void *buf, size_t len)
{
	(void)ctx;
	if (la < BASE || la - BASE > SIZE || len > SIZE - (la - BASE))
		return -1;
	memcpy(mem + (la - BASE), buf, len);
	return 0;
}

static const struct gdb_target_ops ops = {fake_get, fake_set, fake_read, fake_write};
static const struct gdb_target target = {.ops = &ops};

static enum gdb_action cmd(const char *pkt)
{
	return gdb_command(&s, &target, pkt, strlen(pkt), reply, sizeof(reply));
}

static void setup(void)
{
	gdb_session_init(&s);
	memset(&regs, 0, sizeof(regs));
	for (unsigned i = 0; i < SIZE; i++)
		mem[i] = (uint8_t)i;
}

TestSuite(gdb_command, .init = setup);

Test(gdb_command, qsupported_offers_the_target_description_and_swbreak_when_asked)
{
	cr_assert_eq(cmd("qSupported:multiprocess+;swbreak+;xmlRegisters=i386"), GDB_ACT_REPLY);
	cr_assert(strstr(reply, "qXfer:features:read+"), "got %s", reply);
	cr_assert(strstr(reply, "swbreak+"), "got %s", reply);
	cr_assert(strstr(reply, "PacketSize="), "got %s", reply);
	cmd("qSupported:multiprocess+");
	cr_assert_null(strstr(reply, "swbreak+"), "swbreak offered unasked: %s", reply);
}

Test(gdb_command, target_xml_reads_in_pieces_and_names_x86_64)
{
	char whole[8192] = "";

	for (unsigned off = 0;; off += 100) {
		char pkt[64];

		snprintf(pkt, sizeof(pkt), "qXfer:features:read:target.xml:%x,64", off);
		cmd(pkt);
		cr_assert(reply[0] == 'm' || reply[0] == 'l', "got %s", reply);
		strcat(whole, reply + 1);
		if (reply[0] == 'l')
			break;
	}
	cr_assert_str_eq(whole, gdb_target_xml);
	cr_assert(strstr(whole, "<architecture>i386:x86-64</architecture>"));
	cmd("qXfer:features:read:other.xml:0,10");
	cr_assert_str_eq(reply, "E00");
}

Test(gdb_command, g_gives_rip_and_cr3_where_target_xml_puts_them)
{
	char rip[17], cr3[17];

	regs.gpr[0] = 0x1122334455667788ull;
	regs.rip = 0xffffffff80001000ull;
	regs.cr3 = 0x5000;
	cmd("g");
	cr_assert_eq(strncmp(reply, "8877665544332211", 16), 0, "rax: %.16s", reply);
	/* rip is register 16: after 16 registers of 8 bytes */
	memcpy(rip, reply + 16 * 16, 16), rip[16] = 0;
	cr_assert_str_eq(rip, "00100080ffffffff");
	/* x87 registers are unavailable */
	cr_assert(strchr(reply, 'x'));
	cmd("p2c"); /* cr3: register 44 */
	memcpy(cr3, reply, 17);
	cr_assert_str_eq(cr3, "0050000000000000");
	cmd("p99");
	cr_assert_str_eq(reply, "E01");
}

Test(gdb_command, G_round_trips_g_and_P_writes_one_register)
{
	char saved[GDB_PACKET_MAX + 1];
	char pkt[GDB_PACKET_MAX + 2];

	regs.gpr[3] = 42;
	regs.eflags = 0x246;
	cmd("g");
	strcpy(saved, reply);
	memset(&regs, 0, sizeof(regs));
	snprintf(pkt, sizeof(pkt), "G%s", saved);
	cr_assert_eq(cmd(pkt), GDB_ACT_REPLY);
	cr_assert_str_eq(reply, "OK");
	cr_assert_eq(regs.gpr[3], 42);
	cr_assert_eq(regs.eflags, 0x246);
	cmd("P10=0010000000000000"); /* rip */
	cr_assert_str_eq(reply, "OK");
	cr_assert_eq(regs.rip, 0x1000);
	cmd("Gzz");
	cr_assert_str_eq(reply, "E01");
}

Test(gdb_command, memory_reads_and_writes_and_faults)
{
	cmd("m10010,4");
	cr_assert_str_eq(reply, "10111213");
	cmd("M10010,2:abcd");
	cr_assert_str_eq(reply, "OK");
	cr_assert_eq(mem[0x10], 0xab);
	cr_assert_eq(mem[0x11], 0xcd);
	cmd("m0,4");
	cr_assert_str_eq(reply, "E14");
	cmd("M10010,2:abc");
	cr_assert_str_eq(reply, "E01");
	cmd("m10010,ffffffff");
	cr_assert_str_eq(reply, "E01", "a length beyond the packet size is refused");
}

Test(gdb_command, a_breakpoint_plants_int3_hidden_from_reads_and_taken_back)
{
	cr_assert_eq(cmd("Z0,10020,1"), GDB_ACT_REPLY);
	cr_assert_str_eq(reply, "OK");
	cr_assert_eq(mem[0x20], GDB_INT3, "expected int3 in guest memory");
	cr_assert_not_null(gdb_breakpoint_at(&s, 0x10020));
	cmd("m1001f,3");
	cr_assert_str_eq(reply, "1f2021", "reads show the guest's byte, not the int3");
	cmd("z0,10020,1");
	cr_assert_str_eq(reply, "OK");
	cr_assert_eq(mem[0x20], 0x20);
	cr_assert_null(gdb_breakpoint_at(&s, 0x10020));
	cmd("Z0,0,1");
	cr_assert_str_eq(reply, "E14", "a breakpoint on unmapped memory fails");
	cmd("Z2,10020,4");
	cr_assert_str_eq(reply, "", "watchpoints are not offered");
}

Test(gdb_command, detach_takes_every_breakpoint_back)
{
	cmd("Z0,10030,1");
	cmd("Z0,10040,1");
	cr_assert_eq(gdb_breakpoint_count(&s), 2);
	cr_assert_eq(cmd("D"), GDB_ACT_DETACH);
	cr_assert_str_eq(reply, "OK");
	cr_assert_eq(mem[0x30], 0x30);
	cr_assert_eq(mem[0x40], 0x40);
	cr_assert_eq(gdb_breakpoint_count(&s), 0);
}

Test(gdb_command, resume_commands)
{
	cr_assert_eq(cmd("c"), GDB_ACT_CONTINUE);
	cr_assert_eq(cmd("s"), GDB_ACT_STEP);
	cr_assert_eq(cmd("C05"), GDB_ACT_CONTINUE);
	cr_assert_eq(cmd("s10050"), GDB_ACT_STEP);
	cr_assert_eq(regs.rip, 0x10050, "s ADDR resumes at ADDR");
	cr_assert_eq(cmd("k"), GDB_ACT_KILL);
	cr_assert_eq(cmd("vKill;1"), GDB_ACT_KILL);
	cr_assert_eq(cmd("cxyz"), GDB_ACT_REPLY);
	cr_assert_str_eq(reply, "E01");
}

Test(gdb_command, stop_replies_and_threads)
{
	cmd("?");
	cr_assert_str_eq(reply, "S05");
	gdb_stop_reply(&s, GDB_SIGINT, false);
	cmd("?");
	cr_assert_str_eq(reply, "T02thread:1;");
	cmd("qSupported:swbreak+");
	cr_assert_str_eq(gdb_stop_reply(&s, GDB_SIGTRAP, true), "T05thread:1;swbreak:;");
	cmd("qfThreadInfo");
	cr_assert_str_eq(reply, "m1");
	cmd("qsThreadInfo");
	cr_assert_str_eq(reply, "l");
	cmd("Hg1");
	cr_assert_str_eq(reply, "OK");
	cmd("vMustReplyEmpty");
	cr_assert_str_eq(reply, "");
}
