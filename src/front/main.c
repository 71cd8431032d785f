/*
 * main.c - lodger's entry: configuration, then one VM from creation to exit status.
 *
 * Exit statuses are listed in exitcode.h and docs/cli.md.
 */
#include <stdio.h>
#include <string.h>

#include "boot/personality.h"
#include "front/config.h"
#include "front/exitcode.h"
#include "front/log.h"
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

static int run(const struct config *cfg)
{
	struct vm vm;
	int status;

	status = vm_prepare(&vm, cfg);
	if (!status)
		status = vm_start(&vm);
	if (!status)
		status = vm_run(&vm);
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
	status = run(&cfg);
	fflush(stdout);
	log_close();
	config_free(&cfg);
	return status;
}
