#!/bin/sh
# A pretend test suite: prints a few numbered results; "experimental" fails.
suite=$1
for i in 1 2 3; do
  echo "$suite test $i ... ok"
  sleep 0.2
done
if [ "$suite" = experimental ]; then
  echo "$suite test 4 ... FAILED (expected: this suite is allowed to fail)"
  exit 1
fi
echo "$suite: 3 tests passed"
