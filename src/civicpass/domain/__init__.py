"""The pure domain: dataclasses, enums and functions with no I/O and no framework imports.

Time, randomness and keys are passed in by the caller.
"""
