/*
 * stubexit.h - a trap arriving from the stub: recognise it, read it, hand it on.
 */
#ifndef LODGER_STUBEXIT_H
#define LODGER_STUBEXIT_H

struct vcpu;

/* The exit was not the stub's (an ordinary guest access to port STUB_EXIT_PORT). */
#define STUBEXIT_NOT_STUB (-1)

/*
 * A KVM_EXIT_IO on STUB_EXIT_PORT. Returns STUBEXIT_NOT_STUB when no stub entry ran;
 * else handles the trap and returns 0 to go on or an exit status (a failing KVM ioctl:
 * EXIT_HOST_ERROR, reported by name).
 */
int stubexit_handle(struct vcpu *vcpu);

#endif
