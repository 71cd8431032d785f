#!/usr/bin/env python3
"""The console and signals through a pseudo-terminal, as a user at a terminal meets them.

Cases on console_harness (lodger's console and signal layers, no KVM needed):
  mux-keys      -serial mon:stdio: keys and Ctrl-C reach the guest; Ctrl-A h, c, b and
                Ctrl-A Ctrl-A; Ctrl-A x ends with status 14; terminal restored
  plain-keys    -serial stdio: Ctrl-A is an ordinary key; Ctrl-C ends with status 16
  signal-NAME   kill -NAME while the terminal is raw: status 16, terminal restored
On lodger itself:
  lodger-no-kvm     -nographic on a terminal, failing before KVM: status 6, one line,
                    terminal unchanged
  lodger-stats-signal  (needs /dev/kvm) a guest running, SIGTERM: status 16, terminal
                    restored, -stats says "signal"
Usage: pty_console.py HARNESS LODGER HELLO_ELF CASE   (--list prints the cases)
"""
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import termios
import time

SKIP = 77
EXIT_NO_KVM, EXIT_USER_QUIT, EXIT_SIGNAL = 6, 14, 16
SIGNALS = ["TERM", "HUP", "INT", "QUIT"]
CASES = ["mux-keys", "plain-keys"] + [f"signal-{s}" for s in SIGNALS] + \
        ["lodger-no-kvm", "lodger-stats-signal"]


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Pty:
    """A child process on a fresh terminal, with that terminal as its controlling one."""

    def __init__(self, cmd, env=None):
        self.master, self.slave = os.openpty()
        self.before = termios.tcgetattr(self.slave)
        self.out = b""

        def child_setup():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.p = subprocess.Popen(cmd, stdin=self.slave, stdout=self.slave, stderr=self.slave,
                                  preexec_fn=child_setup, env=env)

    def expect(self, text, timeout=10):
        """Reads until `text` has been printed; returns the output so far."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            left = deadline - time.monotonic()
            check(left > 0, f"timed out waiting for {text!r}; output so far {self.out!r}")
            r, _, _ = select.select([self.master], [], [], min(left, 0.5))
            # the parent holds the slave open, so a child that exited gives no EOF
            check(r or self.p.poll() is None,
                  f"exited ({self.p.returncode}) before {text!r}; output {self.out!r}")
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                check(chunk, f"terminal closed before {text!r}; output {self.out!r}")
                self.out += chunk
        return self.out

    def send(self, data):
        os.write(self.master, data)

    def raw_now(self):
        return not (termios.tcgetattr(self.slave)[3] & termios.ECHO)

    def finish(self, timeout=10):
        status = self.p.wait(timeout=timeout)
        # what is left to read, so the transcript is complete
        while select.select([self.master], [], [], 0.1)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.out += chunk
        after = termios.tcgetattr(self.slave)
        check(after == self.before, f"terminal not restored: before {self.before}, after {after}")
        return status


def mux_keys(harness):
    t = Pty([harness, "mux"])
    t.expect("ready")
    check(t.raw_now(), "terminal not raw while running")
    t.send(b"ab")
    t.expect("rx 61 62")
    t.send(b"\x03")  # Ctrl-C: to the guest, muxed
    t.expect("rx 03")
    t.send(b"\x01\x01")
    t.expect("rx 01")
    t.send(b"\x01h")
    t.expect("C-a x    exit lodger")
    t.send(b"\x01c")
    t.expect("no monitor")
    t.send(b"\x01b")
    t.expect("break")
    t.send(b"\x01x")
    status = t.finish()
    check(status == EXIT_USER_QUIT, f"Ctrl-A x: status {status}, expected {EXIT_USER_QUIT}")
    check(b"terminated by C-a x" in t.out and b"end user-quit" in t.out,
          f"output {t.out!r}")


def plain_keys(harness):
    t = Pty([harness, "plain"])
    t.expect("ready")
    check(t.raw_now(), "terminal not raw while running")
    t.send(b"a\x01x")  # no Ctrl-A commands on a plain console
    t.expect("rx 61 01 78")
    t.send(b"\x03")  # Ctrl-C: lodger's
    status = t.finish()
    check(status == EXIT_SIGNAL, f"Ctrl-C: status {status}, expected {EXIT_SIGNAL}")
    check(b"end signal" in t.out, f"output {t.out!r}")


def signal_case(harness, name):
    t = Pty([harness, "mux"])
    t.expect("ready")
    check(t.raw_now(), "terminal not raw while running")
    t.p.send_signal(getattr(signal, "SIG" + name))
    status = t.finish()
    check(status == EXIT_SIGNAL, f"SIG{name}: status {status}, expected {EXIT_SIGNAL}")
    check(b"end signal" in t.out, f"output {t.out!r}")


def lodger_no_kvm(lodger, hello):
    env = dict(os.environ, LODGER_KVM_DEVICE="/nonexistent/kvm")
    t = Pty([lodger, "-nographic", hello], env=env)
    status = t.finish()
    lines = t.out.decode(errors="replace").splitlines()
    check(status == EXIT_NO_KVM, f"status {status}, expected {EXIT_NO_KVM}; output {t.out!r}")
    check(len(lines) == 1 and lines[0].startswith("lodger: "), f"expected one line: {lines}")


def lodger_stats_signal(lodger, hello):
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: needs read-write /dev/kvm to run a guest")
        return SKIP
    with tempfile.TemporaryDirectory() as d:
        stats = os.path.join(d, "stats.json")
        # the hello guest waits for a key with wait-for-key, then powers off
        t = Pty([lodger, "-nographic", "-stats", stats, "-append", "wait-for-key", hello])
        t.expect("hello: waiting for a key")
        check(t.raw_now(), "terminal not raw while the guest runs")
        t.p.send_signal(signal.SIGTERM)
        status = t.finish()
        check(status == EXIT_SIGNAL, f"status {status}, expected {EXIT_SIGNAL}")
        with open(stats) as f:
            s = json.load(f)
        check(s["exit"] == {"cause": "signal", "signal": "SIGTERM"}, f"exit: {s.get('exit')}")
        check(s["exit_status"] == EXIT_SIGNAL, f"exit_status {s['exit_status']}")
    return 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print("\n".join(CASES))
        return 0
    if len(sys.argv) != 5 or sys.argv[4] not in CASES:
        sys.exit(f"usage: {sys.argv[0]} HARNESS LODGER HELLO_ELF CASE")
    harness, lodger, hello, case = sys.argv[1:]
    try:
        if case == "mux-keys":
            mux_keys(harness)
        elif case == "plain-keys":
            plain_keys(harness)
        elif case.startswith("signal-"):
            signal_case(harness, case[len("signal-"):])
        elif case == "lodger-no-kvm":
            lodger_no_kvm(lodger, hello)
        elif case == "lodger-stats-signal":
            return lodger_stats_signal(lodger, hello)
    except Fail as e:
        print(f"FAIL: {e}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
