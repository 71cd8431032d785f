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

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef LODGER_VERSION
#define LODGER_VERSION "unknown" /* meson passes the project version */
#endif

struct cli {
	struct config_layer layer; /* what the options say */
	const char *positional;	   /* the kernel, given as a plain argument */
	const char **files;	   /* -readconfig paths, in order (argv's strings) */
	char **argv;
	int nfiles;
	bool print_config;
	bool serial_given; /* a -serial was read: a second one is refused */
	unsigned problems; /* lines reported; the run stops after argv is read */
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
	"  -smp [cpus=]N[,sockets=,cores=,threads=,dies=,clusters=,maxcpus=]\n"
	"                      vCPUs: only 1 for now (every count 1)\n"
	"  -serial DEV         the UART (COM1): stdio, mon:stdio, file:PATH, null (a UART\n"
	"                      that discards output) or none (no UART); given once\n"
	"  -nographic          no display (lodger has none); without -serial, the console\n"
	"                      is mon:stdio\n"
	"  -nodefaults         without -serial, no UART\n"
	"  -display none       accepted (lodger has no display)\n"
	"  -device isa-debug-exit[,iobase=PORT][,iosize=1|2|4]\n"
	"                      places the built-in debug-exit device (default 0xf4, 4)\n"
	"  -cpu host|max       the guest sees the host CPU as KVM reports it (both the same)\n"
	"  -name [guest=]NAME  the VM's name, written to -stats\n"
	"  -pidfile FILE       write lodger's pid to FILE; removed at exit\n"
	"  -daemonize          detach once the VM has started (needs -serial file:, null\n"
	"                      or none)\n"
	"  -no-reboot          accepted (lodger never reboots: a reset ends it like a\n"
	"                      power-off)\n"
	"  -no-shutdown        accepted (with no monitor to resume from, a power-off still\n"
	"                      ends lodger)\n"
	"  -gdb tcp:[HOST]:PORT  a GDB stub on that TCP port (no HOST: every address);\n"
	"                      -gdb none: no stub\n"
	"  -s                  -gdb tcp::1234\n"
	"  -S                  the guest waits for the debugger before its first\n"
	"                      instruction (needs -gdb or -s)\n"
	"  -machine [type=]lodger[,mode=direct|shadow][,accel=kvm]   (also -M)\n"
	"                      shadow mode (ignored in direct): [,stub-base=ADDR]\n"
	"                      [,traps=auto|vmm][,kvm-sync=auto|memslot]\n"
	"                      [,relocate=on|off][,seed=N]\n"
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
	"Console: -serial stdio passes keys to the guest but Ctrl-C ends lodger.\n"
	"-serial mon:stdio (and -nographic) pass every key, Ctrl-C too, and take Ctrl-A\n"
	"commands: Ctrl-A x quit, Ctrl-A h help, Ctrl-A b break, Ctrl-A Ctrl-A a Ctrl-A.\n"
	"\n"
	"Exit status: 0 guest powered off; odd: (v << 1) | 1 after the guest wrote v to\n"
	"the isa-debug-exit port; 2 usage; 4 bad kernel or initrd; 6 KVM unavailable;\n"
	"8 guest triple fault; 10 KVM internal error or failed entry; 12 host error;\n"
	"14 Ctrl-A x; 16 a signal (INT, TERM, HUP, QUIT). See lodger(1) or docs/cli.md.\n";

/* Reports one error line and counts it; returns OPT_FAIL. */
static int __attribute__((format(printf, 2, 3))) fail(struct cli *cli, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	config_error(cli->err, "%s", n < 0 ? "out of memory" : msg);
	free(msg);
	cli->problems++;
	return OPT_FAIL;
}

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
	/* QEMU's topology: each level may be given, and lodger's one vCPU means each is 1 */
	static const char *const levels[] = {"sockets", "dies",	   "clusters", "cores",
					     "threads", "maxcpus", "books",    "drawers"};
	char why[CONFIG_WHY_MAX];

