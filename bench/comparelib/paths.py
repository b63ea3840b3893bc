"""Where things are: the repository, and tests/integration on sys.path
(podlib's Dovecot and Postfix fixtures are reused as they are)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
REPO = os.path.dirname(BENCH)
INTEGRATION = os.path.join(REPO, "tests", "integration")

if INTEGRATION not in sys.path:
    sys.path.insert(0, INTEGRATION)
