/* pit.c - the PIT channel 2 a Xen PV guest calibrates its TSC with (xen/pit.h). */
#include "xen/pit.h"

#define PORT_COUNTER2 0x42
#define PORT_CONTROL  0x43
#define PORT_SPEAKER  0x61

bool xen_pit_port(uint16_t port)
{
	return port == PORT_COUNTER2 || port == PORT_CONTROL || port == PORT_SPEAKER;
}

/* PIT ticks since counting started, stopped while the gate is low. */
static uint64_t ticks(const struct xen_pit *pit, uint64_t now_ns)
{
	uint64_t t = pit->frozen;

	if (pit->counting && pit->gate && now_ns > pit->start_ns)
		t += (now_ns - pit->start_ns) * PIT_HZ / 1000000000ULL;
	return t;
}

/* The counter: it counts down from the reload and wraps through 0xffff (mode 0). */
static uint16_t count(const struct xen_pit *pit, uint64_t now_ns)
{
	if (!pit->counting)
		return (uint16_t)pit->reload;
	return (uint16_t)((pit->reload - ticks(pit, now_ns) % 65536 + 65536) % 65536);
}

static bool out2(const struct xen_pit *pit, uint64_t now_ns)
{
	uint64_t t;

	if (!pit->counting)
		return pit->mode != 0; /* mode 0 drives OUT low from its control word on */
	t = ticks(pit, now_ns);
	if (pit->mode == 0 || pit->mode == 1)
		return t >= pit->reload;
	if (pit->mode == 3) /* square wave: high for the first half of each period */
		return t % pit->reload < (pit->reload + 1) / 2;
	return true; /* modes 2, 4, 5: low only for a tick */
}

static uint8_t read_counter(struct xen_pit *pit, uint64_t now_ns)
{
	uint16_t v;
	bool msb;

	if (pit->latched) {
		v = pit->latch;
		msb = pit->access == 2 || (pit->access == 3 && pit->latch_msb_next);
		if (pit->access == 3 && !pit->latch_msb_next)
			pit->latch_msb_next = true;
		else
			pit->latched = false;
		return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
	}
	v = count(pit, now_ns);
	msb = pit->access == 2 || (pit->access == 3 && pit->read_msb_next);
	if (pit->access == 3)
		pit->read_msb_next = !pit->read_msb_next;
	return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

uint8_t xen_pit_read(struct xen_pit *pit, uint16_t port, uint64_t now_ns)
{
	switch (port) {
	case PORT_COUNTER2:
		return read_counter(pit, now_ns);
	case PORT_SPEAKER:
		return (uint8_t)((pit->gate ? 1 : 0) | (pit->speaker ? 2 : 0) |
				 (out2(pit, now_ns) ? 0x20 : 0));
	default: /* the control word cannot be read */
		return 0xff;
	}
}

static void start(struct xen_pit *pit, uint32_t reload, uint64_t now_ns)
{
	pit->reload = reload ? reload : 65536;
	pit->start_ns = now_ns;
	pit->frozen = 0;
	pit->counting = true;
}

static void write_control(struct xen_pit *pit, uint8_t value, uint64_t now_ns)
{
	unsigned access = (value >> 4) & 3;

	if ((value >> 6) == 3) { /* read-back: latch channel 2's count when selected */
		if (!(value & 0x20) && (value & 0x08) && !pit->latched) {
			pit->latch = count(pit, now_ns);
			pit->latched = true;
			pit->latch_msb_next = false;
		}
		return;
	}
	if ((value >> 6) != 2) /* channels 0 and 1: not a PV guest's */
		return;
	if (access == 0) { /* counter latch */
		if (!pit->latched) {
			pit->latch = count(pit, now_ns);
			pit->latched = true;
			pit->latch_msb_next = false;
		}
		return;
	}
	pit->access = (uint8_t)access;
	pit->mode = (value >> 1) & 7;
	if (pit->mode > 5)
		pit->mode -= 4; /* 6 and 7 are 2 and 3 */
	pit->counting = false;
	pit->latched = false;
	pit->write_msb_next = pit->read_msb_next = false;
}

static void write_counter(struct xen_pit *pit, uint8_t value, uint64_t now_ns)
{
	switch (pit->access) {
	case 1:
		start(pit, value, now_ns);
		break;
	case 2:
		start(pit, (uint32_t)value << 8, now_ns);
		break;
	case 3:
		if (!pit->write_msb_next) {
			pit->write_lsb = value;
			pit->write_msb_next = true;
			pit->counting = false; /* mode 0 stops until the MSB */
		} else {
			pit->write_msb_next = false;
			start(pit, pit->write_lsb | (uint32_t)value << 8, now_ns);
		}
		break;
	default: /* no control word yet */
		break;
	}
}

void xen_pit_write(struct xen_pit *pit, uint16_t port, uint8_t value, uint64_t now_ns)
{
	switch (port) {
	case PORT_COUNTER2:
		write_counter(pit, value, now_ns);
		break;
	case PORT_CONTROL:
		write_control(pit, value, now_ns);
		break;
	case PORT_SPEAKER: {
		bool gate = value & 1;

		if (pit->gate && !gate) { /* counting pauses */
			pit->frozen = ticks(pit, now_ns);
		} else if (!pit->gate && gate) {
			pit->start_ns = now_ns;
		}
		pit->gate = gate;
		pit->speaker = value & 2;
		break;
	}
	default:
		break;
	}
}
