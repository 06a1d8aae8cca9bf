"""`python -m resolver` is the same as the `policydns` command."""

import sys

from resolver.cli import main

sys.exit(main())
