"""Every registered check as one pytest test (``pytest --pyargs contracts``)."""

from __future__ import annotations

import pytest

from contracts.core import Check, Context, SkipCheck, Target, iter_checks


@pytest.mark.parametrize("check", list(iter_checks()), ids=lambda c: c.id)
def test_contract(check: Check, contracts_target: Target) -> None:
    ctx = Context(contracts_target)
    try:
        check.fn(ctx)
    except SkipCheck as skip:
        pytest.skip(str(skip))
    except AssertionError as failure:
        reproduction = getattr(failure, "reproduction", "") or ctx.recorder.reproduction()
        pytest.fail(f"{failure}\n\nReproduction (requests in order):\n{reproduction}", pytrace=False)
    finally:
        ctx.cleanup()
