import sys

from nasgym.cli import main

sys.exit(main())
