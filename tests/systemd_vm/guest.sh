#!/bin/bash
# guest.sh: the checks tests/systemd_vm/run.sh runs inside the systemd VM (tools/systemd-vm),
# as root, twice: boot 1 installs and exercises the package, then asks for a reboot
# (exit 200); boot 2 checks the reboot, upgrades, purges.
#   usage: guest.sh DEB NEWER_DEB      (NEWER_DEB: the same tree, a higher version)
# Prints `ok - ...` / `not ok - ...`, `# ...` for notes; exits 1 when a check failed.
set -uo pipefail
deb=$1 newer=$2
boot=${SYSTEMD_VM_BOOT:?run by systemd-vm}
api=http://127.0.0.1:8080/api
state=/root/vmtest          # what boot 1 leaves for boot 2
mkdir -p "$state"
failures=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check()  { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else not_ok "$what"; fi; }
note()   { printf '%s\n' "$@" | sed 's/^/#   /'; }
# wait_for SECS CMD...: until CMD succeeds, at most SECS seconds
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do ((SECONDS < end)) || return 1; sleep 0.2; done; }
active()   { [ "$(systemctl is-active pistack)" = active ]; }
main_pid() { systemctl show -p MainPID --value pistack; }
prop()     { systemctl show -p "$1" --value pistack; }
net_online_not_reached() { [ "$(systemctl is-active network-online.target)" != active ]; }
health_ok() { curl -fsS "$api/health" | grep -q '"status":"ok"'; }
token() {
  local pw; pw=$(cat /var/lib/pistack/initial-root-password) || return 1
  curl -fsS -H 'Content-Type: application/json' -d "{\"name\":\"root\",\"password\":\"$pw\"}" \
    "$api/auth/session/login" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
# call METHOD PATH [BODY]: the answer's body, fails on an HTTP error
call() {
  curl -fsS -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+-d "$3"} "$api$2"
}
pin_value() { call GET "/io/gpio/$1" | grep -o '"value":[01]' | cut -d: -f2; }
sim() { cat "$GPIO_SIM_SYSFS/sim_gpio$1/value"; }
pistack_procs() {   # pids of processes of user pistack
  local uid p; uid=$(id -u pistack 2>/dev/null) || return 0
  for p in /proc/[0-9]*; do
    awk -v u="$uid" '$1=="Uid:" && $2==u {f=1} END {exit !f}' "$p/status" 2>/dev/null && echo "${p#/proc/}"
  done
}
no_pistack_proc() { [ -z "$(pistack_procs)" ] && [ ! -s /sys/fs/cgroup/system.slice/pistack.service/cgroup.procs ]; }
# the file system, less what changes by itself (journal, dpkg's bookkeeping, apt)
snapshot() {
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
    -o -path /var/log -o -path /var/cache -o -path /var/lib/systemd -o -path /root \
    -o -path /var/lib/dpkg -o -path /var/tmp -o -path /systemd-vm -o -path /var/lib/systemd-vm-boot \) -prune \
    -o -print | LC_ALL=C sort
}
dev_mode() { stat -c '%U:%G %a' "$GPIO_SIM_CHIP"; }

edited_config() {
  cat <<'EOF'
{
  "state_dir": "/var/lib/pistack",
  "http": {"bind": "0.0.0.0:8080", "workers": 4, "www_dir": "/usr/share/pistack/www"},
  "auth": {"access_ttl_s": 900, "refresh_ttl_s": 2592000, "pbkdf2_iterations": 200000},
  "programs": {
    "ticker": {"command": ["/bin/sh", "-c", "while :; do echo tick; sleep 1; done"], "autostart": true}
  },
  "gpio": {
    "backend": "cdev",
    "pins": {
      "LED": {"chip": "pinctrl-bcm2835", "line": "GPIO17", "direction": "out", "initial": 0},
      "BUTTON": {"chip": "pinctrl-bcm2835", "line": "GPIO27", "direction": "in"}
    }
  }
}
EOF
}

