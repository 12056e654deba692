"""Shared test support: fixtures, factories and helpers imported normally (``from tests.support.till import
...``), never by path tricks or by importing one test module from another."""
