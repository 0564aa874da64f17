#!/usr/bin/env bash
# Quick conformance run against a live `genomics-mock serve` subprocess, as a foreign server would be
# tested: strict auth, callers from a token file plus project roles granted through the admin API.
#   .ci/conformance.sh [JUNIT_XML]      (default: conformance-junit.xml; exit status of the run)
set -euo pipefail

JUNIT="${1:-conformance-junit.xml}"
WORK="$(mktemp -d)"
PROJECT="ci-conformance"
SERVER_PID=""

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# exactly the set-up docs/conformance.md documents: the admin token is the only superuser (it mints
# the callers below and the suites' random principals); the writer is roles/owner on the project
cat > "$WORK/tokens.yaml" <<YAML
tokens:
  ci-admin: {principal: "serviceAccount:admin@ci.example.com", superuser: true}
YAML

# --port 0: the server picks a free port and prints its URL on the first line
genomics-mock serve --port 0 --auth strict --tokens "$WORK/tokens.yaml" --log-level error \
  > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!

URL=""
for _ in $(seq 1 150); do
  URL="$(grep -o 'http://[0-9.]*:[0-9]*' "$WORK/serve.log" | head -n 1 || true)"
  if [[ -n "$URL" ]] && curl -fsS "$URL/_mock/health" > /dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "genomics-mock serve exited early:" >&2
    cat "$WORK/serve.log" >&2
    exit 2
  fi
  URL=""
  sleep 0.1
done
if [[ -z "$URL" ]]; then
  echo "genomics-mock serve did not become healthy in 15 s" >&2
  cat "$WORK/serve.log" >&2
  exit 2
fi

principal() {  # name roles-json scopes-json
  curl -fsS -X POST "$URL/_mock/principals" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer ci-admin" \
    -d "{\"member\": \"user:$1@ci.example.com\", \"token\": \"ci-$1\", \"projectId\": \"$PROJECT\",
         \"roles\": $2, \"scopes\": $3}" > /dev/null
}
principal writer '["roles/owner"]' '["cloud-platform"]'
principal reader '["roles/viewer"]' '["cloud-platform"]'
principal outsider '[]' '["cloud-platform"]'
principal readonly '["roles/editor"]' '["genomics.readonly"]'

genomics-mock conformance --base-url "$URL" --profile quick --strict-auth --project "$PROJECT" \
  --writer-token ci-writer --admin-token ci-admin --reader-token ci-reader --outsider-token ci-outsider \
  --readonly-token ci-readonly --outsider-member "user:outsider@ci.example.com" \
  --reader-member "user:reader@ci.example.com" --junit-xml "$JUNIT"
