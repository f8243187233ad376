# Sourced by the scripts that run inside the gpio-sim VM (busybox sh).
# The VM has busybox and libgpiod's tools, nothing else: HTTP goes through
# busybox nc (its wget cannot PUT), in HTTP/1.0 so that big answers are not
# chunked; JSON is left for the host to parse.
#
# Needs: PISTACK_BIN, PISTACK_CONF (a config with @CHIP@ / @CHIPPATH@ in it),
# GPIO_SIM_CHIP and GPIO_SIM_SYSFS (set by gpio-sim-vm).

CHIP=${GPIO_SIM_CHIP#/dev/}
S=$GPIO_SIM_SYSFS
PORT=8080
ROOT_PASSWORD=root-password-in-the-vm
TOKEN=

# one result line for the host: "@@ TAG REST"
say() { echo "@@ $*"; }

# api METHOD PATH [BODY] -> "STATUS JSON" on one line
api() {
    _body=${3:-}
    _resp=$(printf '%s %s HTTP/1.0\r\nHost: vm\r\nConnection: close\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
        "$1" "$2" "$TOKEN" "${#_body}" "$_body" | nc 127.0.0.1 $PORT | tr -d '\r')
    _status=$(printf '%s\n' "$_resp" | head -n 1 | cut -d ' ' -f 2)
    printf '%s %s\n' "${_status:-000}" "$(printf '%s\n' "$_resp" | sed '1,/^$/d' | tr -d '\n')"
}

# check TAG METHOD PATH [BODY]: an API call reported to the host
check() { _tag=$1; shift; say "$_tag $(api "$@")"; }

# gpio-sim's sysfs: the pull an outside device puts on a line, and a line's level
pull() { echo "$2" >"$S/sim_gpio$1/pull"; }
level() { cat "$S/sim_gpio$1/value"; }

# start the daemon with the config (placeholders filled in) and log in as root
start_daemon() {
    sed -e "s|@CHIPPATH@|$GPIO_SIM_CHIP|g" -e "s|@CHIP@|$CHIP|g" "$PISTACK_CONF" >/tmp/pistack.json
    PISTACK_ROOT_PASSWORD=$ROOT_PASSWORD "$PISTACK_BIN" --config /tmp/pistack.json serve 2>/tmp/daemon.log &
    DAEMON=$!
    _i=0
    until grep -q "listening on" /tmp/daemon.log 2>/dev/null; do
        _i=$((_i + 1))
        if [ $_i -gt 600 ] || ! kill -0 $DAEMON 2>/dev/null; then
            echo "pistack did not start:"; cat /tmp/daemon.log; exit 1
        fi
        sleep 0.1
    done
    TOKEN=$(api POST /api/auth/session/login "{\"name\":\"root\",\"password\":\"$ROOT_PASSWORD\"}" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [ -n "$TOKEN" ] || { echo "login failed"; cat /tmp/daemon.log; exit 1; }
}

stop_daemon() {
    kill -TERM $DAEMON
    wait $DAEMON
    say "daemon_exit $?"
}
