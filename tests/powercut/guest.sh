#!/bin/sh
# The VM's side of tests/powercut.rs, run by tools/gpio-sim-vm with the state disk
# mounted at $STATE. It serves a control channel on port 8081 (busybox httpd; the
# CGI scripts in www/cgi-bin) that the host drives:
#   files  every file under $STATE as "@@file PATH BYTES\n" + the bytes: what the last
#          power cut left, read before the daemon touches it
#   start  start the daemon (PISTACK_BIN --config PISTACK_CONF serve)
#   log    what the daemon has logged
#   stop   SIGTERM the daemon, unmount $STATE and end (the VM powers off cleanly)
# The host cuts the power of a round by SIGKILL of qemu instead of calling stop.
set -u
{ echo "export STATE='$STATE' PISTACK_BIN='$PISTACK_BIN' PISTACK_CONF='$PISTACK_CONF'"
  echo "export PISTACK_ROOT_PASSWORD='$PISTACK_ROOT_PASSWORD'"; } >/tmp/pc.env
httpd -p 8081 -h "$POWERCUT_WWW" || { echo "powercut: httpd failed"; exit 1; }
echo "powercut: control channel up"
while [ ! -e /tmp/stop ]; do sleep 0.2; done
if [ -f /tmp/daemon.pid ]; then
  pid=$(cat /tmp/daemon.pid)
  kill -TERM "$pid"
  i=0; while [ -d "/proc/$pid" ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
  [ ! -d "/proc/$pid" ] || { echo "powercut: the daemon did not stop"; exit 1; }
fi
umount "$STATE" || { echo "powercut: umount $STATE failed"; exit 1; }
echo "powercut: stopped"
