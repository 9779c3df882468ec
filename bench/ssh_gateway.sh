#!/usr/bin/env bash
# The SSH gateway against OpenSSH's own jump host (issue 5, "Performance"), in one run:
#   conduit    `ssh -p GATEWAY VENDOR+hmi@127.0.0.1` through `conduit serve`: a fresh data
#              directory, one acme vendor per login (key + TOTP: a TOTP code works once, so
#              every login needs its own user or its own 30 s step), each with an approved ssh
#              grant, a policy with recording = "required"; the gateway logs in to the target
#              with a certificate it mints from the vault's CA;
#   proxyjump  `ssh -J 127.0.0.1:JUMP` through a second throwaway OpenSSH sshd (the baseline of
#              the targets), key login;
#   direct     `ssh` straight to the target (the floor).
# All three reach the same throwaway OpenSSH target sshd as the current user, with the same
# OpenSSH client and the same cipher on every hop: a target sshd that offers only aes128-gcm
# (asset hmi) and one that offers only chacha20-poly1305 (asset hmi-chacha), so the gateway's
# libssh client to the target cannot pick another.
#
# Figures (docs/benchmarks.md "SSH gateway vs ProxyJump"):
#   1. bulk: a file of BULK_MIB zeros (`head -c 1G /dev/zero`) down (`cat FILE` on the target,
#      counted by `wc -c` here) and up (`wc -c` on the target), both ciphers, BULK_ROUNDS
#      rounds; then RANDOM_MIB of random bytes (incompressible: the recorder's worst case)
#      each way, aes128-gcm, one round. The time runs from the remote command's start (`date
#      +%s%N` on the target: same machine, same clock) to the end, so the login is not in it
#      (the wall time with the login is printed too). For Conduit also: its CPU time, the time
#      from the end of the transfer until the session has ended (the recording sealed and
#      indexed; the log's event=session_ended) and the bytes on disk per byte. During the
#      random download, an interactive session types a key every 200 ms for 60 s and a
#      second vendor logs in after the transfer: whether sealing holds other sessions up;
#   2. setup: `ssh ... true`, SETUP_RUNS times per path, interleaved; the TOTP code is computed
#      before the clock starts (askpass only echoes it);
#   3. hold: SESSIONS interactive sessions (`ssh -tt`, remote `stty raw -echo; cat`), through
#      ProxyJump and then through Conduit (a fresh `conduit serve` on the same data), held HOLD_S seconds with one keystroke per session
#      per second; memory (VmRSS, Pss) and CPU of the jump sshd's process tree and of `conduit
#      serve` before, with all sessions open and after; each session's echo at the end;
#   4. echo: ECHO_SAMPLES keystrokes on one interactive session per path, round robin, 20 ms
#      apart: the round trip of one byte through a remote `cat` in a raw pty.
#
# Release build. Usage: bench/ssh_gateway.sh [SESSIONS (500)] [SETUP_RUNS (20)]
#                                           [ECHO_SAMPLES (200)] [HOLD_S (60)]
# Environment: BULK_MIB (1024), BULK_ROUNDS (2), BULK_CIPHERS ("aes chacha"; e.g. aes),
# RANDOM_MIB (256; 0: none), RECORDING (required; off: the policy records nothing, to measure
# what the recording costs), SFTP_MIB (0; > 0:
# sftp put and get of that many MiB through Conduit and ProxyJump), LOGIN_PARALLEL (8:
# logins in flight while opening the held sessions; the gateway allows 10 unauthenticated
# connections per source address by default), SKIP_BUILD=1 uses the binaries already in build/release, KEEP_WORK=1
# keeps the temporary directory (logs, data directory), PERF_DIR=DIR records `perf record -g` of
# `conduit serve` during each Conduit bulk transfer into DIR (KIND-CIPHER-DIR-ROUND.data; with
# PERF_MODE=stat: `perf stat --per-thread` of CPU time, context switches and migrations instead,
# or of PERF_STAT_EVENTS;
# PERF_RECORD_ARGS replaces `-g -F 999`, e.g. "-e sched:sched_switch" to count each thread's
# switches).
set -euo pipefail
cd "$(dirname "$0")/.."
sessions=${1:-500}
setup_runs=${2:-20}
echo_samples=${3:-200}
hold_s=${4:-60}
bulk_mib=${BULK_MIB:-1024}
bulk_rounds=${BULK_ROUNDS:-2}
login_parallel=${LOGIN_PARALLEL:-8}
random_mib=${RANDOM_MIB:-256}
recording=${RECORDING:-required}
case $recording in
  required | off) ;;
  *)
    echo "ssh_gateway: RECORDING must be required or off, not '$recording'" >&2
    exit 2
    ;;
