/*
 * test_stats.c - the JSON writer and -stats output, from a VM built in memory (no KVM).
 *
 * Outputs are compared with the expected text whole (the version aside, which meson
 * decides), and every one is also checked to be JSON by a small parser here, which
 * refuses a repeated key as well.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "front/config.h"
#include "shadow/guestcpu.h"
#include "front/exitcode.h"
#include "front/stats.h"
#include "front/phase.h"
#include "kvm/mode.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/* ---- a minimal JSON checker: objects, strings and integers, which is all lodger writes ---- */

static const char *skip_ws(const char *p)
{
	return p + strspn(p, " \t\r\n");
}

/* A string; its raw (still escaped) text goes to key (room for 256 bytes). */
static const char *parse_string(const char *p, char *key)
{
	size_t n = 0;

	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL; /* unescaped control character */
		int len = 1;	     /* of what stands for one character */

		if (*p == '\\') {
			len = p[1] == 'u' ? 6 : 2;
			if (p[1] == 'u') {
				for (int i = 2; i < 6; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
			} else if (!p[1] || !strchr("\"\\/bfnrt", p[1])) {
				return NULL;
			}
		}
		for (int i = 0; i < len; i++)
			if (n < 255)
				key[n++] = p[i];
		p += len - 1;
	}
	key[n] = '\0';
	return p + 1;
}

static const char *parse_value(const char *p);

static const char *parse_object(const char *p)
{
	char keys[64][256];
	int nkeys = 0;

	if (*p++ != '{')
		return NULL;
	p = skip_ws(p);
	if (*p == '}')
		return p + 1;
	for (;;) {
		cr_assert(nkeys < 64, "too many keys for the checker");
		p = parse_string(skip_ws(p), keys[nkeys]);
		if (!p)
			return NULL;
		for (int i = 0; i < nkeys; i++)
			cr_assert(strcmp(keys[i], keys[nkeys]) != 0, "repeated key '%s'", keys[i]);
		nkeys++;
		p = skip_ws(p);
		if (*p++ != ':')
			return NULL;
		p = parse_value(skip_ws(p));
		if (!p)
			return NULL;
		p = skip_ws(p);
		if (*p == '}')
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *parse_value(const char *p)
{
	char scratch[256];

	if (*p == '{')
		return parse_object(p);
	if (*p == '"')
		return parse_string(p, scratch);
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0)
		return p + (*p == 't' ? 4 : 5);
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p) || (*p == '0' && isdigit((unsigned char)p[1])))
		return NULL;
	return p + strspn(p, "0123456789");
}

static void assert_json(const char *text)
{
	const char *end = parse_object(skip_ws(text));

	cr_assert(end, "not JSON:\n%s", text);
	cr_assert(strcmp(end, "\n") == 0, "expected one newline after the object, seen '%s'", end);
}

Test(json, the_checker_refuses_what_is_not_json)
{
	static const char *const bad[] = {
		"{",
		"{\"a\": 1,}",
		"{\"a\" 1}",
		"{\"a\": 01}",
		"{\"a\": \"x}",
		"{\"a\": \"\n\"}",
		"{\"a\": \"\\x\"}",
		"{\"a\": \"\\u12\"}",
		"{a: 1}",
		"{\"a\": -}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!parse_object(bad[i]), "expected '%s' refused", bad[i]);
	cr_assert(parse_object("{\"a\\\"\\u00e9\": {\"b\": -0}, \"c\": \"\"}"),
		  "expected a valid object accepted");
}

/* ---- helpers ---- */

static char *read_all(FILE *f)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;

	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? 2 * cap : 8192;
			buf = realloc(buf, cap);
			cr_assert(buf, "out of memory");
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (n == 0)
			break;
	}
	buf[len] = '\0';
	return buf;
}

/* Runs stats_write into a temporary file and returns what it wrote. */
static char *stats_text(const struct vm *vm, int exit_status)
{
	char path[] = "/tmp/lodger-stats-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	char *text;

	cr_assert(fd >= 0, "mkstemp failed");
	close(fd);
	cr_assert(stats_write(vm, exit_status, path) == 0, "expected stats_write to succeed");
	f = fopen(path, "r");
	cr_assert(f, "cannot reopen %s", path);
	text = read_all(f);
	fclose(f);
	unlink(path);
	return text;
}

