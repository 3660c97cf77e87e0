import sys

from benchmarks.watch.cli import main

sys.exit(main())
