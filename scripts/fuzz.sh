#!/usr/bin/env bash
# Runs the cargo-fuzz targets on the stable toolchain (no sanitizer instrumentation:
# `--sanitizer none`; coverage guidance still works) and prints the executions per target.
#
#   scripts/fuzz.sh [TARGET...]          every target when none is named
#   FUZZ_SECONDS=120 scripts/fuzz.sh     wall-clock budget per target (default 120)
#   FUZZ_RUNS=1000000 scripts/fuzz.sh    an iteration budget instead (reproducible length)
#
# Needs `cargo install cargo-fuzz`. Seeds live in fuzz/seeds/<target>/ (read, never written);
# new inputs go to a temporary corpus; a crash leaves its input in fuzz/artifacts/<target>/
# and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(hl7_parse mllp_decode parse_quantity calc_json)
fi
budget=(-max_total_time="${FUZZ_SECONDS:-120}")
if [ -n "${FUZZ_RUNS:-}" ]; then
  budget=(-runs="$FUZZ_RUNS")
fi
status=0
for t in "${targets[@]}"; do
  corpus=$(mktemp -d)
  seeds=()
  if [ -d "seeds/$t" ]; then seeds=("seeds/$t"); fi
  log=$(mktemp)
  if cargo fuzz run --sanitizer none ${CARGO_TARGET_DIR:+--target-dir "$CARGO_TARGET_DIR"} "$t" "$corpus" "${seeds[@]}" -- "${budget[@]}" -max_len=65536 >"$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
  fi
  # libFuzzer's last status line: "Done N runs in S second(s)" (or the crash report).
  runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
  echo "$t: $result; ${runs:-see log below}"
  if [ "$result" = FAILED ]; then tail -40 "$log"; fi
  rm -rf "$corpus" "$log"
done
exit $status
