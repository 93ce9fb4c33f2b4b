#!/usr/bin/env bash
# Two network namespaces joined by a veth pair whose egress is rate-limited with tc (token
# bucket): two "machines" on one host, for measuring data-parallel training over a 1 or 10 Gb/s
# link (docs/DISTRIBUTED.md). Needs root (CAP_NET_ADMIN).
#   scripts/netns_pair.sh up 1gbit     # cllm-ns0 (10.77.0.1) <-> cllm-ns1 (10.77.0.2)
#   scripts/netns_pair.sh down
set -euo pipefail
case "${1:-}" in
up)
    rate="${2:-1gbit}"
    "$0" down 2>/dev/null || true
    ip netns add cllm-ns0
    ip netns add cllm-ns1
    ip link add cllm-veth0 type veth peer name cllm-veth1
    ip link set cllm-veth0 netns cllm-ns0
    ip link set cllm-veth1 netns cllm-ns1
    ip -n cllm-ns0 addr add 10.77.0.1/24 dev cllm-veth0
    ip -n cllm-ns1 addr add 10.77.0.2/24 dev cllm-veth1
    for n in 0 1; do
        ip -n cllm-ns$n link set lo up
        ip -n cllm-ns$n link set cllm-veth$n up
        # Token bucket at the link rate; the burst holds ~1 ms of traffic (at least 64 KiB).
        tc -n cllm-ns$n qdisc add dev cllm-veth$n root tbf rate "$rate" burst 1mbit latency 100ms
    done
    ;;
down)
    ip netns del cllm-ns0 2>/dev/null || true
    ip netns del cllm-ns1 2>/dev/null || true
    ;;
*)
    echo "usage: $0 up RATE | down" >&2
    exit 2
    ;;
esac
