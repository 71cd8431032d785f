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

enum vm_mode { MODE_DIRECT, MODE_SHADOW };
enum serial_backend { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };
/* Shadow mode: who handles a trap from the guest (-machine traps=). */
enum trap_path {
	TRAPS_AUTO, /* lodger chooses per KVM backend: the stub's fast paths where they pay */
	TRAPS_VMM,  /* every trap goes to the VMM (lodger's process): the stub only forwards */
};

struct config {
	char *kernel;	   /* ELF64 image path; NULL until given */
	char *append;	   /* /chosen bootargs; "" when not given */
	char *initrd;	   /* optional initrd path */
	uint64_t mem_size; /* bytes, a multiple of LODGER_RAM_ALIGN */
	unsigned smp;	   /* vCPUs; only 1 exists for now */
	enum vm_mode mode; /* -machine mode= */
	enum serial_backend serial;
	char *serial_path;   /* for SERIAL_FILE */
	bool nographic;	     /* accepted for QEMU compatibility: lodger has no display */
	bool no_reboot;	     /* lodger never reboots; kept so QEMU command lines work */
	unsigned debug_mask; /* -d categories (log.h) */
	char *debug_file;    /* -D */
	char *stats_file;    /* -stats: statistics as JSON at exit; "-" is stderr; NULL: none */

	/* Shadow mode only; accepted, and ignored, in direct mode. */
	uint64_t stub_base;	  /* the stub's initial linear base, when stub_base_set */
	bool stub_base_set;	  /* false: lodger chooses */
	enum trap_path traps;	  /* -machine traps= */
	bool relocate;		  /* the stub moves away when the guest touches its region */
	uint64_t seed;		  /* for the relocation's random choices, when seed_set */
	bool seed_set;		  /* false: lodger picks a seed and logs it */
	unsigned reloc_hot;	  /* displaced accesses per window that make a region hot */
	unsigned reloc_window_ms; /* the policy's window (claim 12) */
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

/* Writes cfg in -readconfig format; reading it back gives the same config. */
void config_print(const struct config *cfg, FILE *out);

/*
 * Parses a memory size as -m takes it: a number with an optional suffix K, M, G or T
 * (binary units; no suffix means MiB, as in QEMU; B means bytes). Returns 0, or -1 if
 * garbled or overflowing. Range checks are the caller's.
 */
int parse_size(const char *s, uint64_t *bytes);

/* Checks ranges (memory, smp, enums, stub base); on error writes one line to err, returns -1. */
int config_validate(const struct config *cfg, FILE *err);

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
int config_set_stub_base(struct config *cfg, const char *s, char *why);	   /* 2 MiB, canonical */
int config_set_traps(struct config *cfg, const char *s, char *why);	   /* auto | vmm */
int config_set_relocate(struct config *cfg, const char *s, char *why);	   /* on | off */
int config_set_reloc_hot(struct config *cfg, const char *s, char *why);	   /* 1 .. 1000000 */
int config_set_reloc_window(struct config *cfg, const char *s, char *why); /* ms, 1 .. 3600000 */
int config_set_seed(struct config *cfg, const char *s, char *why);	   /* any 64-bit number */
int config_check_machine_type(const char *s, char *why);		   /* only "lodger" */
int config_check_accel(const char *s, char *why);			   /* only "kvm" */

/*
 * Writes "lodger: " and the message as one line to err, escaped by log_put_line (a
 * user's value may hold a newline, control characters or bytes 0x80-0xff).
 */
void config_error(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
