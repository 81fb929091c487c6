"""The `surge-monitor` command: `main` builds one parser and each module adds its command group.

The only package that imports across features (it composes the worker from `live` and
`overflow`); nothing imports it.
"""
