"""Every code example of the documentation is run or checked, so the docs cannot rot.

Per page (see :mod:`tests.docs.rst_examples` for the markers):

* ``python`` blocks run in page order, as the ``python -m asyncio`` REPL
  runs them: one namespace for the page, top-level ``await`` allowed, one
  event loop.  Each block runs as a module of its own (carrying the page's
  names over), so ``config.scan()`` in a block registers that block's
  ``@view_config`` views only, as it would in a project's module;
* ``ini`` blocks must parse, their ``[app:main]`` settings must be settings
  aiotao documents, and an application configured with them (aiotao
  included) must start: a bad value is a ``ConfigurationError`` there.
  ``[server:main]`` keys must be gunicorn settings and
  ``[aiotao.server:NAME]`` sections valid server sections;
* ``console`` blocks: each command's program must be one this project
  installs, and the options given to it must be options it has (parsed by
  the parsers of gunicorn, ``pcreate`` and ``aiotao``, or found in ``--help``);
* ``nginx`` blocks must forward what aiotao's servers read: the websocket
  upgrade headers and the ``X-Forwarded-*`` headers of trusted proxies;
* ``systemd`` blocks are service units that run gunicorn (its options
  parsed) in the project's directory, with secrets from an
  ``EnvironmentFile``, stopped with SIGTERM and restarted on failure;
* ``bash`` blocks are environment files: ``NAME=value`` lines whose names
  a generated project reads (its ``environment.py``).
"""

from __future__ import annotations

import ast
import asyncio
import configparser
import linecache
import re
import shlex
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyramid.config import Configurator

from aiotao.serving.settings import ServingSettings
from tests.docs.rst_examples import DOCS, REPO, Example, pages, read_examples

VENV_BIN = Path(sys.executable).parent
PACKAGE = 'aiotao_docs_examples'
#: Programs console blocks may run, besides the ones in the virtualenv.
SYSTEM_PROGRAMS = frozenset(
    {'python3', 'pip', 'cd', 'curl', 'redis-server', 'sudo', 'systemctl', 'nginx'}
)
#: Shell built-ins a console block may use (``. .venv/bin/activate``).
SHELL_BUILTINS = frozenset({'.', 'source', 'export'})
#: Setting prefixes that are aiotao's (a key under them must be documented).
AIOTAO_PREFIXES = ('aiotao.', 'mongo.', 'cache.')


def aiotao_source() -> str:
    return '\n'.join(path.read_text() for path in (REPO / 'aiotao').rglob('*.py'))


# -- python --------------------------------------------------------------------


