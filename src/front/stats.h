/*
 * stats.h - lodger's statistics as JSON (-stats FILE), and the small JSON writer for it.
 *
 * The layout is documented in docs/cli.md under -stats. The writer is here rather than a
 * library because lodger writes one small object of numbers and a few strings.
 */
#ifndef LODGER_STATS_H
#define LODGER_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct vm;

/*
 * Writes one JSON object, a member per line, indented by two spaces a level:
 *	json_begin(&j, f); json_u64(&j, "n", 1); json_open(&j, "sub"); ...
 *	json_close(&j); json_close(&j);
 * Closing the outermost object ends the line. Keys and strings are escaped.
 */
struct json {
	FILE *f;
	unsigned depth;	  /* objects open */
	bool has_members; /* the innermost open object has a member already */
};

void json_begin(struct json *j, FILE *f);	 /* opens the outermost object */
void json_open(struct json *j, const char *key); /* opens an object member */
void json_close(struct json *j);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_int(struct json *j, const char *key, int v);
void json_str(struct json *j, const char *key, const char *s);
void json_bool(struct json *j, const char *key, bool v);

/* s as a JSON string: quoted, with ", \ and control characters (as \u00XX) escaped. */
void json_string(FILE *f, const char *s);

/* Starts the wall clock that -stats reports (wall_time_ns); call once, at start. */
void stats_start_clock(void);

/* What ended the run, from lodger's exit status and the signal that ended it (or 0):
 * "power-off", "debug-exit", "triple-fault", "user-quit", "signal", ... (docs/cli.md). */
const char *stats_exit_cause(int exit_status, int signal);

/*
 * Writes the VM's statistics, lodger's exit status and its cause (with the signal
 * signals_caught reports) as one JSON object to path ("-": stderr). Call it before vm_destroy,
 * which frees the vCPU the counters live in. Returns 0, or -errno after printing one line.
 */
int stats_write(const struct vm *vm, int exit_status, const char *path);

#endif
