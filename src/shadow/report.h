/*
 * report.h - shadow mode's -stats members: traps, shadow tables, relocation
 * (docs/cli.md documents the layout).
 */
#ifndef LODGER_REPORT_H
#define LODGER_REPORT_H

struct json;
struct guestcpu;

void report_write(struct json *j, const struct guestcpu *g);

#endif
