#!/usr/bin/env bash
# Modbus/TCP through tunnels (issue 8, "Performance"): requests per second and per-request round
# trips (p50, p99, max) of bench_modbus_rtt (one connection, read holding registers back to
# back) against one conduit-demo-plc, three ways in the same run:
#   direct   the PLC's own port: the floor;
#   openssh  `ssh -N -L` through a throwaway local OpenSSH sshd: the baseline of the targets;
#   conduit  `ssh -N -L` through `conduit serve`'s SSH gateway: a fresh data directory, alice
#            (vendor, key + TOTP) with an approved modbus grant on the asset `plc`, a policy
#            with tunnels allowed, a read-only Modbus scope (inspection) and recording required.
# Both tunnels use the same OpenSSH client, cipher (aes128-gcm, the gateway's first choice) and
# PLC. RUNS rounds, each measuring the three paths in turn, so that noise from the shared
# machine falls on all of them. At the end, a write through the Conduit tunnel tells whether
# the Modbus inspector was on (refused: on; passed: bytes relayed without inspection).
#
# Release build. Usage: bench/modbus_tunnel.sh [REQUESTS per measurement (default 20000)]
#                                              [RUNS (default 3)] [REGISTERS per read (default 10)]
# SKIP_BUILD=1 uses the binaries already in build/release.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20000}
runs=${2:-3}
registers=${3:-10}
root=$PWD
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  ./scripts/deps.sh
  cmake --preset release -DCONDUIT_BUILD_BENCH=ON >/dev/null
  # Through the lock the other builds on a shared machine take, so that none measures or
  # builds on cores another build holds.
  flock /tmp/conduit-build.lock cmake --build --preset release -j "$(nproc)" \
    --target conduit conduit-demo-plc bench_modbus_rtt >/dev/null
fi
conduit=$root/build/release/broker/app/conduit
demo_plc=$root/build/release/tools/demo_plc/conduit-demo-plc
rtt=$root/build/release/bench/bench_modbus_rtt
cipher=aes128-gcm@openssh.com

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # The broker seals its recordings as it stops: the directory goes once it has (rm raced it).
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$work"
}
trap cleanup EXIT
# free_port, wait_for, start_sshd, conduit_setup, admin, add_organisation, add_vendor, grant,
# write_askpass, start_serve.
# shellcheck source=lib_gateway.sh source-path=SCRIPTDIR
. "$root/bench/lib_gateway.sh"
ssh_opts=(-N -v -i "$work/client_key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no
  -o UserKnownHostsFile=/dev/null -o ExitOnForwardFailure=yes -o ConnectTimeout=10 -c "$cipher")

# The PLC.
"$demo_plc" --port 0 </dev/null >"$work/plc.log" 2>&1 &
pids+=($!)
plc_port=$(wait_for "$work/plc.log" "listening on" | sed 's/.*://')
ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$work/client_key"

# (b) OpenSSH: an sshd of our own on a free port, key login as the current user.
user=$(id -un)
start_sshd "$work/sshd" "AuthorizedKeysFile $work/client_key.pub" "AllowTcpForwarding local"
openssh_port=$(free_port)
ssh "${ssh_opts[@]}" -p "$sshd_port" -L "$openssh_port:127.0.0.1:$plc_port" "$user@127.0.0.1" \
  </dev/null 2>"$work/ssh-openssh.log" &
pids+=($!)
wait_for "$work/ssh-openssh.log" "Local forwarding listening" >/dev/null

# (c) Conduit: the CLI set-up of tests/ssh/integration/plant.hpp, then `conduit serve`.
cat >"$work/policy.toml" <<'POLICY'
[[rule]]
id = "bench-modbus"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["modbus"]
[rule.limits]
max_duration = "8h"        # far longer than a run
warning_period = "1m"
approvals = 1
recording = "required"     # as deployed: every byte recorded, every request decoded
mfa = "required"
max_sessions_per_asset = 4
[rule.ssh]
port_forwarding = true
[rule.modbus]
read_only = true           # the inspector checks each request: function, unit, addresses
writes = "deny"
function_codes = [3]
unit_ids = [1]
ranges = ["0-99"]
POLICY
conduit_setup "$work/policy.toml"
add_organisation
secret=$(add_vendor alice "$work/client_key.pub")
admin asset add plc --owner-group ops --criticality medium --tcp "modbus:127.0.0.1:$plc_port" \
  >/dev/null
grant alice plc modbus
# The second factor: the current TOTP code, computed when ssh asks for it.
write_askpass "$work/askpass.sh" "$secret"
start_serve
conduit_port=$(free_port)
SSH_ASKPASS=$work/askpass.sh SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
  ssh "${ssh_opts[@]}" -p "$gateway_port" -o PreferredAuthentications=publickey,keyboard-interactive \
  -L "$conduit_port:plc:$plc_port" alice+plc@127.0.0.1 </dev/null 2>"$work/ssh-conduit.log" &
pids+=($!)
wait_for "$work/ssh-conduit.log" "Local forwarding listening" >/dev/null

echo "bench_modbus_rtt: $requests requests of $registers holding registers per measurement," \
  "one connection each, after 200 warm-up requests; cipher $cipher on both tunnels"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A result
for run in $(seq "$runs"); do
  for path in direct openssh conduit; do
    case $path in
      direct) port=$plc_port ;;
      openssh) port=$openssh_port ;;
      conduit) port=$conduit_port ;;
    esac
    if ! line=$("$rtt" 127.0.0.1 "$port" "$requests" "$registers"); then
      echo "modbus_tunnel: $path failed (run $run); ssh and broker logs:" >&2
      tail -n 20 "$work/ssh-$path.log" "$work/serve.log" >&2 2>/dev/null || true
      exit 1
    fi
    result[$run.$path]=$line
    printf 'run %s %-8s %s\n' "$run" "$path" "$line"
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# Added by Conduit over the OpenSSH tunnel, per run.
field() { echo "${result[$1]}" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
for run in $(seq "$runs"); do
  python3 - "$run" "$(field "$run.openssh" p50_us)" "$(field "$run.conduit" p50_us)" \
    "$(field "$run.openssh" p99_us)" "$(field "$run.conduit" p99_us)" \
    "$(field "$run.openssh" requests_per_s)" "$(field "$run.conduit" requests_per_s)" \
    "$(field "$run.direct" p50_us)" <<'PY'
import sys
run, o50, c50, o99, c99, orps, crps, d50 = sys.argv[1], *map(float, sys.argv[2:])
print(f"run {run}: conduit over openssh: p50 {c50 - o50:+.1f} us, p99 {c99 - o99:+.1f} us, "
      f"throughput x{crps / orps:.2f}; openssh over direct: p50 {o50 - d50:+.1f} us")
PY
done

# Inspection check, last (a write that passes changes the PLC): a write through the Conduit
# tunnel must come back as a Modbus exception when the inspector enforces the read-only scope.
if write=$(timeout 20 mbpoll -m tcp -p "$conduit_port" -t 4 -r 3 127.0.0.1 4242 2>&1); then
  echo "inspection: OFF (a write passed through the Conduit tunnel: bytes were relayed unchecked)"
else
  echo "inspection: on (the write was refused: $(echo "$write" | grep -i -m1 -E 'fail|exception|illegal'))"
fi
