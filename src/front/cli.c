/*
 * cli.c - the command line: QEMU-style options, then an optional kernel path.
 *
 * Options are collected into a layer (struct config_layer) while argv is read; the
 * -readconfig files are read afterwards, in order, and the layer is merged over them,
 * so a command-line option wins over a file wherever it stands. docs/cli.md is the
 * reference for every option.
 */
#include "front/config.h"
#include "boot/personality.h"
#include "front/log.h"

#include <stdlib.h>
#include <string.h>

#ifndef LODGER_VERSION
#define LODGER_VERSION "unknown" /* meson passes the project version */
#endif

struct cli {
	struct config_layer layer; /* what the options say */
	const char *positional;	   /* the kernel, given as a plain argument */
	const char **files;	   /* -readconfig paths, in order (argv's strings) */
	int nfiles;
	bool print_config;
	FILE *out;
	FILE *err;
};

/* What an option handler returns. */
enum { OPT_OK = 0, OPT_FAIL = -1, OPT_EXIT = 1 /* printed what was asked: exit 0 */ };

static const char usage[] =
	"Usage: lodger [options] [kernel]\n"
	"Runs an ELF64 kernel in a KVM virtual machine; options are QEMU's.\n"
	"\n"
	"  -kernel PATH        the guest kernel (ELF64 or Linux bzImage), or the last argument\n"
	"  -append STRING      the kernel command line (/chosen bootargs)\n"
	"  -initrd PATH        an initial ramdisk\n"
	"  -m [size=]SIZE      guest RAM: a number with an optional K, M, G or T suffix\n"
	"                      (no suffix: MiB), rounded up to whole MiB; default 128M\n"
	"  -smp [cpus=]N       number of vCPUs (only 1 for now)\n"
	"  -serial DEV         the UART: stdio (default), file:PATH, none or null\n"
	"  -nographic          accepted for QEMU compatibility (lodger has no display)\n"
	"  -no-reboot          accepted for QEMU compatibility (lodger never reboots)\n"
	"  -machine [type=]lodger[,mode=direct|shadow][,accel=kvm]   (also -M)\n"
	"                      shadow mode (ignored in direct): [,stub-base=ADDR]\n"
	"                      [,traps=auto|vmm][,relocate=on|off][,seed=N]\n"
	"                      [,reloc-hot=N][,reloc-window-ms=MS]; ADDR and N\n"
	"                      are hex (0x...) or decimal, ADDR 2 MiB-aligned and canonical\n"
	"                      [,personality=auto|native|xen]: the guest's ABI; auto\n"
	"                      picks xen (and shadow mode) for a kernel with Xen notes\n"
	"  -accel kvm[,mode=direct|shadow]\n"
	"  -enable-kvm         accepted (lodger always uses KVM)\n"
	"  -d LIST             debug categories, comma-separated, or all (-d help lists them)\n"
	"  -D FILE             write debug output to FILE instead of stderr\n"
	"  -stats FILE         at exit, write lodger's statistics as JSON to FILE (- is stderr)\n"
	"  -drive file=PATH[,format=raw][,if=virtio][,readonly=on|off][,cache=MODE]\n"
	"         [,aio=io_uring|threads]   a disk (virtio-blk); MODE: writeback (default),\n"
	"                      none, writethrough, directsync or unsafe; up to 4\n"
	"  -readconfig FILE    read settings from FILE (QEMU format); may be repeated;\n"
	"                      the other options override it wherever they stand\n"
	"  --print-config      print the merged configuration in -readconfig format, exit\n"
	"  -h, -help, --help   this help\n"
	"  -version, --version lodger's version\n"
	"Any option may also be written with two dashes.\n"
	"\n"
	"Exit status: 0 guest powered off; odd: (v << 1) | 1 after the guest wrote v to\n"
	"port 0xf4; 2 usage; 4 bad kernel or initrd; 6 KVM unavailable; 8 guest triple\n"
	"fault; 10 KVM internal error or failed entry; 12 host error. See docs/cli.md.\n";

/* Reports one error line; returns OPT_FAIL. */
#define fail(cli, ...) (config_error((cli)->err, __VA_ARGS__), OPT_FAIL)

/*
 * Calls fn for each item of a QEMU-style list "value,key=value,...": a bare first item
 * is the `implied` key's value (-m 64M is -m size=64M).
 */
typedef int (*prop_fn)(struct cli *cli, const char *opt, const char *arg, const char *key,
		       const char *val);

