import sys

from benchmarks.recommender.cli import main

sys.exit(main())
