"""Adapters: the outside world (database, cryptography, messaging, files) behind the services' ports."""