/*
 * The version is meson's to decide: checks that one is there, then compares the text
 * with `want`, in which the version line reads "lodger": "V".
 */
static void assert_stats_text(const char *text, const char *want)
{
	static const char head[] = "{\n  \"lodger\": \"";
	const char *v = text + strlen(head);
	size_t vlen;
	char *normalised;

	assert_json(text);
	cr_assert(strncmp(text, head, strlen(head)) == 0, "expected the version first, seen:\n%s",
		  text);
	vlen = strcspn(v, "\"");
	cr_assert(vlen && strncmp(v, "unknown", vlen) != 0, "expected a version, seen '%.*s'",
		  (int)vlen, v);
	cr_assert(asprintf(&normalised, "%sV%s", head, v + vlen) > 0);
	cr_assert_str_eq(normalised, want, "expected:\n%s\nseen:\n%s", want, normalised);
	free(normalised);
}

/* A VM as vm_run leaves it, without KVM: config, one vCPU, its guest CPU in shadow mode. */
struct fake {
	struct config cfg;
	struct vm vm;
	struct vcpu vcpu;
	struct guestcpu *guest;
};

static void fake_init(struct fake *f, enum vm_mode mode)
{
	memset(f, 0, sizeof(*f));
	config_init_defaults(&f->cfg);
	f->cfg.mode = mode;
	f->vm.cfg = &f->cfg;
	f->vm.mode = mode_get(mode); /* as vm_prepare sets it */
	f->vm.vcpu = &f->vcpu;
	f->vcpu.vm = &f->vm;
	if (mode == MODE_SHADOW) {
		f->guest = calloc(1, sizeof(*f->guest)); /* large: not on the stack */
		cr_assert(f->guest, "out of memory");
		f->vcpu.guest = f->guest;
	}
}

static void fake_done(struct fake *f)
{
	free(f->guest);
	config_free(&f->cfg);
}

/* ---- the writer ---- */

static char *string_text(const char *s)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	cr_assert(f, "open_memstream failed");
	json_string(f, s);
	fclose(f);
	return buf;
}

Test(json, strings_escape_quotes_backslashes_and_control_characters)
{
	static const struct {
		const char *s, *want;
	} cases[] = {
		{"", "\"\""},
		{"plain text", "\"plain text\""},
		{"say \"hi\"", "\"say \\\"hi\\\"\""},
		{"C:\\dir\\", "\"C:\\\\dir\\\\\""},
		{"a\nb\tc\rd", "\"a\\u000ab\\u0009c\\u000dd\""},
		{"\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""},
		{"\x1b[31m", "\"\\u001b[31m\""},
		{" /'<>&", "\" /'<>&\""},
		{"caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\""}, /* UTF-8 kept */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = string_text(cases[i].s);

		cr_assert_str_eq(text, cases[i].want, "case %zu: expected %s, seen %s", i,
				 cases[i].want, text);
		free(text);
	}
}

Test(json, objects_nest_and_keys_are_escaped)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	cr_assert(f, "open_memstream failed");
	json_begin(&j, f);
	json_str(&j, "k\"ey\n", "v\\al");
	json_open(&j, "empty");
	json_close(&j);
	json_open(&j, "nested");
	json_int(&j, "negative", -3);
	json_open(&j, "deeper");
	json_u64(&j, "max", UINT64_MAX);
	json_close(&j);
	json_close(&j);
	json_u64(&j, "last", 0);
	json_close(&j);
	fclose(f);
	cr_assert_str_eq(buf,
			 "{\n"
			 "  \"k\\\"ey\\u000a\": \"v\\\\al\",\n"
			 "  \"empty\": {},\n"
			 "  \"nested\": {\n"
			 "    \"negative\": -3,\n"
			 "    \"deeper\": {\n"
			 "      \"max\": 18446744073709551615\n"
			 "    }\n"
			 "  },\n"
			 "  \"last\": 0\n"
			 "}\n",
			 "seen:\n%s", buf);
	assert_json(buf);
	free(buf);
}

Test(json, an_empty_outermost_object_is_one_line)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	cr_assert(f, "open_memstream failed");
	json_begin(&j, f);
	json_close(&j);
	fclose(f);
	cr_assert_str_eq(buf, "{}\n", "seen '%s'", buf);
	free(buf);
}

