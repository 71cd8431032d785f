/*
 * config.c - defaults, value setters, -readconfig files, merge, print and validation.
 *
 * The file format is QEMU's -readconfig: `[group]` or `[group "id"]` headers, then
 * `key = "value"` lines and `#` comments. inih splits the lines into groups and keys
 * and numbers them; values are taken from the raw line (see read_line for why).
 * docs/config.md is the reference for every group and key.
 */
#include "front/config.h"
#include "arch/x86.h"
#include "front/log.h"
#include "gdb/server.h"
#include "lodger/boot.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/*
 * append is "" when not given; pointing at this shared empty string saves an allocation
 * that could fail in config_init_defaults, which cannot report it. Only free_str frees.
 */
static char empty_string[1];

static const char *const mode_names[] = {[MODE_DIRECT] = "direct", [MODE_SHADOW] = "shadow"};
static const char *const trap_path_names[] = {[TRAPS_AUTO] = "auto", [TRAPS_VMM] = "vmm"};
static const char *const personality_names[] = {
	[PERSONALITY_AUTO] = "auto", [PERSONALITY_NATIVE] = "native", [PERSONALITY_XEN] = "xen"};

static void free_str(char *s)
{
	if (s != empty_string)
		free(s);
}

/* Replaces *field with s (owned from now on). */
static void replace_str(char **field, char *s)
{
	free_str(*field);
	*field = s;
}

void config_init_defaults(struct config *cfg)
{
	*cfg = (struct config){
		.append = empty_string,
		.mem_size = CONFIG_DEFAULT_MEM_SIZE,
		.smp = 1,
		.mode = MODE_DIRECT,
		.serial = SERIAL_STDIO,
		.traps = TRAPS_AUTO,
		.relocate = true,
		.reloc_hot = 16,
		.reloc_window_ms = 100,
		.debug_exit_port = LODGER_DEBUG_EXIT_PORT,
		.debug_exit_size = 4,
	};
}

void config_free(struct config *cfg)
{
	free_str(cfg->kernel);
	free_str(cfg->append);
	free_str(cfg->initrd);
	free_str(cfg->serial_path);
	free_str(cfg->debug_file);
	free_str(cfg->stats_file);
	free_str(cfg->gdb);
	drive_list_free(&cfg->drives);
	free_str(cfg->name);
	free_str(cfg->pidfile);
	config_init_defaults(cfg);
}

void config_error(FILE *err, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		fputs("lodger: out of memory\n", err);
		return;
	}
	log_put_line(err, "lodger: ", msg);
	free(msg);
}

/* Fills `why` and returns -1, so setters can `return why_fail(why, ...)`. */
static int __attribute__((format(printf, 2, 3))) why_fail(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, CONFIG_WHY_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

int parse_size(const char *s, uint64_t *bytes)
{
	static const char suffixes[] = "BKMGT"; /* index * 10 is the shift */
	unsigned shift = 20;			/* no suffix: MiB, as QEMU's -m */
	unsigned long long n;
	char *end;

	/* strtoull alone would take leading spaces, a sign and "" */
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		const char *suffix = strchr(suffixes, toupper((unsigned char)*end));

		if (!suffix || end[1])
			return -1;
		shift = 10 * (unsigned)(suffix - suffixes);
	}
	if (n > (UINT64_MAX >> shift))
		return -1;
	*bytes = (uint64_t)n << shift;
	return 0;
}

/* Digits and at most one suffix letter: what parse_size refuses then is an overflow. */
static bool looks_like_size(const char *s)
{
	size_t digits = strspn(s, "0123456789");

	return digits && (!s[digits] || (strchr("bkmgtBKMGT", s[digits]) && !s[digits + 1]));
}

int config_set_mem_size(struct config *cfg, const char *s, char *why)
{
	uint64_t bytes;

	if (parse_size(s, &bytes) < 0) {
		if (!looks_like_size(s))
			return why_fail(
				why, "not a size (a number with an optional K, M, G or T suffix)");
		bytes = UINT64_MAX; /* overflowed: too large, said below */
	}
	/* compared before rounding up, which could otherwise wrap */
	if (bytes > LODGER_RAM_MAX)
		return why_fail(why, "more than the maximum of %llu MiB", LODGER_RAM_MAX >> 20);
	bytes = (bytes + LODGER_RAM_ALIGN - 1) & ~(LODGER_RAM_ALIGN - 1);
	if (bytes < LODGER_RAM_MIN)
		return why_fail(why, "less than the minimum of %llu MiB", LODGER_RAM_MIN >> 20);
	cfg->mem_size = bytes;
	return 0;
}

int config_set_smp(struct config *cfg, const char *s, char *why)
{
	unsigned long n;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return why_fail(why, "not a number of vCPUs");
	errno = 0;
	n = strtoul(s, &end, 10);
	if (*end)
		return why_fail(why, "not a number of vCPUs");
	if (n == 0 && !errno)
		return why_fail(why, "need at least 1 vCPU");
	if (n != 1 || errno)
		return why_fail(why, "only 1 vCPU is supported for now");
	cfg->smp = 1;
	return 0;
}

int config_set_mode(struct config *cfg, const char *s, char *why)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			cfg->mode = (enum vm_mode)i;
			cfg->mode_set = true;
			return 0;
		}
	}
	return why_fail(why, "unknown mode '%s' (direct or shadow)", s);
}

/*
 * A 64-bit number, hex with 0x or decimal; nothing else (no sign, blanks or octal,
 * all of which strtoull would take). Returns 0, or -1 with `why` set.
 */
