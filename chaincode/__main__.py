"""``python -m chaincode``: run the chaincode server (see :mod:`chaincode.server`)."""

import sys

from chaincode.server import main

raise SystemExit(main(sys.argv[1:]))
