import sys

from benchmarks.consortium.cli import main

sys.exit(main())
