"""A Pyramid app shaped as Pyramid's cookiecutter makes it (SQLAlchemy backend).

pyramid_tm (the transaction per request), pyramid_retry (transient errors
retried), SQLAlchemy sessions joined to the transaction by zope.sqlalchemy,
on SQLite.  Settings:

* ``sqlalchemy.url``: the database;
* ``tmapp.aiotao``: include aiotao (``true``, the default) or not;
* ``tm.manager_hook``: pyramid_tm's default (thread-local) manager when
  unset, or ``pyramid_tm.explicit_manager``.

PasteDeploy factory: ``use = call:tests.pkgs.tmapp:main``.
"""

from __future__ import annotations

from typing import Any

import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.settings import asbool
from sqlalchemy import Integer, String, engine_from_config
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = 'notes'

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
    #: the retry attempt (pyramid_retry's ``retry.attempt``) that wrote it
    attempt: Mapped[int] = mapped_column(Integer, default=0)


def main(global_config: dict[str, Any], **settings: Any) -> Any:
    config = Configurator(settings=settings)
    config.include('tests.pkgs.tmapp')
    return config.make_wsgi_app()


def get_tm_session(factory: sessionmaker[Session], manager: Any) -> Session:
    """The cookiecutter's: a session whose work joins ``manager``'s transaction."""
    session = factory()
    zope.sqlalchemy.register(session, transaction_manager=manager)
    return session


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    if asbool(settings.get('tmapp.aiotao', True)):
        config.include('aiotao')
    config.include('pyramid_tm')
    config.include('pyramid_retry')
    engine = engine_from_config(settings, 'sqlalchemy.')
    Base.metadata.create_all(engine)
    factory = sessionmaker(bind=engine)
    config.add_request_method(
        lambda request: get_tm_session(factory, request.tm), 'dbsession', reify=True
    )
    config.add_route('notes', '/notes')
    config.add_route('failing', '/notes/failing')
    config.add_route('conflicting', '/notes/conflicting')
    config.add_route('async_note', '/notes/async')
    config.scan('tests.pkgs.tmapp.views')