esac
root=$PWD
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  ./scripts/deps.sh
  cmake --preset release -DCONDUIT_BUILD_BENCH=ON >/dev/null
  # Through the lock the other builds on this shared machine take.
  flock /tmp/conduit-build.lock cmake --build --preset release -j "$(nproc)" \
    --target conduit bench_ssh_sessions >/dev/null
fi
conduit=$root/build/release/broker/app/conduit
sessions_bin=$root/build/release/bench/bench_ssh_sessions

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
# free_port, wait_for, start_sshd, conduit_setup, admin, add_organisation, add_vendor, grant,
# totp_code, write_askpass, start_serve.
# shellcheck source=lib_gateway.sh source-path=SCRIPTDIR
. "$root/bench/lib_gateway.sh"
user=$(id -un)
results=$work/results
touch "$results"
say() { echo "$*" | tee -a "$results"; }
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }

echo "ssh_gateway: commit $(git rev-parse --short HEAD)," \
  "$(git status --porcelain -- broker recorder | wc -l) uncommitted file(s) under broker/ and recorder/;" \
  "$(nproc) cores; $(ssh -V 2>&1); policy recording = \"$recording\""
load

# ---- Conduit: data directory, policy, CA ----
cat >"$work/policy.toml" <<POLICY
[[rule]]
id = "bench-ssh"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["ssh"]
[rule.limits]
max_duration = "8h"        # far longer than a run
warning_period = "1m"
approvals = 1
recording = "$recording"     # required as deployed: every byte of every channel recorded
mfa = "required"
[rule.ssh]
sftp = true                # for 1c (SFTP_MIB)
POLICY
conduit_setup "$work/policy.toml"
"$conduit" vault --data-dir "$data" ssh-ca public-key >"$work/ca.pub"

# ---- OpenSSH: the targets (same host key) and the jump host ----
ssh-keygen -q -t ed25519 -N '' -C bench-client -f "$work/client_key"
mkdir -p "$work/target-aes" "$work/target-chacha"
ssh-keygen -q -t ed25519 -N '' -C bench-target -f "$work/target-aes/host_key"
cp "$work/target-aes/host_key" "$work/target-aes/host_key.pub" "$work/target-chacha/"
declare -A target_port
target_lines=("AuthorizedKeysFile $work/client_key.pub" "TrustedUserCAKeys $work/ca.pub"
  "Subsystem sftp internal-sftp")
start_sshd "$work/target-aes" "${target_lines[@]}" "Ciphers aes128-gcm@openssh.com"
target_port[aes]=$sshd_port
start_sshd "$work/target-chacha" "${target_lines[@]}" "Ciphers chacha20-poly1305@openssh.com"
target_port[chacha]=$sshd_port
start_sshd "$work/jump" "AuthorizedKeysFile $work/client_key.pub" "AllowTcpForwarding yes"
jump_port=$sshd_port
jump_pid=$sshd_pid
host_key=$(cut -d' ' -f1-2 "$work/target-aes/host_key.pub")
declare -A cipher_name=([aes]=aes128-gcm@openssh.com [chacha]=chacha20-poly1305@openssh.com)
declare -A asset=([aes]=hmi [chacha]=hmi-chacha)
for c in aes chacha; do
  # One OpenSSH client configuration per cipher; ProxyJump passes -F on to its jump hop.
  cat >"$work/ssh_config.$c" <<CONFIG
