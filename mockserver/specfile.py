"""Locate the OpenAPI document the app serves.

In a source checkout (including an editable install) the document is the committed
``spec/openapi.yaml`` next to the package, so a fresh ``genomics-mock spec build`` is
picked up at once. A wheel carries a copy at ``mockserver/_spec/openapi.yaml``
(hatch ``force-include`` in pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def openapi_path() -> Path:
    """Path of spec/openapi.yaml: the checkout's copy if there is one, else the packaged one."""
    root = _PACKAGE.parent
    checkout = root / "spec" / "openapi.yaml"
    if checkout.is_file() and (root / "pyproject.toml").is_file():
        return checkout
    packaged = _PACKAGE / "_spec" / "openapi.yaml"
    if packaged.is_file():
        return packaged
    raise FileNotFoundError(
        f"OpenAPI document not found: looked for {checkout} and {packaged}; "
        "run `genomics-mock spec build` in a source checkout or reinstall the package"
    )
