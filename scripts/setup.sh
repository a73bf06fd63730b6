# Sourced by scripts/app and scripts/test: make .venv match the requirements, without asking anyone to
# activate anything. Re-runs are quick: pip runs again only when a requirements file or pyproject.toml changed.
# Usage (from those scripts): medimg_setup [dev]

_medimg_digest() { cat "$@" | sha256sum | cut -c1-16; }

_medimg_pip() {  # quiet pip; its full output only when it fails
  .venv/bin/python -m pip install --quiet "$@" >.venv/pip.log 2>&1 || { cat .venv/pip.log >&2; return 1; }
}

medimg_setup() {
  local python=${PYTHON:-python3} base dev
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "Python 3.10 or newer is needed (tried '$python'); set PYTHON=/path/to/python3.11 and rerun." >&2
    return 1
  fi
  if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv (first run: downloads about 650 MB of Python packages, mostly TensorFlow; a few" \
         "minutes)..." >&2
    "$python" -m venv .venv || { echo "Could not create .venv: install python3-venv and rerun." >&2; return 1; }
  fi
  base=".venv/.medimg-base-$(_medimg_digest requirements.txt pyproject.toml)"
  if [ ! -f "$base" ]; then
    echo "Installing the app's requirements into .venv..." >&2
    _medimg_pip --upgrade pip && _medimg_pip -r requirements.txt && _medimg_pip --no-deps -e . || return 1
    rm -f .venv/.medimg-base-* && touch "$base"
  fi
  if [ "${1:-}" = dev ]; then
    dev=".venv/.medimg-dev-$(_medimg_digest requirements.txt requirements-dev.txt)"
    if [ ! -f "$dev" ]; then
      echo "Installing the test requirements into .venv..." >&2
      _medimg_pip -r requirements.txt -r requirements-dev.txt || return 1
      rm -f .venv/.medimg-dev-* && touch "$dev"
    fi
  fi
}

# TensorFlow's own log lines look like errors in a console; the app and the tests do not need them.
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
