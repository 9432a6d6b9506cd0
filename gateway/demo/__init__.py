"""Demo mode (`python -m gateway.amp --demo`): the gateway in front of built-in vendor stand-ins.

Only gateway.amp's --demo path imports this package; the production request path never does.
"""
