#!/bin/sh
# camstream's benchmark in one command; options: bench/run.sh --help. See docs/PERFORMANCE.md.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
