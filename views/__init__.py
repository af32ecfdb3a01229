"""Read models of the console: what each page shows, computed once per data version (views/cache.py)
and shared by every session with the same scope; formatting for a language happens after, in the
callbacks. Dash-free: imports nothing from dash, layouts or callbacks."""
