/*
 * test_cli.c - config_from_args: every option, errors as one line, -readconfig layering.
 *
 * RUN(&r, args...) calls config_from_args with argv = { "lodger", args... } and keeps
 * what it wrote on out and err (open_memstream) and the resulting config.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/config.h"
#include "front/log.h"
#include "lodger/boot.h"

#define MiB (1ULL << 20)

struct run {
	enum config_action action;
	struct config cfg;
	char *out;
	char *err;
};

static void run_args(struct run *r, int argc, const char **argv)
{
	size_t out_len, err_len;
	FILE *out, *err;

	r->out = r->err = NULL;
	out = open_memstream(&r->out, &out_len);
	err = open_memstream(&r->err, &err_len);
	cr_assert(out && err, "open_memstream failed");
	r->action = config_from_args(&r->cfg, argc, (char **)argv, out, err);
	fclose(out);
	fclose(err);
}

#define RUN(r, ...)                                                                                \
	do {                                                                                       \
		const char *argv_[] = {"lodger", __VA_ARGS__};                                     \
		run_args(r, (int)(sizeof(argv_) / sizeof(argv_[0])), argv_);                       \
	} while (0)

static void run_done(struct run *r)
{
	config_free(&r->cfg);
	free(r->out);
	free(r->err);
}

static void assert_runs(const struct run *r)
{
	cr_assert(r->action == CONFIG_RUN, "expected CONFIG_RUN, seen %d with err '%s'", r->action,
		  r->err);
	cr_assert(!*r->err && !*r->out, "expected no output, seen out '%s' err '%s'", r->out,
		  r->err);
}

/* Failed with exactly one line "lodger: ..." on err containing `what`, nothing on out. */
static void assert_fails(const struct run *r, const char *what)
{
	size_t len = strlen(r->err);

	cr_assert(r->action == CONFIG_EXIT_FAIL, "expected CONFIG_EXIT_FAIL, seen %d", r->action);
	cr_assert(strncmp(r->err, "lodger: ", 8) == 0, "expected 'lodger: ...', seen '%s'", r->err);
	cr_assert(len && strchr(r->err, '\n') == r->err + len - 1,
		  "expected exactly one line, seen '%s'", r->err);
	cr_assert(strstr(r->err, what), "expected err to mention '%s', seen '%s'", what, r->err);
	cr_assert(!*r->out, "expected nothing on out, seen '%s'", r->out);
}

static void assert_err_is(const struct run *r, const char *line)
{
	cr_assert(r->action == CONFIG_EXIT_FAIL, "expected CONFIG_EXIT_FAIL, seen %d", r->action);
	cr_assert_str_eq(r->err, line, "expected '%s', seen '%s'", line, r->err);
}

static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/lodger-cli-XXXXXX");
	int fd = mkstemp(path);
	size_t len = strlen(text);

	cr_assert(fd >= 0, "mkstemp failed");
	cr_assert(write(fd, text, len) == (ssize_t)len, "short write to %s", path);
	close(fd);
	return path;
}

static void remove_temp(char *path)
{
	unlink(path);
	free(path);
}

/* ---- kernel ---- */

Test(kernel, is_taken_from_the_kernel_option)
{
	struct run r;

	RUN(&r, "-kernel", "guests/hello.elf");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.kernel, "guests/hello.elf", "seen '%s'", r.cfg.kernel);
	run_done(&r);
}

Test(kernel, is_taken_from_the_last_plain_argument)
{
	struct run r;

	RUN(&r, "-m", "64M", "guests/hello.elf");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.kernel, "guests/hello.elf", "seen '%s'", r.cfg.kernel);
	run_done(&r);
}

Test(kernel, given_both_ways_is_refused)
{
	struct run r;

	RUN(&r, "-kernel", "a.elf", "b.elf");
	assert_fails(&r, "two kernels given: -kernel 'a.elf' and 'b.elf'");
	run_done(&r);
}

Test(kernel, two_plain_arguments_are_refused)
{
	struct run r;

	RUN(&r, "a.elf", "b.elf");
	assert_fails(&r, "unexpected argument 'b.elf'");
	run_done(&r);
}

Test(kernel, missing_is_refused)
{
	struct run r;

	RUN(&r, "-m", "64M");
	assert_fails(&r, "no kernel given");
	run_done(&r);
}

Test(kernel, empty_path_is_refused)
{
	struct run r;

	RUN(&r, "-kernel", "");
	assert_fails(&r, "empty path");
	run_done(&r);
}

Test(kernel, after_a_double_dash_may_start_with_a_dash)
{
	struct run r;

	RUN(&r, "--", "-odd.elf");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.kernel, "-odd.elf", "seen '%s'", r.cfg.kernel);
	run_done(&r);
}

/* ---- append, initrd ---- */

Test(append, sets_the_command_line_even_if_it_starts_with_a_dash)
{
	struct run r;

	RUN(&r, "-append", "-v console=ttyS0", "k");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.append, "-v console=ttyS0", "seen '%s'", r.cfg.append);
	run_done(&r);
}

