#!/usr/bin/env bash
# The lean core as a user gets it: build the wheel, install it (no extras, pinned versions) into
# a fresh venv, check that torch, the web stack, SCIP and matplotlib did not come with it, and run the
# pipeline on a few weeks. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" .
"$work/venv/bin/python" -m pip install --quiet -c constraints.txt "$work"/dist/fairtwin-*.whl
for module in torch starlette sqlalchemy pyscipopt matplotlib; do
  if "$work/venv/bin/python" -c "import $module" 2>/dev/null; then
    echo "check-wheel: $module was installed by the lean core" >&2
    exit 1
  fi
done
size=$(du -sm "$work/venv" | cut -f1)
(cd "$work" && "$work/venv/bin/fairtwin" run --train-weeks 6 --held-out-weeks 3 --samples 6 \
   --pairs 90 --rounds 1 --jobs 1 --out "$work/run" > "$work/run.log" 2>&1) || { cat "$work/run.log" >&2; exit 1; }
test -s "$work/run/metrics.json"
grep -q "figures skipped" "$work/run.log" || { echo "check-wheel: no line on the skipped figures" >&2; exit 1; }
echo "check-wheel: the wheel installs without extras (${size} MB venv) and runs the pipeline"