/* ---- stats_write ---- */

Test(stats, direct_mode_lists_nonzero_exits_and_no_traps)
{
	struct fake f;
	char *text;

	fake_init(&f, MODE_DIRECT);
	f.vcpu.exits[KVM_EXIT_IO] = 12;
	f.vcpu.exits[KVM_EXIT_MMIO] = 3;
	f.vcpu.exits[KVM_EXIT_HLT] = 0; /* zero: left out */
	f.vcpu.exits[KVM_EXIT_SHUTDOWN] = 1;
	f.vcpu.completed = 7;
	text = stats_text(&f.vm, 8);
	assert_stats_text(text, "{\n"
				"  \"lodger\": \"V\",\n"
				"  \"mode\": \"direct\",\n"
				"  \"exit_status\": 8,\n"
				"  \"exit\": {\n"
				"    \"cause\": \"triple-fault\"\n"
				"  },\n"
				"  \"wall_time_ns\": 0,\n"
				"  \"kvm_exits\": {\n"
				"    \"IO\": 12,\n"
				"    \"MMIO\": 3,\n"
				"    \"SHUTDOWN\": 1\n"
				"  },\n"
				"  \"instructions_completed_for_kvm\": 7\n"
				"}\n");
	free(text);
	fake_done(&f);
}

