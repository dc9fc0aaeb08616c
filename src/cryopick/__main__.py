import sys

from cryopick.cli import main

sys.exit(main())