static int each_prop(struct cli *cli, const char *opt, const char *arg, const char *implied,
		     prop_fn fn)
{
	char *copy = strdup(arg);
	char *rest = copy;
	char *item;
	int ret = OPT_OK;

	if (!copy)
		return fail(cli, "out of memory");
	while (ret == OPT_OK && (item = strsep(&rest, ","))) {
		char *eq = strchr(item, '=');
		const char *key = implied;

		if (eq) {
			*eq = '\0';
			key = item;
			item = eq + 1;
		} else if (item != copy) {
			ret = fail(cli, "%s %s: '%s' is not key=value", opt, arg, item);
			break;
		}
		ret = fn(cli, opt, arg, key, item);
	}
	free(copy);
	return ret;
}

/* Turns a setter's result into an option result. */
static int set_result(struct cli *cli, const char *opt, const char *arg, int ret, const char *why,
		      unsigned set)
{
	if (ret < 0)
		return fail(cli, "%s %s: %s", opt, arg, why);
	cli->layer.set |= set;
	return OPT_OK;
}

static int unknown_prop(struct cli *cli, const char *opt, const char *arg, const char *key,
			const char *known)
{
	return fail(cli, "%s %s: unknown property '%s' (%s)", opt, arg, key, known);
}

static int prop_m(struct cli *cli, const char *opt, const char *arg, const char *key,
		  const char *val)
{
	char why[CONFIG_WHY_MAX];

	if (strcmp(key, "size") != 0)
		return unknown_prop(cli, opt, arg, key, "lodger knows size");
	return set_result(cli, opt, arg, config_set_mem_size(&cli->layer.cfg, val, why), why,
			  CONFIG_SET_MEM_SIZE);
}

static int prop_smp(struct cli *cli, const char *opt, const char *arg, const char *key,
		    const char *val)
{
	char why[CONFIG_WHY_MAX];

	if (strcmp(key, "cpus") != 0)
		return unknown_prop(cli, opt, arg, key, "lodger knows cpus");
	return set_result(cli, opt, arg, config_set_smp(&cli->layer.cfg, val, why), why,
			  CONFIG_SET_SMP);
}

/* -machine and -accel share their properties. */
static int prop_machine(struct cli *cli, const char *opt, const char *arg, const char *key,
			const char *val)
{
	/* Shadow mode's settings, -machine only (QEMU's -accel is only the accelerator). */
	static const struct {
		const char *key;
		int (*set)(struct config *cfg, const char *s, char *why);
		unsigned set_bit;
	} shadow_props[] = {
		{"stub-base", config_set_stub_base, CONFIG_SET_STUB_BASE},
		{"traps", config_set_traps, CONFIG_SET_TRAPS},
		{"personality", config_set_personality, CONFIG_SET_PERSONALITY},
		{"relocate", config_set_relocate, CONFIG_SET_RELOCATE},
		{"seed", config_set_seed, CONFIG_SET_SEED},
		{"reloc-hot", config_set_reloc_hot, CONFIG_SET_RELOC_HOT},
		{"reloc-window-ms", config_set_reloc_window, CONFIG_SET_RELOC_WINDOW},
	};
	bool is_machine = strcmp(opt, "-machine") == 0;
	char why[CONFIG_WHY_MAX];

	if (strcmp(key, "mode") == 0)
		return set_result(cli, opt, arg, config_set_mode(&cli->layer.cfg, val, why), why,
				  CONFIG_SET_MODE);
	if (strcmp(key, "accel") == 0)
		return set_result(cli, opt, arg, config_check_accel(val, why), why, 0);
	if (is_machine && strcmp(key, "type") == 0)
		return set_result(cli, opt, arg, config_check_machine_type(val, why), why, 0);
	for (size_t i = 0; is_machine && i < sizeof(shadow_props) / sizeof(shadow_props[0]); i++)
		if (strcmp(key, shadow_props[i].key) == 0)
			return set_result(cli, opt, arg,
					  shadow_props[i].set(&cli->layer.cfg, val, why), why,
					  shadow_props[i].set_bit);
	return unknown_prop(cli, opt, arg, key,
			    is_machine ? "lodger knows type, mode, personality, accel, stub-base, "
					 "traps, relocate, seed, reloc-hot and reloc-window-ms"
				       : "lodger knows accel and mode");
}

static int opt_m(struct cli *cli, const char *arg)
{
	return each_prop(cli, "-m", arg, "size", prop_m);
}

static int opt_smp(struct cli *cli, const char *arg)
{
	return each_prop(cli, "-smp", arg, "cpus", prop_smp);
}

static int opt_machine(struct cli *cli, const char *arg)
{
	return each_prop(cli, "-machine", arg, "type", prop_machine);
}

