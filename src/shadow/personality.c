/*
 * personality.c - the table of personalities, and the core's way to deliver through the
 * one that runs.
 */
#include "shadow/personality.h"

#include <string.h>

#include "front/phase.h"
#include "kvm/vcpu.h"
#include "native/native.h"
#include "shadow/guestcpu.h"
#include "xen/personality.h"

static const struct personality *const personalities[] = {
	&native_personality,
	&xen_personality,
};

const struct personality *personality_find(const char *name)
{
	for (size_t i = 0; i < sizeof(personalities) / sizeof(personalities[0]); i++)
		if (strcmp(personalities[i]->name, name) == 0)
			return personalities[i];
	return NULL;
}

int personality_deliver(struct trap *t, unsigned vector, enum event_kind kind, bool has_error,
			uint32_t error)
{
	struct event e = {.vector = vector, .kind = kind, .has_error = has_error, .error = error};
	uint64_t start = phase_now();
	int r = t->g->pers->deliver(t, &e);

	phase_end(t->vcpu->phases, PHASE_DELIVER, start);
	return r;
}

int personality_fault(struct trap *t, const struct gfault *f)
{
	struct event e = {.vector = f->vector,
			  .kind = EV_EXCEPTION,
			  .has_error = true,
			  .error = f->error,
			  .cr2 = f->cr2};
	uint64_t start = phase_now();
	int r = t->g->pers->deliver(t, &e);

	phase_end(t->vcpu->phases, PHASE_DELIVER, start);
	return r;
}