static int parse_u64(const char *s, uint64_t *v, char *why)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *digits = hex ? s + 2 : s;
	size_t len = strspn(digits, hex ? "0123456789abcdefABCDEF" : "0123456789");
	unsigned long long n;

	/* checked here: strtoull would also take a second "0x" after the first */
	if (!len || digits[len])
		return why_fail(why, "not a number (decimal, or hex with 0x)");
	errno = 0;
	n = strtoull(digits, NULL, hex ? 16 : 10);
	if (errno)
		return why_fail(why, "more than 64 bits");
	*v = n;
	return 0;
}

/* Names the value and the rule it breaks; shared by the setter and config_validate. */
static int check_stub_base(uint64_t base, char *why)
{
	if (base & (CONFIG_STUB_BASE_ALIGN - 1))
		return why_fail(why,
				"stub base %#llx is not 2 MiB-aligned (a multiple of 0x200000)",
				(unsigned long long)base);
	if (!canonical(base))
		return why_fail(why, "stub base %#llx is not canonical (bits 63..47 must be equal)",
				(unsigned long long)base);
	return 0;
}

int config_set_stub_base(struct config *cfg, const char *s, char *why)
{
	uint64_t base = 0; /* GCC's -O3 cannot see parse_u64 set it whenever it returns 0 */

	if (parse_u64(s, &base, why) < 0 || check_stub_base(base, why) < 0)
		return -1;
	cfg->stub_base = base;
	cfg->stub_base_set = true;
	return 0;
}

int config_set_traps(struct config *cfg, const char *s, char *why)
{
	for (size_t i = 0; i < sizeof(trap_path_names) / sizeof(trap_path_names[0]); i++) {
		if (strcmp(s, trap_path_names[i]) == 0) {
			cfg->traps = (enum trap_path)i;
			return 0;
		}
	}
	return why_fail(why, "unknown trap path '%s' (auto or vmm)", s);
}

int config_set_kvm_sync(struct config *cfg, const char *s, char *why)
{
	if (strcmp(s, "auto") && strcmp(s, "memslot"))
		return why_fail(why, "unknown kvm-sync '%s' (auto or memslot)", s);
	cfg->kvm_sync_memslot = strcmp(s, "memslot") == 0;
	return 0;
}

int config_set_personality(struct config *cfg, const char *s, char *why)
{
	for (size_t i = 0; i < sizeof(personality_names) / sizeof(personality_names[0]); i++) {
		if (strcmp(s, personality_names[i]) == 0) {
			cfg->personality = (enum personality_choice)i;
			return 0;
		}
	}
	return why_fail(why, "unknown personality '%s' (auto, native or xen)", s);
}

const char *config_personality_name(enum personality_choice p)
{
	return (unsigned)p < sizeof(personality_names) / sizeof(personality_names[0])
		       ? personality_names[p]
		       : "?";
}

int config_set_seed(struct config *cfg, const char *s, char *why)
{
	uint64_t seed = 0; /* as in config_set_stub_base */

	if (parse_u64(s, &seed, why) < 0)
		return -1;
	cfg->seed = seed;
	cfg->seed_set = true;
	return 0;
}

static int set_bounded(unsigned *field, const char *s, uint64_t max, char *why)
{
	uint64_t v = 0; /* as in config_set_stub_base */

	if (parse_u64(s, &v, why) < 0)
		return -1;
	if (v < 1 || v > max)
		return why_fail(why, "%llu is out of range (1 to %llu)", (unsigned long long)v,
				(unsigned long long)max);
	*field = (unsigned)v;
	return 0;
}

int config_set_reloc_hot(struct config *cfg, const char *s, char *why)
{
	return set_bounded(&cfg->reloc_hot, s, 1000000, why);
}

int config_set_reloc_window(struct config *cfg, const char *s, char *why)
{
	return set_bounded(&cfg->reloc_window_ms, s, 3600000, why);
}

int config_set_debug(struct config *cfg, const char *s, char *why)
{
	const char *bad;
	size_t bad_len;
	unsigned mask;

	if (log_parse_categories(s, &mask, &bad, &bad_len) < 0)
		return why_fail(why, "unknown debug category '%.*s' (see -d help)", (int)bad_len,
				bad);
	cfg->debug_mask = mask;
	return 0;
}

int config_set_string(char **field, const char *s, char *why)
{
	char *copy = strdup(s);

	if (!copy)
		return why_fail(why, "out of memory");
	replace_str(field, copy);
	return 0;
}

int config_set_gdb(char **field, const char *s, char *why)
{
	char host[256];
	unsigned port;

	if (gdb_parse_spec(s, host, sizeof(host), &port, why, CONFIG_WHY_MAX))
		return -1;
	return config_set_string(field, s, why);
}

int config_set_path(char **field, const char *s, char *why)
{
	if (!*s)
		return why_fail(why, "empty path");
	return config_set_string(field, s, why);
}

int config_check_machine_type(const char *s, char *why)
{
	if (strcmp(s, "lodger") != 0)
		return why_fail(why, "unknown machine type '%s' (lodger has only 'lodger')", s);
	return 0;
}

int config_check_accel(const char *s, char *why)
{
	if (strcmp(s, "kvm") != 0)
		return why_fail(why, "unknown accelerator '%s' (lodger has only 'kvm')", s);
	return 0;
}

