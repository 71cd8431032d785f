/*
 * main.c - lodger's entry: configuration, then one VM from creation to exit status.
 *
 * Exit statuses are listed in exitcode.h and docs/cli.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/personality.h"
#include "front/config.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "front/phase.h"
#include "front/signals.h"
#include "front/stats.h"
#include "kvm/vm.h"

static int setup_logging(const struct config *cfg)
{
	log_set_mask(cfg->debug_mask);
	if (cfg->debug_file) {
		int r = log_open_file(cfg->debug_file);

		if (r) {
			pr_err("-D %s: %s", cfg->debug_file, strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* Native or Xen PV, from the kernel's notes (boot/personality.h); 0 or an exit status. */
static int choose_personality(struct config *cfg)
{
	char err[256];

	switch (personality_choose_file(cfg, err, sizeof(err))) {
	case PERSONALITY_OK:
		return 0;
	case PERSONALITY_USAGE:
		pr_err("kernel %s: %s", cfg->kernel, err);
		return EXIT_USAGE;
	case PERSONALITY_BAD_IMAGE:
		break;
	}
	pr_err("kernel %s: %s", cfg->kernel, err);
	return EXIT_BAD_IMAGE;
}

/* The signal handler's hook (signals.h): async-signal-safe, as vm_request_exit is. */
static void stop_on_signal(void *ctx)
{
	vm_request_exit(ctx, EXIT_SIGNAL);
}

/*
 * -serial file:PATH is a command-line value: a path that cannot be written is the
 * user's mistake, reported in one line with EXIT_USAGE before anything starts (serial.c
 * opens it for real, truncating it, when the UART starts).
 */
static int check_serial_file(const struct config *cfg)
{
	int fd;

	if (cfg->serial != SERIAL_FILE)
		return 0;
	fd = open(cfg->serial_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		pr_err("-serial file:%s: %s", cfg->serial_path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* -pidfile: written once the options are known; returns 0 or -1 after one line. */
static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f)) {
		pr_err("-pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * -daemonize, before the VM is started: KVM ties a VM to the process that created it,
 * so the child starts it and tells the waiting parent how that went (one status byte);
 * the parent exits with it, as QEMU's does. Returns in the child only.
 */
static int daemonize_begin(int *report_fd)
{
	int fds[2];
	pid_t pid;
	unsigned char status = EXIT_HOST_ERROR;

	fflush(NULL);
	if (pipe(fds) < 0 || (pid = fork()) < 0) {
		pr_err("-daemonize: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		while (read(fds[0], &status, 1) < 0 && errno == EINTR)
			;
		_exit(status);
	}
	close(fds[0]);
	setsid();
	*report_fd = fds[1];
	return 0;
}

/* The child has started the VM (status 0) or failed: tell the parent, then detach. */
static void daemonize_end(int report_fd, int status)
{
	unsigned char byte = (unsigned char)status;
	int null = open("/dev/null", O_RDWR);

	if (write(report_fd, &byte, 1) < 0) {
		/* the parent is gone: nobody to tell */
	}
	close(report_fd);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
}

/* Says why the run ended when the reason is lodger's, not the guest's. */
static void report_end(int status)
{
	if (status == EXIT_SIGNAL && signals_caught())
		pr_err("terminating on signal %d (%s)", signals_caught(),
		       signals_name(signals_caught()));
}

static int run(const struct config *cfg)
{
	struct vm vm;
	int status, report_fd = -1;

	status = vm_prepare(&vm, cfg);
	/* from here a signal stops the VM, and the run ends as any other */
	signals_set_stop(stop_on_signal, &vm);
	if (!status && signals_caught())
		vm_request_exit(&vm, EXIT_SIGNAL); /* one came while preparing */
	if (!status && cfg->daemonize && daemonize_begin(&report_fd) < 0)
		status = EXIT_HOST_ERROR;
	if (!status)
		status = vm_start(&vm);
	if (report_fd >= 0)
		daemonize_end(report_fd, status);
	if (!status)
		status = vm_run(&vm);
	signals_set_stop(NULL, NULL);
	report_end(status);
	/* Before vm_destroy, which frees the vCPU the counters live in. A failure to write
	 * them is reported in one line and leaves the status as it is (docs/cli.md). */
	if (cfg->stats_file) {
		vm_sync_stats(&vm);
		stats_write(&vm, status, cfg->stats_file);
	}
	vm_destroy(&vm);
	return status;
}

int main(int argc, char **argv)
{
	struct config cfg;
	int status;

	config_init_defaults(&cfg);
	switch (config_from_args(&cfg, argc, argv, stdout, stderr)) {
	case CONFIG_EXIT_OK:
		config_free(&cfg);
		return 0;
	case CONFIG_EXIT_FAIL:
		config_free(&cfg);
		return EXIT_USAGE;
	case CONFIG_RUN:
		break;
	}
	if (setup_logging(&cfg)) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	status = choose_personality(&cfg);
	if (status) {
		config_free(&cfg);
		return status;
	}
	phase_timing(cfg.stats_file != NULL);
	stats_start_clock();
	signals_install();
	if (check_serial_file(&cfg) < 0 || (cfg.pidfile && write_pidfile(cfg.pidfile) < 0)) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	status = run(&cfg);
	if (cfg.pidfile)
		unlink(cfg.pidfile);
	fflush(stdout);
	log_close();
	config_free(&cfg);
	return status;
}
