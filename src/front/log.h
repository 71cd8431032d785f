/*
 * log.h - messages and -d debug categories.
 *
 * Errors always print; debug messages print only for categories enabled with -d,
 * to stderr or to the -D file.
 */
#ifndef LODGER_LOG_H
#define LODGER_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum log_category {
	LOG_EXIT = 1u << 0,   /* every KVM exit */
	LOG_IO = 1u << 1,     /* port and MMIO accesses nobody claims */
	LOG_BOOT = 1u << 2,   /* RAM layout, kernel and initrd placement, KVM backend */
	LOG_SERIAL = 1u << 3, /* UART register accesses */
	LOG_CPU = 1u << 4,    /* the vCPU's entry state */
	LOG_EMUL = 1u << 5,   /* instructions lodger completes for KVM */
	LOG_TRAP = 1u << 6,   /* shadow mode: every trap from the guest */
	LOG_SHADOW = 1u << 7, /* shadow mode: shadow page-table fills and flushes */
	LOG_STUB = 1u << 8,   /* shadow mode: stub placement */
	LOG_RELOC = 1u << 9,  /* shadow mode: every relocation of the stub */
	LOG_XEN = 1u << 10,   /* Xen PV personality: every hypercall, bounce and event */
};

struct log_category_name {
	const char *name;
	unsigned mask;
	const char *help;
};

/* The table `-d help` prints, terminated by a NULL name. */
extern const struct log_category_name log_categories[];

/* Parses "a,b,c" (or "all"); returns 0, or -1 naming the bad word in `bad`. */
int log_parse_categories(const char *list, unsigned *mask, const char **bad, size_t *bad_len);

void log_set_mask(unsigned mask);
bool log_enabled(unsigned category);
/* Sends debug output to `path` (-D); returns 0 or -errno. */
int log_open_file(const char *path);
void log_close(void);
FILE *log_stream(void);

/*
 * Writes prefix, msg and a newline as one line of printable ASCII: every other byte of
 * msg (control characters, DEL, 0x80-0xff, which a terminal may take as C1 controls)
 * becomes \xNN and a backslash \\, so that a user's path or value can neither break
 * the line nor reach the terminal raw. Every message line goes through here.
 */
void log_put_line(FILE *f, const char *prefix, const char *msg);

void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_debug_cat(unsigned category, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_debug(cat, ...)                                                                         \
	do {                                                                                       \
		if (log_enabled(cat))                                                              \
			pr_debug_cat(cat, __VA_ARGS__);                                            \
	} while (0)

#endif
