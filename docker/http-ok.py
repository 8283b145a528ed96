#!/usr/bin/env python3
"""Container health check: exit 0 when URL answers 2xx (and its body contains TEXT, if given).

Usage: http-ok URL [TEXT]. The platform image has no curl; this keeps the compose health checks one
short command each."""

import sys
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    url, expected = argv[1], (argv[2] if len(argv) == 3 else None)
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode("utf-8", "replace")
    except OSError as error:  # URLError, HTTPError (non-2xx) and timeouts are all OSErrors
        print(f"{url}: {error}", file=sys.stderr)
        return 1
    if expected is not None and expected not in body:
        print(f"{url}: answer does not contain {expected!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
