/*
 * test_config.c - sizes, -readconfig files, config_print's round trip and validation.
 *
 * Files are written with mkstemp under /tmp; error output is captured with
 * open_memstream and must be exactly one line starting "lodger: ".
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/config.h"
#include "front/log.h"
#include "lodger/boot.h"

#define MiB (1ULL << 20)

/* ---- helpers ---- */

struct capture {
	FILE *f;
	char *buf;
	size_t len;
};

static FILE *capture_open(struct capture *c)
{
	c->buf = NULL;
	c->f = open_memstream(&c->buf, &c->len);
	cr_assert(c->f, "open_memstream failed");
	return c->f;
}

/* Closes the stream; the text stays in c->buf (free it). */
static char *capture_close(struct capture *c)
{
	fclose(c->f);
	return c->buf;
}

static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/lodger-cfg-XXXXXX");
	int fd = mkstemp(path);
	size_t len = strlen(text);

	cr_assert(fd >= 0, "mkstemp failed");
	cr_assert(write(fd, text, len) == (ssize_t)len, "short write to %s", path);
	close(fd);
	return path;
}

/* A config file's read: its result, what it wrote on err, and its path. */
struct read {
	struct config cfg;
	int ret;
	char *err;
	char *path;
};

static void read_text(struct read *r, const char *text)
{
	struct capture c;

	config_init_defaults(&r->cfg);
	r->path = temp_file(text);
	r->ret = config_read_file(&r->cfg, r->path, capture_open(&c));
	r->err = capture_close(&c);
}

static void read_done(struct read *r)
{
	unlink(r->path);
	free(r->path);
	free(r->err);
	config_free(&r->cfg);
}

static void assert_read_ok(const struct read *r)
{
	cr_assert(r->ret == 0, "expected the file to read cleanly, got %d and '%s'", r->ret,
		  r->err);
	cr_assert(r->err[0] == '\0', "expected nothing on err, seen '%s'", r->err);
}

/* The read failed with one line "lodger: PATH:LINE: ..." containing `what`. */
static void assert_read_error(const struct read *r, int line, const char *what)
{
	char *where;

	cr_assert(asprintf(&where, "lodger: %s:%d: ", r->path, line) > 0);
	cr_assert(r->ret < 0, "expected the read to fail, it returned %d", r->ret);
	cr_assert(strncmp(r->err, where, strlen(where)) == 0,
		  "expected err to start '%s', seen '%s'", where, r->err);
	cr_assert(strchr(r->err, '\n') == r->err + strlen(r->err) - 1,
		  "expected exactly one line on err, seen '%s'", r->err);
	cr_assert(strstr(r->err, what), "expected err to mention '%s', seen '%s'", what, r->err);
	free(where);
}

/* ---- parse_size ---- */

static uint64_t size_of(const char *s)
{
	uint64_t bytes = 0;

	cr_assert(parse_size(s, &bytes) == 0, "expected '%s' to parse", s);
	return bytes;
}

Test(parse_size, bare_number_is_mib)
{
	cr_assert(size_of("64") == 64 * MiB, "expected 64 MiB, seen %llu",
		  (unsigned long long)size_of("64"));
}