Host *
  IdentityFile $work/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ${SSH_LOGLEVEL:-ERROR}
  ConnectTimeout 30
  Ciphers ${cipher_name[$c]}
  PreferredAuthentications publickey,keyboard-interactive
CONFIG
done

# ---- Conduit: organisation, assets, one vendor per gateway login ----
add_organisation
for c in aes chacha; do
  admin asset add "${asset[$c]}" --owner-group ops --criticality medium \
    --max-sessions "$((sessions + 10))" --ssh "127.0.0.1:${target_port[$c]}:$user" \
    --ssh-host-key "$host_key" >/dev/null
done
vendors=()
for r in $(seq "$bulk_rounds"); do
  for c in aes chacha; do vendors+=("b$r$c-down ${asset[$c]}" "b$r$c-up ${asset[$c]}"); done
done
for i in $(seq "$setup_runs"); do vendors+=("s$i hmi"); done
vendors+=("e1 hmi" "p1 hmi" "w1 hmi" "r-down hmi" "r-up hmi")
for i in 1 2 3 4; do vendors+=("f$i hmi"); done # sftp (SFTP_MIB): one login each
for i in $(seq "$sessions"); do vendors+=("h$i hmi"); done
mkdir -p "$work/totp"
make_vendors() {
  local name a
  while read -r name a; do
    add_vendor "$name" "$work/client_key.pub" >"$work/totp/$name"
    grant "$name" "$a" ssh
  done
}
echo "creating ${#vendors[@]} vendors (user, key, TOTP, approved grant) with the CLI..."
started=$SECONDS
printf '%s\n' "${vendors[@]}" >"$work/vendors"
split -n l/2 "$work/vendors" "$work/vendors."
make_vendors <"$work/vendors.aa" &
maker=$!
make_vendors <"$work/vendors.ab"
wait "$maker"
echo "  done in $((SECONDS - started)) s"
write_askpass "$work/askpass.sh"
start_serve
echo "gateway on port $gateway_port (conduit serve pid $serve_pid); targets on" \
  "${target_port[aes]} (aes128-gcm) and ${target_port[chacha]} (chacha20-poly1305); jump host on $jump_port"

ssh_extra=()
# cmd=(...): the ssh command line of PATH (direct, proxyjump, conduit) with cipher C, logging
# in to the gateway as vendor V (conduit only). CODE: the TOTP code to answer, if computed.
set_cmd() {
  local path=$1 c=$2 v=${3:-} code=${4:-}
  local base=(ssh -F "$work/ssh_config.$c" "${ssh_extra[@]}")
  case $path in
    direct) cmd=(env "${base[@]}" -p "${target_port[$c]}" "$user@127.0.0.1") ;;
    proxyjump)
      cmd=(env "${base[@]}" -J "$user@127.0.0.1:$jump_port" -p "${target_port[$c]}" "$user@127.0.0.1")
      ;;
    conduit)
      cmd=(env "GW_TOTP_SECRET=$(cat "$work/totp/$v")" ${code:+"GW_TOTP_CODE=$code"}
        "SSH_ASKPASS=$work/askpass.sh" SSH_ASKPASS_REQUIRE=force DISPLAY=:0
        "${base[@]}" -p "$gateway_port" "$v+${asset[$c]}@127.0.0.1")
      ;;
  esac
}
# CPU seconds (user + system) of `conduit serve` so far.
serve_cpu() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$serve_pid/stat"; }
# The machine's CPU ticks: "busy total" (idle and iowait are not busy), for the share of both
# cores a transfer kept busy (whether it was CPU-bound).
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
busy_pct() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}
# Waits until every gateway session has ended: `event=session_ended` is logged once the
# session's recording is sealed and indexed.
wait_sessions_ended() {
  local limit=$((SECONDS + ${1:-900}))
  while [ "$(grep -c 'event=session_ended' "$work/serve.log")" -lt \
    "$(grep -c 'event=session_started' "$work/serve.log")" ]; do
    if [ "$SECONDS" -gt "$limit" ]; then
      echo "ssh_gateway: gateway sessions still open after ${1:-900} s" >&2
      return 1
    fi
    sleep 0.1
  done
}
recorded_bytes() { du -sb "$data/recordings" 2>/dev/null | cut -f1 || echo 0; }

