"""Joint dispatch orders (联动派遣单): the state machine (states.py) and the service (service.py)."""
