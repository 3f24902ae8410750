#!/usr/bin/env bash
# libFuzzer on the C example plugin's ABI entry (Tests/Fuzz/abi_fuzz.c), built from source
# with AddressSanitizer and UBSan by the Swift toolchain's clang:
#   scripts/libfuzzer.sh [SECONDS, default 60] [gwp|bidi-sum, default gwp]
# bidi-sum fuzzes the bidirectional path (call_bidi) with the C test fixture of that name.
# Seeds: the plugin's sample requests (JSON, method byte 0x80). Findings are written as
# .build/libfuzzer/crash-* (libFuzzer's naming); keep the ones that found a bug in
# Tests/Fixtures/fuzz-corpus/gwp/<Method>/ without the method byte.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
target=${2:-gwp}
out=.build/libfuzzer
mkdir -p "$out/corpus"
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE
  -Isdk/include)
if [[ "$target" == bidi-sum ]]; then
  mkdir -p "$out/corpus-bidi"
  clang "${flags[@]}" -o "$out/bidi_fuzz" Tests/Fuzz/abi_fuzz.c Tests/Fixtures/broken-plugins/bidi_sum.c
  printf '\x30abcdefghfail' > "$out/corpus-bidi/seed"
  cd "$out"
  exec ./bidi_fuzz -max_total_time="$seconds" -print_final_stats=1 -timeout=10 corpus-bidi
fi
gen=Plugins/examples/gwp-c/generated
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE \
  -Isdk/include -I"$gen" -o "$out/gwp_fuzz" \
  Tests/Fuzz/abi_fuzz.c Plugins/examples/gwp-c/gwp_plugin.c \
  "$gen/carbon/examples/v1/gwp.pb-c.c" "$gen/carbon/domain/v1/gas.pb-c.c" -l:libprotobuf-c.so.1 -lm
for sample in Plugins/examples/gwp-c/examples/*.json; do
  [[ "$sample" == *.expect.json ]] && continue
  { printf '\x80'; cat "$sample"; } > "$out/corpus/$(basename "$sample" .json)"
done
cd "$out"
./gwp_fuzz -max_total_time="$seconds" -print_final_stats=1 -timeout=10 corpus
