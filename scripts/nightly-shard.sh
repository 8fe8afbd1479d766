#!/usr/bin/env bash
# One shard of the nightly fuzz sweep: `overbook fuzz` over every bundled
# sim with swarm testing, on seed offsets K modulo N, saving each failure
# as a corpus entry and every seed as a JUnit test case. Findings do not fail the shard: the merge job
# (scripts/nightly-merge.sh) decides. Only a harness or input error does.
#
#   scripts/nightly-shard.sh K N
#
# Environment (all optional):
#   NIGHTLY_OUT         output folder (default: nightly); writes
#                       $NIGHTLY_OUT/shard-K/{findings/,junit.xml,fuzz.log}
#   NIGHTLY_TIME        how long to fuzz (default: 20m)
#   NIGHTLY_FIRST_SEED  first seed of the sweep, the same for every shard
#                       (default: a fresh million per UTC day)
#   NIGHTLY_SEEDS       a seed range A..B instead of NIGHTLY_TIME
#   NIGHTLY_SIMS        sims to fuzz, space separated (default: all bundled)
#   NIGHTLY_VARIANT     service variant (default: correct)
#   NIGHTLY_JOBS        worker threads (default: all cores)
#   OVERBOOK            the overbook binary (default: cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: scripts/nightly-shard.sh K N   (0 <= K < N)" >&2
    exit 2
}
[ $# -eq 2 ] || usage
K=$1
N=$2
[[ $K =~ ^[0-9]+$ && $N =~ ^[0-9]+$ ]] || usage
((K < N)) || usage

OUT=${NIGHTLY_OUT:-nightly}
SHARD_DIR="$OUT/shard-$K"
if [ -z "${OVERBOOK:-}" ]; then
    cargo build --release --quiet
    OVERBOOK=target/release/overbook
fi

SIMS=()
if [ -n "${NIGHTLY_SIMS:-}" ]; then
    read -r -a SIMS <<<"$NIGHTLY_SIMS"
else
    for file in sims/*.toml; do
        SIMS+=("$(basename "$file" .toml)")
    done
fi

if [ -n "${NIGHTLY_SEEDS:-}" ]; then
    RANGE=(--seeds "$NIGHTLY_SEEDS")
else
    FIRST=${NIGHTLY_FIRST_SEED:-$(($(date -u +%s) / 86400 * 1000000))}
    RANGE=(--time "${NIGHTLY_TIME:-20m}" --first-seed "$FIRST")
fi
JOBS=()
if [ -n "${NIGHTLY_JOBS:-}" ]; then
    JOBS=(--jobs "$NIGHTLY_JOBS")
fi

mkdir -p "$SHARD_DIR/findings"
echo "shard $K/$N: fuzzing ${SIMS[*]} (${NIGHTLY_VARIANT:-correct}) ${RANGE[*]}"
set +e
"$OVERBOOK" fuzz "${SIMS[@]}" --variant "${NIGHTLY_VARIANT:-correct}" --swarm \
    --shard "$K/$N" "${RANGE[@]}" "${JOBS[@]}" \
    --save "$SHARD_DIR/findings" --junit "$SHARD_DIR/junit.xml" >"$SHARD_DIR/fuzz.log" 2>&1
code=$?
set -e
tail -n 1 "$SHARD_DIR/fuzz.log"
case $code in
0 | 1) exit 0 ;;
*)
    cat "$SHARD_DIR/fuzz.log" >&2
    echo "shard $K/$N: overbook fuzz failed with exit code $code" >&2
    exit "$code"
    ;;
esac