Test(append, defaults_to_empty)
{
	struct run r;

	RUN(&r, "k");
	assert_runs(&r);
	cr_assert(r.cfg.append && !*r.cfg.append, "expected \"\", seen '%s'", r.cfg.append);
	run_done(&r);
}

Test(initrd, sets_the_initrd)
{
	struct run r;

	RUN(&r, "-initrd", "rd.img", "k");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.initrd, "rd.img", "seen '%s'", r.cfg.initrd);
	run_done(&r);
}

/* ---- -m ---- */

Test(m, takes_suffixes_bare_mib_and_size_key)
{
	static const struct {
		const char *arg;
		uint64_t bytes;
	} cases[] = {
		{"64M", 64 * MiB},  {"64", 64 * MiB},	{"size=512M", 512 * MiB},
		{"1g", 1ULL << 30}, {"8192k", 8 * MiB}, {"4097K", 5 * MiB},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;

		RUN(&r, "-m", cases[i].arg, "k");
		assert_runs(&r);
		cr_assert(r.cfg.mem_size == cases[i].bytes, "-m %s: expected %llu, seen %llu",
			  cases[i].arg, (unsigned long long)cases[i].bytes,
			  (unsigned long long)r.cfg.mem_size);
		run_done(&r);
	}
}

Test(m, too_small_is_refused)
{
	struct run r;

	RUN(&r, "-m", "2M", "k");
	assert_err_is(&r, "lodger: -m 2M: less than the minimum of 4 MiB\n");
	run_done(&r);
}

Test(m, too_large_is_refused)
{
	struct run r;

	RUN(&r, "-m", "4G", "k");
	assert_err_is(&r, "lodger: -m 4G: more than the maximum of 3072 MiB\n");
	run_done(&r);
}

Test(m, garbled_sizes_are_refused)
{
	static const char *const bad[] = {"12X", "", "-5", "size=", "1.5G", "0x10"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run r;

		RUN(&r, "-m", bad[i], "k");
		assert_fails(&r, "not a size");
		run_done(&r);
	}
}

Test(m, overflowing_size_is_too_large)
{
	struct run r;

	RUN(&r, "-m", "99999999999999999999G", "k");
	assert_fails(&r, "more than the maximum of 3072 MiB");
	run_done(&r);
}

Test(m, unknown_property_is_refused)
{
	struct run r;

	RUN(&r, "-m", "64M,slots=2", "k");
	assert_fails(&r, "unknown property 'slots'");
	run_done(&r);
}

Test(m, the_last_one_wins)
{
	struct run r;

	RUN(&r, "-m", "64M", "-m", "32M", "k");
	assert_runs(&r);
	cr_assert(r.cfg.mem_size == 32 * MiB, "expected 32 MiB, seen %llu",
		  (unsigned long long)r.cfg.mem_size);
	run_done(&r);
}

/* ---- -smp ---- */

Test(smp, one_is_accepted_bare_or_as_cpus)
{
	struct run r;

	RUN(&r, "-smp", "1", "-smp", "cpus=1", "k");
	assert_runs(&r);
	cr_assert(r.cfg.smp == 1, "expected 1, seen %u", r.cfg.smp);
	run_done(&r);
}

Test(smp, two_is_refused_for_now)
{
	struct run r;

	RUN(&r, "-smp", "2", "k");
	assert_err_is(&r, "lodger: -smp 2: only 1 vCPU is supported for now\n");
	run_done(&r);
}

Test(smp, zero_and_garbage_are_refused)
{
	struct run r;

	RUN(&r, "-smp", "0", "k");
	assert_fails(&r, "-smp 0: need at least 1 vCPU");
	run_done(&r);
	RUN(&r, "-smp", "two", "k");
	assert_fails(&r, "-smp two: not a number");
	run_done(&r);
	RUN(&r, "-smp", "1,sockets=2", "k");
	assert_fails(&r, "-smp 1,sockets=2: sockets=2: only 1 vCPU");
	run_done(&r);
	RUN(&r, "-smp", "1,sokets=1", "k");
	assert_fails(&r, "unknown property 'sokets'");
	run_done(&r);
}

/* ---- -serial ---- */

Test(serial, takes_stdio_file_none_and_null)
{
	static const struct {
		const char *arg;
		enum serial_backend serial;
	} cases[] = {
		{"stdio", SERIAL_STDIO}, {"file:out.txt", SERIAL_FILE},	  {"none", SERIAL_NONE},
		{"null", SERIAL_NULL},	 {"mon:stdio", SERIAL_MON_STDIO},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;

		RUN(&r, "-serial", cases[i].arg, "k");
		assert_runs(&r);
		cr_assert(r.cfg.serial == cases[i].serial, "-serial %s: expected %d, seen %d",
			  cases[i].arg, cases[i].serial, r.cfg.serial);
		if (cases[i].serial == SERIAL_FILE)
			cr_assert_str_eq(r.cfg.serial_path, "out.txt", "seen '%s'",
					 r.cfg.serial_path);
		run_done(&r);
	}
}

