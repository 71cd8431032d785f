/*
 * config.h - lodger's configuration: defaults, -readconfig files, command line.
 *
 * One struct config describes a VM. It is built in three layers, each overriding the
 * one before: built-in defaults, then -readconfig files in the order given, then the
 * other command-line options (whatever their position). docs/cli.md and docs/config.md
 * are the reference for every option, group and key.
 */
#ifndef LODGER_CONFIG_H
#define LODGER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "front/drive_opt.h"

enum vm_mode { MODE_DIRECT, MODE_SHADOW };
enum serial_backend {
	SERIAL_STDIO,	  /* the terminal; Ctrl-C stays lodger's (QEMU's -serial stdio) */
	SERIAL_FILE,	  /* output to serial_path, no input */
	SERIAL_NONE,	  /* no UART at all: none in the device tree, its ports unclaimed */
	SERIAL_NULL,	  /* a UART whose output goes nowhere */
	SERIAL_MON_STDIO, /* the terminal, muxed: every key to the guest, Ctrl-A commands */
};
/* Shadow mode: who handles a trap from the guest (-machine traps=). */
enum trap_path {
	TRAPS_AUTO, /* lodger chooses per KVM backend: the stub's fast paths where they pay */
	TRAPS_VMM,  /* every trap goes to the VMM (lodger's process): the stub only forwards */
};
/* The ABI the guest kernel speaks (-machine personality=). */
enum personality_choice {
	PERSONALITY_AUTO,   /* chosen from the kernel: Xen ELF notes make it xen */
	PERSONALITY_NATIVE, /* lodger's boot protocol, trap-and-emulate (docs/guest-contract.md) */
	PERSONALITY_XEN,    /* Xen's x86-64 PV ABI, shadow mode only (docs/xen-pv.md) */
};

struct config {
	char *kernel;	   /* ELF64 image path; NULL until given */
	char *append;	   /* /chosen bootargs; "" when not given */
	char *initrd;	   /* optional initrd path */
	uint64_t mem_size; /* bytes, a multiple of LODGER_RAM_ALIGN */
	unsigned smp;	   /* vCPUs; only 1 exists for now */
	enum vm_mode mode; /* -machine mode= */
	bool mode_set;	   /* mode was given, not defaulted (a Xen kernel refuses direct) */
	enum personality_choice personality; /* -machine personality= */
	enum serial_backend serial;
	char *serial_path; /* for SERIAL_FILE */
	bool serial_set;   /* -serial or [chardev] named it; else -nodefaults, -nographic pick */
	bool nographic;	   /* no display anyway; without -serial: SERIAL_MON_STDIO */
	bool nodefaults;   /* without -serial: SERIAL_NONE, as QEMU's -nodefaults */
	bool no_reboot;	   /* lodger never reboots; kept so QEMU command lines work */
	bool no_shutdown;  /* accepted: with no monitor to resume from, a power-off still exits */
	bool daemonize;	   /* detach once the VM is started (QEMU's -daemonize) */
	char *name;	   /* -name: written to -stats; NULL: none */
	char *pidfile;	   /* -pidfile: lodger's pid, written at start, removed at exit */
	uint16_t debug_exit_port; /* -device isa-debug-exit,iobase= */
	uint8_t debug_exit_size;  /* ... ,iosize= (1, 2 or 4 ports) */
	unsigned debug_mask;	  /* -d categories (log.h) */
	char *debug_file;	  /* -D */
	char *stats_file; /* -stats: statistics as JSON at exit; "-" is stderr; NULL: none */
	char *gdb;	  /* -gdb tcp:[HOST]:PORT (-s: tcp::1234): the GDB stub; NULL: none */
	bool gdb_wait;	  /* -S: the guest waits for the debugger before its first instruction */

