#!/usr/bin/env bash
# Prints the C++ flags that build FAISS (faiss-sys's vendored sources) for the SIMD level of THIS machine's CPU,
# the levels of FAISS's own CMake options: AVX-512 (F, CD, VL, DQ, BW), else AVX2 (with FMA, F16C, POPCNT), else
# nothing (generic x86-64). The binary then needs a CPU with that level. Use it as
#
#   cargo clean --release -p faiss-sys    # faiss-sys does not rebuild when only its flags change
#   CXXFLAGS_x86_64_unknown_linux_gnu="$(scripts/faiss_simd_flags.sh)" cargo build --release
#
# Without it, .cargo/config.toml builds FAISS for AVX2, which every machine of this project has; on the AMD Zen 4
# measured (crates/index/FAISS.md) the AVX-512 build searched IVF-Flat within 4% of it, either way.
set -euo pipefail
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }
if has avx512f avx512cd avx512vl avx512dq avx512bw avx2 fma f16c popcnt; then
  echo "-mavx2 -mfma -mf16c -mpopcnt -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw"
elif has avx2 fma f16c popcnt; then
  echo "-mavx2 -mfma -mf16c -mpopcnt"
else
  echo ""
fi