Test(serial, other_backends_and_an_empty_file_are_refused)
{
	struct run r;

	RUN(&r, "-serial", "pty", "k");
	assert_fails(&r, "-serial pty: not supported by lodger: lodger has no pseudo-terminal");
	run_done(&r);
	RUN(&r, "-serial", "stdoi", "k");
	assert_fails(&r,
		     "-serial stdoi: unknown backend (stdio, mon:stdio, file:PATH, null or none)");
	run_done(&r);
	RUN(&r, "-serial", "file:", "k");
	assert_fails(&r, "empty path");
	run_done(&r);
}

/* ---- flags ---- */

Test(flags, nographic_no_reboot_and_enable_kvm_are_accepted)
{
	struct run r;

	RUN(&r, "-nographic", "-no-reboot", "-enable-kvm", "k");
	assert_runs(&r);
	cr_assert(r.cfg.nographic && r.cfg.no_reboot, "expected both set, seen %d/%d",
		  r.cfg.nographic, r.cfg.no_reboot);
	run_done(&r);
}

Test(flags, double_dash_spellings_are_accepted)
{
	struct run r;

	RUN(&r, "--m", "16M", "--kernel", "k", "--no-reboot");
	assert_runs(&r);
	cr_assert(r.cfg.mem_size == 16 * MiB && r.cfg.no_reboot, "expected --m and --no-reboot");
	run_done(&r);
}

/* ---- -machine, -accel ---- */

Test(machine, mode_shadow_is_parsed)
{
	struct run r;

	RUN(&r, "-machine", "mode=shadow", "k");
	assert_runs(&r);
	cr_assert(r.cfg.mode == MODE_SHADOW, "expected shadow, seen %d", r.cfg.mode);
	run_done(&r);
}

Test(machine, type_mode_and_accel_are_parsed)
{
	struct run r;

	RUN(&r, "-M", "lodger,mode=direct,accel=kvm", "-machine", "type=lodger", "k");
	assert_runs(&r);
	cr_assert(r.cfg.mode == MODE_DIRECT, "expected direct, seen %d", r.cfg.mode);
	run_done(&r);
}

Test(machine, bogus_property_is_refused)
{
	struct run r;

	RUN(&r, "-machine", "lodger,bogus=1", "k");
	assert_fails(&r, "-machine lodger,bogus=1: unknown property 'bogus'");
	run_done(&r);
}

Test(machine, unknown_type_mode_or_accel_is_refused)
{
	struct run r;

	RUN(&r, "-machine", "pc", "k");
	assert_fails(&r, "unknown machine type 'pc'");
	run_done(&r);
	RUN(&r, "-machine", "mode=fast", "k");
	assert_fails(&r, "unknown mode 'fast'");
	run_done(&r);
	RUN(&r, "-machine", "accel=tcg", "k");
	assert_fails(&r, "unknown accelerator 'tcg'");
	run_done(&r);
	RUN(&r, "-machine", "lodger,shadow", "k");
	assert_fails(&r, "'shadow' is not key=value");
	run_done(&r);
}

Test(accel, kvm_with_a_mode_is_accepted)
{
	struct run r;

	RUN(&r, "-accel", "kvm,mode=shadow", "k");
	assert_runs(&r);
	cr_assert(r.cfg.mode == MODE_SHADOW, "expected shadow, seen %d", r.cfg.mode);
	run_done(&r);
}

Test(accel, tcg_is_refused)
{
	struct run r;

	RUN(&r, "-accel", "tcg", "k");
	assert_err_is(&r,
		      "lodger: -accel tcg: unknown accelerator 'tcg' (lodger has only 'kvm')\n");
	run_done(&r);
}

Test(accel, type_is_not_an_accel_property)
{
	struct run r;

	RUN(&r, "-accel", "kvm,type=lodger", "k");
	assert_fails(&r, "unknown property 'type'");
	run_done(&r);
}

Test(machine, shadow_settings_are_parsed_alongside_type_mode_and_accel)
{
	struct run r;

	RUN(&r, "-machine",
	    "lodger,mode=shadow,accel=kvm,stub-base=0xffff800000200000,traps=vmm,relocate=off,"
	    "seed=12345",
	    "k");
	assert_runs(&r);
	cr_assert(r.cfg.mode == MODE_SHADOW, "expected shadow, seen %d", r.cfg.mode);
	cr_assert(r.cfg.stub_base_set && r.cfg.stub_base == 0xffff800000200000ULL,
		  "stub base: seen %d %#llx", r.cfg.stub_base_set,
		  (unsigned long long)r.cfg.stub_base);
	cr_assert(r.cfg.traps == TRAPS_VMM, "expected traps vmm, seen %d", r.cfg.traps);
	cr_assert(!r.cfg.relocate, "expected relocation off");
	cr_assert(r.cfg.seed_set && r.cfg.seed == 12345, "seed: seen %d %llu", r.cfg.seed_set,
		  (unsigned long long)r.cfg.seed);
	run_done(&r);
}

Test(machine, shadow_settings_default_to_lodger_choosing)
{
	struct run r;

	RUN(&r, "-machine", "mode=shadow", "k");
	assert_runs(&r);
	cr_assert(!r.cfg.stub_base_set && !r.cfg.seed_set, "expected stub base and seed unset");
	cr_assert(r.cfg.traps == TRAPS_AUTO && r.cfg.relocate, "expected traps auto, relocate on");
	run_done(&r);
}