# shell line of an interactive session on PATH for bench_ssh_sessions.
session_line() {
  local quoted ssh_extra=(-tt)
  set_cmd "$1" aes "${2:-}"
  printf -v quoted '%q ' "${cmd[@]}"
  echo "exec $quoted'stty raw -echo; echo READY; exec cat' 2>>$work/sessions.err"
}
ended() { grep -c 'event=session_ended' "$work/serve.log" || true; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# ---- 1. bulk transfer ----
# transfer DATA PATH CIPHER DIRECTION VENDOR: one transfer of $payload ($bytes bytes); appends
# its result line. With probe=1 (conduit only), an interactive session types a key every
# 200 ms for 60 s from just before the transfer, and a second vendor logs in while the
# recording is sealed: both show whether the seal holds up other sessions.
transfer() {
  local kind=$1 path=$2 c=$3 dir=$4 v=$5 t0 t1 t2 start end got cpu0 cpu1 rec0 ended0 extra=""
  local probe_pid="" login_pid="" rc=0
  set_cmd "$path" "$c" "$v"
  cpu0=$(serve_cpu)
  rec0=$(recorded_bytes)
  ended0=$(ended)
  if [ "$path" = conduit ] && [ "${probe:-0}" = 1 ]; then
    session_line conduit p1 >"$work/probe.line"
    "$sessions_bin" hold "$work/probe.line" 60 200 1 "$serve_pid" >"$work/probe.out" &
    probe_pid=$!
    wait_for "$work/probe.out" "^login:" >/dev/null
    set_cmd "$path" "$c" "$v" # session_line changed cmd
  fi
  local perf_pid=""
  if [ "$path" = conduit ] && [ -n "${PERF_DIR:-}" ]; then
    if [ "${PERF_MODE:-record}" = stat ]; then
      perf stat --per-thread -e "${PERF_STAT_EVENTS:-task-clock,context-switches,cpu-migrations}" -p "$serve_pid" \
        -o "$PERF_DIR/$kind-$c-$dir-$round.stat" 2>/dev/null &
    else
      # shellcheck disable=SC2086 # PERF_RECORD_ARGS is a list of arguments
      perf record -q ${PERF_RECORD_ARGS:--g -F 999} -p "$serve_pid" -o "$PERF_DIR/$kind-$c-$dir-$round.data" \
        2>/dev/null &
    fi
    perf_pid=$!
    sleep 0.5
  fi
  local ticks0
  ticks0=$(cpu_ticks)
  t0=$EPOCHREALTIME
  if [ "$dir" = down ]; then
    got=$("${cmd[@]}" "date +%s%N >&2; cat $payload" </dev/null 2>"$work/transfer.err" | wc -c) ||
      rc=$?
    t1=$EPOCHREALTIME
    start=$(grep -E '^[0-9]{19}$' "$work/transfer.err" | tail -n1)
    end=$(printf '%s' "$t1" | tr -d . | sed 's/$/000/')
  else
    "${cmd[@]}" 'date +%s%N; wc -c; date +%s%N' <"$payload" >"$work/transfer.out" \
      2>"$work/transfer.err" || rc=$?
    t1=$EPOCHREALTIME
    start=$(sed -n 1p "$work/transfer.out")
    got=$(sed -n 2p "$work/transfer.out")
    end=$(sed -n 3p "$work/transfer.out")
  fi
  local busy
  busy=$(busy_pct "$ticks0" "$(cpu_ticks)")
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
  fi
  if [ "$rc" != 0 ] || [ "$got" != "$bytes" ] || [ -z "$start" ]; then
    echo "ssh_gateway: $kind $path $c $dir: ssh exit status $rc, $got of $bytes bytes moved," \
      "after $(since "$t0" "$t1") s; its standard error, then the broker's log:" >&2
    tail -n 30 "$work/transfer.err" >&2
    tail -n 20 "$work/serve.log" >&2
    exit 1
  fi
  if [ "$path" = conduit ]; then
    # The session ends (its line in the log) once its recording is sealed and indexed: timed
    # apart from the transfer.
    cpu1=$(serve_cpu)
    if [ -n "$probe_pid" ]; then
      (
        set_cmd conduit "$c" w1 "$(totp_code "$(cat "$work/totp/w1")")"
        l0=$EPOCHREALTIME
        status=0
        "${cmd[@]}" true </dev/null 2>"$work/login-during-seal.err" || status=$?
        echo "login_during_seal_ms=$(awk -v a="$l0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }')" \
          "login_during_seal_exit=$status"
      ) >"$work/login-during-seal.out" &
      login_pid=$!
    fi
    local limit=$((SECONDS + 900))
    while [ "$(ended)" -le "$ended0" ] && [ "$SECONDS" -lt "$limit" ]; do sleep 0.05; done
    t2=$EPOCHREALTIME
    extra=" broker_cpu_s=$(since "$cpu0" "$cpu1") seal_s=$(since "$t1" "$t2")"
    extra+=" seal_cpu_s=$(since "$cpu1" "$(serve_cpu)") recorded_bytes=$(($(recorded_bytes) - rec0))"
    # The relayed bytes the recording holds (its manifest's bytes_in: every record's payload).
    if [ "$recording" = required ]; then
      local id
      id=$(grep -o "event=session_started session=[^ ]* user=$v " "$work/serve.log" | cut -d' ' -f2 |
        cut -d= -f2)
      extra+=" recording_bytes_in=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["bytes_in"])' \
        "$data/recordings/$id.crec.manifest.json")"
    fi
    if [ -n "$probe_pid" ]; then
      wait "$login_pid"
      wait "$probe_pid"
      say "probe data=$kind dir=$dir $(cat "$work/login-during-seal.out")" \
        "$(grep '^hold:' "$work/probe.out" | sed 's/^hold: //')"
    fi
    wait_sessions_ended 900
  fi
  say "bulk data=$kind round=$round cipher=$c dir=$dir path=$path" \
    "seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" \
    "wall_with_login=$(since "$t0" "$t1") machine_busy_pct=$busy$extra"
}
bytes=$((bulk_mib * 1024 * 1024))
payload=$work/payload
echo
echo "== 1a. bulk: $bulk_mib MiB of zeros (head -c ${bulk_mib}M /dev/zero) each way, $bulk_rounds round(s)"
head -c "$bytes" /dev/zero >"$payload"
load
for round in $(seq "$bulk_rounds"); do
  for c in ${BULK_CIPHERS:-aes chacha}; do
    for dir in down up; do
      # Alternate which path goes first, so that neither always meets a warmer machine.
      if [ $((round % 2)) = 1 ]; then order=(proxyjump conduit direct); else order=(conduit proxyjump direct); fi
      for path in "${order[@]}"; do transfer zero "$path" "$c" "$dir" "b$round$c-$dir"; done
    done
  done
