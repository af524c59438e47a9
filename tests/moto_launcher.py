"""moto_server with one fix, so that a stack deployed through change sets behaves as on AWS.

moto 5.2.5 builds a change-set stack's outputs once, from the empty template the stack has while it
is REVIEW_IN_PROGRESS, and keeps the parameters it was first created with: describe_stacks then
shows no Outputs, and an unchanged re-deploy after a parameter change is not seen as a no-op.
After execute_change_set this refreshes the stack's template, parameters and outputs (what
create_stack/update_stack already do in moto). Nothing else is changed.

Usage: python tests/moto_launcher.py -H 127.0.0.1 -p PORT   (moto_server's arguments)
"""

from __future__ import annotations

import sys
from typing import Any

from moto.cloudformation.models import CloudFormationBackend
from moto.server import main

_execute_change_set = CloudFormationBackend.execute_change_set


def _execute_and_refresh(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    _execute_change_set(self, change_set_name, stack_name)
    change_set = self.describe_change_set(change_set_name)
    stack = change_set.stack
    stack.parameters = change_set.parameters
    stack._parse_template()
    stack.output_map = stack._create_output_map()


if __name__ == "__main__":
    CloudFormationBackend.execute_change_set = _execute_and_refresh  # type: ignore[method-assign]
    sys.exit(main(sys.argv[1:]))
