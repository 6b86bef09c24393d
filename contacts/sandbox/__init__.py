"""A standalone fake of the LiveDesk contacts API (stdlib only), for development and tests.

store.SandboxStore keeps contacts in their own SQLite file (schema: tables and derived
columns; validation: the write rules; query: list filters and sort; payload: how a
contact reads). server.SandboxServer serves them over HTTP with Basic auth (handler:
routing; answer: responses) and faults to order (faults); seed makes demo contacts.
"""
