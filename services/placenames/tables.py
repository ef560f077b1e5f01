"""The base of place names' tables: a registry (and so a MetaData) of its own, so that its table names never
clash with another service's when several services run in one process (as the tests run them)."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class PlaceTable(SQLModel, registry=registry()):
    pass
