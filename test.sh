#!/usr/bin/env bash
# Set up everything the tests need (first time only) and run them.
#   ./test.sh                   all tests, browser tests included
#   ./test.sh -k worker         any pytest arguments
# Browser tests drive Debian's /usr/bin/chromium; it is installed with apt-get when
# missing (root or sudo needed once).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh requirements-test.txt

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

.venv/bin/ruff check bigmodel tests bench scripts app.py app_pages ui studio_ui.py
.venv/bin/mypy
export TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/python -m pytest "$@"
