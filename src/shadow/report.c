/*
 * report.c - shadow mode's -stats members: traps, shadow tables, relocation.
 *
 * The counters are kept where they happen (struct guestcpu's, struct shadow's and struct
 * reloc's stats); this file only reads them. docs/cli.md documents the layout.
 */
#include "shadow/report.h"

#include <stdio.h>

#include "front/stats.h"
#include "shadow/guestcpu.h"

const char *const trap_kind_names[TK_KINDS] = {
	[TK_SHADOW_FILL] = "shadow_fill", [TK_REFLECTED] = "reflected", [TK_EMULATED] = "emulated",
	[TK_SYSCALL] = "syscall",	  [TK_HALT_WAKE] = "halt_wake", [TK_PIO] = "port_io",
};

static const char *const trap_place_names[TRAP_PLACES] = {
	[TRAP_IN_STUB] = "stub",
	[TRAP_IN_VMM] = "vmm",
};

static void write_traps(struct json *j, const struct guestcpu_stats *st)
{
	uint64_t total = 0;
	char vector[8];

	/* every trap is handled in exactly one place, so the places add up to all of them */
	for (unsigned p = 0; p < TRAP_PLACES; p++)
		total += st->by_place[p];
	json_open(j, "traps");
	json_u64(j, "total", total);
	json_open(j, "by_vector");
	for (unsigned v = 0; v < 256; v++) {
		if (!st->by_vector[v])
			continue;
		snprintf(vector, sizeof(vector), "%u", v);
		json_u64(j, vector, st->by_vector[v]);
	}
	json_close(j);
	/* lodger's time on each, from the stub's exit to the next KVM_RUN (phases has the
	 * KVM_RUN round trips) */
	json_open(j, "time_ns_by_vector");
	for (unsigned v = 0; v < 256; v++) {
		if (!st->by_vector[v])
			continue;
		snprintf(vector, sizeof(vector), "%u", v);
		json_u64(j, vector, st->ns_by_vector[v]);
	}
	json_close(j);
	json_u64(j, "syscalls", st->syscalls);
	json_u64(j, "syscall_time_ns", st->syscall_ns);
	json_open(j, "by_kind");
	for (unsigned k = 0; k < TK_KINDS; k++)
		json_u64(j, trap_kind_names[k], st->by_kind[k]);
	json_close(j);
	json_open(j, "handled_in");
	for (unsigned p = 0; p < TRAP_PLACES; p++)
		json_u64(j, trap_place_names[p], st->by_place[p]);
	json_close(j);
	json_open(j, "stub_fast_paths");
	json_u64(j, "cli", st->stub_cli);
	json_u64(j, "sti", st->stub_sti);
	json_close(j);
	json_close(j);
}

static void write_relocation(struct json *j, const struct reloc *r, uint64_t stub_base)
{
	char base[24];

	snprintf(base, sizeof(base), "%#llx", (unsigned long long)stub_base);
	json_open(j, "relocation");
	json_bool(j, "enabled", r->enabled);
	json_u64(j, "seed", r->seed);
	json_str(j, "stub_base", base); /* a string: JSON readers keep 53 bits of a number */
	json_u64(j, "conflicts", r->stats.conflicts);
	json_u64(j, "to_unused_region", r->stats.to_unused);
	json_u64(j, "to_random_region", r->stats.to_random);
	json_u64(j, "hot_moves", r->stats.hot_moves);
	json_u64(j, "search_tables", r->stats.search_tables);
	json_u64(j, "displaced_accesses_served", r->stats.displaced);
	json_u64(j, "refused", r->stats.refused);
	json_u64(j, "time_ns", r->stats.ns);
	json_close(j);
}

static void write_shadow(struct json *j, const struct shadow_stats *st)
{
	json_open(j, "shadow");
	json_u64(j, "fills", st->fills);
	json_u64(j, "guest_faults", st->guest_faults);
	json_u64(j, "root_switches", st->root_switches);
	json_u64(j, "root_flushes", st->root_flushes);
	json_u64(j, "evictions", st->evictions);
	json_u64(j, "invlpgs", st->invlpgs);
	json_u64(j, "kvm_flushes", st->kvm_flushes);
	json_u64(j, "kvm_tlb_flushes", st->kvm_tlb_flushes);
	json_u64(j, "kvm_zaps", st->kvm_zaps);
	json_u64(j, "kvm_flush_returns", st->kvm_flush_returns);
	json_u64(j, "zap_writes", st->zap_writes);
	json_u64(j, "pool_flushes", st->pool_flushes);
	json_u64(j, "root_hits", st->root_hits);
	json_u64(j, "protects", st->protects);
	json_u64(j, "unprotects", st->unprotects);
	json_u64(j, "resyncs", st->resyncs);
	json_u64(j, "pte_zaps", st->pte_zaps);
	json_u64(j, "prefetched", st->prefetched);
	json_u64(j, "prefilled", st->prefilled);
	json_u64(j, "refilled", st->refilled);
	json_close(j);
}

void report_write(struct json *j, const struct guestcpu *g)
{
	write_traps(j, &g->stats);
	write_shadow(j, &g->shadow.stats);
	write_relocation(j, &g->reloc, g->stub.base);
	if (g->pers && g->pers->write_stats)
		g->pers->write_stats(j, g);
}
