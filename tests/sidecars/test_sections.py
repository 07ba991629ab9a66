"""Reading ``[aiotao.server:NAME]`` sections: every bad entry names section and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyramid.exceptions import ConfigurationError

from aiotao.sidecars.sections import gunicorn_ini, parse_section, read_sections
from tests.sidecars.protocols import Describe, Shout, slow_lines

UDP = {'kind': 'udp', 'port': '7001', 'protocol': 'tests.sidecars.protocols:Describe'}


def test_a_full_section() -> None:
    section = parse_section(
        'shout',
        {
            'kind': 'TCP',
            'host': '::1',
            'port': '7000',
            'reuse_port': 'false',
            'protocol': 'tests.sidecars.protocols.Shout',
            'option.colour': 'blue',
        },
    )
    assert (section.kind, section.host, section.port) == ('tcp', '::1', 7000)
    assert section.protocol is Shout
    assert section.reuse_port is False
    assert section.options == {'colour': 'blue'}
    assert section.title == '[aiotao.server:shout]'


def test_defaults_and_factory() -> None:
    section = parse_section(
        'lines',
        {
            'kind': 'tcp',
            'port': '7002',
            'factory': 'tests.sidecars.protocols:slow_lines',
        },
    )
    assert section.host == '127.0.0.1'
    assert section.reuse_port is True
    assert section.factory is slow_lines
    assert section.protocol is None


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'kind': 'sctp'}, "kind = 'sctp': expected tcp or udp"),
        ({'kind': ''}, 'kind: missing'),
        ({'port': 'http'}, "port = 'http': expected a whole number from 1 to 65535"),
        ({'port': '70000'}, "port = '70000'"),
        ({'port': '0'}, "port = '0'"),
        ({'port': ''}, 'port: missing'),
        ({'host': ' '}, 'host: empty'),
        ({'reuse_port': 'perhaps'}, "reuse_port = 'perhaps': expected true or false"),
        (
            {'protocol': 'tests.sidecars.nowhere:X'},
            'protocol = tests.sidecars.nowhere:X: cannot import it',
        ),
        ({'protocol': 'tests.sidecars.protocols:Nothing'}, 'cannot import it'),
        (
            {'protocol': 'tests.sidecars.protocols:NOT_A_CLASS'},
            'needs a subclass of asyncio.DatagramProtocol',
        ),
        (
            {'protocol': 'tests.sidecars.protocols:Shout'},
            'needs a subclass of asyncio.DatagramProtocol',
        ),
        ({'protocol': ''}, 'give either protocol = '),
        ({'factory': 'tests.sidecars.protocols:slow_lines'}, 'one of the two'),
        ({'colour': 'blue'}, 'colour: unknown key; expected kind, host, port'),
    ],
)
def test_bad_entries_name_the_section_and_key(
    change: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_section('echo', {**UDP, **change})
    assert str(error.value).startswith('[aiotao.server:echo]')
    assert message in str(error.value)


def test_a_factory_must_be_async() -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_section(
            'x',
            {
                'kind': 'tcp',
                'port': '1',
                'factory': 'tests.sidecars.protocols:not_async',
            },
        )
    assert 'expected an async def function taking (registry, section)' in str(
        error.value
    )


def test_tcp_protocol_must_be_a_stream_protocol() -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_section('x', {**UDP, 'kind': 'tcp'})
    assert 'a tcp server needs a subclass of asyncio.Protocol' in str(error.value)
    assert Describe.__name__ in str(error.value)


def test_read_sections_keeps_file_order_and_ignores_other_sections(
    tmp_path: Path,
) -> None:
    ini = tmp_path / 'app.ini'
    ini.write_text(
        '[app:main]\nuse = egg:myproject\n\n'
        '[server:main]\nuse = egg:gunicorn#main\nport = 6543\n\n'
        '[aiotao.server:b]\nkind = udp\nport = 7001\n'
        'protocol = tests.sidecars.protocols:Describe\noption.where = %(here)s\n\n'
        '[aiotao.server:a]\nkind = tcp\nport = 7000\n'
        'protocol = tests.sidecars.protocols:Shout\n'
    )
    sections = read_sections(str(ini))
    assert [s.name for s in sections] == ['b', 'a']
    assert sections[0].options == {'where': str(tmp_path)}


def test_gunicorn_ini_from_paste_or_pserve(tmp_path: Path) -> None:
    ini = tmp_path / 'app.ini'
    ini.write_text('[app:main]\n')

    class Cfg:
        paste: str | None = None
        default_proc_name = 'myapp:app'

    class App:
        app_uri = f'{ini}#main'

    assert gunicorn_ini(Cfg()) is None  # gunicorn myapp:app
    pserve = Cfg()
    pserve.default_proc_name = str(ini)  # pserve development.ini
    assert gunicorn_ini(pserve) == str(ini)
    paste = Cfg()
    paste.paste = 'app.ini#main'  # gunicorn --paste, relative to its cwd
    assert gunicorn_ini(paste, App()) == str(ini)
