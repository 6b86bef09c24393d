"""A standalone fake of the LiveDesk contacts API (stdlib only), for development and tests.

store.SandboxStore keeps contacts in their own SQLite file; server.SandboxServer serves
them over HTTP with Basic auth and faults to order; seed makes demo contacts.
"""
