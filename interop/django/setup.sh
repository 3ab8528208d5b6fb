#!/usr/bin/env bash
# Creates the Django venv the interop harness (interop/harness) runs Django with.
#   setup.sh        Django 5.2 (requirements.txt) in interop/django/.venv
#   setup.sh 6.0    Django 6.0 (requirements-6.0.txt) in interop/django/.venv-6.0
# Idempotent: does nothing when the venv already holds exactly these
# requirements. Override the interpreter with PYTHON=…; Django 6.0 needs
# Python 3.12 or later, looked for as python3.13, python3.12 and under pyenv.
set -euo pipefail
cd "$(dirname "$0")"

series=${1:-5.2}
case "$series" in
  5.2) venv=.venv requirements=requirements.txt ;;
  6.0) venv=.venv-6.0 requirements=requirements-6.0.txt ;;
  *) echo "setup.sh: unknown Django series $series (5.2 or 6.0)" >&2; exit 2 ;;
esac

# A python of at least 3.$1 (on PATH or installed by pyenv), or nothing.
python_at_least() {
  local minor=$1 candidate
  for candidate in python3 python3.13 python3.12 /root/.pyenv/versions/3.1[2-9]*/bin/python3; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c "import sys; sys.exit(sys.version_info < (3, $minor))" 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if [ -n "${PYTHON:-}" ]; then
  python=$PYTHON
elif [ "$series" = 6.0 ]; then
  python=$(python_at_least 12) || { echo "setup.sh 6.0: Django 6.0 needs Python >= 3.12 and none was found (set PYTHON=…)" >&2; exit 1; }
else
  python=python3
fi

stamp=$venv/requirements.installed
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$requirements" "$stamp" \
  && "$venv/bin/python" -c 'import django, psycopg, pymysql' 2>/dev/null; then
  echo "interop/django/$venv is up to date ($("$venv/bin/python" -m django --version))"
  exit 0
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
echo "interop/django/$venv ready: Django $("$venv/bin/python" -m django --version)"
