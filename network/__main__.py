import sys

from network.cli import main

sys.exit(main())