/* QEMU's -serial backends that lodger lacks, with why: "not supported" rather than "unknown". */
static const char *serial_unsupported(const char *s)
{
	static const struct {
		const char *prefix;
		const char *why;
	} known[] = {
		{"vc", "lodger has no display for a virtual console"},
		{"pty", "lodger has no pseudo-terminal backend"},
		{"tcp:", "lodger has no network backends"},
		{"telnet:", "lodger has no network backends"},
		{"udp:", "lodger has no network backends"},
		{"unix:", "lodger has no socket backends"},
		{"websocket:", "lodger has no network backends"},
		{"pipe:", "lodger has no pipe backend"},
		{"chardev:", "lodger has no -chardev"},
		{"mon:", "the only muxed console is mon:stdio"},
		{"/dev/", "lodger has no host serial-device backend"},
		{"msmouse", "lodger has no mouse"},
		{"braille", "lodger has no braille backend"},
		{"spicevmc", "lodger has no SPICE"},
		{"COM", "lodger has no host serial-port backend"},
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncmp(s, known[i].prefix, strlen(known[i].prefix)) == 0)
			return known[i].why;
	return NULL;
}

int config_set_serial(struct config *cfg, const char *s, char *why)
{
	static const struct {
		const char *name;
		enum serial_backend backend;
	} plain[] = {
		{"stdio", SERIAL_STDIO},
		{"mon:stdio", SERIAL_MON_STDIO},
		{"none", SERIAL_NONE},
		{"null", SERIAL_NULL},
	};
	const char *unsupported;

	if (strncmp(s, "file:", 5) == 0) {
		if (config_set_path(&cfg->serial_path, s + 5, why) < 0)
			return -1;
		cfg->serial = SERIAL_FILE;
		cfg->serial_set = true;
		return 0;
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (strcmp(s, plain[i].name) == 0) {
			cfg->serial = plain[i].backend;
			cfg->serial_set = true;
			free_str(cfg->serial_path);
			cfg->serial_path = NULL;
			return 0;
		}
	}
	unsupported = serial_unsupported(s);
	if (unsupported)
		return why_fail(why,
				"not supported by lodger: %s (stdio, mon:stdio, file:PATH, "
				"null or none)",
				unsupported);
	return why_fail(why, "unknown backend (stdio, mon:stdio, file:PATH, null or none)");
}

int config_set_debug_exit_port(struct config *cfg, const char *s, char *why)
{
	uint64_t v = 0; /* as in config_set_stub_base */

	if (parse_u64(s, &v, why) < 0)
		return -1;
	if (v > 0xffff)
		return why_fail(why, "port %#llx is above 0xffff", (unsigned long long)v);
	cfg->debug_exit_port = (uint16_t)v;
	return 0;
}

int config_set_debug_exit_size(struct config *cfg, const char *s, char *why)
{
	uint64_t v = 0; /* as in config_set_stub_base */

	if (parse_u64(s, &v, why) < 0)
		return -1;
	if (v != 1 && v != 2 && v != 4)
		return why_fail(why, "iosize %llu: the device spans 1, 2 or 4 ports",
				(unsigned long long)v);
	cfg->debug_exit_size = (uint8_t)v;
	return 0;
}

void config_resolve(struct config *cfg)
{
	if (cfg->serial_set)
		return;
	cfg->serial = cfg->nodefaults  ? SERIAL_NONE
		      : cfg->nographic ? SERIAL_MON_STDIO
				       : SERIAL_STDIO;
}

/* Moves *from into *to, leaving *from empty. */
static void move_str(char **to, char **from)
{
	replace_str(to, *from);
	*from = NULL;
}

void config_merge(struct config *dst, struct config_layer *layer)
{
	struct config *src = &layer->cfg;
	unsigned set = layer->set;

	if (set & CONFIG_SET_KERNEL)
		move_str(&dst->kernel, &src->kernel);
	if (set & CONFIG_SET_APPEND) {
		move_str(&dst->append, &src->append);
		src->append = empty_string;
	}
	if (set & CONFIG_SET_INITRD)
		move_str(&dst->initrd, &src->initrd);
	if (set & CONFIG_SET_MEM_SIZE)
		dst->mem_size = src->mem_size;
	if (set & CONFIG_SET_SMP)
		dst->smp = src->smp;
	if (set & CONFIG_SET_MODE) {
		dst->mode = src->mode;
		dst->mode_set = src->mode_set;
	}
	if (set & CONFIG_SET_PERSONALITY)
		dst->personality = src->personality;
	if (set & CONFIG_SET_SERIAL) {
		dst->serial = src->serial;
		dst->serial_set = src->serial_set;
		move_str(&dst->serial_path, &src->serial_path);
	}
	if (set & CONFIG_SET_NODEFAULTS)
		dst->nodefaults = src->nodefaults;
	if (set & CONFIG_SET_NO_SHUTDOWN)
		dst->no_shutdown = src->no_shutdown;
	if (set & CONFIG_SET_DAEMONIZE)
		dst->daemonize = src->daemonize;
	if (set & CONFIG_SET_NAME)
		move_str(&dst->name, &src->name);
	if (set & CONFIG_SET_PIDFILE)
		move_str(&dst->pidfile, &src->pidfile);
	if (set & CONFIG_SET_DEBUG_EXIT) {
		dst->debug_exit_port = src->debug_exit_port;
		dst->debug_exit_size = src->debug_exit_size;
	}
	if (set & CONFIG_SET_NOGRAPHIC)
		dst->nographic = src->nographic;
	if (set & CONFIG_SET_NO_REBOOT)
		dst->no_reboot = src->no_reboot;
	if (set & CONFIG_SET_DEBUG)
		dst->debug_mask = src->debug_mask;
	if (set & CONFIG_SET_DEBUG_FILE)
		move_str(&dst->debug_file, &src->debug_file);
	if (set & CONFIG_SET_STATS_FILE)
		move_str(&dst->stats_file, &src->stats_file);
	if (set & CONFIG_SET_GDB)
		move_str(&dst->gdb, &src->gdb);
	if (set & CONFIG_SET_GDB_WAIT)
		dst->gdb_wait = src->gdb_wait;
	if (set & CONFIG_SET_STUB_BASE) {
		dst->stub_base = src->stub_base;
		dst->stub_base_set = src->stub_base_set;
	}
	if (set & CONFIG_SET_TRAPS)
		dst->traps = src->traps;
	if (set & CONFIG_SET_KVM_SYNC)
		dst->kvm_sync_memslot = src->kvm_sync_memslot;
	if (set & CONFIG_SET_RELOCATE)
		dst->relocate = src->relocate;
	if (set & CONFIG_SET_RELOC_HOT)
		dst->reloc_hot = src->reloc_hot;
	if (set & CONFIG_SET_RELOC_WINDOW)
		dst->reloc_window_ms = src->reloc_window_ms;
	if (set & CONFIG_SET_SEED) {
		dst->seed = src->seed;
		dst->seed_set = src->seed_set;
	}
	if (set & CONFIG_SET_DRIVES)
		drive_list_move(&dst->drives, &src->drives); /* too many: config_validate */
	layer->set = 0;
}

