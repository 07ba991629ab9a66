"""An application with async views in every Pyramid shape, loaded by includeme."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    config.include('aiotao')
    config.include('pyramid_jinja2')
    config.add_route('function', '/function')
    config.add_route('context_function', '/context-function')
    config.add_route('class_attr', '/class-attr')
    config.add_route('class_method_config', '/class-method-config')
    config.add_route('instance', '/instance')
    config.add_route('jinja', '/jinja/{name}')
    config.add_route('string', '/string')
    config.scan('tests.pkgs.asyncviews.views')
