#!/bin/sh
# The workload bench/disk.py runs inside a Linux guest (at /disk.sh in its initramfs, whose
# /init loaded the block driver's modules): waits for the disk, runs each disk-io pattern.
# Arguments: the patterns, each "MODE:BLOCK_BYTES:QUEUE_DEPTH:TOTAL_MIB".
dev=
for _ in $(seq 100); do
	for d in /dev/xvda /dev/vda; do
		[ -b "$d" ] && dev=$d && break 2
	done
	sleep 0.1
done
if [ -z "$dev" ]; then
	echo "bench: no disk (no /dev/xvda or /dev/vda)"
	exit 1
fi
echo "bench: disk $dev"
for p in "$@"; do
	IFS=: read -r mode bs qd mib <<EOT
$p
EOT
	/bin/disk-io "$dev" "$mode" "$bs" "$qd" "$mib" || echo "bench: $p failed"
done
