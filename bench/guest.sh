#!/bin/sh
# What bench/run runs inside the guest (busybox sh), the same under our
# monitor and under QEMU. bench/run copies it into the share's tools/
# directory with the host's fio and iperf3, their libraries and the dynamic
# loader (none of them is in the initramfs), and writes the parameters of
# this boot into $B/params (shell assignments). Results go to $B/out as the
# tools' own JSON; progress marks go to the console as "@@bench WHAT" lines,
# which bench/run timestamps as they arrive (and uses to sample the
# monitor's memory).
#
#   sh /mnt/bench/tools/guest.sh          (B=/mnt/bench unless BENCH_DIR is set)
#
# Parameters (params): WORKLOADS ("fs net mixed", any of them), LOADER (the
# dynamic loader's file name), NET_SETUP (none | dhcp | static: NET_ADDR, NET_GW),
# NET_SERVER (an address or "gateway": the default route's), NET_PORT,
# NET_SECONDS, NET_RX_SOFT (1: a failed host -> guest run is not an error),
# NET_MTU (dhcp: the interface's MTU).
B=${BENCH_DIR:-/mnt/bench}
. "$B/params" || { echo "@@bench error no params"; exit 90; }
T=$B/tools
O=$B/out
# Run the tools from guest RAM: one sequential copy over virtio-fs instead of
# the dynamic loader faulting fio's 60-odd libraries in a page at a time
# across the share (minutes on a host that emulates guest kernel mode).
stage() {
	mark "stage start"
	cp -r "$T" /tmp/bench-tools || { mark "error staging the tools"; exit 92; }
	T=/tmp/bench-tools
	mark "stage end"
}
mark() { echo "@@bench $*"; }
run() { "$T/lib/$LOADER" --library-path "$T/lib" "$@"; }
status=0
fail() { mark "error $*"; status=1; }

# One fio run of every file-system job (tools/fs.fio, written by bench/run).
fs_jobs() {
	mark "fs-$1 start"
	run "$T/fio" --output-format=json --output="$O/fs-$1.json" "$T/fs.fio" >/dev/null || fail "fio ($1) exit $?"
	mark "fs-$1 end"
}

# udhcpc's hook (NET_SETUP=dhcp): the lease into eth0 and the default route.
dhcp_hook() {
	cat >/tmp/udhcpc.hook <<-'EOF'
	#!/bin/sh
	[ "$1" = bound ] || [ "$1" = renew ] || exit 0
	ip addr add "$ip/${mask:-24}" dev "$interface" && ip route add default via "${router%% *}" || exit 1
	# the lease's MTU (passt offers its own), as our monitor's guest takes it
	[ -z "$mtu" ] || ip link set "$interface" mtu "$mtu"
	EOF
	chmod +x /tmp/udhcpc.hook
}

net_up() {
	if [ "$NET_SETUP" = dhcp ]; then
		ip link set lo up
		dhcp_hook
		ip link set eth0 up && udhcpc -i eth0 -q -f -n -t 5 -s /tmp/udhcpc.hook >/dev/null 2>&1 ||
			fail "dhcp"
		[ -z "${NET_MTU:-}" ] || ip link set eth0 mtu "$NET_MTU" || fail "mtu $NET_MTU"
	fi
	if [ "$NET_SETUP" = static ]; then
		ip link set lo up
		ip link set eth0 up && ip addr add "$NET_ADDR" dev eth0 && ip route add default via "$NET_GW" ||
			fail "network setup"
	fi
	SERVER=$NET_SERVER
	[ "$SERVER" = gateway ] && SERVER=$(ip route | awk '/^default/ { print $3; exit }')
	[ -n "$SERVER" ] || fail "no default route"
}

# Bytes through eth0 so far, both directions: "tx rx".
net_bytes() {
	echo "$(cat /sys/class/net/eth0/statistics/tx_bytes) $(cat /sys/class/net/eth0/statistics/rx_bytes)"
}

# iperf3 guest -> host (tx) or host -> guest (rx, -R), JSON into $O/net-DIR.json.
net_dir() {
	mark "net-$1 start"
	if [ "$1" = rx ]; then r=-R; else r=; fi
	# Bounded: host -> guest through passt into a slow guest can trickle on for
	# minutes after the server stopped (docs/protocol.md, "Network").
	# NET_RX_SOFT=1 (passt): a failed host -> guest run is that known limit, reported by
	# bench/run as a missing figure, not a failed boot.
	timeout "$((NET_SECONDS * 4 + 60))" "$T/lib/$LOADER" --library-path "$T/lib" "$T/iperf3" -c "$SERVER" \
		-p "$NET_PORT" -t "$NET_SECONDS" $r -J --logfile "$O/net-$1.json"
	rc=$?
	if [ $rc != 0 ] && [ "$1" = rx ] && [ "${NET_RX_SOFT:-0}" = 1 ]; then
		mark "warn iperf3 (rx) exit $rc"
	elif [ $rc != 0 ]; then
		fail "iperf3 ($1) exit $rc"
	fi
	mark "net-$1 end"
}

mkdir -p "$O" "$B/data" || exit 91
mark ready
[ -n "$WORKLOADS" ] && stage
case " $WORKLOADS " in *" net "* | *" mixed "*) net_up ;; esac
case " $WORKLOADS " in *" fs "* | *" mixed "*) fs_jobs alone ;; esac
case " $WORKLOADS " in *" net "*)
	net_dir tx
	net_dir rx
	;;
esac
case " $WORKLOADS " in *" mixed "*)
	# The file-system jobs again while iperf3 fills the link both ways
	# (--bidir) for longer than they take; the link's own byte counters
	# give what the network moved meanwhile.
	mark "mixed-net start"
	# (not through run(): $! must be iperf3 itself, which the loader runs in its own process)
	"$T/lib/$LOADER" --library-path "$T/lib" "$T/iperf3" -c "$SERVER" -p "$NET_PORT" -t 86400 --bidir \
		>/dev/null 2>&1 &
	ipf=$!
	sleep "${MIXED_WARMUP:-2}"
	b0=$(net_bytes)
	t0=$(cat /proc/uptime)
	fs_jobs mixed
	t1=$(cat /proc/uptime)
	b1=$(net_bytes)
	kill "$ipf" 2>/dev/null
	wait "$ipf" 2>/dev/null
	kill -0 "$ipf" 2>/dev/null && fail "iperf3 (mixed) still running"
	echo "{\"bytes_before\":\"$b0\",\"bytes_after\":\"$b1\",\"uptime_before\":\"${t0%% *}\",\"uptime_after\":\"${t1%% *}\"}" \
		>"$O/mixed-net.json"
	mark "mixed-net end"
	;;
esac
sync
mark "exit $status"
exit "$status"