Test(stats, shadow_mode_adds_traps_and_shadow_counters)
{
	struct fake f;
	struct guestcpu_stats *gs;
	struct shadow_stats *ss;
	char *text;

	fake_init(&f, MODE_SHADOW);
	gs = &f.guest->stats;
	ss = &f.guest->shadow.stats;
	f.vcpu.exits[KVM_EXIT_IO] = 40;
	gs->by_vector[3] = 1;
	gs->by_vector[13] = 5;
	gs->by_vector[14] = 30;
	gs->by_vector[255] = 2;
	gs->ns_by_vector[3] = 700;
	gs->ns_by_vector[14] = 9000;
	gs->ns_by_vector[255] = 80;
	gs->syscalls = 13;
	gs->syscall_ns = 2600;
	for (unsigned k = 0; k < TK_KINDS; k++)
		gs->by_kind[k] = 10 + k;
	gs->by_place[TRAP_IN_STUB] = 100;
	gs->by_place[TRAP_IN_VMM] = 38;
	gs->stub_cli = 60;
	gs->stub_sti = 40;
	f.guest->reloc.enabled = true;
	f.guest->reloc.seed = 42;
	f.guest->reloc.stats = (struct reloc_stats){.conflicts = 4,
						    .to_unused = 1,
						    .to_random = 2,
						    .hot_moves = 1,
						    .search_tables = 77,
						    .displaced = 20,
						    .refused = 1,
						    .ns = 5000};
	f.guest->stub.base = 0xfffffe0000000000ULL;
	*ss = (struct shadow_stats){.fills = 25,
				    .guest_faults = 4,
				    .root_switches = 6,
				    .root_flushes = 2,
				    .evictions = 1,
				    .invlpgs = 9,
				    .kvm_flushes = 3,
				    .kvm_tlb_flushes = 2,
				    .kvm_zaps = 1,
				    .kvm_flush_returns = 2,
				    .zap_writes = 9,
				    .pool_flushes = 3,
				    .root_hits = 5,
				    .protects = 7,
				    .unprotects = 8,
				    .resyncs = 10,
				    .pte_zaps = 11,
				    .prefetched = 12,
				    .prefilled = 13,
				    .refilled = 14};
	text = stats_text(&f.vm, 0);
	assert_stats_text(text, "{\n"
				"  \"lodger\": \"V\",\n"
				"  \"mode\": \"shadow\",\n"
				"  \"exit_status\": 0,\n"
				"  \"exit\": {\n"
				"    \"cause\": \"power-off\"\n"
				"  },\n"
				"  \"wall_time_ns\": 0,\n"
				"  \"kvm_exits\": {\n"
				"    \"IO\": 40\n"
				"  },\n"
				"  \"instructions_completed_for_kvm\": 0,\n"
				"  \"traps\": {\n"
				"    \"total\": 138,\n"
				"    \"by_vector\": {\n"
				"      \"3\": 1,\n"
				"      \"13\": 5,\n"
				"      \"14\": 30,\n"
				"      \"255\": 2\n"
				"    },\n"
				"    \"time_ns_by_vector\": {\n"
				"      \"3\": 700,\n"
				"      \"13\": 0,\n"
				"      \"14\": 9000,\n"
				"      \"255\": 80\n"
				"    },\n"
				"    \"syscalls\": 13,\n"
				"    \"syscall_time_ns\": 2600,\n"
				"    \"by_kind\": {\n"
				"      \"shadow_fill\": 10,\n"
				"      \"reflected\": 11,\n"
				"      \"emulated\": 12,\n"
				"      \"syscall\": 13,\n"
				"      \"halt_wake\": 14,\n"
				"      \"port_io\": 15\n"
				"    },\n"
				"    \"handled_in\": {\n"
				"      \"stub\": 100,\n"
				"      \"vmm\": 38\n"
				"    },\n"
				"    \"stub_fast_paths\": {\n"
				"      \"cli\": 60,\n"
				"      \"sti\": 40\n"
				"    }\n"
				"  },\n"
				"  \"shadow\": {\n"
				"    \"fills\": 25,\n"
				"    \"guest_faults\": 4,\n"
				"    \"root_switches\": 6,\n"
				"    \"root_flushes\": 2,\n"
				"    \"evictions\": 1,\n"
				"    \"invlpgs\": 9,\n"
				"    \"kvm_flushes\": 3,\n"
				"    \"kvm_tlb_flushes\": 2,\n"
				"    \"kvm_zaps\": 1,\n"
				"    \"kvm_flush_returns\": 2,\n"
				"    \"zap_writes\": 9,\n"
				"    \"pool_flushes\": 3,\n"
				"    \"root_hits\": 5,\n"
				"    \"protects\": 7,\n"
				"    \"unprotects\": 8,\n"
				"    \"resyncs\": 10,\n"
				"    \"pte_zaps\": 11,\n"
				"    \"prefetched\": 12,\n"
				"    \"prefilled\": 13,\n"
				"    \"refilled\": 14\n"
				"  },\n"
				"  \"relocation\": {\n"
				"    \"enabled\": true,\n"
				"    \"seed\": 42,\n"
				"    \"stub_base\": \"0xfffffe0000000000\",\n"
				"    \"conflicts\": 4,\n"
				"    \"to_unused_region\": 1,\n"
				"    \"to_random_region\": 2,\n"
				"    \"hot_moves\": 1,\n"
				"    \"search_tables\": 77,\n"
				"    \"displaced_accesses_served\": 20,\n"
				"    \"refused\": 1,\n"
				"    \"time_ns\": 5000\n"
				"  }\n"
				"}\n");
	free(text);
	fake_done(&f);
}

Test(stats, a_quiet_shadow_guest_writes_empty_maps_and_zero_kinds)
{
	struct fake f;
	char *text;

	fake_init(&f, MODE_SHADOW);
	text = stats_text(&f.vm, 3);
	assert_json(text);
	cr_assert(strstr(text, "  \"kvm_exits\": {},\n") &&
			  strstr(text, "    \"total\": 0,\n    \"by_vector\": {},\n") &&
			  strstr(text, "      \"port_io\": 0\n") &&
			  strstr(text, "\"kvm_flushes\": 0"),
		  "expected empty maps and zero counts, seen:\n%s", text);
	free(text);
	fake_done(&f);
}

Test(stats, kind_names_are_all_there_and_distinct)
{
	for (unsigned k = 0; k < TK_KINDS; k++) {
		cr_assert(trap_kind_names[k] && *trap_kind_names[k], "kind %u has no name", k);
		for (unsigned l = 0; l < k; l++)
			cr_assert(strcmp(trap_kind_names[k], trap_kind_names[l]) != 0,
				  "kinds %u and %u are both '%s'", l, k, trap_kind_names[k]);
	}
}

