"""What a node process imports at start: the suite starts about a hundred nodes, and users start them too."""

from __future__ import annotations

import subprocess
import sys

NODE_IMPORTS = """
import sys
import infernet_kit.node.app
print(sorted(name for name in ("httpx", "rich", "pygments") if name in sys.modules))
"""


def test_the_node_does_not_import_httpx_or_its_command_line() -> None:
    """httpx brings its command line's libraries (rich, pygments, click) with it, ~0.14 s of CPU per process;
    the node only needs httpx to probe a command container it started (imported there, when used)."""
    done = subprocess.run([sys.executable, "-c", NODE_IMPORTS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]"], done.stdout
