# Sourced by studio.sh and test.sh with a requirements file: create .venv and install
# that file into it, again only when it or requirements.txt changed since then.
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "BigModel Studio needs Python 3.11 or newer; $python is $("$python" --version 2>&1)." >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$(basename "$1")"
wanted=$(cat requirements.txt "$1")
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing $1 into .venv (first run only; a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$1"
  printf '%s' "$wanted" > "$stamp"
fi