Test(stats, unnamed_exit_reasons_are_keyed_by_number)
{
	struct fake f;
	char *text;

	fake_init(&f, MODE_DIRECT);
	f.vcpu.exits[KVM_EXIT_HLT] = 2;
	f.vcpu.exits[60] = 1;
	f.vcpu.exits[61] = 4;
	text = stats_text(&f.vm, 0);
	assert_json(text); /* two unnamed reasons must not share a key */
	cr_assert(strstr(text, "    \"HLT\": 2,\n    \"60\": 1,\n    \"61\": 4\n"),
		  "expected HLT by name and 60, 61 by number, seen:\n%s", text);
	free(text);
	fake_done(&f);
}

Test(stats, phases_that_occurred_are_listed_with_their_tail)
{
	struct fake f;
	char *text;

	fake_init(&f, MODE_DIRECT);
	f.vcpu.exits[KVM_EXIT_IO] = 3;
	phase_add(&f.vcpu.phases[PHASE_KVM_RUN], 1000);	   /* bucket 9 */
	phase_add(&f.vcpu.phases[PHASE_KVM_RUN], 1100);	   /* bucket 10 */
	phase_add(&f.vcpu.phases[PHASE_MEMSLOT], 5000000); /* bucket 22: a stall */
	text = stats_text(&f.vm, 0);
	assert_stats_text(text, "{\n"
				"  \"lodger\": \"V\",\n"
				"  \"mode\": \"direct\",\n"
				"  \"exit_status\": 0,\n"
				"  \"exit\": {\n"
				"    \"cause\": \"power-off\"\n"
				"  },\n"
				"  \"wall_time_ns\": 0,\n"
				"  \"kvm_exits\": {\n"
				"    \"IO\": 3\n"
				"  },\n"
				"  \"instructions_completed_for_kvm\": 0,\n"
				"  \"phases\": {\n"
				"    \"kvm_run\": {\n"
				"      \"count\": 2,\n"
				"      \"total_ns\": 2100,\n"
				"      \"max_ns\": 1100,\n"
				"      \"p50_ns\": 1023,\n"
				"      \"p99_ns\": 1100,\n"
				"      \"log2_ns\": {\n"
				"        \"9\": 1,\n"
				"        \"10\": 1\n"
				"      }\n"
				"    },\n"
				"    \"memslot\": {\n"
				"      \"count\": 1,\n"
				"      \"total_ns\": 5000000,\n"
				"      \"max_ns\": 5000000,\n"
				"      \"p50_ns\": 5000000,\n"
				"      \"p99_ns\": 5000000,\n"
				"      \"log2_ns\": {\n"
				"        \"22\": 1\n"
				"      }\n"
				"    }\n"
				"  }\n"
				"}\n");
	free(text);
	fake_done(&f);
}

Test(stats, a_vm_without_a_vcpu_still_writes_the_status)
{
	struct fake f;
	char *text;

	fake_init(&f, MODE_SHADOW); /* vm_prepare failed: no vCPU, no guest CPU */
	f.vm.vcpu = NULL;
	text = stats_text(&f.vm, 4);
	assert_stats_text(text, "{\n"
				"  \"lodger\": \"V\",\n"
				"  \"mode\": \"shadow\",\n"
				"  \"exit_status\": 4,\n"
				"  \"exit\": {\n"
				"    \"cause\": \"bad-image\"\n"
				"  },\n"
				"  \"wall_time_ns\": 0,\n"
				"  \"kvm_exits\": {},\n"
				"  \"instructions_completed_for_kvm\": 0\n"
				"}\n");
	free(text);
	fake_done(&f);
}

Test(stats, an_existing_file_is_replaced)
{
	char path[] = "/tmp/lodger-stats-XXXXXX";
	int fd = mkstemp(path);
	struct fake f;
	FILE *in;
	char *text;

	cr_assert(fd >= 0, "mkstemp failed");
	cr_assert(write(fd, "old contents, longer than nothing\n", 34) == 34);
	close(fd);
	fake_init(&f, MODE_DIRECT);
	f.vm.vcpu = NULL;
	cr_assert(stats_write(&f.vm, 1, path) == 0, "expected stats_write to succeed");
	in = fopen(path, "r");
	cr_assert(in, "cannot reopen %s", path);
	text = read_all(in);
	fclose(in);
	unlink(path);
	assert_json(text);
	cr_assert(!strstr(text, "old contents"), "expected the file truncated, seen:\n%s", text);
	free(text);
	fake_done(&f);
}

