"""genomics-mock: a stateful mock of the Google Genomics v1 REST API.

Layers (see ARCHITECTURE.md): ``backend`` holds state and domain rules and knows
nothing of HTTP; ``handlers`` translate HTTP arguments into backend calls; ``app``
wires the OpenAPI document, security, errors and handlers into an ASGI app.
"""

__version__ = "0.1.0"