static int opt_accel(struct cli *cli, const char *arg)
{
	return each_prop(cli, "-accel", arg, "accel", prop_machine);
}

static int set_path(struct cli *cli, const char *opt, char **field, const char *arg, unsigned set)
{
	char why[CONFIG_WHY_MAX];

	if (config_set_path(field, arg, why) < 0)
		return fail(cli, "%s '%s': %s", opt, arg, why);
	cli->layer.set |= set;
	return OPT_OK;
}

static int opt_kernel(struct cli *cli, const char *arg)
{
	return set_path(cli, "-kernel", &cli->layer.cfg.kernel, arg, CONFIG_SET_KERNEL);
}

static int opt_initrd(struct cli *cli, const char *arg)
{
	return set_path(cli, "-initrd", &cli->layer.cfg.initrd, arg, CONFIG_SET_INITRD);
}

static int opt_logfile(struct cli *cli, const char *arg)
{
	return set_path(cli, "-D", &cli->layer.cfg.debug_file, arg, CONFIG_SET_DEBUG_FILE);
}

static int opt_stats(struct cli *cli, const char *arg)
{
	return set_path(cli, "-stats", &cli->layer.cfg.stats_file, arg, CONFIG_SET_STATS_FILE);
}

static int opt_append(struct cli *cli, const char *arg)
{
	char why[CONFIG_WHY_MAX];

	if (config_set_string(&cli->layer.cfg.append, arg, why) < 0)
		return fail(cli, "-append: %s", why);
	cli->layer.set |= CONFIG_SET_APPEND;
	return OPT_OK;
}

static int opt_serial(struct cli *cli, const char *arg)
{
	struct config *cfg = &cli->layer.cfg;

	if (strncmp(arg, "file:", 5) == 0) {
		if (set_path(cli, "-serial file:", &cfg->serial_path, arg + 5, 0) < 0)
			return OPT_FAIL;
		cfg->serial = SERIAL_FILE;
	} else if (strcmp(arg, "stdio") == 0 || strcmp(arg, "none") == 0 ||
		   strcmp(arg, "null") == 0) {
		cfg->serial = *arg == 's' ? SERIAL_STDIO : SERIAL_NONE;
		free(cfg->serial_path);
		cfg->serial_path = NULL;
	} else {
		return fail(cli, "-serial %s: unsupported (stdio, file:PATH, none or null)", arg);
	}
	cli->layer.set |= CONFIG_SET_SERIAL;
	return OPT_OK;
}

static int opt_nographic(struct cli *cli, const char *arg)
{
	(void)arg;
	cli->layer.cfg.nographic = true;
	cli->layer.set |= CONFIG_SET_NOGRAPHIC;
	return OPT_OK;
}

static int opt_no_reboot(struct cli *cli, const char *arg)
{
	(void)arg;
	cli->layer.cfg.no_reboot = true;
	cli->layer.set |= CONFIG_SET_NO_REBOOT;
	return OPT_OK;
}

static int opt_enable_kvm(struct cli *cli, const char *arg)
{
	(void)cli;
	(void)arg;
	return OPT_OK;
}

static int opt_debug(struct cli *cli, const char *arg)
{
	char why[CONFIG_WHY_MAX];

	if (strcmp(arg, "help") == 0) {
		fputs("Debug categories for -d (comma-separated, or all):\n", cli->out);
		for (const struct log_category_name *c = log_categories; c->name; c++)
			fprintf(cli->out, "  %-8s %s\n", c->name, c->help);
		return OPT_EXIT;
	}
	return set_result(cli, "-d", arg, config_set_debug(&cli->layer.cfg, arg, why), why,
			  CONFIG_SET_DEBUG);
}

static int opt_drive(struct cli *cli, const char *arg)
{
	char why[CONFIG_WHY_MAX];

	if (drive_parse(&cli->layer.cfg.drives, arg, why) < 0)
		return fail(cli, "-drive %s: %s", arg, why);
	cli->layer.set |= CONFIG_SET_DRIVES;
	return OPT_OK;
}

static int opt_readconfig(struct cli *cli, const char *arg)
{
	cli->files[cli->nfiles++] = arg;
	return OPT_OK;
}

static int opt_print_config(struct cli *cli, const char *arg)
{
	(void)arg;
	cli->print_config = true;
	return OPT_OK;
}

static int opt_help(struct cli *cli, const char *arg)
{
	(void)arg;
	fputs(usage, cli->out);
	return OPT_EXIT;
}

static int opt_version(struct cli *cli, const char *arg)
{
	(void)arg;
	fputs("lodger " LODGER_VERSION "\n", cli->out);
	return OPT_EXIT;
}