Test(machine, shadow_settings_are_accepted_in_direct_mode)
{
	struct run r;

	RUN(&r, "-M", "mode=direct,stub-base=2097152,traps=auto,relocate=on,seed=0x1", "k");
	assert_runs(&r);
	cr_assert(r.cfg.mode == MODE_DIRECT && r.cfg.stub_base == 2 * MiB && r.cfg.seed == 1,
		  "expected direct mode with the settings kept");
	run_done(&r);
}

Test(machine, the_last_shadow_setting_wins)
{
	struct run r;

	RUN(&r, "-machine", "traps=vmm,seed=1", "-machine", "traps=auto", "-M", "seed=2", "k");
	assert_runs(&r);
	cr_assert(r.cfg.traps == TRAPS_AUTO && r.cfg.seed == 2, "expected auto and 2, seen %d %llu",
		  r.cfg.traps, (unsigned long long)r.cfg.seed);
	run_done(&r);
}

Test(machine, kvm_sync_takes_auto_or_memslot_and_the_last_wins)
{
	struct run r;

	RUN(&r, "k");
	assert_runs(&r);
	cr_assert_not(r.cfg.kvm_sync_memslot, "expected auto by default");
	run_done(&r);
	RUN(&r, "-machine", "kvm-sync=memslot", "k");
	assert_runs(&r);
	cr_assert(r.cfg.kvm_sync_memslot);
	run_done(&r);
	RUN(&r, "-machine", "kvm-sync=memslot", "-M", "kvm-sync=auto", "k");
	assert_runs(&r);
	cr_assert_not(r.cfg.kvm_sync_memslot);
	run_done(&r);
	RUN(&r, "-machine", "kvm-sync=tlb", "k");
	assert_err_is(&r,
		      "lodger: -machine kvm-sync=tlb: unknown kvm-sync 'tlb' (auto or memslot)\n");
	run_done(&r);
}

Test(machine, a_bad_stub_base_names_the_value_and_the_rule)
{
	struct run r;

	RUN(&r, "-machine", "stub-base=0x201000", "k");
	assert_err_is(&r, "lodger: -machine stub-base=0x201000: stub base 0x201000 is not 2 "
			  "MiB-aligned (a multiple of 0x200000)\n");
	run_done(&r);
	RUN(&r, "-machine", "mode=shadow,stub-base=0x0000800000000000", "k");
	assert_err_is(&r, "lodger: -machine mode=shadow,stub-base=0x0000800000000000: stub base "
			  "0x800000000000 is not canonical (bits 63..47 must be equal)\n");
	run_done(&r);
	RUN(&r, "-machine", "stub-base=", "k");
	assert_err_is(&r, "lodger: -machine stub-base=: not a number (decimal, or hex with 0x)\n");
	run_done(&r);
	RUN(&r, "-machine", "stub-base=2M", "k");
	assert_fails(&r, "-machine stub-base=2M: not a number");
	run_done(&r);
}

Test(machine, bad_traps_relocate_and_seed_are_refused)
{
	struct run r;

	RUN(&r, "-machine", "traps=stub", "k");
	assert_err_is(&r, "lodger: -machine traps=stub: unknown trap path 'stub' (auto or vmm)\n");
	run_done(&r);
	RUN(&r, "-machine", "relocate=maybe", "k");
	assert_err_is(&r, "lodger: -machine relocate=maybe: expected on or off (or yes/no, "
			  "true/false)\n");
	run_done(&r);
	RUN(&r, "-machine", "seed=-1", "k");
	assert_err_is(&r, "lodger: -machine seed=-1: not a number (decimal, or hex with 0x)\n");
	run_done(&r);
	RUN(&r, "-machine", "seed=0x10000000000000000", "k");
	assert_err_is(&r, "lodger: -machine seed=0x10000000000000000: more than 64 bits\n");
	run_done(&r);
}

Test(machine, unknown_property_lists_every_known_one)
{
	struct run r;

	RUN(&r, "-machine", "lodger,stub_base=0", "k");
	assert_err_is(&r,
		      "lodger: -machine lodger,stub_base=0: unknown property 'stub_base' "
		      "(lodger knows type, mode, personality, accel, stub-base, traps, kvm-sync, "
		      "relocate, seed, reloc-hot and reloc-window-ms)\n");
	run_done(&r);
}

Test(accel, shadow_settings_are_not_accel_properties)
{
	struct run r;

	RUN(&r, "-accel", "kvm,traps=vmm", "k");
	assert_fails(&r, "-accel kvm,traps=vmm: unknown property 'traps' (lodger knows accel and "
			 "mode)");
	run_done(&r);
}

/* ---- -stats ---- */

