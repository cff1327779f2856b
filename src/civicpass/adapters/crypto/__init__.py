"""Cryptography adapters built on the ``cryptography`` and ``argon2-cffi`` packages."""
