/*
 * stats.c - -stats FILE: lodger's counters as one JSON object, written at exit.
 *
 * The counters are kept where they happen (struct vcpu's exits; the mode's own, which
 * it writes itself: kvm/mode.h); this file only reads them. docs/cli.md documents the layout.
 */
#include "front/stats.h"
#include "front/phase.h"
#include "front/exitcode.h"
#include "front/signals.h"
#include "kvm/kvm.h"
#include "kvm/mode.h"
#include "front/log.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#ifndef LODGER_VERSION
#define LODGER_VERSION "unknown" /* meson passes the project version */
#endif

/* ---- the JSON writer ---- */

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f) /* DEL too: it would garble a terminal */
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f); /* UTF-8 passes through as it is */
	}
	fputc('"', f);
}

/* Starts a member of the innermost object: separator, new line, indent, key. */
static void json_key(struct json *j, const char *key)
{
	fprintf(j->f, "%s\n%*s", j->has_members ? "," : "", (int)(2 * j->depth), "");
	json_string(j->f, key);
	fputs(": ", j->f);
	j->has_members = true;
}

void json_begin(struct json *j, FILE *f)
{
	*j = (struct json){.f = f, .depth = 1};
	fputc('{', f);
}

void json_open(struct json *j, const char *key)
{
	json_key(j, key);
	fputc('{', j->f);
	j->depth++;
	j->has_members = false;
}

void json_close(struct json *j)
{
	j->depth--;
	/* an empty object stays "{}" on its line */
	if (j->has_members)
		fprintf(j->f, "\n%*s", (int)(2 * j->depth), "");
	fputs(j->depth ? "}" : "}\n", j->f);
	j->has_members = true; /* the object just closed is its parent's member */
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_int(struct json *j, const char *key, int v)
{
	json_key(j, key);
	fprintf(j->f, "%d", v);
}

void json_str(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j->f, s);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

/* ---- the statistics ---- */

static struct timespec started;

void stats_start_clock(void)
{
	clock_gettime(CLOCK_MONOTONIC, &started);
}

static uint64_t wall_time_ns(void)
{
	struct timespec now;

	if (!started.tv_sec && !started.tv_nsec)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - started.tv_sec) * 1000000000u +
	       (uint64_t)(now.tv_nsec - started.tv_nsec);
}

const char *stats_exit_cause(int exit_status, int signal)
{
	if (exit_status & 1)
		return "debug-exit";
	switch (exit_status) {
	case EXIT_GUEST_POWEROFF:
		return "power-off";
	case EXIT_USAGE:
		return "usage";
	case EXIT_BAD_IMAGE:
		return "bad-image";
	case EXIT_NO_KVM:
		return "kvm-unavailable";
	case EXIT_TRIPLE_FAULT:
		return "triple-fault";
	case EXIT_INTERNAL:
		return "internal-error";
	case EXIT_HOST_ERROR:
		return "host-error";
	case EXIT_USER_QUIT:
		return "user-quit";
	case EXIT_SIGNAL:
		return signal ? "signal" : "unknown";
	default:
		return "unknown";
	}
}

/* "exit": the cause, and what goes with it (the guest's value, the signal). */
static void write_exit(struct json *j, int exit_status, int signal)
{
	json_open(j, "exit");
	json_str(j, "cause", stats_exit_cause(exit_status, signal));
	if (exit_status & 1)
		json_u64(j, "debug_exit_value", (unsigned)exit_status >> 1);
	if (exit_status == EXIT_SIGNAL && signal)
		json_str(j, "signal", signals_name(signal));
	json_close(j);
}

static void write_kvm_exits(struct json *j, const struct vcpu *vcpu)
{
	/* what kvm_exit_name says for a reason it has no name for: such reasons are keyed
	 * by number instead, so that two of them cannot share a key */
	const char *unnamed = kvm_exit_name(UINT_MAX);

	json_open(j, "kvm_exits");
	for (unsigned r = 0; vcpu && r < VCPU_EXIT_REASONS; r++) {
		const char *name = kvm_exit_name(r);
		char number[16];

		if (!vcpu->exits[r])
			continue;
		if (strcmp(name, unnamed) == 0) {
			snprintf(number, sizeof(number), "%u", r);
			name = number;
		}
		json_u64(j, name, vcpu->exits[r]);
	}
	json_close(j);
}

/* Only phases that occurred; nothing at all when none did (a VM that never ran). */
static void write_phases(struct json *j, const struct vcpu *vcpu)
{
	bool any = false;
	char bucket[8];

	for (unsigned p = 0; vcpu && p < PHASES; p++)
		any |= vcpu->phases[p].count != 0;
	if (!any)
		return;
	json_open(j, "phases");
	for (unsigned p = 0; p < PHASES; p++) {
		const struct phase_stats *s = &vcpu->phases[p];

		if (!s->count)
			continue;
		json_open(j, phase_names[p]);
		json_u64(j, "count", s->count);
		json_u64(j, "total_ns", s->total_ns);
		json_u64(j, "max_ns", s->max_ns);
		json_u64(j, "p50_ns", phase_percentile_ns(s, 50));
		json_u64(j, "p99_ns", phase_percentile_ns(s, 99));
		json_open(j, "log2_ns");
		for (unsigned b = 0; b < PHASE_BUCKETS; b++) {
			if (!s->log2_ns[b])
				continue;
			snprintf(bucket, sizeof(bucket), "%u", b);
			json_u64(j, bucket, s->log2_ns[b]);
		}
		json_close(j);
		json_close(j);
	}
	json_close(j);
}

static void write_stats(FILE *f, const struct vm *vm, int exit_status, int signal)
{
	const struct vcpu *vcpu = vm->vcpu;
	struct json j;

	json_begin(&j, f);
	json_str(&j, "lodger", LODGER_VERSION);
	json_str(&j, "mode", vm->mode->name);
	if (vm->cfg && vm->cfg->name)
		json_str(&j, "name", vm->cfg->name);
	json_int(&j, "exit_status", exit_status);
	write_exit(&j, exit_status, signal);
	json_u64(&j, "wall_time_ns", wall_time_ns());
	write_kvm_exits(&j, vcpu);
	json_u64(&j, "instructions_completed_for_kvm", vcpu ? vcpu->completed : 0);
	write_phases(&j, vcpu);
	if (vm->mode->write_stats)
		vm->mode->write_stats(&j, vcpu);
	json_close(&j);
}

int stats_write(const struct vm *vm, int exit_status, const char *path)
{
	bool to_stderr = strcmp(path, "-") == 0;
	FILE *f = to_stderr ? stderr : fopen(path, "w");
	int err;

	if (!f) {
		err = errno;
		pr_err("-stats %s: %s", path, strerror(err));
		return -err;
	}
	errno = 0;
	write_stats(f, vm, exit_status, signals_caught());
	/* A failed write (a full disk) may show only when the buffer is flushed. The file is
	 * closed whatever ferror says, hence | and not ||. */
	if (to_stderr)
		err = fflush(f) || ferror(f) ? (errno ? errno : EIO) : 0;
	else
		err = ferror(f) | fclose(f) ? (errno ? errno : EIO) : 0;
	if (err) {
		pr_err("-stats %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}