@pytest.fixture
def isolated_modules() -> Iterator[None]:
    """Modules made by a page's blocks are removed from ``sys.modules`` afterwards."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def make_module(
    name: str, namespace: dict[str, Any], example: Example
) -> types.ModuleType:
    """A module named ``name``, holding ``namespace``, that Pyramid can scan."""
    parts = name.split('.')
    for i in range(1, len(parts)):
        parent = '.'.join(parts[:i])
        if parent not in sys.modules:
            package = types.ModuleType(parent)
            package.__path__ = []
            sys.modules[parent] = package
    module = types.ModuleType(name)
    module.__dict__.update(
        {k: v for k, v in namespace.items() if k not in ('__name__', '__file__')}
    )
    # a package of its own: config.scan() and Configurator() find it as
    # the caller's package (asset specs resolve next to the page)
    module.__file__ = str(DOCS / '_examples' / example.page / '__init__.py')
    sys.modules[name] = module
    if len(parts) > 1:  # import machinery does this for real modules
        setattr(sys.modules['.'.join(parts[:-1])], parts[-1], module)
    return module


def run_python(examples: list[Example], tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    page_id = re.sub(r'\W', '_', examples[0].page.removesuffix('.rst'))
    with asyncio.Runner() as runner:
        for number, example in enumerate(examples):
            filename = f'<{example.where}>'
            source = example.text
            # tracebacks show the block's lines; view_config reads them too
            linecache.cache[filename] = (
                len(source),
                None,
                source.splitlines(True),
                filename,
            )
            code = compile(
                source, filename, 'exec', flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            )
            if example.marker == 'skip':
                assert example.argument, f'{example.where}: "skip" needs a reason'
                continue
            if example.marker == 'aiopyramid':
                continue  # cannot run on this Python: see the tests below
            if example.marker == 'pytest':
                run_pytest(example, tmp_path)
                continue
            if example.marker == 'module':
                name = example.argument
            else:
                name = f'{PACKAGE}.{page_id}_{number}'

            module = make_module(name, namespace, example)
            try:
                result = eval(code, module.__dict__)
                if result is not None:
                    runner.run(result)
            except Exception as exc:
                raise AssertionError(
                    f'the example at {example.where} failed: {exc!r}'
                ) from exc
            if example.marker != 'module':
                namespace.update(module.__dict__)


def run_pytest(example: Example, tmp_path: Path) -> None:
    """Run the test module ``example`` with pytest, as a project would."""
    directory = tmp_path / f'project_{example.line}'
    (directory / 'tests').mkdir(parents=True)
    (directory / 'pytest.ini').write_text('[pytest]\nasyncio_mode = auto\n')
    (directory / 'tests' / 'test_example.py').write_text(example.text)
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 0, (
        f'{example.where}: its tests failed:\n{result.stdout}'
    )
    assert ' passed' in result.stdout and 'skipped' not in result.stdout, result.stdout


# -- ini -----------------------------------------------------------------------


def read_ini(example: Example) -> configparser.ConfigParser:
    text = example.text
    if not re.search(r'^\[', text, re.MULTILINE):
        text = '[app:main]\n' + text  # a fragment of the app's settings
    parser = configparser.ConfigParser(
        defaults={'here': str(REPO), '__file__': str(REPO / 'development.ini')},
        inline_comment_prefixes=('#', ';'),
        strict=True,
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=example.where)
    except configparser.Error as exc:
        raise AssertionError(f'{example.where}: not a valid ini: {exc}') from None
    return parser


def app_settings(parser: configparser.ConfigParser) -> dict[str, str]:
    defaults = parser.defaults()
    return {k: v for k, v in parser.items('app:main') if k not in defaults}


def check_app_settings(example: Example, settings: dict[str, str], source: str) -> None:
    for key in settings:
        if key.startswith(AIOTAO_PREFIXES):
            assert key in source or _family(key) in source, (
                f'{example.where}: {key} is not a setting aiotao reads or documents'
            )
    # Pyramid reads pyramid.includes itself; aiotao decides the rest
    application = {k: v for k, v in settings.items() if k != 'use'}
    config = Configurator(settings=application)
    if 'aiotao' not in application.get('pyramid.includes', ''):
        config.include('aiotao')
    config.commit()
    # the servers read theirs when they start serving
    ServingSettings.from_settings(application)


def _family(key: str) -> str:
    """``mongo.option.maxPoolSize`` -> ``mongo.option.``: keys with a free last part."""
    for family in ('mongo.option.', 'aiotao.schedule.'):
        if key.startswith(family):
            return family
    return key


def check_server_settings(example: Example, parser: configparser.ConfigParser) -> None:
    from gunicorn.config import KNOWN_SETTINGS

    known = {setting.name for setting in KNOWN_SETTINGS} | {'use', 'host', 'port'}
    defaults = parser.defaults()
    section = {k: v for k, v in parser.items('server:main') if k not in defaults}
    unknown = set(section) - known
    assert not unknown, f'{example.where}: not gunicorn settings: {sorted(unknown)}'
    if 'worker_class' in section:
        from pyramid.path import DottedNameResolver

        DottedNameResolver().resolve(section['worker_class'])


def check_ini(example: Example, source: str) -> None:
    from aiotao.sidecars.sections import parse_section

    parser = read_ini(example)
    for name in parser.sections():
        if name == 'app:main':
            check_app_settings(example, app_settings(parser), source)
        elif name == 'server:main':
            check_server_settings(example, parser)
        elif name.startswith('aiotao.server:'):
            defaults = parser.defaults()
            keys = {k: v for k, v in parser.items(name) if k not in defaults}
            parse_section(name.split(':', 1)[1], keys)


# -- console -------------------------------------------------------------------


def commands(example: Example) -> list[list[str]]:
    lines = [
        line.removeprefix('$ ')
        for line in example.text.splitlines()
        if line.startswith('$ ')
    ]
    for line in lines:
        check_quoting(example, line)
    return [shlex.split(line, comments=True) for line in lines]


def check_quoting(example: Example, line: str) -> None:
    """Brackets are quoted: zsh (macOS's shell) takes ``.[test]`` for a pattern."""
    lexer = shlex.shlex(line, posix=False, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = '#'
    for token in lexer:
        if '[' in token and token[0] not in '"\'':
            raise AssertionError(
                f'{example.where}: quote {token} ("{token}"): zsh reads brackets '
                f'as a pattern'
            )


def makefile_targets_and_variables() -> tuple[set[str], set[str]]:
    text = (REPO / 'Makefile').read_text()
    targets = set(re.findall(r'^([\w-]+):(?!=)', text, re.MULTILINE))
    variables = set(re.findall(r'^(\w+) *[?:]?=', text, re.MULTILINE))
    return targets, variables


def check_make(example: Example, args: list[str]) -> None:
    """``make TARGET VAR=value``: the Makefile has the target and the variable."""
    targets, variables = makefile_targets_and_variables()
    for arg in args:
        if '=' in arg:
            variable = arg.split('=', 1)[0]
            assert variable in variables, (
                f'{example.where}: the Makefile has no {variable}'
            )
        else:
            assert arg in targets, f'{example.where}: the Makefile has no target {arg}'


def check_command(example: Example, argv: list[str]) -> None:
    while re.fullmatch(r'[A-Z_][A-Z0-9_]*=.*', argv[0]):
        argv = argv[1:]  # VARIABLE=value before the command
    program, *args = argv
    if program == 'python' and args and args[0].endswith('.py'):
        script, *args = args  # a script of this repository
        assert (REPO / script).exists(), f'{example.where}: no {script}'
        check_help(example, [sys.executable, str(REPO / script)], args)
        return
    if program == 'python' and args[:1] == ['-m']:
        module, *args = args[1:]
        check_help(example, [sys.executable, '-m', module], args)
        return
    if program == 'make':
        check_make(example, args)
        return
    if program in SYSTEM_PROGRAMS or program in SHELL_BUILTINS:
        return
    assert (VENV_BIN / program).exists(), (
        f'{example.where}: {program} is not installed with aiotao[dev]'
    )
    if program == 'gunicorn':
        from gunicorn.config import Config

        parse_or_fail(example, program, Config().parser(), args)
        return
    if program == 'pcreate':
        from aiotao.scripts.pcreate import build_parser

        parse_or_fail(example, program, build_parser(), args)
        return
    if program == 'aiotao':
        from aiotao.scripts.aiotao import build_parser as build_aiotao_parser

        parse_or_fail(example, program, build_aiotao_parser(), args)
        return
    check_help(example, [str(VENV_BIN / program)], args)


def check_help(example: Example, command: list[str], args: list[str]) -> None:
    """Every ``--option`` in ``args`` is one ``command --help`` lists."""
    help_text = subprocess.run(
        [*command, '--help'], capture_output=True, text=True, timeout=30, cwd=REPO
    ).stdout
    assert 'usage' in help_text.lower(), f'{example.where}: {command} has no --help'
    for arg in args:
        option = arg.split('=', 1)[0]
        if option.startswith('--'):
            assert option in help_text, (
                f'{example.where}: {command[-1]} has no {option}'
            )


def parse_or_fail(example: Example, program: str, parser: Any, args: list[str]) -> None:
    try:
        parser.parse_args(args)
    except SystemExit:  # argparse's answer to an unknown option
        raise AssertionError(f'{example.where}: {program} refuses {args}') from None


# -- nginx ---------------------------------------------------------------------


def check_nginx(example: Example) -> None:
    directives = {
        tuple(line.strip().rstrip(';').split(None, 2)[1:])
        for line in example.text.splitlines()
        if line.strip().startswith('proxy_set_header')
    }
    headers = {header.lower() for header, *_ in directives}
    # the websocket handshake's hop-by-hop headers are not forwarded unless asked
    assert {'upgrade', 'connection'} <= headers, (
        f'{example.where}: no websocket upgrade'
    )
    # what aiotao.serving.proxies believes from a trusted proxy
    assert {'x-forwarded-for', 'x-forwarded-proto', 'host'} <= headers, example.where
    assert 'proxy_http_version 1.1' in example.text, (
        f'{example.where}: websockets need HTTP/1.1'
    )


# -- systemd and environment files -----------------------------------------------

#: The environment variables a generated project reads (its environment.py).
ENVIRONMENT_TEMPLATE = (
    REPO / 'aiotao' / 'scaffolds' / 'websocket' / '+package+' / 'environment.py_tmpl'
)


def project_environment_variables() -> set[str]:
    return set(
        re.findall(r"^    '([A-Z_]+)': '", ENVIRONMENT_TEMPLATE.read_text(), re.M)
    )


def check_systemd(example: Example) -> None:
    """A service unit that serves the project as the docs say it must be served."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(example.text, source=example.where)
    assert {'Unit', 'Service', 'Install'} <= set(parser.sections()), example.where
    service = parser['Service']
    command = shlex.split(service['ExecStart'])
    assert command[0].endswith('/bin/gunicorn'), f'{example.where}: not gunicorn'
    check_command(example, ['gunicorn', *command[1:]])
    # gunicorn reads ./gunicorn.conf.py: the unit runs in the project
    assert service.get('WorkingDirectory'), f'{example.where}: no WorkingDirectory'
    # secrets come from a file only root reads, never from the unit
    assert 'EnvironmentFile' in service, f'{example.where}: no EnvironmentFile'
    for line in service.get('Environment', '').split():
        assert not re.search(r'SECRET|PASSWORD|MONGO_URI', line), example.where
    # SIGTERM is gunicorn's graceful stop; Restart brings a crashed master back
    assert service.get('KillSignal', 'SIGTERM') == 'SIGTERM', example.where
    assert service.get('Restart'), f'{example.where}: no Restart'


def check_environment_file(example: Example) -> None:
    """``NAME=value`` lines whose names the generated project reads."""
    known = project_environment_variables()
    assert known, 'the scaffold reads no environment variables any more'
    for line in example.text.splitlines():
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        name, separator, _ = line.partition('=')
        assert separator and name in known, (
            f'{example.where}: {name} is not a variable the project reads ({sorted(known)})'
        )


# -- the tests -----------------------------------------------------------------


@pytest.mark.parametrize('page', pages())
def test_page_examples(
    page: str,
    isolated_modules: None,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    examples = read_examples(page)
    if any('MONGO_URI' in example.text for example in examples):
        monkeypatch.setenv('MONGO_URI', request.getfixturevalue('mongo_uri'))
    monkeypatch.chdir(REPO)
    python = [e for e in examples if e.language == 'python']
    if python:
        run_python(python, tmp_path)
    source = aiotao_source()
    for example in examples:
        if example.marker == 'aiopyramid':
            continue  # the "before" of a migration: see the tests below
        if example.language == 'ini':
            check_ini(example, source)
        elif example.language == 'console':
            for argv in commands(example):
                check_command(example, argv)
        elif example.language == 'nginx':
            check_nginx(example)
        elif example.language == 'systemd':
            check_systemd(example)
        elif example.language == 'bash':
            check_environment_file(example)
        elif example.language not in ('python', 'text', 'default', 'json'):
            raise AssertionError(
                f'{example.where}: no check for {example.language} blocks'
            )


# -- migrating from aiopyramid ---------------------------------------------------

MIGRATING = 'migrating.rst'
#: Every public name of aiopyramid (its final source, housleyjk/aiopyramid on
#: GitHub), which no longer imports on Python 3.11: the guide must say what
#: each one becomes.
AIOPYRAMID_NAMES = (
    'aiopyramid.includeme',
    'aiopyramid.config.AsyncioMapperBase',
    'aiopyramid.config.CoroutineMapper',
    'aiopyramid.config.ExecutorMapper',
    'aiopyramid.config.CoroutineOrExecutorMapper',
    'aiopyramid.helpers.is_generator',
    'aiopyramid.helpers.spawn_greenlet',
    'aiopyramid.helpers.run_in_greenlet',
    'aiopyramid.helpers.synchronize',
    'aiopyramid.helpers.spawn_greenlet_on_scope_error',
    'aiopyramid.helpers.use_executor',
    'aiopyramid.exceptions.ScopeError',
    'aiopyramid.auth.coroutine_callback_authentication_policy_factory',
    'aiopyramid.auth.authn_policy_factory',
    'aiopyramid.auth.CoroutineAuthenticationPolicyProxy',
    'aiopyramid.traversal.AsyncioTraverser',
    'aiopyramid.traversal.traverse',
    'aiopyramid.tweens.coroutine_logger_tween_factory',
    'aiopyramid.gunicorn.worker.AsyncGunicornWorker',
    'aiopyramid.gunicorn.worker.AiopyramidWSGIHandler',
    'aiopyramid.websocket.config.WebsocketMapper',
    'aiopyramid.websocket.config.WebsocketMapper.use_bytes',
    'aiopyramid.websocket.config.UWSGIWebsocketMapper',
    'aiopyramid.websocket.config.UWSGIWebsocketMapper.use_str',
    'aiopyramid.websocket.config.gunicorn.SwitchProtocolsResponse',
    'aiopyramid.websocket.config.gunicorn.HandshakeInterator',
    'aiopyramid.websocket.view.WebsocketConnectionView',
    'aiopyramid.websocket.exceptions.WebsocketClosed',
    'aiopyramid.websocket.helpers.ignore_websocket_closed',
    'aiopyramid.scaffolds.AioStarterTemplate',
    'aiopyramid.scaffolds.AioWebsocketTemplate',
)
#: The scaffold names and the ini settings of aiopyramid's projects.
AIOPYRAMID_CONFIGURATION = (
    'aio_starter',
    'aio_websocket',
    'pyramid.includes = aiopyramid',
    'worker_class = aiopyramid.gunicorn.worker.AsyncGunicornWorker',
    'logging.config = %(here)s/development.ini',
    '[uwsgi]',
    'aiopyramid[gunicorn]',
)


def guide_text() -> str:
    """The migration guide without its code blocks: its prose and tables."""
    lines = (DOCS / MIGRATING).read_text().splitlines()
    code = set()
    for example in read_examples(MIGRATING):
        code.update(range(example.line, example.line + example.text.count('\n') + 2))
    return '\n'.join(line for number, line in enumerate(lines, 1) if number not in code)


def test_migration_guide_maps_every_aiopyramid_name() -> None:
    text = guide_text()
    missing = [name for name in AIOPYRAMID_NAMES if f'``{name}``' not in text]
    assert not missing, f'docs/{MIGRATING} does not say what these become: {missing}'
    missing = [item for item in AIOPYRAMID_CONFIGURATION if item not in text]
    assert not missing, f'docs/{MIGRATING} does not map: {missing}'


def test_migration_guide_names_real_aiotao_objects() -> None:
    from pyramid.path import DottedNameResolver

    resolve = DottedNameResolver().resolve
    source = aiotao_source()
    names = set(re.findall(r'``((?:aiotao|pyramid)(?:\.\w+)+)``', guide_text()))
    assert len(names) >= 15
    for name in sorted(names):
        try:
            resolve(name)
        except (ImportError, AttributeError):
            # not an object: then it must be a setting aiotao reads
            assert name in source, f'docs/{MIGRATING}: {name} does not exist'


def test_before_examples_only_use_mapped_names() -> None:
    text = guide_text()
    before = [e for e in read_examples(MIGRATING) if e.marker == 'aiopyramid']
    assert len(before) >= 3
    for example in before:
        if example.language == 'python':
            compile(example.text, example.where, 'exec')  # valid, if dead, Python
            used = {
                f'{node.module}.{alias.name}'
                for node in ast.walk(ast.parse(example.text))
                if isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith('aiopyramid')
                for alias in node.names
            }
        else:
            used = set(re.findall(r'aiopyramid(?:\.\w+)+', example.text))
        assert used, f'{example.where} is marked aiopyramid but uses none of it'
        unmapped = {name for name in used if f'``{name}``' not in text}
        assert not unmapped, f'{example.where}: the guide does not map {unmapped}'


def test_tests_named_by_the_docs_exist() -> None:
    """The reliability page says which test checks what: those tests exist."""
    named = {
        path
        for page in pages()
        for path in re.findall(r'``(tests/[\w/.]+)``', (DOCS / page).read_text())
    }
    assert named, 'no page names a test any more'
    missing = sorted(path for path in named if not (REPO / path).exists())
    assert not missing, f'the docs name tests that do not exist: {missing}'
