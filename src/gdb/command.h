/*
 * command.h - one GDB packet in, its answer and what the vCPU does next out.
 *
 * The dispatch knows the protocol's commands and the software breakpoints it has planted
 * (int3 written into guest memory, the original byte kept); it reaches the guest only
 * through a struct gdb_target (target.h), so the unit tests drive it with a fake one.
 */
#ifndef LODGER_GDB_COMMAND_H
#define LODGER_GDB_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gdb/target.h"

#define GDB_MAX_BREAKPOINTS 64
#define GDB_INT3	    0xcc

/* Signals as GDB numbers them, in stop replies. */
#define GDB_SIGINT  2
#define GDB_SIGTRAP 5

struct gdb_breakpoint {
	uint64_t la;
	uint8_t saved; /* the guest's byte under the int3 */
	bool used;
};

struct gdb_session {
	struct gdb_breakpoint bp[GDB_MAX_BREAKPOINTS];
	bool no_ack;	    /* QStartNoAckMode: neither side sends '+' any more */
	bool swbreak;	    /* GDB takes "swbreak" stop reasons (qSupported) */
	char last_stop[32]; /* the last stop reply, for '?' */
};

enum gdb_action {
	GDB_ACT_REPLY,	  /* send the reply; stay stopped */
	GDB_ACT_CONTINUE, /* resume (no reply until the next stop) */
	GDB_ACT_STEP,	  /* one instruction, then stop */
	GDB_ACT_DETACH,	  /* send the reply, then run on without the debugger */
	GDB_ACT_KILL,	  /* end the run */
};

void gdb_session_init(struct gdb_session *s);

/* Handles one packet's payload (NUL-terminated, len bytes). reply gets the answer's
 * payload (replysize >= GDB_PACKET_MAX + 1). */
enum gdb_action gdb_command(struct gdb_session *s, const struct gdb_target *t, const char *pkt,
			    size_t len, char *reply, size_t replysize);

/* The stop reply for `signal` (a breakpoint hit: swbreak) into s->last_stop. */
const char *gdb_stop_reply(struct gdb_session *s, int signal, bool swbreak);

/* The planted breakpoint at la, or NULL. */
const struct gdb_breakpoint *gdb_breakpoint_at(const struct gdb_session *s, uint64_t la);

/* Puts every planted byte back (detach, a debugger gone). */
void gdb_breakpoints_clear(struct gdb_session *s, const struct gdb_target *t);

/* How many breakpoints are planted. */
unsigned gdb_breakpoint_count(const struct gdb_session *s);

#endif
