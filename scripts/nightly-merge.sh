#!/usr/bin/env bash
# The end of the nightly sweep: merges the findings of every shard
# ($NIGHTLY_OUT/*/findings, as scripts/nightly-shard.sh or the downloaded
# artifacts left them) into one corpus folder, each finding shrunk and one
# per distinct failure, writes a markdown summary, and fails when anything
# not in the known corpus was found.
#
#   scripts/nightly-merge.sh
#
# Environment (all optional):
#   NIGHTLY_OUT           the shards' output folder (default: nightly);
#                         writes $NIGHTLY_OUT/merged/ and merged-junit.xml
#   NIGHTLY_KNOWN         corpus folder of known findings (default: seeds)
#   GITHUB_STEP_SUMMARY   where the summary goes (default:
#                         $NIGHTLY_OUT/summary.md)
#   OVERBOOK              the overbook binary (default: cargo build --release)
#
# Exit: 0 nothing new, 1 new findings, 2 no shard results or a bad input.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${NIGHTLY_OUT:-nightly}
SUMMARY=${GITHUB_STEP_SUMMARY:-$OUT/summary.md}
if [ -z "${OVERBOOK:-}" ]; then
    cargo build --release --quiet
    OVERBOOK=target/release/overbook
fi

shards=()
dirs=()
for log in "$OUT"/*/fuzz.log; do
    [ -f "$log" ] || continue
    shard=$(dirname "$log")
    shards+=("$shard")
    # A shard that found nothing may have no findings folder (artifacts
    # drop empty folders).
    mkdir -p "$shard/findings"
    dirs+=("$shard/findings")
done
if [ ${#shards[@]} -eq 0 ]; then
    echo "no shard results in $OUT (expected $OUT/*/fuzz.log)" >&2
    exit 2
fi

mkdir -p "$(dirname "$SUMMARY")"
{
    echo "# overbook nightly"
    echo
    echo "| shard | result |"
    echo "|---|---|"
    for shard in "${shards[@]}"; do
        echo "| $(basename "$shard") | $(tail -n 1 "$shard/fuzz.log" | tr '|' '/') |"
    done
    echo
} >>"$SUMMARY"

set +e
"$OVERBOOK" corpus merge "${dirs[@]}" --into "$OUT/merged" \
    --known "${NIGHTLY_KNOWN:-seeds}" --markdown "$SUMMARY" \
    --junit "$OUT/merged-junit.xml"
code=$?
set -e
case $code in
0) echo "nightly: nothing new" ;;
1) echo "nightly: new findings, see $SUMMARY and $OUT/merged" >&2 ;;
esac
exit "$code"
