#!/usr/bin/env bash
# Runs an MPI program on two test hosts made on this machine: two network namespaces joined by
# a veth pair (10.99.0.1 and 10.99.0.2, addresses that exist only inside them), MPI's TCP
# transport between them, and mpirun starting the remote side through `ip netns exec` as its
# remote agent (as it would through ssh). Needs root, iproute2 and Open MPI; removes its
# namespaces on exit; traffic stays on the veth pair.
#   scripts/mpi_two_hosts.sh PROGRAM [ARGS...]     e.g. scripts/mpi_two_hosts.sh target/release/nabla bench W6
# Each "host" sees both cores and would bind its one process to core 0, so binding is off.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: mpi_two_hosts.sh PROGRAM [ARGS...]" >&2; exit 2; }
A=nabla-h1; B=nabla-h2
agent=$(mktemp)
cleanup() { ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true; rm -f "$agent"; }
trap cleanup EXIT
ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true
ip netns add $A; ip netns add $B
ip link add nabla-v1 type veth peer name nabla-v2
ip link set nabla-v1 netns $A; ip link set nabla-v2 netns $B
ip -n $A addr add 10.99.0.1/24 dev nabla-v1; ip -n $B addr add 10.99.0.2/24 dev nabla-v2
for ns in $A $B; do ip -n $ns link set lo up; done
ip -n $A link set nabla-v1 up; ip -n $B link set nabla-v2 up
# mpirun calls the agent as `AGENT HOST COMMAND...`; the command is shell text, as over ssh
cat > "$agent" <<SH
#!/bin/sh
host=\$1; shift
case \$host in 10.99.0.1) ns=$A;; 10.99.0.2) ns=$B;; *) echo "unknown test host \$host" >&2; exit 1;; esac
exec ip netns exec \$ns sh -c "\$*"
SH
chmod +x "$agent"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
prog=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); shift
ip netns exec $A mpirun --host 10.99.0.1,10.99.0.2 -np 2 --bind-to none \
  --mca plm_rsh_agent "$agent" --mca btl tcp,self \
  --mca btl_tcp_if_include 10.99.0.0/24 --mca oob_tcp_if_include 10.99.0.0/24 \
  -x NABLA_NUM_THREADS=1 "$prog" "$@"
