/*
 * exitcode.h - lodger's exit statuses (docs/cli.md lists them).
 *
 * 0 and odd values belong to the guest (power-off, isa-debug-exit); lodger's own
 * failures use even values, so a test can always tell who ended the run.
 */
#ifndef LODGER_EXITCODE_H
#define LODGER_EXITCODE_H

enum lodger_exit {
	EXIT_GUEST_POWEROFF = 0, /* guest wrote 0x2000 to port 0x604 */
	EXIT_USAGE = 2,		 /* bad option, config file or value */
	EXIT_BAD_IMAGE = 4,	 /* kernel or initrd missing, unreadable or malformed */
	EXIT_NO_KVM = 6,	 /* /dev/kvm absent, not permitted, or lacking a capability */
	EXIT_TRIPLE_FAULT = 8,	 /* guest triple fault (KVM_EXIT_SHUTDOWN) */
	EXIT_INTERNAL = 10,	 /* KVM internal error, failed entry, unhandled exit */
	EXIT_HOST_ERROR = 12,	 /* host-side failure: out of memory, I/O error, KVM ioctl */
	EXIT_USER_QUIT = 14,	 /* the user quit: Ctrl-A x on a muxed console */
	EXIT_SIGNAL = 16,	 /* ended by SIGINT, SIGTERM, SIGHUP or SIGQUIT */
};

#endif