/* ---- -readconfig files ---- */

enum group {
	GROUP_NONE,
	GROUP_MACHINE,
	GROUP_MEMORY,
	GROUP_SMP,
	GROUP_SERIAL,
	GROUP_LODGER,
	GROUP_DRIVE,
};

static const struct {
	const char *name;
	bool has_id; /* [chardev "serial0"] */
} groups[] = {
	[GROUP_NONE] = {"", false},	    [GROUP_MACHINE] = {"machine", false},
	[GROUP_MEMORY] = {"memory", false}, [GROUP_SMP] = {"smp-opts", false},
	[GROUP_SERIAL] = {"chardev", true}, [GROUP_LODGER] = {"lodger", false},
	[GROUP_DRIVE] = {"drive", false}, /* an id is optional: see group_parse */
};

#define SERIAL_ID "serial0" /* the only chardev: the UART's */

struct reader {
	FILE *f;
	struct config *cfg;
	char *line; /* getline's buffer */
	size_t cap;
	int lineno;
	int read_errno;	   /* a read error (EISDIR for a directory) */
	const char *value; /* raw text after the current key's '=' or ':' */
	enum group group;
	int backend_line; /* where backend = "file" was set, to report a missing path */
	int err_line;	  /* the first problem found here, or 0 */
	char msg[CONFIG_WHY_MAX + 256];
};

/* Records the first problem (with the current line); returns 0, inih's "failed". */
static int __attribute__((format(printf, 2, 3))) problem(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err_line)
		return 0;
	r->err_line = r->lineno;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return 0;
}

static bool is_comment_start(char c)
{
	return c == '#' || c == ';';
}

/* The rest of a line after a header or a quoted value: blanks and a comment only. */
static bool only_comment(const char *p)
{
	p += strspn(p, " \t");
	return !*p || is_comment_start(*p);
}

/* Checks a `[group]` or `[group "id"]` header as it is read; returns 0 or -1. */
static int group_parse(struct reader *r, const char *p)
{
	static const char syntax[] = "syntax error in group header (expected [group] or "
				     "[group \"id\"])";
	const char *close = strchr(p, ']');
	const char *name = p + 1 + strspn(p + 1, " \t");
	size_t len = strcspn(name, " \t\"]");
	const char *q = name + len + strspn(name + len, " \t");
	const char *id = NULL;
	size_t id_len = 0;

	if (!close || !only_comment(close + 1))
		return problem(r, "%s", syntax);
	if (*q == '"') {
		id = q + 1;
		id_len = strcspn(id, "\"]");
		q = id + id_len;
		if (*q != '"')
			return problem(r, "%s", syntax);
		q += 1 + strspn(q + 1, " \t");
	}
	if (q != close)
		return problem(r, "%s", syntax);

	for (size_t g = 1; g < sizeof(groups) / sizeof(groups[0]); g++) {
		if (strlen(groups[g].name) != len || strncmp(name, groups[g].name, len) != 0)
			continue;
		if (g == GROUP_DRIVE) { /* each [drive] or [drive "id"] is one more disk */
			r->group = GROUP_DRIVE;
			if (drive_list_add(&r->cfg->drives) < 0)
				return problem(r, "too many drives (lodger has %d slots)",
					       DRIVE_MAX);
			return 0;
		}
		if (!groups[g].has_id && id)
			return problem(r, "group [%s] takes no id", groups[g].name);
		if (groups[g].has_id && !id)
			return problem(r, "group [%s] needs an id: [%s \"%s\"]", groups[g].name,
				       groups[g].name, SERIAL_ID);
		if (id && (id_len != strlen(SERIAL_ID) || strncmp(id, SERIAL_ID, id_len) != 0))
			return problem(r, "unknown chardev id '%.*s' (lodger has only \"%s\")",
				       (int)id_len, id, SERIAL_ID);
		r->group = (enum group)g;
		return 0;
	}
	return problem(r, "unknown group [%.*s]", (int)len, name);
}

