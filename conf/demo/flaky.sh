#!/bin/sh
# A demo program for `make run`: works for a while, then crashes; now and then
# it fails right at start (so BACKOFF shows up too). Uses $$ as its dice.
n=$(( $$ % 7 ))
if [ "$n" -eq 0 ]; then
    echo "flaky: cannot open my (imaginary) device, giving up" >&2
    exit 2
fi
echo "flaky: up for about $(( 20 + n * 5 )) s"
sleep $(( 20 + n * 5 ))
echo "flaky: something went wrong, exiting with 1" >&2
exit 1
