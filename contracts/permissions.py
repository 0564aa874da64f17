"""placeholder"""

from contracts.core import Suite

SUITE = Suite("permissions", "")
