#!/usr/bin/env bash
# Starts the demo's local targets:
#  - the simulated PLC `conduit-demo-plc` (Modbus/TCP, libmodbus) on 127.0.0.1:1502, the demo
#    asset plc-1; it needs no account, so it runs as any user;
#  - as root only: an OpenSSH sshd on 127.0.0.1:2201 that trusts Conduit's SSH user CA, with an
#    unprivileged account `conduit-demo` (the demo asset hmi-3).
# Both keep running after the demo stops; a second run replaces them.
# Usage: demo-targets.sh DATA_DIR CONDUIT [DEMO_PLC] (DEMO_PLC defaults to the conduit-demo-plc
# of the same build tree as CONDUIT).
set -euo pipefail
data=${1:?usage: demo-targets.sh DATA_DIR CONDUIT_BINARY [DEMO_PLC_BINARY]}
conduit=${2:?usage: demo-targets.sh DATA_DIR CONDUIT_BINARY [DEMO_PLC_BINARY]}
data=$(realpath "$data")   # sshd re-executes from / for each connection: paths must be absolute
conduit=$(realpath "$conduit")
plc=${3:-$(dirname "$conduit")/../../tools/demo_plc/conduit-demo-plc}
dir="$data/demo-targets"
mkdir -p "$dir" && chmod 700 "$dir"

# Stops the process in PID_FILE if it is still the program named COMM (a PID can be reused).
stop_previous() {
  local pid_file=$1 comm=$2 pid
  [ -f "$pid_file" ] || return 0
  pid=$(cat "$pid_file")
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]; then
    kill "$pid" && sleep 0.5
  fi
  rm -f "$pid_file"
}

# The simulated PLC. 1502: the unprivileged stand-in for Modbus's 502; the seed's plc-1 endpoint
# (broker/app/src/demo_seed.cpp) names this port.
plc_port=1502
stop_previous "$dir/plc.pid" conduit-demo-pl   # /proc/PID/comm keeps 15 characters
if [ ! -x "$plc" ]; then
  echo "demo-targets: no demo PLC at $plc (build the target conduit-demo-plc); skipping it" >&2
else
  setsid "$(realpath "$plc")" --address 127.0.0.1 --port "$plc_port" </dev/null \
    >"$dir/plc.log" 2>&1 &
  echo $! > "$dir/plc.pid"
  for _ in $(seq 50); do
    grep -q "listening on" "$dir/plc.log" 2>/dev/null && break
    kill -0 "$(cat "$dir/plc.pid")" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q "listening on" "$dir/plc.log"; then
    echo "demo target: PLC (Modbus/TCP) on 127.0.0.1:$plc_port (holding register i = 1000 + i)" >&2
  else
    echo "demo-targets: the demo PLC did not start: $(cat "$dir/plc.log")" >&2
    rm -f "$dir/plc.pid"
  fi
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "demo-targets: not root, so no demo sshd (it needs its own account); skipping" >&2
  exit 0
fi
id conduit-demo >/dev/null 2>&1 || useradd -m -s /bin/bash conduit-demo
usermod -p '*' conduit-demo   # key/certificate logins only (useradd leaves the account locked)
[ -f "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C conduit-demo-target \
  -f "$dir/ssh_host_ed25519_key"
"$conduit" vault --data-dir "$data" ssh-ca public-key > "$dir/user_ca.pub"
cat > "$dir/sshd_config" <<CONFIG
Port 2201
ListenAddress 127.0.0.1
HostKey $dir/ssh_host_ed25519_key
TrustedUserCAKeys $dir/user_ca.pub
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowUsers conduit-demo
Subsystem sftp internal-sftp
PidFile $dir/sshd.pid
CONFIG
mkdir -p /run/sshd
if [ -f "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
  kill "$(cat "$dir/sshd.pid")" && sleep 0.5
fi
/usr/sbin/sshd -t -f "$dir/sshd_config"
/usr/sbin/sshd -f "$dir/sshd_config"
echo "demo target: sshd on 127.0.0.1:2201 (account conduit-demo, trusts the Conduit user CA)" >&2
