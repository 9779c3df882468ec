#!/usr/bin/env bash
# Starts the demo's local target: an OpenSSH sshd on 127.0.0.1:2201 that trusts Conduit's SSH
# user CA, with an unprivileged account `conduit-demo`. Usage: demo-targets.sh DATA_DIR CONDUIT
set -euo pipefail
data=${1:?usage: demo-targets.sh DATA_DIR CONDUIT_BINARY}
conduit=${2:?usage: demo-targets.sh DATA_DIR CONDUIT_BINARY}
data=$(realpath "$data")   # sshd re-executes from / for each connection: paths must be absolute
conduit=$(realpath "$conduit")
dir="$data/demo-targets"

if [ "$(id -u)" -ne 0 ]; then
  echo "demo-targets: not root, so no demo sshd (it needs its own account); skipping" >&2
  exit 0
fi
mkdir -p "$dir" && chmod 700 "$dir"
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
