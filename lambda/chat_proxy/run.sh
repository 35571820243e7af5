#!/bin/sh
# Lambda handler behind the AWS Lambda Web Adapter layer (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap): the adapter
# starts this script and proxies invocations to PORT. The asset root holds our code and its pip dependencies.
HERE="$(cd "$(dirname "$0")" && pwd)"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m uvicorn --app-dir "$HERE" main:app --host 127.0.0.1 --port "${PORT:-8080}" \
  --no-access-log --no-server-header --timeout-keep-alive 75