static const struct option {
	const char *name; /* without the leading dash */
	bool has_arg;
	int (*handle)(struct cli *cli, const char *arg);
} options[] = {
	{"kernel", true, opt_kernel},
	{"append", true, opt_append},
	{"initrd", true, opt_initrd},
	{"m", true, opt_m},
	{"smp", true, opt_smp},
	{"serial", true, opt_serial},
	{"nographic", false, opt_nographic},
	{"no-reboot", false, opt_no_reboot},
	{"machine", true, opt_machine},
	{"M", true, opt_machine},
	{"accel", true, opt_accel},
	{"enable-kvm", false, opt_enable_kvm},
	{"d", true, opt_debug},
	{"D", true, opt_logfile},
	{"stats", true, opt_stats},
	{"drive", true, opt_drive},
	{"readconfig", true, opt_readconfig},
	{"print-config", false, opt_print_config},
	{"h", false, opt_help},
	{"help", false, opt_help},
	{"version", false, opt_version},
};

static const struct option *option_find(const char *arg)
{
	const char *name = arg + 1;

	if (name[0] == '-' && name[1]) /* --x is -x, as in QEMU */
		name++;
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

static int positional(struct cli *cli, const char *arg)
{
	if (cli->positional)
		return fail(cli, "unexpected argument '%s': the kernel is already '%s'", arg,
			    cli->positional);
	cli->positional = arg;
	return OPT_OK;
}

/* Reads argv into the layer; returns OPT_OK, OPT_FAIL (reported) or OPT_EXIT. */
static int parse_args(struct cli *cli, int argc, char **argv)
{
	bool options_done = false;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct option *opt;
		int ret;

		if (options_done || arg[0] != '-') {
			ret = positional(cli, arg);
		} else if (strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		} else if (!(opt = option_find(arg))) {
			return fail(cli, "unknown option '%s' (see --help)", arg);
		} else if (opt->has_arg && i + 1 >= argc) {
			return fail(cli, "option -%s needs an argument (see --help)", opt->name);
		} else {
			ret = opt->handle(cli, opt->has_arg ? argv[++i] : NULL);
		}
		if (ret != OPT_OK)
			return ret;
	}
	return OPT_OK;
}

/* The positional kernel joins the layer, unless -kernel also gave one. */
static int take_positional(struct cli *cli)
{
	if (!cli->positional)
		return OPT_OK;
	if (cli->layer.set & CONFIG_SET_KERNEL)
		return fail(cli, "two kernels given: -kernel '%s' and '%s'", cli->layer.cfg.kernel,
			    cli->positional);
	return set_path(cli, "kernel", &cli->layer.cfg.kernel, cli->positional, CONFIG_SET_KERNEL);
}

/* Layers the files and the command line over the defaults in cfg, then checks. */
static enum config_action build(struct cli *cli, struct config *cfg)
{
	for (int i = 0; i < cli->nfiles; i++)
		if (config_read_file(cfg, cli->files[i], cli->err) < 0)
			return CONFIG_EXIT_FAIL;
	config_merge(cfg, &cli->layer);
	if (config_validate(cfg, cli->err) < 0)
		return CONFIG_EXIT_FAIL;
	if (cli->print_config) {
		char why[256];

		/* show the personality (and mode) the kernel gets, when it can be read */
		if (personality_choose_file(cfg, why, sizeof(why)) != PERSONALITY_OK) {
			config_error(cli->err, "kernel %s: %s", cfg->kernel, why);
			return CONFIG_EXIT_FAIL;
		}
		config_print(cfg, cli->out);
		return CONFIG_EXIT_OK;
	}
	if (!cfg->kernel) {
		config_error(cli->err,
			     "no kernel given (use -kernel PATH or give it last; see --help)");
		return CONFIG_EXIT_FAIL;
	}
	return CONFIG_RUN;
}

enum config_action config_from_args(struct config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
	struct cli cli = {.out = out, .err = err};
	enum config_action action = CONFIG_EXIT_FAIL;
	int ret;

	config_init_defaults(cfg);
	config_init_defaults(&cli.layer.cfg);
	cli.files = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*cli.files));
	if (!cli.files) {
		config_error(err, "out of memory");
		return CONFIG_EXIT_FAIL;
	}
	ret = parse_args(&cli, argc, argv);
	if (ret == OPT_OK)
		ret = take_positional(&cli);
	if (ret == OPT_EXIT)
		action = CONFIG_EXIT_OK;
	else if (ret == OPT_OK)
		action = build(&cli, cfg);
	config_free(&cli.layer.cfg);
	free(cli.files);
	return action;
}
