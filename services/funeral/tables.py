"""The base of funeral administration's tables: a registry, and so a MetaData, of its own, so that its table
names never clash with another service's when several services run in one process."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel


class FuneralTable(SQLModel, registry=registry()):
    pass