done
load
if [ "$random_mib" -gt 0 ]; then
  bytes=$((random_mib * 1024 * 1024))
  echo
  echo "== 1b. bulk: $random_mib MiB of random bytes (incompressible) each way, aes128-gcm"
  head -c "$bytes" /dev/urandom >"$payload"
  round=1
  load
  for dir in down up; do
    for path in proxyjump conduit direct; do
      probe=0
      if [ "$dir" = down ]; then probe=1; fi
      transfer random "$path" aes "$dir" "r-$dir"
    done
  done
  load
fi
# 1c. sftp (SFTP_MIB > 0): the same file of zeros put and got with OpenSSH's sftp through
# Conduit (where the sftp decoder names the file and hashes it as it passes) and ProxyJump,
# aes128-gcm; wall time including the login, each checked by size on the target or here.
if [ "${SFTP_MIB:-0}" -gt 0 ]; then
  echo
  echo "== 1c. sftp: $SFTP_MIB MiB of zeros put and got, aes128-gcm (wall time with the login)"
  head -c "$((SFTP_MIB * 1024 * 1024))" /dev/zero >"$payload"
  n=0
  for path in proxyjump conduit proxyjump conduit; do
    for dir in put get; do
      v=f1
      if [ "$path" = conduit ]; then n=$((n + 1)) && v=f$n; fi
      set_cmd "$path" aes "$v"
      # sftp takes -P for the port; the rest of the ssh command line is the same.
      scmd=("${cmd[@]/#ssh/sftp}")
      for i in "${!scmd[@]}"; do [ "${scmd[$i]}" = -p ] && scmd[i]=-P; done
      rm -f "$work/sftp.got"
      if [ "$dir" = put ]; then line="put $payload /tmp/conduit-bench-sftp.bin"; else line="get /tmp/conduit-bench-sftp.bin $work/sftp.got"; fi
      t0=$EPOCHREALTIME
      echo "$line" | "${scmd[@]}" >/dev/null 2>"$work/sftp.err" || { cat "$work/sftp.err" >&2; exit 1; }
      t1=$EPOCHREALTIME
      say "sftp path=$path dir=$dir mib=$SFTP_MIB wall_with_login=$(since "$t0" "$t1")"
      sleep 1
    done
  done
  wait_sessions_ended 900
  rm -f /tmp/conduit-bench-sftp.bin
