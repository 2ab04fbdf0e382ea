#!/usr/bin/env bash
# Old against new in one sitting: runs the same benchmarks in two checkouts, alternating
# (old, new, old, new), so that the machine's load falls on both alike. Each checkout needs its
# own .venv (`make install-dev` there). The load average is printed before every run.
#
#   bench/compare_checkouts.sh OLD_CHECKOUT NEW_CHECKOUT [ROUNDS] [BENCH ...]
#   e.g. git worktree add /tmp/old before-restructure && (cd /tmp/old && make install-dev)
#        bench/compare_checkouts.sh /tmp/old . 2 prediction_latency retraining memory
#
# SQLite and the embedded Redis (REDIS_URL and DATABASE_URL are unset), as a new user's machine.
set -euo pipefail
old=$(cd "$1" && pwd); new=$(cd "$2" && pwd); rounds=${3:-2}; shift $(( $# < 3 ? $# : 3 ))
benches=("${@:-prediction_latency retraining memory}")
[ ${#benches[@]} -eq 1 ] && read -r -a benches <<< "${benches[0]}"
for round in $(seq 1 "$rounds"); do
  for bench in "${benches[@]}"; do
    for side in old new; do
      dir=$old; [ "$side" = new ] && dir=$new
      echo "=== round $round, $bench, $side ($dir at $(git -C "$dir" rev-parse --short HEAD)), load: $(cut -d' ' -f1-3 /proc/loadavg)"
      (cd "$dir" && env -u REDIS_URL -u DATABASE_URL .venv/bin/python "bench/$bench.py") 2>&1 \
        | grep -v "^\s*$" | tail -n 25
    done
  done
done