	/* Shadow mode only; accepted, and ignored, in direct mode. */
	uint64_t stub_base;	  /* the stub's initial linear base, when stub_base_set */
	bool stub_base_set;	  /* false: lodger chooses */
	enum trap_path traps;	  /* -machine traps= */
	bool kvm_sync_memslot;	  /* -machine kvm-sync=memslot: no stub flush or zap log */
	bool relocate;		  /* the stub moves away when the guest touches its region */
	uint64_t seed;		  /* for the relocation's random choices, when seed_set */
	bool seed_set;		  /* false: lodger picks a seed and logs it */
	unsigned reloc_hot;	  /* displaced accesses per window that make a region hot */
	unsigned reloc_window_ms; /* the policy's window (claim 12) */

	struct drive_list drives; /* -drive and [drive], in order: files' first */
};

/* What config_from_args asks the caller to do next. */
enum config_action {
	CONFIG_RUN,	  /* boot the VM described */
	CONFIG_EXIT_OK,	  /* --help, --version, -d help, --print-config: printed, exit 0 */
	CONFIG_EXIT_FAIL, /* a problem was reported on stderr (one line): exit EXIT_USAGE */
};

void config_init_defaults(struct config *cfg);
void config_free(struct config *cfg);

/*
 * Parses argv (QEMU-style options, then an optional kernel path), reads the -readconfig
 * files and merges the layers. Messages (help, errors) go to `out` / `err`. cfg is
 * initialised here; config_free it whatever the result.
 */
enum config_action config_from_args(struct config *cfg, int argc, char **argv, FILE *out,
				    FILE *err);

/* Reads one -readconfig file into cfg; on error writes "FILE:LINE: problem" to err. */
int config_read_file(struct config *cfg, const char *path, FILE *err);

/* The name of a personality as -machine personality= takes it. */
/* Writes `  key = "s"` as -readconfig reads it back (quotes, backslashes, newlines escaped). */
void config_print_str(FILE *out, const char *key, const char *s);
const char *config_personality_name(enum personality_choice p);

/* Writes cfg in -readconfig format; reading it back gives the same config. */
void config_print(const struct config *cfg, FILE *out);

/*
 * Parses a memory size as -m takes it: a number with an optional suffix K, M, G or T
 * (binary units; no suffix means MiB, as in QEMU; B means bytes). Returns 0, or -1 if
 * garbled or overflowing. Range checks are the caller's.
 */
int parse_size(const char *s, uint64_t *bytes);

/* Checks ranges (memory, smp, enums, stub base); writes one line per problem to err and
 * returns -1 if there is any. */
int config_validate(const struct config *cfg, FILE *err);

/* After the layers are merged: picks the serial backend when none was named (-nodefaults:
 * none; -nographic: mon:stdio; else stdio). */
void config_resolve(struct config *cfg);

/*
 * The stub's region is mapped through one page table of its own, that is one
 * page-directory entry, so its base must be 2 MiB-aligned (shadow_init checks the same).
 */
#define CONFIG_STUB_BASE_ALIGN (2ULL << 20)

/* Guest RAM when neither -m nor [memory] size is given (QEMU's default). */
#define CONFIG_DEFAULT_MEM_SIZE (128ULL << 20)

/*
 * The command line is a layer over the -readconfig files: `set` says which fields it
 * gives (CONFIG_SET_*), and config_merge moves just those into the config below.
 */
