# Sourced by scripts/app and scripts/test: make .venv match the requirements, without asking anyone to
# activate anything. Re-runs are quick: pip runs again only when a requirements file or pyproject.toml changed.
# Usage (from those scripts): medimg_setup [dev]

medimg_setup() {
  local python=${PYTHON:-python3} venv=.venv files=(requirements.txt pyproject.toml) stamp
  [ "${1:-}" = dev ] && files+=(requirements-dev.txt)
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "Python 3.10 or newer is needed (tried '$python'); set PYTHON=/path/to/python3.11 and rerun." >&2
    return 1
  fi
  stamp="$venv/.medimg-$(cat "${files[@]}" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  if [ ! -x "$venv/bin/python" ]; then
    echo "Creating $venv (first run: downloads about 700 MB of Python packages, mostly TensorFlow)..." >&2
    "$python" -m venv "$venv" || { echo "Could not create $venv: install python3-venv and rerun." >&2; return 1; }
  fi
  echo "Installing the requirements into $venv..." >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip &&
    "$venv/bin/python" -m pip install --quiet -r requirements.txt $([ "${1:-}" = dev ] && echo -r requirements-dev.txt) &&
    "$venv/bin/python" -m pip install --quiet --no-deps -e . || return 1
  rm -f "$venv"/.medimg-* && touch "$stamp"
}

# TensorFlow's own log lines look like errors in a console; the app and the tests do not need them.
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
