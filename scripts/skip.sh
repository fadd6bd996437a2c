# Sourced by scripts/test.sh and scripts/browser_test.sh: the shell side of crates/testkit/src/skip.rs (the same
# switch, the same log). A part of the tests that needs something missing fails, unless the run allows that skip
# by name (VSEARCH_ALLOW_SKIP=qdrant,avx2,avx512,tmpfs; .ci/run allows avx512 and tmpfs); an allowed skip, and a part left out on
# purpose (SKIP_GATES=1 and the like), is recorded as one line "NEED<TAB>WHAT<TAB>WHY" in the file named by
# VSEARCH_SKIP_LOG (scripts/test.sh lists them at the end).

# Succeeds when VSEARCH_ALLOW_SKIP lists NEED.
skip_allowed() {
  local need=$1 name
  local -a names
  IFS=, read -r -a names <<<"${VSEARCH_ALLOW_SKIP:-}"
  for name in "${names[@]}"; do
    name=${name// /}
    if [ "$name" = "$need" ]; then return 0; fi
  done
  return 1
}

# record_skip NEED WHAT WHY [NOTE]: says so on stderr (with NOTE) and appends the line to $VSEARCH_SKIP_LOG when it
# is set.
record_skip() {
  echo "SKIPPED $2: $3${4:+ ($4)}" >&2
  if [ -n "${VSEARCH_SKIP_LOG:-}" ]; then printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$VSEARCH_SKIP_LOG"; fi
}

# missing NEED WHAT WHY: WHAT cannot run because NEED is missing. Records the skip and succeeds when the run
# allows it; otherwise says what is missing and how to allow the skip, and fails.
missing() {
  if skip_allowed "$1"; then
    record_skip "$1" "$2" "$3" "VSEARCH_ALLOW_SKIP=$1"
    return 0
  fi
  echo "$2: $3. Provide it, or set VSEARCH_ALLOW_SKIP=$1 to let it skip (it is then listed as skipped)" >&2
  return 1
}
