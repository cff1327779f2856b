"""The ASGI web layer: routes translate HTTP to service calls and back; nothing else lives here."""
