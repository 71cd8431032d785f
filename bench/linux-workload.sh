#!/bin/sh
# The workload bench/linux.py runs inside the guest (put at /bench.sh in its initramfs).
# Each part prints "bench: NAME START END" with /proc/uptime's seconds, so the time is
# taken inside the guest; the harness also timestamps the lines from outside.
now() { read -r up _ </proc/uptime; echo "$up"; }
echo "bench: begin"

# 1,000 processes, each a fork and an exec: a copy of busybox under a name that is not an
# applet's, so the shell cannot run it in-process (busybox runs `busybox-exec true` as true).
cp /bin/busybox /tmp/busybox-exec
s=$(now)
i=0
while [ $i -lt 1000 ]; do
	/tmp/busybox-exec true
	i=$((i + 1))
done
echo "bench: fork-exec $s $(now)"

# 100 MB of text (base64 lines) through sort and md5sum, in tmpfs.
dd if=/dev/urandom bs=1M count=75 2>/dev/null | base64 >/tmp/data
s=$(now)
sort /tmp/data | md5sum >/dev/null
md5sum /tmp/data >/dev/null
echo "bench: sort-md5 $s $(now)"
rm -f /tmp/data

# A compute loop in the shell: user-mode work with no system calls.
s=$(now)
i=0
while [ $i -lt 300000 ]; do
	i=$((i + 1))
done
echo "bench: compute $s $(now)"
echo "bench: end"
