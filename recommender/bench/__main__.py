from recommender.bench.cli import main

raise SystemExit(main())