Test(stats, takes_a_file_or_a_dash_in_either_spelling)
{
	struct run r;

	RUN(&r, "k");
	assert_runs(&r);
	cr_assert(!r.cfg.stats_file, "expected no stats file by default, seen '%s'",
		  r.cfg.stats_file);
	run_done(&r);
	RUN(&r, "-stats", "out.json", "k");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.stats_file, "out.json", "seen '%s'", r.cfg.stats_file);
	run_done(&r);
	RUN(&r, "--stats", "-", "k");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.stats_file, "-", "seen '%s'", r.cfg.stats_file);
	run_done(&r);
}

Test(stats, empty_or_missing_file_is_refused)
{
	struct run r;

	RUN(&r, "-stats", "", "k");
	assert_err_is(&r, "lodger: -stats '': empty path\n");
	run_done(&r);
	RUN(&r, "k", "--stats");
	assert_err_is(&r, "lodger: option -stats needs an argument (see --help)\n");
	run_done(&r);
}

/* ---- -d, -D ---- */

Test(debug, sets_categories_and_all)
{
	struct run r;
	unsigned all = 0;

	RUN(&r, "-d", "io,boot", "k");
	assert_runs(&r);
	cr_assert(r.cfg.debug_mask == (LOG_IO | LOG_BOOT), "expected io|boot, seen %#x",
		  r.cfg.debug_mask);
	run_done(&r);
	for (const struct log_category_name *c = log_categories; c->name; c++)
		all |= c->mask;
	RUN(&r, "-d", "all", "k");
	assert_runs(&r);
	cr_assert(r.cfg.debug_mask == all, "expected %#x, seen %#x", all, r.cfg.debug_mask);
	run_done(&r);
}

Test(debug, help_lists_every_category_and_exits_ok)
{
	struct run r;

	RUN(&r, "-d", "help");
	cr_assert(r.action == CONFIG_EXIT_OK, "expected CONFIG_EXIT_OK, seen %d", r.action);
	for (const struct log_category_name *c = log_categories; c->name; c++)
		cr_assert(strstr(r.out, c->name) && strstr(r.out, c->help),
			  "expected '%s' and its help in:\n%s", c->name, r.out);
	cr_assert(!*r.err, "expected nothing on err, seen '%s'", r.err);
	run_done(&r);
}

Test(debug, bogus_category_is_refused)
{
	struct run r;

	RUN(&r, "-d", "io,bogus", "k");
	assert_err_is(&r, "lodger: -d io,bogus: unknown debug category 'bogus' (see -d help)\n");
	run_done(&r);
}

Test(debug, logfile_is_set)
{
	struct run r;

	RUN(&r, "-D", "dbg.log", "k");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.debug_file, "dbg.log", "seen '%s'", r.cfg.debug_file);
	run_done(&r);
}

/* ---- errors ---- */

Test(errors, unknown_option_is_named)
{
	struct run r;

	RUN(&r, "-foo", "k");
	assert_err_is(&r, "lodger: unknown option '-foo' (see --help)\n");
	run_done(&r);
	RUN(&r, "-");
	assert_err_is(&r, "lodger: unknown option '-' (see --help)\n");
	run_done(&r);
}

Test(errors, missing_argument_names_the_option)
{
	struct run r;

	RUN(&r, "k", "-m");
	assert_err_is(&r, "lodger: option -m needs an argument (see --help)\n");
	run_done(&r);
	RUN(&r, "--readconfig");
	assert_fails(&r, "option -readconfig needs an argument");
	run_done(&r);
}

Test(errors, a_newline_in_an_argument_stays_one_line)
{
	struct run r;

	RUN(&r, "-m", "1\n2", "k");
	assert_fails(&r, "-m 1\\x0a2: not a size");
	run_done(&r);
}

Test(errors, no_arguments_at_all_asks_for_a_kernel)
{
	struct run r;

	RUN(&r);
	assert_fails(&r, "no kernel given");
	run_done(&r);
}

/* ---- -readconfig ---- */

Test(readconfig, command_line_wins_over_the_file_wherever_it_stands)
{
	char *file = temp_file("[memory]\n  size = \"64M\"\n[machine]\n  kernel = \"file.elf\"\n");
	struct run r;

	RUN(&r, "-m", "128M", "-readconfig", file);
	assert_runs(&r);
	cr_assert(r.cfg.mem_size == 128 * MiB, "-m before: expected 128 MiB, seen %llu",
		  (unsigned long long)r.cfg.mem_size);
	cr_assert_str_eq(r.cfg.kernel, "file.elf", "expected the file's kernel, seen '%s'",
			 r.cfg.kernel);
	run_done(&r);
	RUN(&r, "-readconfig", file, "-m", "128M");
	assert_runs(&r);
	cr_assert(r.cfg.mem_size == 128 * MiB, "-m after: expected 128 MiB, seen %llu",
		  (unsigned long long)r.cfg.mem_size);
	run_done(&r);
	RUN(&r, "-readconfig", file, "other.elf");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.kernel, "other.elf", "expected the command line's kernel, seen '%s'",
			 r.cfg.kernel);
	run_done(&r);
	remove_temp(file);
}

