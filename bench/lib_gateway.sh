# shellcheck shell=bash
# Set-up shared by the benchmarks that run `conduit serve`'s SSH gateway against real OpenSSH
# peers (bench/modbus_tunnel.sh, bench/ssh_gateway.sh). Sourced, not run.
#
# The caller defines `work` (a temporary directory), `conduit` (the binary) and an array
# `pids` that its EXIT trap kills: every process started here is appended to it. Results come
# back in globals: sshd_port, sshd_pid, data, gateway_port, serve_pid.
# shellcheck disable=SC2034,SC2154 # the caller's variables, both ways

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 20 s for PATTERN in FILE; prints the matching line.
wait_for() {
  for _ in $(seq 200); do
    if grep -m1 "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "${0##*/}: no '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

# A throwaway OpenSSH sshd in DIR on a free port of 127.0.0.1 for the current user (key or
# certificate logins only), started in the background. Reuses DIR/host_key if it exists.
# Further arguments are more sshd_config lines (AuthorizedKeysFile, TrustedUserCAKeys,
# AllowTcpForwarding, Ciphers...). Sets sshd_port and sshd_pid.
start_sshd() {
  local dir=$1
  shift
  mkdir -p "$dir"
  [ -f "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C bench-sshd -f "$dir/host_key"
  sshd_port=$(free_port)
  {
    echo "Port $sshd_port"
    echo "ListenAddress 127.0.0.1"
    echo "HostKey $dir/host_key"
    printf '%s\n' "$@"
    echo "PasswordAuthentication no"
    echo "KbdInteractiveAuthentication no"
    echo "UsePAM no"
    echo "StrictModes no"
    echo "PermitRootLogin prohibit-password"
    echo "AllowUsers $(id -un)"
    echo "PidFile $dir/sshd.pid"
  } >"$dir/sshd_config"
  if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; fi
  /usr/sbin/sshd -t -f "$dir/sshd_config"
  /usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
  sshd_pid=$!
  pids+=("$sshd_pid")
  wait_for "$dir/sshd.log" "Server listening" >/dev/null
}

# `conduit init` in $work/data and a conduit.toml for `conduit serve` (portal and gateway on
# free ports) loading the policy file POLICY. Further arguments are more lines for its [ssh]
# table.
conduit_setup() {
  local policy=$1
  shift
  data=$work/data
  "$conduit" init --data-dir "$data" >/dev/null
  {
    echo "data_dir = \"$data\""
    echo "[portal]"
    echo "port = 0"
    echo "[ssh]"
    echo "port = 0"
    printf '%s\n' "$@"
    echo "[policy]"
    echo "files = [\"$policy\"]"
  } >"$work/conduit.toml"
  printf 'bench-password-1\n' >"$work/pw"
}

admin() { "$conduit" admin --config "$work/conduit.toml" "$@"; }

# The organisation the vendors work in: engineer group ops (owns the assets), vendor acme and
# erin (engineer in ops), who approves the requests.
add_organisation() {
  admin group add ops >/dev/null
  admin vendor add acme >/dev/null
  admin user add erin --role engineer --group ops --password-file "$work/pw" >/dev/null
}

# A vendor user of acme logging in with the public key KEY_FILE and TOTP; prints the TOTP
# secret (base32).
add_vendor() {
  admin user add "$1" --role vendor --vendor acme --password-file "$work/pw" >/dev/null
  admin user add-key "$1" --key-file "$2" >/dev/null
  admin user enrol-totp "$1" | grep -o 'secret=[A-Z2-7]*' | cut -d= -f2
}

# USER asks for PROTOCOL access to ASSET for an hour and erin approves it.
grant() {
  local request
  request=$(admin --as "$1" request --asset "$2" --protocol "$3" --duration 1h --reason bench)
  admin --as erin approve "$(echo "$request" | awk '{print $2}')" --comment ok >/dev/null
}

# RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of the base32 secret in argv[1]. No single quotes in
# it: write_askpass puts it between single quotes.
totp_py='import base64, hashlib, hmac, struct, sys, time
key = base64.b32decode(sys.argv[1] + "=" * (-len(sys.argv[1]) % 8))
h = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
o = h[-1] & 15
print("%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000))'

# The current TOTP code of the base32 SECRET.
totp_code() { python3 -c "$totp_py" "$1"; }

# An SSH_ASKPASS program for the gateway's second factor in FILE: it answers $GW_TOTP_CODE
# when set (computed beforehand, so that it is not part of a timed login), otherwise the
# current code of the secret $GW_TOTP_SECRET (or of SECRET, when given), computed when ssh
# asks for it. Use it as
#   GW_TOTP_SECRET=... SSH_ASKPASS=FILE SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh ...
write_askpass() {
  # shellcheck disable=SC2016 # expanded by the askpass program, not here
  local secret=${2:-'$GW_TOTP_SECRET'}
  {
    echo '#!/bin/sh'
    # shellcheck disable=SC2016 # expanded by the askpass program, not here
    echo 'if [ -n "${GW_TOTP_CODE:-}" ]; then echo "$GW_TOTP_CODE"; exit 0; fi'
    echo "exec python3 -c '$totp_py' \"$secret\""
  } >"$1"
  chmod 700 "$1"
}

# `conduit serve` with $work/conduit.toml in the background; sets gateway_port and serve_pid.
start_serve() {
  "$conduit" serve --config "$work/conduit.toml" </dev/null >"$work/serve.log" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  gateway_port=$(wait_for "$work/serve.log" "event=ssh_listening" | sed 's/.*port=\([0-9]*\).*/\1/')
}
