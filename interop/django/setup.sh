#!/usr/bin/env bash
# Creates interop/django/.venv with requirements.txt installed, for the interop
# harness (interop/harness). Idempotent: does nothing when the venv already
# holds exactly these requirements. Override the interpreter with PYTHON=….
set -euo pipefail
cd "$(dirname "$0")"

python=${PYTHON:-python3}
stamp=.venv/requirements.installed

if [ -x .venv/bin/python ] && [ -f "$stamp" ] && cmp -s requirements.txt "$stamp" \
  && .venv/bin/python -c 'import django, psycopg, pymysql' 2>/dev/null; then
  echo "interop/django/.venv is up to date ($(.venv/bin/python -m django --version))"
  exit 0
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
cp requirements.txt "$stamp"
echo "interop/django/.venv ready: Django $(.venv/bin/python -m django --version)"