/*
 * inih's reader. It hands inih each line without its leading blanks, and for a key line
 * only `key=`: the value stays in r->value. Why:
 *  - inih (Debian's build: INI_ALLOW_MULTILINE) takes an indented line as the previous
 *    key's continuation, and QEMU indents every key;
 *  - inih's line buffer is 200 bytes (INI_MAX_LINE), too short for a long -append;
 *  - inih cuts a value at " ;" even inside quotes, and leaves `"x"  # comment` as is.
 * Group headers are checked here too: inih calls the handler only for keys, so an empty
 * unknown group would otherwise pass.
 */
static char *read_line(char *buf, int size, void *stream)
{
	struct reader *r = stream;
	size_t len;
	char *p;

	if (r->err_line) /* stop at the first problem */
		return NULL;
	errno = 0;
	if (getline(&r->line, &r->cap, r->f) < 0) {
		if (ferror(r->f))
			r->read_errno = errno ? errno : EIO;
		return NULL;
	}
	r->lineno++;
	p = r->line;
	if (r->lineno == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* UTF-8 byte order mark */
	/* Every blank inih skips, \f \v \r too: a line inih sees indented is the previous
	 * key's continuation, handed to on_key with no value of ours (r->value NULL). */
	while (isspace((unsigned char)*p))
		p++;
	len = strlen(p);
	while (len && isspace((unsigned char)p[len - 1]))
		p[--len] = '\0';

	r->value = NULL;
	if (is_comment_start(*p)) {
		len = 0;
	} else if (*p == '[') {
		if (group_parse(r, p) < 0)
			return NULL;
	} else {
		char *sep = strpbrk(p, "=:");

		if (sep) {
			r->value = sep + 1;
			len = (size_t)(sep + 1 - p);
		}
	}
	if (len + 1 > (size_t)size) {
		if (r->value) {
			problem(r, "key name too long");
			return NULL;
		}
		len = (size_t)size - 1; /* not a key: inih reports it as a syntax error */
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	return buf;
}

/*
 * Unquotes a raw value into out (room for strlen(raw) + 1 bytes). A quoted value may
 * hold \" \\ and \n escapes (other backslashes are kept) and be followed by a comment;
 * a bare one ends at a blank followed by '#' or ';'. Returns NULL or what is wrong.
 */
static const char *value_parse(const char *raw, char *out)
{
	const char *p = raw + strspn(raw, " \t");
	size_t n = 0;

	if (*p != '"') {
		while (p[n] &&
		       !(is_comment_start(p[n]) && (n == 0 || isblank((unsigned char)p[n - 1]))))
			n++;
		while (n && isblank((unsigned char)p[n - 1]))
			n--;
		memcpy(out, p, n);
		out[n] = '\0';
		return NULL;
	}
	for (p++; *p != '"'; p++) {
		if (!*p)
			return "missing closing quote";
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == 'n')) {
			p++;
			*out++ = *p == 'n' ? '\n' : *p;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
	if (!only_comment(p + 1))
		return "text after the closing quote";
	return NULL;
}

static int parse_bool(const char *s, bool *b, char *why)
{
	static const char *const yes[] = {"on", "yes", "true"};
	static const char *const no[] = {"off", "no", "false"};

	for (size_t i = 0; i < 3; i++) {
		if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
			*b = strcmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return why_fail(why, "expected on or off (or yes/no, true/false)");
}

int config_set_relocate(struct config *cfg, const char *s, char *why)
{
	return parse_bool(s, &cfg->relocate, why);
}

/* One setter per key; each returns 0 or -1 with why. */
static int key_type(struct config *cfg, const char *s, char *why)
{
	(void)cfg;
	return config_check_machine_type(s, why);
}

static int key_accel(struct config *cfg, const char *s, char *why)
{
	(void)cfg;
	return config_check_accel(s, why);
}

static int key_kernel(struct config *cfg, const char *s, char *why)
{
	return config_set_path(&cfg->kernel, s, why);
}

static int key_append(struct config *cfg, const char *s, char *why)
{
	return config_set_string(&cfg->append, s, why);
}

static int key_initrd(struct config *cfg, const char *s, char *why)
{
	return config_set_path(&cfg->initrd, s, why);
}

static int key_backend(struct config *cfg, const char *s, char *why)
{
	bool mux = cfg->serial == SERIAL_MON_STDIO;

	if (strcmp(s, "stdio") == 0)
		cfg->serial = mux ? SERIAL_MON_STDIO : SERIAL_STDIO;
	else if (strcmp(s, "file") == 0)
		cfg->serial = SERIAL_FILE;
	else if (strcmp(s, "null") == 0)
		cfg->serial = SERIAL_NULL;
	else if (strcmp(s, "none") == 0)
		cfg->serial = SERIAL_NONE;
	else
		return why_fail(why, "unknown backend (stdio, file, null or none)");
	cfg->serial_set = true;
	return 0;
}

/* QEMU's mux = "on": with backend "stdio", the muxed console of -serial mon:stdio. */
static int key_mux(struct config *cfg, const char *s, char *why)
{
	bool mux = false; /* GCC -O3 cannot see parse_bool set it on success */

	if (parse_bool(s, &mux, why) < 0)
		return -1;
	if (mux && (cfg->serial == SERIAL_STDIO || !cfg->serial_set))
		cfg->serial = SERIAL_MON_STDIO;
	else if (!mux && cfg->serial == SERIAL_MON_STDIO)
		cfg->serial = SERIAL_STDIO;
	else if (mux)
		return why_fail(why, "only backend \"stdio\" can be muxed");
	cfg->serial_set = true;
	return 0;
}

static int key_nodefaults(struct config *cfg, const char *s, char *why)
{
	return parse_bool(s, &cfg->nodefaults, why);
}

static int key_no_shutdown(struct config *cfg, const char *s, char *why)
{
	return parse_bool(s, &cfg->no_shutdown, why);
}

static int key_daemonize(struct config *cfg, const char *s, char *why)
{
	return parse_bool(s, &cfg->daemonize, why);
}

static int key_name(struct config *cfg, const char *s, char *why)
{
	return config_set_string(&cfg->name, s, why);
}

static int key_pidfile(struct config *cfg, const char *s, char *why)
{
	return config_set_path(&cfg->pidfile, s, why);
}

static int key_path(struct config *cfg, const char *s, char *why)
{
	return config_set_path(&cfg->serial_path, s, why);
}

static int key_logfile(struct config *cfg, const char *s, char *why)
{
	return config_set_path(&cfg->debug_file, s, why);
}

static int key_stats(struct config *cfg, const char *s, char *why)
{
	return config_set_path(&cfg->stats_file, s, why);
}

static int key_gdb(struct config *cfg, const char *s, char *why)
{
	return config_set_gdb(&cfg->gdb, s, why);
}

static int key_gdb_wait(struct config *cfg, const char *s, char *why)
{
	return parse_bool(s, &cfg->gdb_wait, why);
}

static int key_no_reboot(struct config *cfg, const char *s, char *why)
{
	return parse_bool(s, &cfg->no_reboot, why);
}

static int key_nographic(struct config *cfg, const char *s, char *why)
{
	return parse_bool(s, &cfg->nographic, why);
}

static const struct key {
	enum group group;
	const char *name;
	int (*set)(struct config *cfg, const char *s, char *why);
} keys[] = {
	{GROUP_MACHINE, "type", key_type},
	{GROUP_MACHINE, "mode", config_set_mode},
	{GROUP_MACHINE, "accel", key_accel},
	{GROUP_MACHINE, "kernel", key_kernel},
	{GROUP_MACHINE, "append", key_append},
	{GROUP_MACHINE, "initrd", key_initrd},
	{GROUP_MACHINE, "stub-base", config_set_stub_base},
	{GROUP_MACHINE, "traps", config_set_traps},
	{GROUP_MACHINE, "kvm-sync", config_set_kvm_sync},
	{GROUP_MACHINE, "personality", config_set_personality},
	{GROUP_MACHINE, "relocate", config_set_relocate},
	{GROUP_MACHINE, "seed", config_set_seed},
	{GROUP_MACHINE, "reloc-hot", config_set_reloc_hot},
	{GROUP_MACHINE, "reloc-window-ms", config_set_reloc_window},
	{GROUP_MEMORY, "size", config_set_mem_size},
	{GROUP_SMP, "cpus", config_set_smp},
	{GROUP_SERIAL, "backend", key_backend},
	{GROUP_SERIAL, "path", key_path},
	{GROUP_SERIAL, "mux", key_mux},
	{GROUP_LODGER, "debug", config_set_debug},
	{GROUP_LODGER, "logfile", key_logfile},
	{GROUP_LODGER, "stats", key_stats},
	{GROUP_LODGER, "no-reboot", key_no_reboot},
	{GROUP_LODGER, "nographic", key_nographic},
	{GROUP_LODGER, "nodefaults", key_nodefaults},
	{GROUP_LODGER, "no-shutdown", key_no_shutdown},
	{GROUP_LODGER, "daemonize", key_daemonize},
	{GROUP_LODGER, "name", key_name},
	{GROUP_LODGER, "pidfile", key_pidfile},
	{GROUP_LODGER, "gdb", key_gdb},
	{GROUP_LODGER, "gdb-wait", key_gdb_wait},
	{GROUP_LODGER, "debug-exit-iobase", config_set_debug_exit_port},
	{GROUP_LODGER, "debug-exit-iosize", config_set_debug_exit_size},
};

static const struct key *key_find(enum group group, const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].group == group && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* The group as written in the file, for messages. */
static const char *group_label(enum group g)
{
	return g == GROUP_SERIAL ? "chardev \"" SERIAL_ID "\"" : groups[g].name;
}

/* A [drive] key: the group's drive is the last one added. */
static int drive_key(struct reader *r, const char *name)
{
	struct drive_config *d = &r->cfg->drives.d[r->cfg->drives.n - 1];
	char why[CONFIG_WHY_MAX];
	char *text = malloc(strlen(r->value) + 1);
	const char *bad;
	int ok = 1;

	if (!text)
		return problem(r, "out of memory");
	bad = value_parse(r->value, text);
	if (bad)
		ok = problem(r, "[drive] %s: %s", name, bad);
	else if (drive_set_key(d, name, text, why) < 0)
		ok = problem(r, "[drive] %s = \"%s\": %s", name, text, why);
	free(text);
	return ok;
}

/* inih's handler; section and value are ignored in favour of r->group and r->value. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct reader *r = user;
	const struct key *key = key_find(r->group, name);
	char why[CONFIG_WHY_MAX];
	const char *bad;
	char *text;
	int ok = 1;

	(void)section;
	(void)value;
	if (r->err_line)
		return 0;
	if (r->group == GROUP_NONE)
		return problem(r, "key '%s' outside any group", name);
	if (r->group == GROUP_DRIVE)
		return drive_key(r, name);
	if (!key)
		return problem(r, "unknown key '%s' in group [%s]", name, group_label(r->group));
	text = malloc(strlen(r->value) + 1);
	if (!text)
		return problem(r, "out of memory");
	bad = value_parse(r->value, text);
	if (bad)
		ok = problem(r, "[%s] %s: %s", group_label(r->group), name, bad);
	else if (key->set(r->cfg, text, why) < 0)
		ok = problem(r, "[%s] %s = \"%s\": %s", group_label(r->group), name, text, why);
	else if (key->set == key_backend && r->cfg->serial == SERIAL_FILE)
		r->backend_line = r->lineno;
	free(text);
	return ok;
}

int config_read_file(struct config *cfg, const char *path, FILE *err)
{
	struct reader r = {.cfg = cfg};
	int ret;

	r.f = fopen(path, "r");
	if (!r.f) {
		config_error(err, "cannot read config file '%s': %s", path, strerror(errno));
		return -1;
	}
	ret = ini_parse_stream(read_line, &r, on_key, &r);
	fclose(r.f);
	free(r.line);

	if (!r.err_line && r.backend_line && cfg->serial == SERIAL_FILE && !cfg->serial_path) {
		r.err_line = r.backend_line;
		snprintf(r.msg, sizeof(r.msg), "[%s] backend = \"file\" needs a path key",
			 group_label(GROUP_SERIAL));
	}
	if (r.read_errno) {
		config_error(err, "cannot read config file '%s': %s", path, strerror(r.read_errno));
		return -1;
	}
	/* inih reports the first line it failed on, which may precede one of ours */
	if (ret > 0 && (!r.err_line || ret < r.err_line)) {
		config_error(err,
			     "%s:%d: syntax error (expected [group], key = \"value\" or # comment)",
			     path, ret);
		return -1;
	}
	if (r.err_line) {
		config_error(err, "%s:%d: %s", path, r.err_line, r.msg);
		return -1;
	}
	if (ret < 0) {
		config_error(err, "cannot read config file '%s': out of memory", path);
		return -1;
	}
	return 0;
}

/* ---- printing and validation ---- */

void config_print_str(FILE *out, const char *key, const char *s)
{
	fprintf(out, "  %s = \"", key);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
	fputs("\"\n", out);
}

/* The exact size with the largest of M, K or B that divides it. */
static void print_size(FILE *out, uint64_t bytes)
{
	const char *suffix = "M";
	unsigned shift = 20;

	if (bytes & ((1ULL << 20) - 1)) {
		suffix = bytes & ((1ULL << 10) - 1) ? "B" : "K";
		shift = *suffix == 'K' ? 10 : 0;
	}
	fprintf(out, "  size = \"%llu%s\"\n", (unsigned long long)(bytes >> shift), suffix);
}

static void print_debug(FILE *out, unsigned mask)
{
	const char *sep = "";

	fputs("  debug = \"", out);
	for (const struct log_category_name *c = log_categories; c->name; c++) {
		if (mask & c->mask) {
			fprintf(out, "%s%s", sep, c->name);
			sep = ",";
		}
	}
	fputs("\"\n", out);
}

static const char *serial_name(enum serial_backend s)
{
	switch (s) {
	case SERIAL_STDIO:
	case SERIAL_MON_STDIO:
		return "stdio";
	case SERIAL_FILE:
		return "file";
	case SERIAL_NULL:
		return "null";
	default:
		return "none";
	}
}

void config_print(const struct config *cfg, FILE *out)
{
	fputs("# lodger configuration: read it back with -readconfig FILE\n", out);
	fputs("[machine]\n  type = \"lodger\"\n", out);
	/* An unset mode stays unset when read back: a Xen PV kernel then gets shadow mode. */
	if (cfg->mode_set || cfg->mode != MODE_DIRECT)
		fprintf(out, "  mode = \"%s\"\n", cfg->mode == MODE_SHADOW ? "shadow" : "direct");
	else
		fputs("  # mode = \"direct\" (the default; Xen PV guests get shadow)\n", out);
	fprintf(out, "  personality = \"%s\"\n", config_personality_name(cfg->personality));
	fputs("  accel = \"kvm\"\n", out);
	if (cfg->stub_base_set)
		fprintf(out, "  stub-base = \"0x%llx\"\n", (unsigned long long)cfg->stub_base);
	fprintf(out, "  traps = \"%s\"\n", cfg->traps == TRAPS_VMM ? "vmm" : "auto");
	fprintf(out, "  relocate = \"%s\"\n", cfg->relocate ? "on" : "off");
	if (cfg->seed_set)
		fprintf(out, "  seed = \"%llu\"\n", (unsigned long long)cfg->seed);
	fprintf(out, "  reloc-hot = \"%u\"\n", cfg->reloc_hot);
	fprintf(out, "  reloc-window-ms = \"%u\"\n", cfg->reloc_window_ms);
	fprintf(out, "  kvm-sync = \"%s\"\n", cfg->kvm_sync_memslot ? "memslot" : "auto");
	if (cfg->kernel)
		config_print_str(out, "kernel", cfg->kernel);
	if (cfg->append && *cfg->append)
		config_print_str(out, "append", cfg->append);
	if (cfg->initrd)
		config_print_str(out, "initrd", cfg->initrd);

	fputs("\n[memory]\n", out);
	print_size(out, cfg->mem_size);
	fprintf(out, "\n[smp-opts]\n  cpus = \"%u\"\n", cfg->smp);

	fprintf(out, "\n[chardev \"%s\"]\n  backend = \"%s\"\n", SERIAL_ID,
		serial_name(cfg->serial));
	if (cfg->serial == SERIAL_FILE && cfg->serial_path)
		config_print_str(out, "path", cfg->serial_path);
	if (cfg->serial == SERIAL_MON_STDIO)
		fputs("  mux = \"on\"\n", out);

	fputs("\n[lodger]\n", out);
	print_debug(out, cfg->debug_mask);
	if (cfg->debug_file)
		config_print_str(out, "logfile", cfg->debug_file);
	fprintf(out, "  no-reboot = \"%s\"\n", cfg->no_reboot ? "on" : "off");
	fprintf(out, "  nographic = \"%s\"\n", cfg->nographic ? "on" : "off");
	fprintf(out, "  nodefaults = \"%s\"\n", cfg->nodefaults ? "on" : "off");
	fprintf(out, "  no-shutdown = \"%s\"\n", cfg->no_shutdown ? "on" : "off");
	fprintf(out, "  daemonize = \"%s\"\n", cfg->daemonize ? "on" : "off");
	fprintf(out, "  debug-exit-iobase = \"%#x\"\n", cfg->debug_exit_port);
	fprintf(out, "  debug-exit-iosize = \"%u\"\n", cfg->debug_exit_size);
	if (cfg->stats_file)
		config_print_str(out, "stats", cfg->stats_file);
	if (cfg->gdb)
		config_print_str(out, "gdb", cfg->gdb);
	fprintf(out, "  gdb-wait = \"%s\"\n", cfg->gdb_wait ? "on" : "off");
	if (cfg->name)
		config_print_str(out, "name", cfg->name);
	if (cfg->pidfile)
		config_print_str(out, "pidfile", cfg->pidfile);
	/* Last: a [drive] group runs to the next group, so any key after it is the drive's. */
	drive_print(&cfg->drives, out);
}

int config_validate(const struct config *cfg, FILE *err)
{
	uint64_t mib = cfg->mem_size >> 20;
	char why[CONFIG_WHY_MAX];
	unsigned port = cfg->debug_exit_port, end = port + cfg->debug_exit_size;
	int ret = 0;

	if (cfg->mem_size % LODGER_RAM_ALIGN) {
		config_error(err, "memory size %llu bytes is not a whole number of MiB",
			     (unsigned long long)cfg->mem_size);
		ret = -1;
	}
	if (cfg->mem_size < LODGER_RAM_MIN || cfg->mem_size > LODGER_RAM_MAX) {
		config_error(err, "memory size %llu MiB is outside [%llu MiB, %llu MiB]",
			     (unsigned long long)mib, LODGER_RAM_MIN >> 20, LODGER_RAM_MAX >> 20);
		ret = -1;
	}
	if (cfg->smp != 1) {
		config_error(err, "%u vCPUs: %s", cfg->smp,
			     cfg->smp ? "only 1 vCPU is supported for now"
				      : "need at least 1 vCPU");
		ret = -1;
	}
	if (cfg->mode != MODE_DIRECT && cfg->mode != MODE_SHADOW) {
		config_error(err, "unknown mode %d", (int)cfg->mode);
		ret = -1;
	}
	if (cfg->serial > SERIAL_MON_STDIO) {
		config_error(err, "unknown serial backend %d", (int)cfg->serial);
		ret = -1;
	}
	if (cfg->serial == SERIAL_FILE && (!cfg->serial_path || !*cfg->serial_path)) {
		config_error(err, "serial backend file needs a path");
		ret = -1;
	}
	if (cfg->personality != PERSONALITY_AUTO && cfg->personality != PERSONALITY_NATIVE &&
	    cfg->personality != PERSONALITY_XEN) {
		config_error(err, "unknown personality %d", (int)cfg->personality);
		return -1;
	}
	if (cfg->personality == PERSONALITY_XEN && cfg->mode_set && cfg->mode == MODE_DIRECT) {
		config_error(err,
			     "personality=xen runs in shadow mode only: mode=direct is refused");
		return -1;
	}
	if (cfg->traps != TRAPS_AUTO && cfg->traps != TRAPS_VMM) {
		config_error(err, "unknown trap path %d", (int)cfg->traps);
		ret = -1;
	}
	if (cfg->stub_base_set && check_stub_base(cfg->stub_base, why) < 0) {
		config_error(err, "%s", why);
		ret = -1;
	}
	if (end > 0x10000) {
		config_error(err, "isa-debug-exit ports %#x..%#x run past 0xffff", port, end - 1);
		ret = -1;
	} else if ((port < LODGER_UART_PORT + 8 && end > LODGER_UART_PORT &&
		    cfg->serial != SERIAL_NONE) ||
		   (port < LODGER_POWEROFF_PORT + 2 && end > LODGER_POWEROFF_PORT)) {
		config_error(err, "isa-debug-exit ports %#x..%#x overlap the %s", port, end - 1,
			     port < LODGER_POWEROFF_PORT + 2 && end > LODGER_POWEROFF_PORT
				     ? "power-off port 0x604"
				     : "UART at 0x3f8..0x3ff");
		ret = -1;
	}
	if (cfg->drives.overflow) {
		config_error(err, "too many drives (lodger has %d slots)", DRIVE_MAX);
		ret = -1;
	}
	for (unsigned i = 0; i < cfg->drives.n; i++) {
		if (drive_check(&cfg->drives.d[i], why) < 0) {
			config_error(err, "drive %u: %s", i, why);
			ret = -1;
		}
	}
	return ret;
}
