#!/usr/bin/env bash
# Runs a command while one busy loop per core keeps the machine loaded, so the tests are seen to
# hold on a busy machine (a CI runner shared with other jobs, a laptop compiling meanwhile).
#   scripts/cpu-hog.sh pnpm test      # the suite under load; exits with the command's status
#   scripts/cpu-hog.sh                # load only, until this script is stopped
# HOG_LOOPS sets another number of loops. Each loop also ends by itself once this script is gone
# (even after a SIGKILL), so no loop outlives the run that started it.
set -uo pipefail

loops=${HOG_LOOPS:-$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)}
owner=$$
pids=()
for _ in $(seq 1 "$loops"); do
  # kill -0 is a builtin: the loop spins on the CPU without forking, and notices its owner's end.
  ( while kill -0 "$owner" 2>/dev/null; do :; done ) &
  pids+=("$!")
done
stop_loops() { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; }
trap stop_loops EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "cpu-hog: $loops busy loop(s) running" >&2
if [ "$#" -eq 0 ]; then
  wait
  exit 0
fi
"$@"
