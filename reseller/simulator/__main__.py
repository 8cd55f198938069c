import sys

from reseller.simulator.cli import main

sys.exit(main())