Test(readconfig, files_apply_in_order)
{
	char *a = temp_file("[memory]\nsize = 64M\n[machine]\nkernel = a.elf\n");
	char *b = temp_file("[memory]\nsize = 32M\n");
	struct run r;

	RUN(&r, "-readconfig", a, "-readconfig", b);
	assert_runs(&r);
	cr_assert(r.cfg.mem_size == 32 * MiB, "expected the second file's 32 MiB, seen %llu",
		  (unsigned long long)r.cfg.mem_size);
	run_done(&r);
	RUN(&r, "-readconfig", b, "-readconfig", a);
	assert_runs(&r);
	cr_assert(r.cfg.mem_size == 64 * MiB, "expected the second file's 64 MiB, seen %llu",
		  (unsigned long long)r.cfg.mem_size);
	run_done(&r);
	remove_temp(a);
	remove_temp(b);
}

Test(readconfig, an_error_in_the_file_is_reported_with_its_line)
{
	char *file = temp_file("[memory]\n  sise = \"64M\"\n");
	char *want;
	struct run r;

	cr_assert(asprintf(&want, "lodger: %s:2: unknown key 'sise' in group [memory]\n", file) >
		  0);
	RUN(&r, "-readconfig", file, "k");
	assert_err_is(&r, want);
	run_done(&r);
	free(want);
	remove_temp(file);
}

Test(readconfig, new_settings_layer_like_the_others)
{
	char *file = temp_file("[machine]\n  stub-base = \"0x400000\"\n  traps = \"vmm\"\n"
			       "  seed = \"5\"\n  relocate = \"off\"\n"
			       "[lodger]\n  stats = \"file.json\"\n");
	struct run r;

	RUN(&r, "-machine", "seed=6,relocate=on", "-stats", "cli.json", "-readconfig", file, "k");
	assert_runs(&r);
	cr_assert(r.cfg.stub_base_set && r.cfg.stub_base == 4 * MiB && r.cfg.traps == TRAPS_VMM,
		  "expected the file's stub base and traps kept");
	cr_assert(r.cfg.seed == 6 && r.cfg.relocate,
		  "expected the command line's seed and relocate");
	cr_assert_str_eq(r.cfg.stats_file, "cli.json", "seen '%s'", r.cfg.stats_file);
	run_done(&r);
	RUN(&r, "-readconfig", file, "k");
	assert_runs(&r);
	cr_assert(r.cfg.seed == 5 && !r.cfg.relocate, "expected the file's seed and relocate");
	cr_assert_str_eq(r.cfg.stats_file, "file.json", "seen '%s'", r.cfg.stats_file);
	run_done(&r);
	remove_temp(file);
}

Test(readconfig, a_missing_file_is_refused)
{
	struct run r;

	RUN(&r, "-readconfig", "/nonexistent.cfg", "k");
	assert_fails(&r, "'/nonexistent.cfg': No such file or directory");
	run_done(&r);
}

/* ---- --print-config ---- */

Test(print_config, prints_the_merged_config_and_exits_ok)
{
	char *file = temp_file("[memory]\nsize = 64M\n[lodger]\ndebug = exit\n");
	struct run r;

	RUN(&r, "--print-config", "-readconfig", file, "-append", "console=ttyS0", "-machine",
	    "mode=shadow", "k.elf");
	cr_assert(r.action == CONFIG_EXIT_OK, "expected CONFIG_EXIT_OK, seen %d (err '%s')",
		  r.action, r.err);
	cr_assert(!*r.err, "expected nothing on err, seen '%s'", r.err);
	cr_assert(strstr(r.out, "kernel = \"k.elf\"") && strstr(r.out, "mode = \"shadow\"") &&
			  strstr(r.out, "append = \"console=ttyS0\"") &&
			  strstr(r.out, "size = \"64M\"") && strstr(r.out, "debug = \"exit\""),
		  "expected kernel, mode, append, size and debug, seen:\n%s", r.out);
	run_done(&r);
	remove_temp(file);
}

Test(print_config, output_read_back_gives_the_same_config)
{
	struct run first, second;
	char *file;
	char *printed;

	RUN(&first, "--print-config", "-m", "3G", "-serial", "file:out.txt", "-d", "io,cpu", "-D",
	    "d.log", "-append", "a \"b\" c", "-initrd", "rd", "-nographic", "-no-reboot", "-accel",
	    "kvm,mode=shadow", "-machine",
	    "stub-base=0xffffffffffe00000,traps=vmm,relocate=off,seed=18446744073709551615",
	    "-stats", "s.json", "k.elf");
	cr_assert(first.action == CONFIG_EXIT_OK, "expected CONFIG_EXIT_OK, seen %d ('%s')",
		  first.action, first.err);
	file = temp_file(first.out);
	RUN(&second, "--print-config", "-readconfig", file);
	cr_assert(second.action == CONFIG_EXIT_OK, "expected the printout to read back, err '%s'",
		  second.err);
	cr_assert_str_eq(first.out, second.out, "expected the same printout:\n%s\n---\n%s",
			 first.out, second.out);
	printed = first.out;
	cr_assert(strstr(printed, "size = \"3072M\"") && strstr(printed, "path = \"out.txt\""),
		  "expected size and path, seen:\n%s", printed);
	cr_assert(strstr(printed, "  stub-base = \"0xffffffffffe00000\"\n  traps = \"vmm\"\n"
				  "  relocate = \"off\"\n  seed = \"18446744073709551615\"\n") &&
			  strstr(printed, "  stats = \"s.json\"\n"),
		  "expected stub-base, traps, relocate, seed and stats, seen:\n%s", printed);
	cr_assert(second.cfg.stub_base == first.cfg.stub_base &&
			  second.cfg.seed == first.cfg.seed && second.cfg.traps == TRAPS_VMM &&
			  !second.cfg.relocate && strcmp(second.cfg.stats_file, "s.json") == 0,
		  "expected the new fields read back");
	run_done(&first);
	run_done(&second);
	remove_temp(file);
}

