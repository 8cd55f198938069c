import sys

from reseller.cli import main

sys.exit(main())