fi
rm -f "$payload"

# ---- 2. connection setup ----
echo
echo "== 2. connection setup: ssh ... true, $setup_runs times per path (aes128-gcm)"
paths=(direct proxyjump conduit)
for i in $(seq "$setup_runs"); do
  for k in 0 1 2; do
    path=${paths[$(((i + k) % 3))]}
    code=""
    if [ "$path" = conduit ]; then code=$(totp_code "$(cat "$work/totp/s$i")"); fi
    set_cmd "$path" aes "s$i" "$code"
    t0=$EPOCHREALTIME
    if ! "${cmd[@]}" true </dev/null 2>"$work/setup.err"; then
      echo "ssh_gateway: $path login failed:" >&2
      cat "$work/setup.err" >&2
      exit 1
    fi
    t1=$EPOCHREALTIME
    say "setup run=$i path=$path ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')"
  done >/dev/null
done
load

# ---- 4. keystroke echo ----
echo
echo "== 4. keystroke echo: $echo_samples samples per path, round robin, 20 ms apart"
"$sessions_bin" echo "$echo_samples" 20 "direct=$(session_line direct)" \
  "proxyjump=$(session_line proxyjump)" "conduit=$(session_line conduit e1)" | while read -r line; do
  say "$line"
done
load

# ---- 3. concurrent interactive sessions ----
echo
echo "== 3. $sessions interactive sessions held $hold_s s, a keystroke per session per second"
for path in proxyjump conduit; do
  if [ "$path" = conduit ]; then
    # A fresh `conduit serve` on the same data directory: the bulk phase leaves the heap of
    # the old one grown by its recordings' indexes, which would hide the sessions' memory.
    kill "$serve_pid"
    wait "$serve_pid" || true
    mv "$work/serve.log" "$work/serve.log.1"
    start_serve
    tree=$serve_pid
  else
    tree=$jump_pid
  fi
  : >"$work/hold.$path"
  for i in $(seq "$sessions"); do session_line "$path" "h$i" >>"$work/hold.$path"; done
  echo "-- $path (memory of the process tree of pid $tree)"
  load
  "$sessions_bin" hold "$work/hold.$path" "$hold_s" 1000 "$login_parallel" "$tree" | while read -r line; do
    say "hold path=$path $line"
  done
  if [ "$path" = conduit ]; then wait_sessions_ended 300; fi
  sleep 5
  say "hold path=$path after close (5 s): $(grep -E '^(VmRSS|Threads)' "/proc/$tree/status" | tr -s ' \t\n' ' ')"
  load
done

# ---- summary ----
echo
echo "== summary (bulk: medians over rounds of the transfer time without the login)"
python3 - "$results" "$bulk_mib" "$random_mib" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
mib = float(sys.argv[2])
random_mib = float(sys.argv[3])
def kv(line):
    return dict(re.findall(r"(\w+)=([^\s]+)", line))