boot1() {
  check "systemd 252 is PID 1" sh -c '[ "$(cat /proc/1/comm)" = systemd ] && systemctl --version | head -n1 | grep -q "^systemd 252 "'
  check "no network device, loopback only" test "$(ls /sys/class/net)" = lo
  check "network never comes up: network-online.target is not reached" net_online_not_reached
  check "gpio-sim chip labelled pinctrl-bcm2835 at $GPIO_SIM_CHIP" test -c "$GPIO_SIM_CHIP"
  note "$GPIO_SIM_CHIP before install: $(dev_mode)"
  snapshot >"$state/before"

  local t0=$SECONDS out
  if out=$(DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" 2>&1); then ok "dpkg -i $(basename "$deb")"; else not_ok "dpkg -i"; fi
  note "$out" "dpkg -i took $((SECONDS - t0)) s"
  check "dpkg -i printed no warning" sh -c "! printf '%s' \"\$1\" | grep -qi warn" _ "$out"
  check "active after install" active
  check "active after install while network-online.target is still not reached" net_online_not_reached
  check "health ok (the amd64 config is healthy on a PC)" health_ok
  note "$(curl -sS "$api/health")"
  check "no error in the journal of pistack" test -z "$(journalctl -b -u pistack -p err -q --no-pager)"
  check "udev rule from the package: $GPIO_SIM_CHIP is root:gpio 0660" test "$(dev_mode)" = "root:gpio 660"
  note "$GPIO_SIM_CHIP after install: $(dev_mode)"
  [ "$(dev_mode)" = "root:gpio 660" ] || note "$(journalctl -b -u systemd-udevd -q --no-pager | tail -n 20)"

  # the admin's routine: edit the config, restart
  edited_config >/etc/pistack/pistack.json
  md5sum </etc/pistack/pistack.json >"$state/edited.md5"
  check "restart after editing the config" systemctl restart pistack
  check "health ok with Pi pins on the gpio-sim chip" health_ok
  health_ok || note "$(curl -sS "$api/health")" "$(journalctl -b -u pistack -p warning -q --no-pager | tail -n 5)" "$(dev_mode)"
  TOKEN=$(token)
  check "login as root" test -n "$TOKEN"
  check "GPIO write 1: PUT /api/io/gpio/LED sets GPIO17 of the chip" sh -c "
    curl -fsS -X PUT -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/json' -d '{\"value\":1}' $api/io/gpio/LED &&
    [ \"\$(cat $GPIO_SIM_SYSFS/sim_gpio17/value)\" = 1 ]"
  call PUT /io/gpio/LED '{"value":0}' >/dev/null
  check "GPIO write 0" test "$(sim 17)" = 0
  echo pull-up >"$GPIO_SIM_SYSFS/sim_gpio27/pull"
  check "GPIO read 1: GET /api/io/gpio/BUTTON with GPIO27 pulled up" test "$(pin_value BUTTON)" = 1
  echo pull-down >"$GPIO_SIM_SYSFS/sim_gpio27/pull"
  check "GPIO read 0: GPIO27 pulled down" test "$(pin_value BUTTON)" = 0

  local proc pid
  wait_for 20 sh -c "curl -fsS -H 'Authorization: Bearer $TOKEN' $api/supervisor/processes/ticker | grep -q '\"state\":\"RUNNING\"'"
  proc=$(call GET /supervisor/processes/ticker); pid=$(printf '%s' "$proc" | grep -o '"pid":[0-9]*' | cut -d: -f2)
  check "supervised program RUNNING" sh -c "printf '%s' '$proc' | grep -q '\"state\":\"RUNNING\"'"
  check "supervised program runs in the sandbox: pistack.service cgroup, user pistack, NoNewPrivs, seccomp, no capabilities" sh -c "
    grep -q '/system.slice/pistack.service' /proc/$pid/cgroup &&
    [ \"\$(stat -c %U /proc/$pid)\" = pistack ] &&
    grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$pid/status && grep -q '^Seccomp:[[:space:]]*2' /proc/$pid/status &&
    grep -q '^CapEff:[[:space:]]*0000000000000000' /proc/$pid/status"

  local i failed_at=
  for i in $(seq 10); do systemctl restart pistack && active || { failed_at=$i; break; }; done
  if [ -z "$failed_at" ]; then ok "ten systemctl restart in a row all succeed"
  else not_ok "ten systemctl restart in a row all succeed (restart $failed_at failed: $(prop Result))"; fi
  systemctl reset-failed pistack 2>/dev/null; active || systemctl start pistack

  pid=$(main_pid); kill -9 "$pid"; t0=$SECONDS
  check "kill -9 of the daemon: restarted" wait_for 30 sh -c "[ \"\$(systemctl show -p MainPID --value pistack)\" != $pid ] && [ \"\$(systemctl is-active pistack)\" = active ]"
  note "back after $((SECONDS - t0)) s"
  pid=$(main_pid); kill -STOP "$pid"; t0=$SECONDS
  check "daemon stopped (SIGSTOP): watchdog timeout, restarted" wait_for 90 sh -c "[ \"\$(systemctl show -p MainPID --value pistack)\" != $pid ] && [ \"\$(systemctl is-active pistack)\" = active ]"
  note "back after $((SECONDS - t0)) s"
  check "the journal says: Watchdog timeout" sh -c "journalctl -b -u pistack -q --no-pager | grep -q 'Watchdog timeout'"
  check "health ok after the recoveries" health_ok

  # a crash loop: a config that makes the daemon exit 1 at start
  cp /etc/pistack/pistack.json "$state/good.json"
  echo '{ not json' >/etc/pistack/pistack.json
  # the starts above must not count: the loop alone has to hit the limit
  systemctl reset-failed pistack
  t0=$SECONDS
  systemctl restart pistack >/dev/null 2>&1
  # Result stays exit-code (the first failure's), so the sign of the limit is the
  # state failed (a restarting unit is activating) plus systemd's own message.
  check "crash loop ends in failed (start limit hit) within 600 s (20 starts at the slowest rate the unit promises to catch)" wait_for 600 sh -c '
    [ "$(systemctl is-active pistack)" = failed ] &&
    journalctl -b -u pistack -q --no-pager | grep -q "Start request repeated too quickly"'
  note "crash loop stopped after $((SECONDS - t0)) s, NRestarts=$(prop NRestarts), Result=$(prop Result)"
  cp "$state/good.json" /etc/pistack/pistack.json
  check "config fixed: reset-failed + start brings it back" sh -c 'systemctl reset-failed pistack && systemctl start pistack && [ "$(systemctl is-active pistack)" = active ]'

  check "systemctl stop" systemctl stop pistack
  check "systemctl stop leaves no process (of user pistack, in the cgroup)" no_pistack_proc
  note "left: $(pistack_procs | tr '\n' ' ')"
  systemctl start pistack
}

boot2() {
  check "active after a reboot" wait_for 60 active
  check "active after a reboot while network-online.target is not reached" net_online_not_reached
  check "health ok after a reboot" health_ok
  check "after a reboot $GPIO_SIM_CHIP is root:gpio 0660" test "$(dev_mode)" = "root:gpio 660"
  TOKEN=$(token)
  call PUT /io/gpio/LED '{"value":1}' >/dev/null
  check "GPIO write after a reboot" test "$(sim 17)" = 1

  local pid out t0 v
  pid=$(main_pid); t0=$SECONDS
  if out=$(DEBIAN_FRONTEND=noninteractive dpkg -i "$newer" 2>&1); then ok "upgrade: dpkg -i $(basename "$newer")"; else not_ok "upgrade: dpkg -i"; fi
  note "$out" "took $((SECONDS - t0)) s"
  v=$(dpkg-query -W -f '${Version}' pistack)
  check "upgrade: version is now $(dpkg-deb -f "$newer" Version)" test "$v" = "$(dpkg-deb -f "$newer" Version)"
  check "upgrade kept the edited config" test "$(md5sum </etc/pistack/pistack.json)" = "$(cat "$state/edited.md5")"
  check "upgrade restarted the daemon" sh -c "[ \"\$(systemctl show -p MainPID --value pistack)\" != $pid ] && [ \"\$(systemctl is-active pistack)\" = active ]"
  check "health ok after the upgrade" health_ok

  t0=$SECONDS
  if out=$(dpkg -P pistack 2>&1); then ok "dpkg -P pistack"; else not_ok "dpkg -P pistack"; fi
  note "$out" "took $((SECONDS - t0)) s"
  check "purge printed no warning" sh -c "! printf '%s' \"\$1\" | grep -qi -e warn -e crontab" _ "$out"
  check "purge leaves no process" no_pistack_proc
  check "purge: user and group pistack are gone" sh -c '! getent passwd pistack && ! getent group pistack'
  check "purge: systemd knows no pistack.service" sh -c '! systemctl cat pistack.service'
  local diff; diff=$(snapshot | diff "$state/before" - | grep '^[<>]')
  check "purge leaves nothing: the file system is as before the install" test -z "$diff"
  note "$diff"
}

echo "# boot $boot"
case $boot in
  1) boot1; echo "$failures" >"$state/failures"; echo "# rebooting"; exit 200 ;;
  2) failures=$(( $(cat "$state/failures" 2>/dev/null || echo 1) + failures )); boot2 ;;
  *) not_ok "unexpected boot $boot" ;;
esac
echo "# done: $failures failure(s)"
[ "$failures" = 0 ]