Test(stats, dash_writes_to_stderr, .init = cr_redirect_stderr)
{
	struct fake f;
	char *text;

	fake_init(&f, MODE_DIRECT);
	f.vcpu.exits[KVM_EXIT_IO] = 1;
	cr_assert(stats_write(&f.vm, 0, "-") == 0, "expected stats_write to succeed");
	fflush(stderr);
	text = read_all(cr_get_redirected_stderr());
	assert_stats_text(text, "{\n"
				"  \"lodger\": \"V\",\n"
				"  \"mode\": \"direct\",\n"
				"  \"exit_status\": 0,\n"
				"  \"exit\": {\n"
				"    \"cause\": \"power-off\"\n"
				"  },\n"
				"  \"wall_time_ns\": 0,\n"
				"  \"kvm_exits\": {\n"
				"    \"IO\": 1\n"
				"  },\n"
				"  \"instructions_completed_for_kvm\": 0\n"
				"}\n");
	free(text);
	fake_done(&f);
}

Test(stats, an_unwritable_path_is_one_line, .init = cr_redirect_stderr)
{
	struct fake f;
	char *err;

	fake_init(&f, MODE_DIRECT);
	cr_assert(stats_write(&f.vm, 0, "/nonexistent/dir/stats.json") == -ENOENT,
		  "expected -ENOENT");
	fflush(stderr);
	err = read_all(cr_get_redirected_stderr());
	cr_assert_str_eq(err,
			 "lodger: -stats /nonexistent/dir/stats.json: No such file or directory\n",
			 "seen '%s'", err);
	free(err);
	fake_done(&f);
}

Test(stats, a_full_disk_is_reported, .init = cr_redirect_stderr)
{
	struct fake f;
	char *err;

	/* Linux always has /dev/full: every write to it fails with ENOSPC. */
	cr_assert_eq(access("/dev/full", W_OK), 0, "expected a writable /dev/full");
	fake_init(&f, MODE_DIRECT);
	cr_assert(stats_write(&f.vm, 0, "/dev/full") == -ENOSPC, "expected -ENOSPC");
	fflush(stderr);
	err = read_all(cr_get_redirected_stderr());
	cr_assert_str_eq(err, "lodger: -stats /dev/full: No space left on device\n", "seen '%s'",
			 err);
	free(err);
	fake_done(&f);
}

/* ---- the exit cause (-stats "exit") ---- */

Test(stats, the_exit_cause_names_who_ended_the_run)
{
	struct fake f;
	char *text;

	cr_assert_str_eq(stats_exit_cause(0, 0), "power-off");
	cr_assert_str_eq(stats_exit_cause((5 << 1) | 1, 0), "debug-exit");
	cr_assert_str_eq(stats_exit_cause(EXIT_TRIPLE_FAULT, 0), "triple-fault");
	cr_assert_str_eq(stats_exit_cause(EXIT_USER_QUIT, 0), "user-quit");
	cr_assert_str_eq(stats_exit_cause(EXIT_SIGNAL, SIGTERM), "signal");
	cr_assert_str_eq(stats_exit_cause(EXIT_HOST_ERROR, 0), "host-error");
	fake_init(&f, MODE_DIRECT);
	text = stats_text(&f.vm, (42 << 1) | 1);
	assert_json(text);
	cr_assert(strstr(text, "  \"exit\": {\n    \"cause\": \"debug-exit\",\n"
			       "    \"debug_exit_value\": 42\n  },\n"),
		  "expected the debug-exit value, seen:\n%s", text);
	free(text);
	fake_done(&f);
}

Test(stats, wall_time_runs_from_the_start)
{
	struct fake f;
	char *text, *p;
	struct timespec ten_ms = {0, 10 * 1000 * 1000};

	stats_start_clock();
	nanosleep(&ten_ms, NULL);
	fake_init(&f, MODE_DIRECT);
	text = stats_text(&f.vm, 0);
	p = strstr(text, "\"wall_time_ns\": ");
	cr_assert(p, "no wall_time_ns in:\n%s", text);
	cr_assert(strtoull(p + 16, NULL, 10) >= 10 * 1000 * 1000, "expected >= 10 ms, seen %s",
		  p + 16);
	free(text);
	fake_done(&f);
}
