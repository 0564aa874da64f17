"""placeholder"""

from contracts.core import Suite

SUITE = Suite("model", "")
