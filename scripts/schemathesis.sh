#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI, in .venv-schemathesis) against /api/openapi.json of a running
# `vsearch serve` over a temporary copy of a photo folder. Fails on any 5xx and on any response that breaks the
# schema (status code, content type, headers, body), among all of schemathesis' checks but two:
# - positive_data_acceptance: the schema cannot say that the `image` field must hold a decodable image, so random
#   bytes there are schema-valid and are rightly refused with 400;
# - negative_data_rejection: in multipart forms schemathesis sends an "invalid" empty array as no field at all,
#   which the server rightly reads as an absent option (JSON bodies pass this check: run with
#   EXCLUDE=positive_data_acceptance to see it).
# A second pass sends the admin token (Authorization: Bearer) to the admin endpoints that only read (GET
# /api/analytics), which the first pass sees answer 401 only; the block endpoints, which change what is served, are
# left to their own tests. With --url it runs when VSEARCH_ADMIN_TOKEN holds that server's token.
# Usage: scripts/schemathesis.sh [--stand-in] [PHOTO_FOLDER]     (env: MAX_EXAMPLES, default 150; EXCLUDE)
#        scripts/schemathesis.sh --url http://127.0.0.1:8080      (a server already running)
# 150 generated examples per operation in the fuzzing phase (3,450 requests, besides the coverage phase's boundary
# cases and the stateful phase's 432 scenarios): the fuzzing is schemathesis' own Python generating data, one core,
# about 26 ms a request on a 2-core Zen 3, so 300 took 3 of CI's minutes (and --workers 2 saved nothing, the GIL);
# MAX_EXAMPLES=300 or more for a deeper run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/serve_temp.sh

# Pinned, so that a new release with new checks cannot change the verdict.
st_version=4.32.5
venv=.venv-schemathesis
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1)" != "$st_version" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$st_version"
fi

if [ "${1:-}" = "--url" ]; then
  base=${2:?--url needs a value}
  admin_token=${VSEARCH_ADMIN_TOKEN:-}
else
  # `vsearch serve` reads its admin token from here.
  export VSEARCH_ADMIN_TOKEN=${VSEARCH_ADMIN_TOKEN:-schemathesis-admin-token}
  admin_token=$VSEARCH_ADMIN_TOKEN
  trap 'stop_server || true' EXIT
  start_server "$@"
fi
exclude=${EXCLUDE:-positive_data_acceptance,negative_data_rejection}
max_examples=${MAX_EXAMPLES:-150}
# Run from target/ so schemathesis' own cache (.schemathesis/) stays out of the source tree.
mkdir -p target/schemathesis
(cd target/schemathesis && "../../$venv/bin/schemathesis" run "$base/api/openapi.json" \
  --checks all --exclude-checks "$exclude" --max-examples "$max_examples" --workers 1 --no-color)
if [ -n "$admin_token" ]; then
  (cd target/schemathesis && "../../$venv/bin/schemathesis" run "$base/api/openapi.json" \
    -H "Authorization: Bearer $admin_token" --include-path-regex '^/api/analytics$' \
    --checks all --exclude-checks "$exclude" --max-examples "$max_examples" --workers 1 --no-color)
fi
if [ "${1:-}" != "--url" ]; then
  stop_server
  trap - EXIT
fi
