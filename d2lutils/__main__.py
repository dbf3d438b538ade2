"""`python -m d2lutils data [--offline]`: prepare and verify the data cache."""

import sys

from .data import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] != ["data"]:
        print("usage: python -m d2lutils data [--offline]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(args[1:]))
