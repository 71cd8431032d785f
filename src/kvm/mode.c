/* mode.c - the modes lodger has, by the configuration's name for them. */
#include "kvm/mode.h"

static const struct mode *const modes[] = {
	[MODE_DIRECT] = &direct_mode,
	[MODE_SHADOW] = &shadow_mode,
};

const struct mode *mode_get(enum vm_mode mode)
{
	return modes[mode];
}