enum config_set {
	CONFIG_SET_KERNEL = 1u << 0,
	CONFIG_SET_APPEND = 1u << 1,
	CONFIG_SET_INITRD = 1u << 2,
	CONFIG_SET_MEM_SIZE = 1u << 3,
	CONFIG_SET_SMP = 1u << 4,
	CONFIG_SET_MODE = 1u << 5,
	CONFIG_SET_SERIAL = 1u << 6, /* serial and serial_path together */
	CONFIG_SET_NOGRAPHIC = 1u << 7,
	CONFIG_SET_NO_REBOOT = 1u << 8,
	CONFIG_SET_DEBUG = 1u << 9,
	CONFIG_SET_DEBUG_FILE = 1u << 10,
	CONFIG_SET_STATS_FILE = 1u << 11,
	CONFIG_SET_STUB_BASE = 1u << 12, /* stub_base and stub_base_set together */
	CONFIG_SET_TRAPS = 1u << 13,
	CONFIG_SET_RELOCATE = 1u << 14,
	CONFIG_SET_SEED = 1u << 15, /* seed and seed_set together */
	CONFIG_SET_RELOC_HOT = 1u << 16,
	CONFIG_SET_RELOC_WINDOW = 1u << 17,
	CONFIG_SET_DRIVES = 1u << 18, /* the command line's drives follow the files' */
	CONFIG_SET_PERSONALITY = 1u << 19,
	CONFIG_SET_NODEFAULTS = 1u << 20,
	CONFIG_SET_NO_SHUTDOWN = 1u << 21,
	CONFIG_SET_DAEMONIZE = 1u << 22,
	CONFIG_SET_NAME = 1u << 23,
	CONFIG_SET_PIDFILE = 1u << 24,
	CONFIG_SET_DEBUG_EXIT = 1u << 25, /* debug_exit_port and debug_exit_size together */
	CONFIG_SET_GDB = 1u << 26,
	CONFIG_SET_GDB_WAIT = 1u << 27,
	CONFIG_SET_KVM_SYNC = 1u << 28,
};

struct config_layer {
	struct config cfg; /* initialised with config_init_defaults, freed with config_free */
	unsigned set;	   /* CONFIG_SET_* */
};

/* Moves the fields layer->set names from layer->cfg into dst (layer keeps the rest). */
void config_merge(struct config *dst, struct config_layer *layer);

/*
 * Value setters shared by -readconfig and the command line. Each returns 0, or -1 with
 * `why` (CONFIG_WHY_MAX bytes) holding what is wrong, as a phrase for an error line
 * ("not a size (...)"); the caller adds where the value came from.
 */
#define CONFIG_WHY_MAX 160
/* stub-base and seed take a number in hex (0x...) or decimal. */
int config_set_mem_size(struct config *cfg, const char *s, char *why); /* parse, round, range */
int config_set_smp(struct config *cfg, const char *s, char *why);
int config_set_mode(struct config *cfg, const char *s, char *why);	   /* direct | shadow */
int config_set_debug(struct config *cfg, const char *s, char *why);	   /* -d list */
int config_set_path(char **field, const char *s, char *why);		   /* non-empty copy */
int config_set_string(char **field, const char *s, char *why);		   /* copy, may be "" */
int config_set_gdb(char **field, const char *s, char *why);		   /* tcp:[HOST]:PORT */
int config_set_stub_base(struct config *cfg, const char *s, char *why);	   /* 2 MiB, canonical */
int config_set_traps(struct config *cfg, const char *s, char *why);	   /* auto | vmm */
int config_set_kvm_sync(struct config *cfg, const char *s, char *why);	   /* auto | memslot */
int config_set_personality(struct config *cfg, const char *s, char *why);  /* auto|native|xen */
int config_set_relocate(struct config *cfg, const char *s, char *why);	   /* on | off */
int config_set_reloc_hot(struct config *cfg, const char *s, char *why);	   /* 1 .. 1000000 */
int config_set_reloc_window(struct config *cfg, const char *s, char *why); /* ms, 1 .. 3600000 */
int config_set_seed(struct config *cfg, const char *s, char *why);	   /* any 64-bit number */
int config_check_machine_type(const char *s, char *why);		   /* only "lodger" */
int config_check_accel(const char *s, char *why);			   /* only "kvm" */
int config_set_serial(struct config *cfg, const char *s, char *why);	   /* -serial DEV */
int config_set_debug_exit_port(struct config *cfg, const char *s, char *why); /* 16-bit */
int config_set_debug_exit_size(struct config *cfg, const char *s, char *why); /* 1, 2, 4 */

/*
 * Writes "lodger: " and the message as one line to err, escaped by log_put_line (a
 * user's value may hold a newline, control characters or bytes 0x80-0xff).
 */
void config_error(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
