/*
 * server.h - the GDB stub's connection: listening, the stop loop, interrupts.
 *
 * The vCPU thread serves the debugger itself while the guest is stopped (gdb_stop); while
 * the guest runs, a watcher thread owns the socket: Ctrl-C (0x03) or a new connection asks
 * for a stop and kicks the vCPU, whose run loop then calls the mode's debug_stop
 * (kvm/mode.h). Breakpoint hits and finished steps stop from the mode's own exit path.
 */
#ifndef LODGER_GDB_SERVER_H
#define LODGER_GDB_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gdb/command.h"

struct gdb;

/* "tcp::PORT" or "tcp:HOST:PORT" (QEMU's -gdb). Returns 0, or -1 with the reason in why. */
int gdb_parse_spec(const char *spec, char *host, size_t hostlen, unsigned *port, char *why,
		   size_t whylen);

/* Listens on spec; with `wait`, the first stop (gdb_stop_requested is true at once) waits
 * for a debugger (-S). kick(arg) makes the vCPU leave KVM_RUN. Returns 0 or an exit
 * status, after one line. */
int gdb_open(const char *spec, bool wait, void (*kick)(void *), void *arg, struct gdb **out);
void gdb_close(struct gdb *g);

/* The debugger asked for a stop (Ctrl-C, a connection, -S) that has not happened yet. */
bool gdb_stop_requested(const struct gdb *g);

/* The debugger's last resume was a single step. */
bool gdb_stepping(const struct gdb *g);

/* The breakpoint planted at la, or NULL. */
const struct gdb_breakpoint *gdb_breakpoint(const struct gdb *g, uint64_t la);
unsigned gdb_breakpoints(const struct gdb *g);

/* Stops for the debugger: reports `signal` (a breakpoint: swbreak) to a debugger waiting
 * for it, then serves it until it resumes. With no debugger connected, waits for one on
 * the first -S stop, else takes back planted breakpoints and runs on (GDB_ACT_DETACH). */
enum gdb_action gdb_stop(struct gdb *g, const struct gdb_target *t, int signal, bool swbreak);

#endif
