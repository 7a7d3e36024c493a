#!/usr/bin/env bash
# Set up BigModel Studio on this machine (first time only) and start it.
#   ./studio.sh                 serves on http://127.0.0.1:8501
#   PORT=9000 ADDRESS=0.0.0.0 ./studio.sh    to serve your team on another port
# Data (runs, datasets, models) goes to $BIGMODEL_HOME, by default ./bigmodel-data.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh requirements.txt

export TF_CPP_MIN_LOG_LEVEL=2
exec .venv/bin/streamlit run app.py \
  --server.address "${ADDRESS:-127.0.0.1}" \
  --server.port "${PORT:-8501}" \
  --server.headless true \
  --browser.gatherUsageStats false