/* A [drive] group runs to the next group: settings of [lodger] printed after one would
 * be read back as the drive's. */
Test(print_config, name_and_pidfile_with_drives_read_back)
{
	struct run first, second;
	char *file;

	RUN(&first, "--print-config", "-drive", "file=d.img,cache=none", "-name", "vm \"one\"",
	    "-pidfile", "vm.pid", "-drive", "file=e.img,readonly=on", "k.elf");
	cr_assert(first.action == CONFIG_EXIT_OK, "expected CONFIG_EXIT_OK, seen %d ('%s')",
		  first.action, first.err);
	file = temp_file(first.out);
	RUN(&second, "--print-config", "-readconfig", file);
	cr_assert(second.action == CONFIG_EXIT_OK, "expected the printout to read back, err '%s'",
		  second.err);
	cr_assert_str_eq(first.out, second.out, "expected the same printout:\n%s\n---\n%s",
			 first.out, second.out);
	cr_assert(second.cfg.name && strcmp(second.cfg.name, "vm \"one\"") == 0 &&
			  second.cfg.pidfile && strcmp(second.cfg.pidfile, "vm.pid") == 0,
		  "expected name and pidfile read back, seen '%s' and '%s'",
		  second.cfg.name ? second.cfg.name : "(none)",
		  second.cfg.pidfile ? second.cfg.pidfile : "(none)");
	cr_assert(second.cfg.drives.n == 2 && strcmp(second.cfg.drives.d[1].file, "e.img") == 0 &&
			  second.cfg.drives.d[1].readonly,
		  "expected both drives read back");
	run_done(&first);
	run_done(&second);
	remove_temp(file);
}

Test(print_config, works_without_a_kernel)
{
	struct run r;

	RUN(&r, "--print-config");
	cr_assert(r.action == CONFIG_EXIT_OK, "expected CONFIG_EXIT_OK, seen %d", r.action);
	cr_assert(strstr(r.out, "[machine]") && !strstr(r.out, "kernel"),
		  "expected a config without kernel, seen:\n%s", r.out);
	run_done(&r);
}

/* ---- help, version ---- */

Test(info, every_help_spelling_prints_usage_and_exits_ok)
{
	static const char *const spellings[] = {"-h", "-help", "--help"};

	for (size_t i = 0; i < 3; i++) {
		struct run r;

		RUN(&r, spellings[i]);
		cr_assert(r.action == CONFIG_EXIT_OK, "%s: expected CONFIG_EXIT_OK, seen %d",
			  spellings[i], r.action);
		cr_assert(strncmp(r.out, "Usage: lodger", 13) == 0, "%s: seen '%s'", spellings[i],
			  r.out);
		cr_assert(!*r.err, "%s: expected nothing on err, seen '%s'", spellings[i], r.err);
		run_done(&r);
	}
}

Test(info, version_prints_one_line_and_exits_ok)
{
	static const char *const spellings[] = {"-version", "--version"};

	for (size_t i = 0; i < 2; i++) {
		struct run r;

		RUN(&r, spellings[i]);
		cr_assert(r.action == CONFIG_EXIT_OK, "%s: expected CONFIG_EXIT_OK, seen %d",
			  spellings[i], r.action);
		cr_assert(strncmp(r.out, "lodger ", 7) == 0 &&
				  strchr(r.out, '\n') == r.out + strlen(r.out) - 1,
			  "%s: expected one line 'lodger VERSION', seen '%s'", spellings[i], r.out);
		run_done(&r);
	}
}

Test(info, help_acts_where_it_stands)
{
	struct run r;

	RUN(&r, "-m", "64M", "--help", "-bogus");
	cr_assert(r.action == CONFIG_EXIT_OK, "expected --help to win over a later bad option");
	run_done(&r);
}

/* ---- the command lines QEMU users type (issue: QEMU compatibility) ---- */

