import sys

from cryopick.services.picker.servicer import ROLE
from cryopick.services.runtime.server import main

if __name__ == "__main__":
    sys.exit(main(ROLE))