bulk = {}
for l in lines:
    if l.startswith("bulk "):
        d = kv(l)
        bulk.setdefault((d["data"], d["cipher"], d["dir"], d["path"]), []).append(d)
for data, size in (("zero", mib), ("random", random_mib)):
    for c in ("aes", "chacha"):
        for dr in ("down", "up"):
            runs = {p: bulk.get((data, c, dr, p)) for p in ("direct", "proxyjump", "conduit")}
            if not runs["conduit"] or not runs["proxyjump"]:
                continue
            s = {p: statistics.median(float(d["seconds"]) for d in r) for p, r in runs.items() if r}
            rates = {p: size / t for p, t in s.items()}
            seal = statistics.median(float(d["seal_s"]) for d in runs["conduit"])
            cpu = statistics.median(float(d["broker_cpu_s"]) for d in runs["conduit"])
            rec = statistics.median(float(d["recorded_bytes"]) for d in runs["conduit"])
            rin = statistics.median(float(d.get("recording_bytes_in", 0)) for d in runs["conduit"])
            print(f"bulk {data} {size:.0f} MiB {c:6} {dr:4}: conduit {s['conduit']:.2f} s "
                  f"{rates['conduit']:.0f} MiB/s; proxyjump {s['proxyjump']:.2f} s "
                  f"{rates['proxyjump']:.0f} MiB/s; direct {s.get('direct', 0):.2f} s "
                  f"{rates.get('direct', 0):.0f} MiB/s; conduit/proxyjump x"
                  f"{rates['conduit'] / rates['proxyjump']:.2f}; broker {cpu:.2f} CPU-s, "
                  + (f"then {seal:.1f} s to seal; recording holds {rin / (size * 1048576):.3f} bytes per "
                     f"byte relayed, {rec / (size * 1048576):.3f} on disk" if rin > 0 else "not recorded (RECORDING=off)"))
for l in lines:
    if l.startswith("probe "):
        print(l)
setup = {}
for l in lines:
    if l.startswith("setup "):
        d = kv(l)
        setup.setdefault(d["path"], []).append(float(d["ms"]))
def pct(v, p):
    v = sorted(v)
    return v[max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))]
for p in ("direct", "proxyjump", "conduit"):
    if p in setup:
        print(f"setup {p:9}: median {statistics.median(setup[p]):.0f} ms, p90 {pct(setup[p], 90):.0f} ms"
              f" ({len(setup[p])} logins)")
echo = {}
for l in lines:
    m = re.match(r"echo (\w+) (.*)", l)
    if m:
        echo[m.group(1)] = kv(m.group(2))
if "conduit" in echo and "direct" in echo:
    for q in ("p50_us", "p99_us"):
        print(f"echo {q}: conduit {echo['conduit'][q]} us, direct {echo['direct'][q]} us, "
              f"proxyjump {echo.get('proxyjump', {}).get(q, '?')} us; added by conduit over direct "
              f"{float(echo['conduit'][q]) - float(echo['direct'][q]):+.0f} us")
for p in ("proxyjump", "conduit"):
    mem = {}
    for l in lines:
        m = re.match(rf"hold path={p} memory (\w+): (.*)", l)
        if m:
            mem[m.group(1)] = kv(m.group(2))
    if "before" in mem and "open" in mem:
        login = next(kv(l) for l in lines if l.startswith(f"hold path={p} login"))
        ready = int(login["ready"])
        drss = int(mem["open"]["rss_kib"]) - int(mem["before"]["rss_kib"])
        dpss = int(mem["open"]["pss_kib"]) - int(mem["before"]["pss_kib"])
        print(f"hold {p:9}: {ready} sessions open; RSS {int(mem['before']['rss_kib']) / 1024:.0f} -> "
              f"{int(mem['open']['rss_kib']) / 1024:.0f} MiB ({drss / max(ready, 1):.0f} KiB per session), "
              f"Pss +{dpss / max(ready, 1):.0f} KiB per session")
PY
load
