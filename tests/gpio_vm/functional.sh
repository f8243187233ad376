#!/bin/sh
# Runs inside the gpio-sim VM (see tests/gpio_vm.rs, which parses the "@@" lines):
# pistack's cdev backend against the kernel's gpio-sim chip, with libgpiod's tools
# as an independent peer. Chip: 8 lines, line 2 named BUTTON, line 3 named LED,
# label pistack-vm. The pins (config written by the host):
#   LED  line 1 out        (chip by name)      LEDN line "LED" out active-low (label)
#   BTN  line "BUTTON" in both pull-up (path)  BTNL line 4 in both pull-down active-low
#   DEB  line 5 in falling pull-up debounce 300 ms
#   PLAIN line 7 in bias disabled              BUSY line 6 (held by gpioset)
#   NOCHIP, NOLINE, FAR: a missing chip, line name, line offset
. "$(dirname "$0")/lib.sh"

# Another process holds line 6 before pistack starts.
gpioset -m signal "$CHIP" 6=1 &
HOLDER=$!
sleep 0.3

start_daemon
say "chip $CHIP"

# -- the pins as requested --------------------------------------------------
check list GET /api/io/gpio
say "sysfs_initial led=$(level 1) ledn=$(level 3) btn_pull=$(cat $S/sim_gpio2/pull) btnl_pull=$(cat $S/sim_gpio4/pull)"

# -- outputs: written through the API, seen by the kernel ---------------------
check led_on PUT /api/io/gpio/LED '{"value":1}'
say "sysfs_led_on $(level 1)"
check ledn_on PUT /api/io/gpio/LEDN '{"value":true}'
say "sysfs_ledn_on $(level 3)"
sleep 0.2
check led_still_on GET /api/io/gpio/LED
say "sysfs_led_still_on $(level 1)"
check led_toggle POST /api/io/gpio/LED/toggle
say "sysfs_led_toggled $(level 1)"
(check led_pulse POST /api/io/gpio/LED/pulse '{"ms":1500,"value":1}' >/tmp/pulse.out) &
PULSE=$!
sleep 0.5
say "sysfs_led_during_pulse $(level 1)"
wait $PULSE
cat /tmp/pulse.out
say "sysfs_led_after_pulse $(level 1)"
check led_bad_value PUT /api/io/gpio/LED '{"value":2}'
check btn_write PUT /api/io/gpio/BTN '{"value":1}'

# -- the peer: libgpiod cannot take pistack's line, and sees what pistack holds
gpioset "$CHIP" 1=1 >/tmp/peer.out 2>&1
say "peer_gpioset_led_rc $? $(tr '\n' ' ' </tmp/peer.out)"
echo "@@begin gpioinfo"
gpioinfo "$CHIP"
echo "@@end"
check chips GET /api/io/chips

# -- inputs: a pull set through gpio-sim's sysfs is read, and makes edges -----
check btn_read_high GET /api/io/gpio/BTN
pull 2 pull-down
sleep 0.3
check btn_read_low GET /api/io/gpio/BTN
pull 2 pull-up
sleep 0.3
check btnl_read GET /api/io/gpio/BTNL
pull 4 pull-up
sleep 0.3
check btnl_read_high GET /api/io/gpio/BTNL
pull 4 pull-down
sleep 0.3
check plain_read_low GET /api/io/gpio/PLAIN
pull 7 pull-up
check plain_read_high GET /api/io/gpio/PLAIN
check events_edges GET /api/io/gpio/events

# -- debounce (DEB: falling only, 300 ms): a glitch, then a bouncing press ----
pull 5 pull-down; pull 5 pull-up
sleep 0.8
check events_after_glitch GET '/api/io/gpio/events?after=4'
pull 5 pull-down; pull 5 pull-up; pull 5 pull-down
sleep 0.8
pull 5 pull-up
sleep 0.6
check events_after_press GET '/api/io/gpio/events?after=4'
# a long burst (21 changes, more than the kernel's 16-edge queue), settling low
i=0
while [ $i -lt 21 ]; do
    if [ $((i % 2)) -eq 0 ]; then pull 5 pull-down; else pull 5 pull-up; fi
    i=$((i + 1))
done
sleep 0.8
check events_after_burst GET '/api/io/gpio/events?after=5'
check deb_after_burst GET /api/io/gpio/DEB
pull 5 pull-up

# -- failure stays local --------------------------------------------------------
check busy GET /api/io/gpio/BUSY
check nochip GET /api/io/gpio/NOCHIP
check noline GET /api/io/gpio/NOLINE
check far PUT /api/io/gpio/FAR '{"value":1}'
check health GET /api/health
check led_after_failures GET /api/io/gpio/LED

# -- values agree with the peer once pistack lets go ---------------------------
check final_list GET /api/io/gpio

# -- a reload against the kernel: LEDN removed (line 3 freed while pistack runs),
# DEB changed (edge both, no debounce), ZERO added (line 0, initial 1); LED and
# BTN unchanged: LED keeps its level, BTN its watch and the events their history.
check led_before_reload PUT /api/io/gpio/LED '{"value":1}'
check events_before_reload GET /api/io/gpio/events
sed -e "s|@CHIPPATH@|$GPIO_SIM_CHIP|g" -e "s|@CHIP@|$CHIP|g" "$PISTACK_CONF_RELOAD" >/tmp/pistack.json
check reload POST /api/supervisor/reload
say "sysfs_led_after_reload $(level 1)"
say "sysfs_zero_after_reload $(level 0)"
gpioset "$CHIP" 3=1 >/tmp/peer.out 2>&1
say "peer_gpioset_ledn_after_reload_rc $? $(tr '\n' ' ' </tmp/peer.out)"
echo "@@begin gpioinfo_reload"
gpioinfo "$CHIP"
echo "@@end"
pull 2 pull-down
sleep 0.3
pull 5 pull-down
sleep 0.3
check events_after_reload GET /api/io/gpio/events
# back to the levels final_list saw (the peer compares with it below)
pull 2 pull-up
pull 5 pull-up
sleep 0.3
stop_daemon
say "peer_gpioget_btn $(gpioget "$CHIP" 2 2>&1)"
say "peer_gpioget_btnl $(gpioget -l "$CHIP" 4 2>&1)"
say "peer_gpioget_plain $(gpioget "$CHIP" 7 2>&1)"
gpioset "$CHIP" 1=1 >/tmp/peer.out 2>&1
say "peer_gpioset_led_after_rc $? $(tr '\n' ' ' </tmp/peer.out)"
echo "@@begin gpioinfo_after"
gpioinfo "$CHIP"
echo "@@end"
kill $HOLDER
echo "@@begin daemon_log"
cat /tmp/daemon.log
echo "@@end"
say done