Test(parse_size, suffixes_are_binary_and_case_insensitive)
{
	static const struct {
		const char *s;
		uint64_t bytes;
	} cases[] = {
		{"512B", 512},	    {"4k", 4096},	{"4K", 4096},	    {"2m", 2 * MiB},
		{"2M", 2 * MiB},    {"1g", 1ULL << 30}, {"3G", 3ULL << 30}, {"1T", 1ULL << 40},
		{"1t", 1ULL << 40}, {"0", 0},		{"007M", 7 * MiB},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert(size_of(cases[i].s) == cases[i].bytes, "'%s': expected %llu, seen %llu",
			  cases[i].s, (unsigned long long)cases[i].bytes,
			  (unsigned long long)size_of(cases[i].s));
}

Test(parse_size, garbage_is_refused)
{
	static const char *const bad[] = {"",  "12X",  "-5",   " 5",  "5 ",  "+5",  "5MB",
					  "M", "0x10", "1.5G", "1e3", "5MM", "5Mi", "abc"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t bytes = 12345;

		cr_assert(parse_size(bad[i], &bytes) == -1, "expected '%s' to be refused", bad[i]);
		cr_assert(bytes == 12345, "'%s': expected the output untouched, seen %llu", bad[i],
			  (unsigned long long)bytes);
	}
}

Test(parse_size, overflow_is_refused)
{
	static const char *const bad[] = {"99999999999999999999G", "99999999999999999999",
					  "18446744073709551616B", "17179869184G",
					  "18014398509481984K"};
	uint64_t bytes;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(parse_size(bad[i], &bytes) == -1, "expected '%s' to overflow", bad[i]);
	cr_assert(size_of("18446744073709551615B") == UINT64_MAX,
		  "expected the largest byte count to parse exactly");
}

/* ---- config_set_mem_size ---- */

Test(mem_size, is_rounded_up_to_whole_mib)
{
	struct config cfg;
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	cr_assert(config_set_mem_size(&cfg, "4097K", why) == 0, "expected 4097K to be accepted");
	cr_assert(cfg.mem_size == 5 * MiB, "expected 5 MiB, seen %llu",
		  (unsigned long long)cfg.mem_size);
}

Test(mem_size, below_the_minimum_is_refused)
{
	struct config cfg;
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	cr_assert(config_set_mem_size(&cfg, "3M", why) == -1, "expected 3M to be refused");
	cr_assert(strstr(why, "minimum of 4 MiB"), "expected the minimum named, seen '%s'", why);
	cr_assert(cfg.mem_size == CONFIG_DEFAULT_MEM_SIZE, "expected the size untouched");
}

Test(mem_size, above_the_maximum_is_refused)
{
	struct config cfg;
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	cr_assert(config_set_mem_size(&cfg, "3G", why) == 0, "expected 3G (the maximum) accepted");
	cr_assert(config_set_mem_size(&cfg, "3073M", why) == -1, "expected 3073M to be refused");
	cr_assert(strstr(why, "maximum of 3072 MiB"), "expected the maximum named, seen '%s'", why);
	cr_assert(config_set_mem_size(&cfg, "3145729K", why) == -1,
		  "expected 3 GiB + 1 KiB (rounded up past the maximum) to be refused");
}

/* ---- defaults ---- */

Test(defaults, are_128m_one_vcpu_direct_stdio)
{
	struct config cfg;

	config_init_defaults(&cfg);
	cr_assert(cfg.mem_size == 128 * MiB, "expected 128 MiB, seen %llu",
		  (unsigned long long)cfg.mem_size);
	cr_assert(cfg.smp == 1 && cfg.mode == MODE_DIRECT && cfg.serial == SERIAL_STDIO,
		  "expected smp 1, direct, stdio; seen %u, %d, %d", cfg.smp, cfg.mode, cfg.serial);
	cr_assert(!cfg.kernel && !cfg.initrd && !cfg.serial_path && !cfg.debug_file,
		  "expected no paths");
	cr_assert(cfg.append && !*cfg.append, "expected append to be \"\"");
	config_free(&cfg);
}

Test(defaults, shadow_settings_are_left_to_lodger_and_no_stats)
{
	struct config cfg;

	config_init_defaults(&cfg);
	cr_assert(!cfg.stub_base_set && !cfg.seed_set, "expected stub base and seed unset");
	cr_assert(cfg.traps == TRAPS_AUTO, "expected traps auto, seen %d", cfg.traps);
	cr_assert(cfg.relocate, "expected relocation on");
	cr_assert(!cfg.stats_file, "expected no stats file");
	config_free(&cfg);
}

/* ---- reading files ---- */

static const char full_file[] = "# every group and key\n"
				"[machine]\n"
				"  type = \"lodger\"\n"
				"  mode = \"shadow\"\n"
				"  accel = \"kvm\"\n"
				"  stub-base = \"0xffff800000200000\"\n"
				"  traps = \"vmm\"\n"
				"  relocate = \"off\"\n"
				"  seed = \"42\"\n"
				"  kernel = \"guests/hello.elf\"\n"
				"  append = \"console=ttyS0 quiet\"\n"
				"  initrd = \"initrd.img\"\n"
				"[memory]\n"
				"  size = \"64M\"\n"
				"[smp-opts]\n"
				"  cpus = \"1\"\n"
				"[chardev \"serial0\"]\n"
				"  backend = \"file\"\n"
				"  path = \"out.txt\"\n"
				"[lodger]\n"
				"  debug = \"io,boot\"\n"
				"  logfile = \"debug.log\"\n"
				"  stats = \"stats.json\"\n"
				"  no-reboot = \"on\"\n"
				"  nographic = \"yes\"\n";

Test(read_file, sets_every_group_and_key)
{
	struct read r;

	read_text(&r, full_file);
	assert_read_ok(&r);
	cr_assert(r.cfg.mode == MODE_SHADOW, "expected mode shadow, seen %d", r.cfg.mode);
	cr_assert_str_eq(r.cfg.kernel, "guests/hello.elf",
			 "expected kernel guests/hello.elf, seen %s", r.cfg.kernel);
	cr_assert_str_eq(r.cfg.append, "console=ttyS0 quiet", "append: seen '%s'", r.cfg.append);
	cr_assert_str_eq(r.cfg.initrd, "initrd.img", "initrd: seen '%s'", r.cfg.initrd);
	cr_assert(r.cfg.mem_size == 64 * MiB, "expected 64 MiB, seen %llu",
		  (unsigned long long)r.cfg.mem_size);
	cr_assert(r.cfg.smp == 1, "expected 1 vCPU, seen %u", r.cfg.smp);
	cr_assert(r.cfg.serial == SERIAL_FILE, "expected serial file, seen %d", r.cfg.serial);
	cr_assert_str_eq(r.cfg.serial_path, "out.txt", "serial path: seen '%s'", r.cfg.serial_path);
	cr_assert(r.cfg.debug_mask == (LOG_IO | LOG_BOOT), "expected io|boot, seen %#x",
		  r.cfg.debug_mask);
	cr_assert_str_eq(r.cfg.debug_file, "debug.log", "logfile: seen '%s'", r.cfg.debug_file);
	cr_assert(r.cfg.no_reboot && r.cfg.nographic, "expected no-reboot and nographic on");
	cr_assert(r.cfg.stub_base_set && r.cfg.stub_base == 0xffff800000200000ULL,
		  "expected stub base 0xffff800000200000, seen %d %#llx", r.cfg.stub_base_set,
		  (unsigned long long)r.cfg.stub_base);
	cr_assert(r.cfg.traps == TRAPS_VMM, "expected traps vmm, seen %d", r.cfg.traps);
	cr_assert(!r.cfg.relocate, "expected relocation off");
	cr_assert(r.cfg.seed_set && r.cfg.seed == 42, "expected seed 42, seen %d %llu",
		  r.cfg.seed_set, (unsigned long long)r.cfg.seed);
	cr_assert_str_eq(r.cfg.stats_file, "stats.json", "stats: seen '%s'", r.cfg.stats_file);
	read_done(&r);
}

/* ---- shadow-mode settings and stats ---- */

Test(stub_base, takes_hex_and_decimal_at_the_canonical_limits)
{
	static const struct {
		const char *s;
		uint64_t base;
	} cases[] = {
		{"0", 0},
		{"0x0", 0},
		{"2097152", 2 * MiB},
		{"0X400000", 4 * MiB},
		{"0x00007fffffe00000", 0x00007fffffe00000ULL}, /* the lower half's last region */
		{"0xffff800000000000", 0xffff800000000000ULL}, /* the upper half's first */
		{"0xFFFFFFFFFFE00000", 0xffffffffffe00000ULL},
		{"18446744073707454464", 0xffffffffffe00000ULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		char why[CONFIG_WHY_MAX];

		config_init_defaults(&cfg);
		cr_assert(config_set_stub_base(&cfg, cases[i].s, why) == 0,
			  "'%s': expected it accepted, seen '%s'", cases[i].s, why);
		cr_assert(cfg.stub_base_set && cfg.stub_base == cases[i].base,
			  "'%s': expected %#llx, seen %#llx", cases[i].s,
			  (unsigned long long)cases[i].base, (unsigned long long)cfg.stub_base);
	}
}

Test(stub_base, unaligned_or_non_canonical_names_the_value_and_the_rule)
{
	static const struct {
		const char *s;
		const char *why;
	} cases[] = {
		{"0x1000", "stub base 0x1000 is not 2 MiB-aligned (a multiple of 0x200000)"},
		{"4096", "stub base 0x1000 is not 2 MiB-aligned (a multiple of 0x200000)"},
		{"0xffffffffffffffff", "stub base 0xffffffffffffffff is not 2 MiB-aligned"},
		{"0x800000000000",
		 "stub base 0x800000000000 is not canonical (bits 63..47 must be equal)"},
		{"0xffff7fffffe00000", "stub base 0xffff7fffffe00000 is not canonical"},
		{"0x8000000000000000", "is not canonical"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		char why[CONFIG_WHY_MAX];

		config_init_defaults(&cfg);
		cr_assert(config_set_stub_base(&cfg, cases[i].s, why) == -1,
			  "'%s': expected it refused", cases[i].s);
		cr_assert(strstr(why, cases[i].why), "'%s': expected '%s', seen '%s'", cases[i].s,
			  cases[i].why, why);
		cr_assert(!cfg.stub_base_set, "'%s': expected the config untouched", cases[i].s);
	}
}

Test(stub_base, garbled_numbers_are_refused)
{
	static const char *const bad[] = {"",	   "0x",  "x200000", "-0x200000", "+2097152", " 0",
					  "0x0x0", "0o7", "2M",	     "0x1g",	  "1e6"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config cfg;
		char why[CONFIG_WHY_MAX];

		config_init_defaults(&cfg);
		cr_assert(config_set_stub_base(&cfg, bad[i], why) == -1, "'%s': expected refused",
			  bad[i]);
		cr_assert_str_eq(why, "not a number (decimal, or hex with 0x)", "'%s': seen '%s'",
				 bad[i], why);
	}
}

Test(seed, takes_any_64_bit_number_and_refuses_more)
{
	struct config cfg;
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	cr_assert(config_set_seed(&cfg, "0", why) == 0 && cfg.seed_set && cfg.seed == 0,
		  "expected seed 0 accepted (and marked set)");
	cr_assert(config_set_seed(&cfg, "18446744073709551615", why) == 0 && cfg.seed == UINT64_MAX,
		  "expected the largest decimal seed");
	cr_assert(config_set_seed(&cfg, "0xdeadBEEF", why) == 0 && cfg.seed == 0xdeadbeef,
		  "expected a hex seed, seen %#llx", (unsigned long long)cfg.seed);
	cr_assert(config_set_seed(&cfg, "18446744073709551616", why) == -1 &&
			  strcmp(why, "more than 64 bits") == 0,
		  "expected 2^64 refused, seen '%s'", why);
	cr_assert(config_set_seed(&cfg, "0x10000000000000000", why) == -1 &&
			  strcmp(why, "more than 64 bits") == 0,
		  "expected 2^64 in hex refused, seen '%s'", why);
	cr_assert(config_set_seed(&cfg, "-1", why) == -1, "expected -1 refused");
	cr_assert(cfg.seed == 0xdeadbeef, "expected refusals to leave the seed alone");
}

Test(traps_relocate, take_their_words_only)
{
	struct config cfg;
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	cr_assert(config_set_traps(&cfg, "vmm", why) == 0 && cfg.traps == TRAPS_VMM);
	cr_assert(config_set_traps(&cfg, "auto", why) == 0 && cfg.traps == TRAPS_AUTO);
	cr_assert(config_set_traps(&cfg, "stub", why) == -1, "expected 'stub' refused");
	cr_assert_str_eq(why, "unknown trap path 'stub' (auto or vmm)", "seen '%s'", why);
	cr_assert(config_set_traps(&cfg, "VMM", why) == -1, "expected case to matter");
	cr_assert(config_set_relocate(&cfg, "off", why) == 0 && !cfg.relocate);
	cr_assert(config_set_relocate(&cfg, "yes", why) == 0 && cfg.relocate);
	cr_assert(config_set_relocate(&cfg, "sometimes", why) == -1, "expected a non-boolean");
	cr_assert(strstr(why, "expected on or off"), "seen '%s'", why);
}

Test(read_file, indented_keys_are_separate_keys_not_continuations)
{
	struct read r;

	read_text(&r, "[machine]\n\tkernel = \"k\"\n\tappend = \"a\"\n    mode = \"shadow\"\n");
	assert_read_ok(&r);
	cr_assert_str_eq(r.cfg.kernel, "k", "expected kernel 'k', seen '%s'", r.cfg.kernel);
	cr_assert_str_eq(r.cfg.append, "a", "expected append 'a', seen '%s'", r.cfg.append);
	cr_assert(r.cfg.mode == MODE_SHADOW, "expected mode shadow, seen %d", r.cfg.mode);
	read_done(&r);
}

Test(read_file, comments_are_ignored_everywhere)
{
	struct read r;

	read_text(&r, "# hash comment\n"
		      "; semicolon comment\n"
		      "   # indented comment\n"
		      "\n"
		      "[memory]   # after a header\n"
		      "  size = \"32M\"  # after a quoted value\n"
		      "[machine] ; another\n"
		      "  kernel = \"k\" ; semicolon after a value\n"
		      "  append = bare words # after a bare value\n");
	assert_read_ok(&r);
	cr_assert(r.cfg.mem_size == 32 * MiB, "expected 32 MiB, seen %llu",
		  (unsigned long long)r.cfg.mem_size);
	cr_assert_str_eq(r.cfg.kernel, "k", "expected kernel 'k', seen '%s'", r.cfg.kernel);
	cr_assert_str_eq(r.cfg.append, "bare words", "expected 'bare words', seen '%s'",
			 r.cfg.append);
	read_done(&r);
}

Test(read_file, quotes_keep_comment_characters_and_escapes)
{
	struct read r;

	read_text(&r, "[machine]\n"
		      "  append = \"a # b ; c \\\"q\\\" \\\\ d\\n\"\n"
		      "  kernel = dir#1/k\n");
	assert_read_ok(&r);
	cr_assert_str_eq(r.cfg.append, "a # b ; c \"q\" \\ d\n", "append: seen '%s'", r.cfg.append);
	cr_assert_str_eq(r.cfg.kernel, "dir#1/k",
			 "expected a '#' inside a bare word kept, seen '%s'", r.cfg.kernel);
	read_done(&r);
}

Test(read_file, unquoted_values_are_accepted)
{
	struct read r;

	read_text(&r, "[memory]\nsize=16M\n[machine]\nmode : shadow\nkernel=/boot/k\n");
	assert_read_ok(&r);
	cr_assert(r.cfg.mem_size == 16 * MiB, "expected 16 MiB, seen %llu",
		  (unsigned long long)r.cfg.mem_size);
	cr_assert(r.cfg.mode == MODE_SHADOW, "expected shadow from 'key : value', seen %d",
		  r.cfg.mode);
	cr_assert_str_eq(r.cfg.kernel, "/boot/k", "kernel: seen '%s'", r.cfg.kernel);
	read_done(&r);
}

Test(read_file, values_longer_than_inih_line_buffer_are_read_whole)
{
	char append[1001];
	char *text;
	struct read r;

	memset(append, 'x', sizeof(append) - 1);
	append[sizeof(append) - 1] = '\0';
	cr_assert(asprintf(&text, "[machine]\n  append = \"%s\"\n  kernel = \"k\"\n", append) > 0);
	read_text(&r, text);
	assert_read_ok(&r);
	cr_assert(strcmp(r.cfg.append, append) == 0, "expected a 1000-byte append, seen %zu bytes",
		  strlen(r.cfg.append));
	cr_assert_str_eq(r.cfg.kernel, "k", "expected the next line read normally, seen '%s'",
			 r.cfg.kernel);
	free(text);
	read_done(&r);
}

Test(read_file, crlf_line_endings_and_a_bom_are_accepted)
{
	struct read r;

	read_text(&r, "\xef\xbb\xbf[memory]\r\n  size = \"8M\"\r\n");
	assert_read_ok(&r);
	cr_assert(r.cfg.mem_size == 8 * MiB, "expected 8 MiB, seen %llu",
		  (unsigned long long)r.cfg.mem_size);
	read_done(&r);
}

Test(read_file, no_reboot_and_nographic_take_every_boolean_spelling)
{
	static const char *const words[] = {"on", "off", "yes", "no", "true", "false"};

	for (size_t i = 0; i < 6; i++) {
		char *text;
		struct read r;

		cr_assert(asprintf(&text, "[lodger]\nno-reboot = \"%s\"\nnographic = %s\n",
				   words[i], words[i]) > 0);
		read_text(&r, text);
		assert_read_ok(&r);
		cr_assert(r.cfg.no_reboot == (i % 2 == 0) && r.cfg.nographic == (i % 2 == 0),
			  "'%s': expected %d, seen %d/%d", words[i], i % 2 == 0, r.cfg.no_reboot,
			  r.cfg.nographic);
		free(text);
		read_done(&r);
	}
}

Test(read_file, later_keys_and_later_files_override_earlier_ones)
{
	struct config cfg;
	struct capture c;
	char *a = temp_file("[memory]\nsize = \"64M\"\n[machine]\nkernel = \"a\"\n");
	char *b = temp_file("[memory]\nsize = \"32M\"\nsize = \"16M\"\n");

	config_init_defaults(&cfg);
	cr_assert(config_read_file(&cfg, a, capture_open(&c)) == 0, "expected %s to read", a);
	cr_assert(config_read_file(&cfg, b, c.f) == 0, "expected %s to read", b);
	cr_assert(cfg.mem_size == 16 * MiB, "expected the last size (16 MiB), seen %llu",
		  (unsigned long long)cfg.mem_size);
	cr_assert_str_eq(cfg.kernel, "a", "expected the first file's kernel kept, seen '%s'",
			 cfg.kernel);
	free(capture_close(&c));
	config_free(&cfg);
	unlink(a);
	unlink(b);
	free(a);
	free(b);
}

Test(read_file, syntax_error_is_reported_as_file_and_line)
{
	struct read r;

	read_text(&r, "[memory]\n  size = \"8M\"\n  this line has no equals sign\n");
	assert_read_error(&r, 3, "syntax error");
	read_done(&r);
}

/* Found by fuzz-config: inih took a line indented with a form feed (or \v, \r) for the
 * previous key's continuation, and lodger read a value that was never set (a crash). */
Test(read_file, a_line_indented_with_a_form_feed_is_no_continuation)
{
	static const char *const blanks[] = {"\f", " \f", "\t\v", "\r"};

	for (size_t i = 0; i < sizeof(blanks) / sizeof(blanks[0]); i++) {
		struct read r;
		char text[128];

		snprintf(text, sizeof(text), "[memory]\n  size = \"8M\"\n%skernel\"\n", blanks[i]);
		read_text(&r, text);
		assert_read_error(&r, 3, "syntax error");
		read_done(&r);
	}
}

Test(read_file, a_key_indented_with_a_form_feed_is_read)
{
	struct read r;

	read_text(&r, "[memory]\n\f size = \"8M\"\n");
	cr_assert_eq(r.ret, 0, "seen '%s'", r.err);
	cr_assert_eq(r.cfg.mem_size, 8ULL << 20);
	read_done(&r);
}

Test(read_file, unterminated_group_header_is_a_syntax_error)
{
	struct read r;

	read_text(&r, "# x\n[memory\nsize = 8M\n");
	assert_read_error(&r, 2, "group header");
	read_done(&r);
}

Test(read_file, the_first_error_in_the_file_is_the_one_reported)
{
	struct read r;

	read_text(&r, "[memory]\ngarbage\n[memory]\nsise = 8M\n");
	assert_read_error(&r, 2, "syntax error");
	read_done(&r);
}

Test(read_file, unknown_group_is_refused_even_when_empty)
{
	struct read r;

	read_text(&r, "[memory]\nsize = 8M\n[bogus]\n");
	assert_read_error(&r, 3, "unknown group [bogus]");
	read_done(&r);
}

Test(read_file, unknown_key_names_key_and_group)
{
	struct read r;
	char *want;

	read_text(&r, "# vm\n[memory]\n  sise = \"64M\"\n");
	cr_assert(asprintf(&want, "lodger: %s:3: unknown key 'sise' in group [memory]\n", r.path) >
		  0);
	cr_assert(r.ret < 0, "expected the read to fail");
	cr_assert_str_eq(r.err, want, "expected '%s', seen '%s'", want, r.err);
	free(want);
	read_done(&r);
}

Test(read_file, key_outside_any_group_is_refused)
{
	struct read r;

	read_text(&r, "size = 8M\n");
	assert_read_error(&r, 1, "outside any group");
	read_done(&r);
}

Test(read_file, bad_values_are_refused_with_their_line)
{
	static const struct {
		const char *text;
		int line;
		const char *what;
	} cases[] = {
		{"[machine]\nmode = \"fast\"\n", 2, "unknown mode 'fast'"},
		{"[machine]\ntype = \"pc\"\n", 2, "unknown machine type 'pc'"},
		{"[machine]\naccel = \"tcg\"\n", 2, "unknown accelerator 'tcg'"},
		{"[machine]\nkernel = \"\"\n", 2, "empty path"},
		{"[memory]\nsize = \"12X\"\n", 2, "not a size"},
		{"[memory]\nsize = \"1M\"\n", 2, "minimum"},
		{"[memory]\nsize = \"4G\"\n", 2, "maximum"},
		{"[smp-opts]\ncpus = \"2\"\n", 2, "only 1 vCPU is supported for now"},
		{"[smp-opts]\ncpus = \"0\"\n", 2, "at least 1 vCPU"},
		{"[chardev \"serial0\"]\nbackend = \"pty\"\n", 2, "unknown backend"},
		{"[lodger]\ndebug = \"io,bogus\"\n", 2, "unknown debug category 'bogus'"},
		{"[lodger]\nno-reboot = \"maybe\"\n", 2, "expected on or off"},
		{"[machine]\nstub-base = \"0x1000\"\n", 2,
		 "[machine] stub-base = \"0x1000\": stub base 0x1000 is not 2 MiB-aligned"},
		{"[machine]\nstub-base = \"0x800000000000\"\n", 2, "is not canonical"},
		{"[machine]\nstub-base = \"high\"\n", 2, "not a number"},
		{"[machine]\nstub-base = \"\"\n", 2, "not a number"},
		{"[machine]\ntraps = \"fast\"\n", 2, "unknown trap path 'fast' (auto or vmm)"},
		{"[machine]\nrelocate = \"maybe\"\n", 2,
		 "[machine] relocate = \"maybe\": expected on"},
		{"[machine]\nseed = \"abc\"\n", 2, "[machine] seed = \"abc\": not a number"},
		{"[machine]\nseed = \"99999999999999999999\"\n", 2, "more than 64 bits"},
		{"[lodger]\nstats = \"\"\n", 2, "[lodger] stats = \"\": empty path"},
		{"[lodger]\nseed = \"1\"\n", 2, "unknown key 'seed' in group [lodger]"},
		{"[machine]\nstats = \"s.json\"\n", 2, "unknown key 'stats' in group [machine]"},
		{"[machine]\nkernel = \"k\n", 2, "missing closing quote"},
		{"[machine]\nkernel = \"k\" x\n", 2, "text after the closing quote"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct read r;

		read_text(&r, cases[i].text);
		assert_read_error(&r, cases[i].line, cases[i].what);
		read_done(&r);
	}
}

Test(read_file, unknown_chardev_id_is_named)
{
	struct read r;

	read_text(&r, "[chardev \"serial1\"]\nbackend = \"stdio\"\n");
	assert_read_error(&r, 1, "unknown chardev id 'serial1'");
	read_done(&r);
}

Test(read_file, chardev_needs_an_id_and_other_groups_take_none)
{
	struct read r;

	read_text(&r, "[chardev]\nbackend = \"stdio\"\n");
	assert_read_error(&r, 1, "needs an id");
	read_done(&r);
	read_text(&r, "[memory \"m0\"]\nsize = 8M\n");
	assert_read_error(&r, 1, "takes no id");
	read_done(&r);
}

Test(read_file, file_backend_without_a_path_is_refused_at_its_line)
{
	struct read r;

	read_text(&r, "[chardev \"serial0\"]\n# no path\n  backend = \"file\"\n");
	assert_read_error(&r, 3, "needs a path");
	read_done(&r);
}

Test(read_file, missing_file_is_named_with_its_error)
{
	struct config cfg;
	struct capture c;
	char *err;

	config_init_defaults(&cfg);
	cr_assert(config_read_file(&cfg, "/nonexistent/vm.cfg", capture_open(&c)) == -1,
		  "expected a missing file to fail");
	err = capture_close(&c);
	cr_assert_str_eq(err,
			 "lodger: cannot read config file '/nonexistent/vm.cfg': No such file or "
			 "directory\n",
			 "seen '%s'", err);
	free(err);
	config_free(&cfg);
}

Test(read_file, directory_is_refused_with_its_error)
{
	struct config cfg;
	struct capture c;
	char *err;

	config_init_defaults(&cfg);
	cr_assert(config_read_file(&cfg, "/tmp", capture_open(&c)) == -1,
		  "expected a directory to fail");
	err = capture_close(&c);
	cr_assert(strstr(err, "'/tmp': Is a directory\n"), "seen '%s'", err);
	free(err);
	config_free(&cfg);
}

/* ---- config_print ---- */

static char *print_text(const struct config *cfg)
{
	struct capture c;

	config_print(cfg, capture_open(&c));
	return capture_close(&c);
}

static void assert_same_config(const struct config *a, const struct config *b)
{
	cr_assert((a->kernel == NULL) == (b->kernel == NULL) &&
			  (!a->kernel || strcmp(a->kernel, b->kernel) == 0),
		  "kernel: expected '%s', seen '%s'", a->kernel, b->kernel);
	cr_assert_str_eq(a->append, b->append, "append: expected '%s', seen '%s'", a->append,
			 b->append);
	cr_assert((a->initrd == NULL) == (b->initrd == NULL) &&
			  (!a->initrd || strcmp(a->initrd, b->initrd) == 0),
		  "initrd: expected '%s', seen '%s'", a->initrd, b->initrd);
	cr_assert(a->mem_size == b->mem_size, "mem_size: expected %llu, seen %llu",
		  (unsigned long long)a->mem_size, (unsigned long long)b->mem_size);
	cr_assert(a->smp == b->smp && a->mode == b->mode && a->serial == b->serial,
		  "smp/mode/serial: expected %u/%d/%d, seen %u/%d/%d", a->smp, a->mode, a->serial,
		  b->smp, b->mode, b->serial);
	if (a->serial == SERIAL_FILE)
		cr_assert_str_eq(a->serial_path, b->serial_path, "path: expected '%s', seen '%s'",
				 a->serial_path, b->serial_path);
	cr_assert(a->nographic == b->nographic && a->no_reboot == b->no_reboot,
		  "nographic/no_reboot: expected %d/%d, seen %d/%d", a->nographic, a->no_reboot,
		  b->nographic, b->no_reboot);
	cr_assert(a->debug_mask == b->debug_mask, "debug: expected %#x, seen %#x", a->debug_mask,
		  b->debug_mask);
	cr_assert((a->debug_file == NULL) == (b->debug_file == NULL) &&
			  (!a->debug_file || strcmp(a->debug_file, b->debug_file) == 0),
		  "logfile: expected '%s', seen '%s'", a->debug_file, b->debug_file);
	cr_assert((a->stats_file == NULL) == (b->stats_file == NULL) &&
			  (!a->stats_file || strcmp(a->stats_file, b->stats_file) == 0),
		  "stats: expected '%s', seen '%s'", a->stats_file, b->stats_file);
	cr_assert(a->stub_base_set == b->stub_base_set &&
			  (!a->stub_base_set || a->stub_base == b->stub_base),
		  "stub-base: expected %d %#llx, seen %d %#llx", a->stub_base_set,
		  (unsigned long long)a->stub_base, b->stub_base_set,
		  (unsigned long long)b->stub_base);
	cr_assert(a->seed_set == b->seed_set && (!a->seed_set || a->seed == b->seed),
		  "seed: expected %d %llu, seen %d %llu", a->seed_set, (unsigned long long)a->seed,
		  b->seed_set, (unsigned long long)b->seed);
	cr_assert(a->traps == b->traps && a->relocate == b->relocate,
		  "traps/relocate: expected %d/%d, seen %d/%d", a->traps, a->relocate, b->traps,
		  b->relocate);
}

/* Prints cfg, reads it back into a fresh config, compares both configs and texts. */
static void assert_round_trip(const struct config *cfg)
{
	char *text = print_text(cfg);
	char *again;
	struct read r;

	read_text(&r, text);
	assert_read_ok(&r);
	assert_same_config(cfg, &r.cfg);
	again = print_text(&r.cfg);
	cr_assert_str_eq(text, again, "expected the same text printed twice:\n%s\n---\n%s", text,
			 again);
	free(again);
	free(text);
	read_done(&r);
}

Test(print, round_trips_the_defaults)
{
	struct config cfg;

	config_init_defaults(&cfg);
	assert_round_trip(&cfg);
	config_free(&cfg);
}

Test(print, round_trips_every_field)
{
	struct config cfg;
	char why[CONFIG_WHY_MAX];
	char append[400];

	memset(append, 'a', sizeof(append));
	memcpy(append, "x=\"1 2\" # ; \\ end\n", 19);
	append[sizeof(append) - 1] = '\0';
	config_init_defaults(&cfg);
	cr_assert(config_set_path(&cfg.kernel, "guests/hello world.elf", why) == 0);
	cr_assert(config_set_string(&cfg.append, append, why) == 0);
	cr_assert(config_set_path(&cfg.initrd, "/tmp/initrd", why) == 0);
	cr_assert(config_set_path(&cfg.serial_path, "serial;out.txt", why) == 0);
	cr_assert(config_set_path(&cfg.debug_file, "dbg#.log", why) == 0);
	cr_assert(config_set_path(&cfg.stats_file, "stats \"x\".json", why) == 0);
	cr_assert(config_set_stub_base(&cfg, "0xffffffffffe00000", why) == 0);
	cr_assert(config_set_seed(&cfg, "18446744073709551615", why) == 0);
	cfg.traps = TRAPS_VMM;
	cfg.relocate = false;
	cfg.mem_size = 3ULL << 30;
	cfg.mode = MODE_SHADOW;
	cfg.serial = SERIAL_FILE;
	cfg.nographic = true;
	cfg.no_reboot = true;
	cfg.debug_mask = LOG_EXIT | LOG_EMUL | LOG_SERIAL;
	assert_round_trip(&cfg);
	config_free(&cfg);
}

Test(print, round_trips_a_zero_stub_base_and_seed)
{
	struct config cfg;
	char why[CONFIG_WHY_MAX];
	char *text;

	config_init_defaults(&cfg);
	cr_assert(config_set_stub_base(&cfg, "0", why) == 0);
	cr_assert(config_set_seed(&cfg, "0", why) == 0);
	text = print_text(&cfg);
	cr_assert(strstr(text, "  stub-base = \"0x0\"\n") && strstr(text, "  seed = \"0\"\n"),
		  "expected stub-base 0x0 and seed 0 written, seen:\n%s", text);
	free(text);
	assert_round_trip(&cfg);
	config_free(&cfg);
}

Test(print, round_trips_serial_none)
{
	struct config cfg;

	config_init_defaults(&cfg);
	cfg.serial = SERIAL_NONE;
	assert_round_trip(&cfg);
	config_free(&cfg);
}

Test(print, leaves_out_unset_kernel_append_and_initrd)
{
	struct config cfg;
	char *text;

	config_init_defaults(&cfg);
	text = print_text(&cfg);
	cr_assert(!strstr(text, "kernel") && !strstr(text, "append") && !strstr(text, "initrd"),
		  "expected no kernel/append/initrd keys, seen:\n%s", text);
	cr_assert(strstr(text, "[memory]\n  size = \"128M\"\n"), "expected size 128M, seen:\n%s",
		  text);
	cr_assert(!strstr(text, "stub-base") && !strstr(text, "seed") && !strstr(text, "stats"),
		  "expected no stub-base, seed or stats keys when unset, seen:\n%s", text);
	cr_assert(strstr(text, "  traps = \"auto\"\n  relocate = \"on\"\n"),
		  "expected traps auto and relocate on, seen:\n%s", text);
	free(text);
	config_free(&cfg);
}

Test(print, writes_sizes_exactly_in_m_or_k)
{
	struct config cfg;
	char *text;

	config_init_defaults(&cfg);
	cfg.mem_size = 4 * MiB + 4096;
	text = print_text(&cfg);
	cr_assert(strstr(text, "size = \"4100K\""), "expected 4100K, seen:\n%s", text);
	free(text);
	config_free(&cfg);
}

/* ---- config_validate ---- */

static char *validate_err(const struct config *cfg, int *ret)
{
	struct capture c;

	*ret = config_validate(cfg, capture_open(&c));
	return capture_close(&c);
}

Test(validate, accepts_the_defaults_and_shadow_mode)
{
	struct config cfg;
	char *err;
	int ret;

	config_init_defaults(&cfg);
	cfg.mode = MODE_SHADOW;
	err = validate_err(&cfg, &ret);
	cr_assert(ret == 0 && !*err, "expected no complaint, seen %d '%s'", ret, err);
	free(err);
}

Test(validate, refuses_out_of_range_or_unaligned_memory)
{
	static const uint64_t bad[] = {0, LODGER_RAM_MIN - MiB, LODGER_RAM_MAX + MiB, 64 * MiB + 1};
	struct config cfg;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *err;
		int ret;

		config_init_defaults(&cfg);
		cfg.mem_size = bad[i];
		err = validate_err(&cfg, &ret);
		cr_assert(ret == -1, "expected %llu bytes refused", (unsigned long long)bad[i]);
		cr_assert(strncmp(err, "lodger: memory size", 19) == 0, "seen '%s'", err);
		free(err);
	}
}

Test(validate, accepts_the_memory_bounds)
{
	static const uint64_t good[] = {LODGER_RAM_MIN, LODGER_RAM_MAX};
	struct config cfg;

	for (size_t i = 0; i < 2; i++) {
		char *err;
		int ret;

		config_init_defaults(&cfg);
		cfg.mem_size = good[i];
		err = validate_err(&cfg, &ret);
		cr_assert(ret == 0, "expected %llu bytes accepted, seen '%s'",
			  (unsigned long long)good[i], err);
		free(err);
	}
}

Test(validate, refuses_smp_other_than_one)
{
	struct config cfg;
	char *err;
	int ret;

	config_init_defaults(&cfg);
	cfg.smp = 2;
	err = validate_err(&cfg, &ret);
	cr_assert(ret == -1 && strstr(err, "only 1 vCPU is supported for now"), "seen '%s'", err);
	free(err);
	cfg.smp = 0;
	err = validate_err(&cfg, &ret);
	cr_assert(ret == -1 && strstr(err, "at least 1 vCPU"), "seen '%s'", err);
	free(err);
}

Test(validate, refuses_bad_enums_and_a_file_serial_without_path)
{
	struct config cfg;
	char *err;
	int ret;

	config_init_defaults(&cfg);
	cfg.mode = (enum vm_mode)7;
	err = validate_err(&cfg, &ret);
	cr_assert(ret == -1 && strstr(err, "unknown mode"), "seen '%s'", err);
	free(err);
	config_init_defaults(&cfg);
	cfg.serial = SERIAL_FILE;
	err = validate_err(&cfg, &ret);
	cr_assert(ret == -1 && strstr(err, "needs a path"), "seen '%s'", err);
	free(err);
}

Test(validate, refuses_a_bad_trap_path_and_a_bad_stub_base_set_directly)
{
	static const uint64_t bad[] = {0x1000, 0x800000000000ULL, 0xfffffffffffff000ULL};
	struct config cfg;
	char *err;
	int ret;

	config_init_defaults(&cfg);
	cfg.traps = (enum trap_path)5;
	err = validate_err(&cfg, &ret);
	cr_assert(ret == -1 && strcmp(err, "lodger: unknown trap path 5\n") == 0, "seen '%s'", err);
	free(err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_init_defaults(&cfg);
		cfg.stub_base = bad[i];
		err = validate_err(&cfg, &ret);
		cr_assert(ret == 0, "%#llx: expected an unset stub base to be ignored, seen '%s'",
			  (unsigned long long)bad[i], err);
		free(err);
		cfg.stub_base_set = true;
		err = validate_err(&cfg, &ret);
		cr_assert(ret == -1 && strncmp(err, "lodger: stub base 0x", 20) == 0 &&
				  strchr(err, '\n') == err + strlen(err) - 1,
			  "%#llx: expected one line about the stub base, seen '%s'",
			  (unsigned long long)bad[i], err);
		free(err);
	}
}

Test(validate, accepts_shadow_settings_in_direct_mode)
{
	struct config cfg;
	char *err;
	int ret;

	config_init_defaults(&cfg);
	cfg.mode = MODE_DIRECT;
	cfg.stub_base = 0xffff800000000000ULL;
	cfg.stub_base_set = true;
	cfg.traps = TRAPS_VMM;
	cfg.relocate = false;
	cfg.seed_set = true;
	err = validate_err(&cfg, &ret);
	cr_assert(ret == 0 && !*err, "expected no complaint, seen %d '%s'", ret, err);
	free(err);
}

/* ---- merge and errors ---- */

Test(merge, moves_only_the_fields_the_layer_sets)
{
	struct config cfg;
	struct config_layer layer;
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	config_init_defaults(&layer.cfg);
	cr_assert(config_set_path(&cfg.kernel, "file-kernel", why) == 0);
	cfg.mem_size = 64 * MiB;
	cr_assert(config_set_path(&layer.cfg.kernel, "cli-kernel", why) == 0);
	layer.cfg.mem_size = 256 * MiB; /* not marked as set: must not win */
	layer.cfg.no_reboot = true;
	layer.set = CONFIG_SET_KERNEL | CONFIG_SET_NO_REBOOT;
	config_merge(&cfg, &layer);
	cr_assert_str_eq(cfg.kernel, "cli-kernel", "expected the layer's kernel, seen '%s'",
			 cfg.kernel);
	cr_assert(cfg.mem_size == 64 * MiB, "expected the file's 64 MiB kept, seen %llu",
		  (unsigned long long)cfg.mem_size);
	cr_assert(cfg.no_reboot, "expected no_reboot from the layer");
	cr_assert(!layer.cfg.kernel, "expected the kernel moved out of the layer");
	config_free(&layer.cfg);
	config_free(&cfg);
}

Test(merge, moves_the_new_fields_with_their_set_flags)
{
	struct config cfg;
	struct config_layer layer;
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	config_init_defaults(&layer.cfg);
	cr_assert(config_set_path(&cfg.stats_file, "file.json", why) == 0);
	cr_assert(config_set_stub_base(&cfg, "0x200000", why) == 0);
	cr_assert(config_set_seed(&cfg, "7", why) == 0);
	cr_assert(config_set_path(&layer.cfg.stats_file, "-", why) == 0);
	cr_assert(config_set_stub_base(&layer.cfg, "0x400000", why) == 0);
	layer.cfg.traps = TRAPS_VMM;
	layer.cfg.relocate = false;
	cr_assert(config_set_seed(&layer.cfg, "9", why) == 0); /* not marked as set */
	layer.set = CONFIG_SET_STATS_FILE | CONFIG_SET_STUB_BASE | CONFIG_SET_TRAPS |
		    CONFIG_SET_RELOCATE;
	config_merge(&cfg, &layer);
	cr_assert_str_eq(cfg.stats_file, "-", "expected the layer's stats file, seen '%s'",
			 cfg.stats_file);
	cr_assert(!layer.cfg.stats_file, "expected the stats file moved out of the layer");
	cr_assert(cfg.stub_base_set && cfg.stub_base == 0x400000, "stub base: seen %#llx",
		  (unsigned long long)cfg.stub_base);
	cr_assert(cfg.traps == TRAPS_VMM && !cfg.relocate, "expected traps vmm, relocation off");
	cr_assert(cfg.seed_set && cfg.seed == 7, "expected the file's seed 7 kept, seen %llu",
		  (unsigned long long)cfg.seed);
	config_free(&layer.cfg);
	config_free(&cfg);
}

Test(error, control_characters_stay_on_one_line)
{
	struct capture c;
	char *err;

	config_error(capture_open(&c), "bad '%s'", "a\nb\rc");
	err = capture_close(&c);
	cr_assert_str_eq(err, "lodger: bad 'a\\x0ab\\x0dc'\n", "seen '%s'", err);
	free(err);
}

/* Bytes 0x80-0x9f are C1 controls to a terminal in an 8-bit mode (0x9b is CSI): a user's
 * path or value reaches the error line escaped, whatever its bytes. */
Test(error, bytes_above_ascii_are_escaped)
{
	struct capture c;
	char *err;

	config_error(capture_open(&c), "cannot read '%s'",
		     "\x9b"
		     "31m\xc3\xa9\x7f\xff");
	err = capture_close(&c);
	cr_assert_str_eq(err, "lodger: cannot read '\\x9b31m\\xc3\\xa9\\x7f\\xff'\n", "seen '%s'",
			 err);
	free(err);
}

Test(error, a_backslash_is_doubled_so_escapes_stay_unambiguous)
{
	struct capture c;
	char *err;

	config_error(capture_open(&c), "'%s'", "a\\x41");
	err = capture_close(&c);
	cr_assert_str_eq(err, "lodger: 'a\\\\x41'\n", "seen '%s'", err);
	free(err);
}

Test(error, a_config_file_line_with_high_bytes_is_escaped)
{
	struct capture c;
	struct config cfg;
	char *err;

	config_init_defaults(&cfg);
	cr_assert(config_read_file(&cfg, "/nonexistent/\x9b\xe9.cfg", capture_open(&c)) == -1);
	err = capture_close(&c);
	cr_assert_str_eq(err,
			 "lodger: cannot read config file '/nonexistent/\\x9b\\xe9.cfg': No such "
			 "file or directory\n",
			 "seen '%s'", err);
	free(err);
	config_free(&cfg);
}

/* pr_err and pr_warn write their lines through the same escaping. */
Test(error, log_put_line_writes_printable_ascii_only)
{
	struct capture c;
	FILE *f = capture_open(&c);
	char msg[256], *out;

	for (int i = 1; i < 256; i++)
		msg[i - 1] = (char)i;
	msg[255] = '\0';
	log_put_line(f, "p: ", msg);
	out = capture_close(&c);
	cr_assert_eq(strncmp(out, "p: \\x01\\x02", 11), 0, "seen '%.20s'", out);
	for (size_t i = 0; out[i + 1]; i++)
		cr_assert(out[i] >= 0x20 && out[i] < 0x7f, "byte %#x at %zu", (unsigned char)out[i],
			  i);
	cr_assert_eq(out[strlen(out) - 1], '\n');
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "more than one line");
	free(out);
}

Test(config_file, reloc_hot_and_window_are_read_and_checked)
{
	struct config cfg;
	char err[512] = "";

	config_init_defaults(&cfg);
	cr_assert_eq(cfg.reloc_hot, 16, "default reloc-hot: expected 16, got %u", cfg.reloc_hot);
	cr_assert_eq(cfg.reloc_window_ms, 100, "default window: expected 100, got %u",
		     cfg.reloc_window_ms);
	cr_assert_eq(config_set_reloc_hot(&cfg, "1000", err), 0, "reloc-hot 1000 refused: %s", err);
	cr_assert_eq(cfg.reloc_hot, 1000);
	cr_assert_eq(config_set_reloc_window(&cfg, "0x20", err), 0, "window 0x20 refused: %s", err);
	cr_assert_eq(cfg.reloc_window_ms, 32);
	cr_assert_lt(config_set_reloc_hot(&cfg, "0", err), 0, "reloc-hot 0 accepted");
	cr_assert(strstr(err, "out of range"), "expected 'out of range', got '%s'", err);
	cr_assert_lt(config_set_reloc_window(&cfg, "3600001", err), 0,
		     "a window of 3600001 ms accepted");
	cr_assert_lt(config_set_reloc_hot(&cfg, "lots", err), 0, "reloc-hot 'lots' accepted");
	config_free(&cfg);
}