	if (strcmp(key, "cpus") == 0)
		return set_result(cli, opt, arg, config_set_smp(&cli->layer.cfg, val, why), why,
				  CONFIG_SET_SMP);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(key, levels[i]) == 0)
			return strcmp(val, "1") == 0 ? OPT_OK
						     : fail(cli,
							    "%s %s: %s=%s: only 1 vCPU is "
							    "supported for now (every count 1)",
							    opt, arg, key, val);
	return unknown_prop(
		cli, opt, arg, key,
		"lodger knows cpus, sockets, dies, clusters, cores, threads and maxcpus");
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
		{"kvm-sync", config_set_kvm_sync, CONFIG_SET_KVM_SYNC},
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
					 "traps, kvm-sync, relocate, seed, reloc-hot and "
					 "reloc-window-ms"
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
	char why[CONFIG_WHY_MAX];

	/* QEMU would make a second -serial COM2; lodger has one UART, and replacing the
	 * first silently would hide a mistake. */
	if (cli->serial_given)
		return fail(cli,
			    "-serial %s: a second -serial (COM2) is not supported by lodger: "
			    "it has one UART, COM1",
			    arg);
	cli->serial_given = true;
	return set_result(cli, "-serial", arg, config_set_serial(&cli->layer.cfg, arg, why), why,
			  CONFIG_SET_SERIAL);
}

/* A flag option: sets a bool field and its CONFIG_SET_ bit. */
static int set_flag(struct cli *cli, bool *field, unsigned set)
{
	*field = true;
	cli->layer.set |= set;
	return OPT_OK;
}

static int opt_nographic(struct cli *cli, const char *arg)
{
	(void)arg;
	return set_flag(cli, &cli->layer.cfg.nographic, CONFIG_SET_NOGRAPHIC);
}

static int opt_no_reboot(struct cli *cli, const char *arg)
{
	(void)arg;
	return set_flag(cli, &cli->layer.cfg.no_reboot, CONFIG_SET_NO_REBOOT);
}

static int opt_no_shutdown(struct cli *cli, const char *arg)
{
	(void)arg;
	return set_flag(cli, &cli->layer.cfg.no_shutdown, CONFIG_SET_NO_SHUTDOWN);
}

static int opt_nodefaults(struct cli *cli, const char *arg)
{
	(void)arg;
	return set_flag(cli, &cli->layer.cfg.nodefaults, CONFIG_SET_NODEFAULTS);
}

static int opt_daemonize(struct cli *cli, const char *arg)
{
	(void)arg;
	return set_flag(cli, &cli->layer.cfg.daemonize, CONFIG_SET_DAEMONIZE);
}

static int opt_display(struct cli *cli, const char *arg)
{
	if (strcmp(arg, "none") == 0 || strncmp(arg, "none,", 5) == 0)
		return OPT_OK;
	return fail(cli,
		    "-display %s: not supported by lodger: it has no display (-display none "
		    "is accepted)",
		    arg);
}

static int opt_cpu(struct cli *cli, const char *arg)
{
	if (strcmp(arg, "host") == 0 || strcmp(arg, "max") == 0)
		return OPT_OK; /* both: the host's CPUID as KVM supports it */
	return fail(cli,
		    "-cpu %s: not supported by lodger: the guest sees the host CPU as KVM "
		    "reports it (-cpu host or max)",
		    arg);
}

static int opt_name(struct cli *cli, const char *arg)
{
	const char *name = strncmp(arg, "guest=", 6) == 0 ? arg + 6 : arg;
	char why[CONFIG_WHY_MAX];
	size_t len = strcspn(name, ",");
	char *copy = strndup(name, len);
	int r;

	if (!copy)
		return fail(cli, "out of memory");
	/* QEMU's other -name properties (process=, debug-threads=) change nothing here */
	r = config_set_string(&cli->layer.cfg.name, copy, why);
	free(copy);
	return set_result(cli, "-name", arg, r, why, CONFIG_SET_NAME);
}

static int opt_pidfile(struct cli *cli, const char *arg)
{
	return set_path(cli, "-pidfile", &cli->layer.cfg.pidfile, arg, CONFIG_SET_PIDFILE);
}

static int opt_gdb(struct cli *cli, const char *arg)
{
	char why[CONFIG_WHY_MAX];

	/* QEMU's -gdb none turns the stub off again */
	if (strcmp(arg, "none") == 0) {
		free(cli->layer.cfg.gdb);
		cli->layer.cfg.gdb = NULL;
		cli->layer.set |= CONFIG_SET_GDB;
		return OPT_OK;
	}
	return set_result(cli, "-gdb", arg, config_set_gdb(&cli->layer.cfg.gdb, arg, why), why,
			  CONFIG_SET_GDB);
}

static int opt_gdb_default(struct cli *cli, const char *arg)
{
	(void)arg;
	return opt_gdb(cli, "tcp::1234");
}

static int opt_gdb_wait(struct cli *cli, const char *arg)
{
	(void)arg;
	return set_flag(cli, &cli->layer.cfg.gdb_wait, CONFIG_SET_GDB_WAIT);
}

