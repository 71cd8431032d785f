/*
 * personality.h - choosing the guest's ABI (native or Xen PV) from its kernel image.
 *
 * -machine personality=auto (the default) picks xen for a kernel that carries Xen ELF
 * notes and native otherwise; a Xen PV kernel runs in shadow mode only, so the mode
 * becomes shadow unless the user asked for direct, which is refused. The choice is made
 * once, before the VM is built, and --print-config shows it.
 */
#ifndef LODGER_PERSONALITY_H
#define LODGER_PERSONALITY_H

#include <stddef.h>
#include <stdint.h>

#include "front/config.h"
#include "xen/notes.h"

enum personality_result {
	PERSONALITY_OK = 0,
	PERSONALITY_BAD_IMAGE = -1, /* malformed notes, or a PV kernel lodger cannot run */
	PERSONALITY_USAGE = -2,	    /* the options contradict the kernel (mode=direct...) */
};

/*
 * Sets cfg->personality (never AUTO afterwards) and, for xen, cfg->mode from the ELF image
 * [img, img + len). *notes receives the Xen notes (count 0 for a native kernel). On failure
 * err holds one line naming the problem (without the file name).
 */
enum personality_result personality_choose(struct config *cfg, const uint8_t *img, size_t len,
					   struct xen_notes *notes, char *err, size_t errlen);

/*
 * Reads cfg->kernel and chooses as above. A kernel that cannot be read leaves cfg as it is
 * and returns PERSONALITY_OK: loading it reports that later, in the usual words.
 */
enum personality_result personality_choose_file(struct config *cfg, char *err, size_t errlen);

#endif
