"""``mongo.*`` settings: checked at startup, with errors that name the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.interfaces import IRequestExtensions
from pyramid.paster import get_app

from aiotao.mongo import get_client
from aiotao.mongo.connection import get_connection


def configure(**settings: str) -> Configurator:
    config = Configurator(settings=settings)
    config.include('aiotao')
    config.commit()  # the connection is registered by an action
    return config


@pytest.mark.parametrize(
    ('uri', 'complaint'),
    [
        ('mongo://127.0.0.1/shop', 'Invalid URI scheme'),
        ('mongodb://127.0.0.1:port/shop', 'Port'),
        ('mongodb://127.0.0.1/shop?maxPoolSiz=5', 'Unknown option'),
        ('mongodb://127.0.0.1/sh op', 'Bad database name'),
        ('mongodb://', 'hostname'),
    ],
)
def test_a_malformed_uri_stops_the_start_naming_the_setting(
    uri: str, complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=r'mongo.uri = ') as raised:
        configure(**{'mongo.uri': uri})
    assert complaint in str(raised.value)


def test_the_password_is_not_repeated_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as raised:
        configure(**{'mongo.uri': 'mongodb://app:s3cret@127.0.0.1/shop?bogus=1'})
    assert 's3cret' not in str(raised.value)
    assert 'mongodb://app:***@127.0.0.1/shop' in str(raised.value)


def test_an_ini_with_a_bad_uri_fails_to_load(tmp_path: Path) -> None:
    ini = tmp_path / 'app.ini'
    ini.write_text(
        '[app:main]\nuse = call:tests.pkgs.mongoapp:main\nmongo.uri = mongodb:/127.0.0.1/x\n'
    )
    with pytest.raises(ConfigurationError, match=r'mongo.uri = mongodb:/127.0.0.1/x'):
        get_app(str(ini))


@pytest.mark.parametrize(
    ('name', 'value'),
    [('maxPoolSize', 'many'), ('serverSelectionTimeoutMS', '-5'), ('bogusOption', '1')],
)
def test_a_bad_client_option_names_its_setting(name: str, value: str) -> None:
    settings = {
        'mongo.uri': 'mongodb://127.0.0.1/shop',
        'mongo.option.w': '1',  # good ones around it are not blamed
        f'mongo.option.{name}': value,
        'mongo.option.appname': 'shop',
    }
    with pytest.raises(ConfigurationError) as raised:
        configure(**settings)
    assert str(raised.value).startswith(f'mongo.option.{name} = {value} is not valid: ')


async def test_client_options_are_converted_as_in_the_uri() -> None:
    config = configure(
        **{
            'mongo.uri': 'mongodb://127.0.0.1:1/shop',
            'mongo.option.maxPoolSize': '7',
            'mongo.option.serverSelectionTimeoutMS': '1500',
            'mongo.option.w': '1',
            'mongo.option.appname': 'shop-web',
            'mongo.option.tz_aware': 'true',
        }
    )
    client = get_client(config.registry)
    try:
        assert client.options.pool_options.max_pool_size == 7
        assert client.options.server_selection_timeout == 1.5
        assert client.write_concern.document == {'w': 1}
        assert client.options.pool_options.metadata['application'] == {
            'name': 'shop-web'
        }
        assert client.codec_options.tz_aware is True
    finally:
        await get_connection(config.registry).close()


def test_the_database_comes_from_the_uri_or_mongo_db() -> None:
    from_uri = configure(**{'mongo.uri': 'mongodb://127.0.0.1/shop'})
    assert get_connection(from_uri.registry).settings.database_name == 'shop'
    named = configure(**{'mongo.uri': 'mongodb://127.0.0.1/shop', 'mongo.db': 'other'})
    assert get_connection(named.registry).settings.database_name == 'other'
    without = configure(**{'mongo.uri': 'mongodb://127.0.0.1/', 'mongo.db': 'plain'})
    assert get_connection(without.registry).settings.database_name == 'plain'


def test_a_uri_without_a_database_asks_for_one() -> None:
    with pytest.raises(ConfigurationError, match=r'names no database.*mongo.db'):
        configure(**{'mongo.uri': 'mongodb://127.0.0.1:27017'})


def test_an_srv_uri_is_checked_without_dns() -> None:
    # .invalid never resolves: the check must not look it up
    config = configure(**{'mongo.uri': 'mongodb+srv://cluster.example.invalid/shop'})
    assert get_connection(config.registry).settings.database_name == 'shop'
    with pytest.raises(ConfigurationError, match=r'mongo.uri'):
        configure(**{'mongo.uri': 'mongodb+srv://cluster.example.invalid:27017/shop'})


def test_a_client_class_that_cannot_be_imported_names_the_setting() -> None:
    with pytest.raises(
        ConfigurationError, match=r'mongo.client_class = motor.nothing.Here'
    ):
        configure(
            **{
                'mongo.uri': 'mongodb://127.0.0.1/shop',
                'mongo.client_class': 'motor.nothing.Here',
            }
        )


def test_without_mongo_uri_nothing_is_installed() -> None:
    config = configure()
    config.commit()
    extensions: Any = config.registry.queryUtility(IRequestExtensions)
    assert extensions is None or 'db' not in extensions.descriptors


def test_including_aiotao_mongo_without_a_uri_says_what_to_set() -> None:
    config = Configurator(settings={})
    with pytest.raises(ConfigurationError, match=r'needs the mongo.uri setting'):
        config.include('aiotao.mongo')