/* Counts the lines of s. */
static unsigned lines_in(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(qemu, canonical_test_kernel_line_runs)
{
	struct run r;

	RUN(&r, "-serial", "stdio", "-display", "none", "-device",
	    "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot", "-kernel", "k");
	assert_runs(&r);
	cr_assert(r.cfg.serial == SERIAL_STDIO, "expected plain stdio, seen %d", r.cfg.serial);
	cr_assert(r.cfg.debug_exit_port == 0xf4 && r.cfg.debug_exit_size == 4,
		  "expected isa-debug-exit at 0xf4, 4 ports; seen %#x, %u", r.cfg.debug_exit_port,
		  r.cfg.debug_exit_size);
	run_done(&r);
}

Test(qemu, common_options_are_accepted)
{
	struct run r;

	RUN(&r, "-cpu", "host", "-cpu", "max", "-smp",
	    "cpus=1,sockets=1,cores=1,threads=1,maxcpus=1", "-name", "guest=vm1,debug-threads=on",
	    "-pidfile", "/tmp/p", "-no-shutdown", "-nographic", "-enable-kvm", "k");
	assert_runs(&r);
	cr_assert_str_eq(r.cfg.name, "vm1");
	cr_assert_str_eq(r.cfg.pidfile, "/tmp/p");
	cr_assert(r.cfg.no_shutdown && r.cfg.nographic);
	cr_assert(r.cfg.serial == SERIAL_MON_STDIO, "-nographic: expected mon:stdio, seen %d",
		  r.cfg.serial);
	run_done(&r);
}

Test(qemu, debug_exit_can_move)
{
	struct run r;

	RUN(&r, "-device", "isa-debug-exit,iobase=0x501,iosize=2", "k");
	assert_runs(&r);
	cr_assert(r.cfg.debug_exit_port == 0x501 && r.cfg.debug_exit_size == 2);
	run_done(&r);
	RUN(&r, "-device", "isa-debug-exit,iobase=0x3fc", "k");
	assert_fails(&r, "overlap the UART");
	run_done(&r);
	RUN(&r, "-device", "isa-debug-exit,iosize=3", "k");
	assert_fails(&r, "iosize 3");
	run_done(&r);
	RUN(&r, "-device", "virtio-net-pci", "k");
	assert_fails(&r, "-device virtio-net-pci: not supported by lodger");
	run_done(&r);
}

Test(qemu, nographic_and_nodefaults_pick_the_console_unless_serial_is_given)
{
	struct run r;

	RUN(&r, "-nographic", "-serial", "stdio", "k");
	assert_runs(&r);
	cr_assert(r.cfg.serial == SERIAL_STDIO, "explicit stdio wins, seen %d", r.cfg.serial);
	run_done(&r);
	RUN(&r, "-nodefaults", "k");
	assert_runs(&r);
	cr_assert(r.cfg.serial == SERIAL_NONE, "-nodefaults: no UART, seen %d", r.cfg.serial);
	run_done(&r);
	RUN(&r, "k");
	assert_runs(&r);
	cr_assert(r.cfg.serial == SERIAL_STDIO, "default: stdio, seen %d", r.cfg.serial);
	run_done(&r);
}

Test(qemu, a_second_serial_is_refused)
{
	struct run r;

	RUN(&r, "-serial", "stdio", "-serial", "file:x", "k");
	assert_fails(&r, "-serial file:x: a second -serial (COM2) is not supported by lodger");
	run_done(&r);
}

Test(qemu, unsupported_differs_from_a_typo)
{
	struct run r;

	RUN(&r, "-netdev", "user,id=n0", "k");
	assert_err_is(&r, "lodger: option -netdev is not supported by lodger: lodger has no "
			  "network devices\n");
	run_done(&r);
	RUN(&r, "-kernal", "k");
	assert_err_is(&r, "lodger: unknown option '-kernal' (did you mean -kernel? see --help)\n");
	run_done(&r);
	RUN(&r, "--nographics", "k");
	assert_err_is(
		&r,
		"lodger: unknown option '--nographics' (did you mean -nographic? see --help)\n");
	run_done(&r);
	RUN(&r, "-cpu", "qemu64", "k");
	assert_fails(&r, "-cpu qemu64: not supported by lodger");
	run_done(&r);
	RUN(&r, "-display", "gtk", "k");
	assert_fails(&r, "-display gtk: not supported by lodger");
	run_done(&r);
}

Test(qemu, every_problem_is_reported_at_once)
{
	struct run r;

	RUN(&r, "-monitor", "stdio", "-vga", "std", "-m", "12X", "-frob", "-bios", "x.bin", "k");
	cr_assert(r.action == CONFIG_EXIT_FAIL);
	cr_assert_eq(lines_in(r.err), 5, "expected 5 lines, seen '%s'", r.err);
	cr_assert(strstr(r.err, "-monitor is not supported") && strstr(r.err, "-vga is not") &&
			  strstr(r.err, "-m 12X") && strstr(r.err, "'-frob'") &&
			  strstr(r.err, "-bios is not supported"),
		  "seen '%s'", r.err);
	/* each of them one line starting "lodger: " */
	for (const char *p = r.err; *p; p = strchr(p, '\n') + 1)
		cr_assert(strncmp(p, "lodger: ", 8) == 0, "seen '%s'", r.err);
	run_done(&r);
}

Test(qemu, daemonize_needs_a_console_off_the_terminal)
{
	struct run r;

	RUN(&r, "-daemonize", "k");
	assert_fails(&r, "-daemonize needs a console other than the terminal");
	run_done(&r);
	RUN(&r, "-daemonize", "-serial", "null", "k");
	assert_runs(&r);
	run_done(&r);
}
