"""`python -m brainscan` behaves exactly like the `brainscan` command."""

import sys

from brainscan.cli import main

if __name__ == "__main__":
    sys.exit(main())
