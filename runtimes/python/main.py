"""Kiln's Python shim: the process inside every python container (stdlib only), started as
`python3 -S -B main.py`. A script is compiled on every start (only imported modules can
have cached bytecode), so this file only hands over to kiln_shim.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kiln_shim import main  # noqa: E402

main()
