/*
 * prepare.h - a Xen PV guest's memory from the command line: kernel, notes, initrd,
 * the domain builder. No KVM needed, so a bad image is reported the same everywhere.
 */
#ifndef LODGER_XEN_PREPARE_H
#define LODGER_XEN_PREPARE_H

#include "front/config.h"
#include "xen/domain.h"

/* The ports the builder binds for the console and xenstore (start_info). */
#define XEN_CONSOLE_PORT 2
#define XEN_STORE_PORT	 1

/*
 * Reads cfg->kernel (and cfg->initrd), checks its notes and builds the start-of-day
 * layout in mem (d->mem is set here). Returns 0, or an exit status (exitcode.h) after
 * printing one line. -d boot logs the layout.
 */
int xen_prepare(struct xen_domain *d, struct guest_mem *mem, const struct config *cfg,
		struct xen_layout *l);

#endif
