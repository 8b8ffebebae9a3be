#!/usr/bin/env bash
# Lint the Grafana dashboards: deploy/grafana/lint.sh [dashboard.json ...]; the rules, exclusions
# and exit codes are dashboard_lint.py's. This only installs promtool (with Prometheus, by
# deploy/prometheus/install.sh) when it is missing, and picks the project's Python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
if ! command -v promtool >/dev/null 2>&1 && [[ -x "$repo/deploy/prometheus/install.sh" ]]; then
  "$repo/deploy/prometheus/install.sh" >&2
fi
python="${PYTHON:-$repo/.venv/bin/python}"
[[ -x "$python" ]] || python="$(command -v python3)"
exec "$python" "$here/dashboard_lint.py" "$@"