static int prop_debug_exit(struct cli *cli, const char *opt, const char *arg, const char *key,
			   const char *val)
{
	char why[CONFIG_WHY_MAX];
	int r;

	if (strcmp(key, "driver") == 0) {
		if (strcmp(val, "isa-debug-exit") == 0)
			return OPT_OK;
		return fail(cli,
			    "%s %s: not supported by lodger: its devices are built in (a "
			    "16550A UART, power-off, isa-debug-exit); -device "
			    "isa-debug-exit,iobase=,iosize= places the last",
			    opt, arg);
	}
	if (strcmp(key, "iobase") == 0)
		r = config_set_debug_exit_port(&cli->layer.cfg, val, why);
	else if (strcmp(key, "iosize") == 0)
		r = config_set_debug_exit_size(&cli->layer.cfg, val, why);
	else
		return unknown_prop(cli, opt, arg, key, "lodger knows iobase and iosize");
	return set_result(cli, opt, arg, r, why, CONFIG_SET_DEBUG_EXIT);
}

static int opt_device(struct cli *cli, const char *arg)
{
	return each_prop(cli, "-device", arg, "driver", prop_debug_exit);
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
	{"no-shutdown", false, opt_no_shutdown},
	{"nodefaults", false, opt_nodefaults},
	{"daemonize", false, opt_daemonize},
	{"display", true, opt_display},
	{"device", true, opt_device},
	{"cpu", true, opt_cpu},
	{"name", true, opt_name},
	{"pidfile", true, opt_pidfile},
	{"gdb", true, opt_gdb},
	{"s", false, opt_gdb_default},
	{"S", false, opt_gdb_wait},
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

/* QEMU options lodger deliberately lacks, and why: refused as such, not as typos. */
static const struct unsupported {
	const char *name;
	bool has_arg;
	const char *why;
} unsupported[] = {
	{"netdev", true, "lodger has no network devices"},
	{"net", true, "lodger has no network devices"},
	{"nic", true, "lodger has no network devices"},
	{"monitor", true, "lodger has no monitor (-serial mon:stdio gives the Ctrl-A keys)"},
	{"qmp", true, "lodger has no monitor, so no QMP"},
	{"qmp-pretty", true, "lodger has no monitor, so no QMP"},
	{"mon", true, "lodger has no monitor"},
	{"chardev", true, "lodger's one character device is -serial's"},
	{"vga", true, "lodger has no display"},
	{"vnc", true, "lodger has no display"},
	{"spice", true, "lodger has no display"},
	{"sdl", false, "lodger has no display"},
	{"curses", false, "lodger has no display"},
	{"full-screen", false, "lodger has no display"},
	{"bios", true, "lodger boots an ELF kernel directly, with no firmware"},
	{"pflash", true, "lodger boots an ELF kernel directly, with no firmware"},
	{"L", true, "lodger boots an ELF kernel directly, with no firmware"},
	{"boot", true, "lodger boots the -kernel image directly, with no firmware"},
	{"hda", true, "lodger has no IDE disks"},
	{"hdb", true, "lodger has no IDE disks"},
	{"cdrom", true, "lodger has no CD-ROM"},
	{"fda", true, "lodger has no floppy"},
	{"usb", false, "lodger has no USB"},
	{"usbdevice", true, "lodger has no USB"},
	{"audiodev", true, "lodger has no sound"},
	{"soundhw", true, "lodger has no sound"},
	{"parallel", true, "lodger has no parallel port"},
	{"snapshot", false, "lodger has no disk snapshots"},
	{"loadvm", true, "lodger cannot save or load a VM's state"},
	{"incoming", true, "lodger cannot migrate a VM"},
	{"icount", true, "lodger runs on KVM, which has no instruction counting"},
	{"rtc", true, "lodger's clock is KVM's"},
	{"numa", true, "lodger has one vCPU and one memory node"},
	{"mem-path", true, "lodger allocates guest RAM itself"},
	{"object", true, "lodger has no QOM objects"},
	{"global", true, "lodger has no device properties to set"},
	{"fsdev", true, "lodger has no 9p file system"},
	{"virtfs", true, "lodger has no 9p file system"},
	{"tpmdev", true, "lodger has no TPM"},
	{"runas", true, "lodger does not change user"},
	{"chroot", true, "lodger does not change root"},
	{"sandbox", true, "lodger has no seccomp sandbox"},
	{"trace", true, "lodger's tracing is -d"},
	{"dtb", true, "lodger builds the device tree itself (docs/guest-contract.md)"},
	{"k", true, "lodger has no keyboard"},
	{"semihosting", false, "lodger has no semihosting"},
	{"watchdog-action", true, "lodger has no watchdog"},
	{"overcommit", true, "lodger always backs guest RAM on demand"},
};

/* The name without its dash or dashes: --x is -x, as in QEMU. */
static const char *option_name(const char *arg)
{
	const char *name = arg + 1;

	if (name[0] == '-' && name[1])
		name++;
	return name;
}

static const struct option *option_find(const char *arg)
{
	const char *name = option_name(arg);

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

static const struct unsupported *unsupported_find(const char *arg)
{
	const char *name = option_name(arg);

	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (strcmp(unsupported[i].name, name) == 0)
			return &unsupported[i];
	return NULL;
}

/* Levenshtein distance, for suggesting the option a typo meant; names are short. */
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned row[64], la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la >= 64 || lb >= 64)
		return 64;
	for (unsigned j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The option `name` most likely meant, or NULL when none is close. */
static const char *nearest_option(const char *name)
{
	const char *best = NULL;
	unsigned best_d = 3; /* at most two edits, and fewer than a short name's length */

	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		unsigned d = edit_distance(name, options[i].name);
		size_t len = strlen(options[i].name);

		if (d < best_d && d < len) {
			best_d = d;
			best = options[i].name;
		}
	}
	return best;
}

/* Whether argv[i] reads as an option's value rather than an option. */
static bool argv_is_value(const struct cli *cli, int i)
{
	return cli->argv[i][0] != '-';
}

/* An option lodger does not know; returns how many of the next arguments it takes. */
static int unknown_option(struct cli *cli, const char *arg, int i, int argc)
{
	const struct unsupported *u = unsupported_find(arg);
	const char *near;

	if (u) {
		fail(cli, "option %s is not supported by lodger: %s", arg, u->why);
		return u->has_arg && i + 1 < argc ? 1 : 0;
	}
	near = nearest_option(option_name(arg));
	if (near)
		fail(cli, "unknown option '%s' (did you mean -%s? see --help)", arg, near);
	else
		fail(cli, "unknown option '%s' (see --help)", arg);
	/* Its argument, if it has one, is probably the next word: not the last, which is
	 * likelier the kernel, and not another option. */
	return i + 2 < argc && argv_is_value(cli, i + 1) ? 1 : 0;
}

static int positional(struct cli *cli, const char *arg)
{
	if (cli->positional)
		return fail(cli, "unexpected argument '%s': the kernel is already '%s'", arg,
			    cli->positional);
	cli->positional = arg;
	return OPT_OK;
}

/*
 * Reads argv into the layer, reporting every problem (one line each) rather than
 * stopping at the first; returns OPT_OK, OPT_FAIL (reported) or OPT_EXIT.
 */
static int parse_args(struct cli *cli, int argc, char **argv)
{
	bool options_done = false;

	cli->argv = argv;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct option *opt;

		if (options_done || arg[0] != '-') {
			positional(cli, arg);
		} else if (strcmp(arg, "--") == 0) {
			options_done = true;
		} else if (!(opt = option_find(arg))) {
			i += unknown_option(cli, arg, i, argc);
		} else if (opt->has_arg && i + 1 >= argc) {
			fail(cli, "option -%s needs an argument (see --help)", opt->name);
		} else if (opt->handle(cli, opt->has_arg ? argv[++i] : NULL) == OPT_EXIT) {
			return cli->problems ? OPT_FAIL
					     : OPT_EXIT; /* --help after a mistake still fails */
		}
	}
	return cli->problems ? OPT_FAIL : OPT_OK;
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
	bool failed = false;

	for (int i = 0; i < cli->nfiles; i++)
		if (config_read_file(cfg, cli->files[i], cli->err) < 0)
			failed = true;
	if (failed)
		return CONFIG_EXIT_FAIL;
	config_merge(cfg, &cli->layer);
	config_resolve(cfg);
	if (config_validate(cfg, cli->err) < 0)
		failed = true;
	if (cfg->daemonize && (cfg->serial == SERIAL_STDIO || cfg->serial == SERIAL_MON_STDIO)) {
		config_error(cli->err, "-daemonize needs a console other than the terminal "
				       "(-serial file:PATH, null or none)");
		failed = true;
	}
	if (cfg->gdb_wait && !cfg->gdb) {
		config_error(cli->err, "-S needs a debugger to wait for: add -s or -gdb tcp::PORT "
				       "(lodger has no monitor to start the guest)");
		failed = true;
	}
	if (failed)
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
	if (ret != OPT_EXIT && take_positional(&cli) != OPT_OK)
		ret = OPT_FAIL;
	if (ret == OPT_EXIT)
		action = CONFIG_EXIT_OK;
	else if (ret == OPT_OK)
		action = build(&cli, cfg);
	config_free(&cli.layer.cfg);
	free(cli.files);
	return action;
}
