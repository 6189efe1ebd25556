"""moto's IAM backend lists roles by iterating its role dict while another request may be
adding one (`create_role` checks for a taken name that way): concurrent `setup` calls — as the
engine makes them, from several threads — then fail now and then with "dictionary changed size
during iteration", which real IAM never does. Iterate a copy instead.

Installed by the sandbox server and by the tests (in-process moto), once per process.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_installed = False


def install() -> None:
    from moto.iam.models import IAMBackend

    global _installed
    if _installed:
        return
    _installed = True

    def get_roles(self: Any) -> Iterable[Any]:
        return list(self.roles.values())

    IAMBackend.get_roles = get_roles  # type: ignore[method-assign]
