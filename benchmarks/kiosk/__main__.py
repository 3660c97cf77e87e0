import sys

from benchmarks.kiosk.cli import main

sys.exit(main())
