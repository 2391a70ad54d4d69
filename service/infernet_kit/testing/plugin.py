"""The `infernet_kit` pytest plugin (entry point `pytest11`): installing the kit makes these fixtures available.

Each area of the stack keeps its fixtures in its own module; this module only gathers them.
"""

from infernet_kit.testing.callback_fixtures import *  # noqa: F403
from infernet_kit.testing.chain_fixtures import *  # noqa: F403
from infernet_kit.testing.chain_node_fixtures import *  # noqa: F403
from infernet_kit.testing.node_fixtures import *  # noqa: F403
from infernet_kit.testing.service_fixtures import *  # noqa: F403
from infernet_kit.testing.store_fixtures import *  # noqa: F403
