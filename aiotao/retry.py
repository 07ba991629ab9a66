"""pyramid_retry's execution policy, run natively on the event loop.

``config.include('pyramid_retry')`` registers an execution policy: a
synchronous function that makes the request, runs it, and on a retryable
error (a transaction conflict, ``pyramid_retry.RetryableException``) runs
it again with a fresh request, up to ``retry.attempts`` times.  Any
synchronous policy works under aiotao (it runs in the request's thread,
see :mod:`aiotao.router`), but then each request holds a thread for as
long as it lasts, awaits included, which would cap an async application's
concurrency at the thread pool's size.  So aiotao recognizes
pyramid_retry's policy and applies the same rules itself, on the loop:

* the attempts and the ``retry.activate_hook`` are the policy's own;
* ``environ['retry.attempt']`` / ``['retry.attempts']`` are set for each
  attempt, so pyramid_retry's ``is_last_attempt``, ``is_error_retryable``
  and its view predicates work unchanged;
* a retryable error raised by the pipeline, or rendered by an exception
  view (``request.exception``), starts the next attempt after the
  :class:`pyramid_retry.BeforeRetry` event; the body is made seekable so
  every attempt reads it whole.

A policy that is not pyramid_retry's (or a version of it aiotao does not
recognize) is run as it is, in the request's thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from aiotao.events import notify

if TYPE_CHECKING:
    from aiotao.router import AsyncRouter


class RetryOptions(NamedTuple):
    """What pyramid_retry's policy was made with."""

    attempts: int
    activate_hook: Any


def retry_options(policy: Any) -> RetryOptions | None:
    """The options of ``policy`` if it is pyramid_retry's, else ``None``.

    pyramid_retry makes its policy as a closure over ``attempts`` and
    ``activate_hook``: every policy it makes shares one code object.
    """
    try:
        from pyramid_retry import RetryableExecutionPolicy
    except ImportError:
        return None
    code = getattr(policy, '__code__', None)
    if code is None or code is not RetryableExecutionPolicy(1).__code__:
        return None
    cells = dict(zip(code.co_freevars, policy.__closure__, strict=True))
    try:
        attempts = cells['attempts'].cell_contents
        activate_hook = cells['activate_hook'].cell_contents
    except (KeyError, ValueError):
        return None  # a pyramid_retry whose policy is shaped otherwise
    return RetryOptions(attempts, activate_hook)


async def serve_with_retries(
    router: AsyncRouter, environ: dict[str, Any], options: RetryOptions
) -> Any:
    """Serve ``environ``, retrying retryable errors as pyramid_retry does."""
    from pyramid_retry import BeforeRetry, is_error_retryable

    request_context = router.request_context(environ)
    request = request_context.begin()
    try:
        attempts = options.attempts
        if options.activate_hook is not None:
            wanted = options.activate_hook(request)
            if wanted is not None:
                assert wanted > 0
                attempts = wanted
        if attempts != 1:
            # every attempt reads the whole body: keep it
            request.make_body_seekable()
    except BaseException:
        request_context.end()
        raise

    for number in range(attempts):
        environ['retry.attempt'] = number
        environ['retry.attempts'] = attempts
        if number > 0:
            # a new request for each attempt: nothing of the last one leaks
            request_context = router.request_context(environ)
            request = request_context.begin()
        try:
            response = await router.invoke_request(request)
            exc = getattr(request, 'exception', None)
            if exc is not None and is_error_retryable(request, exc):
                # an exception view rendered a retryable error: try again
                await notify(
                    request.registry, BeforeRetry(request, exc, response=response)
                )
                continue
            return response
        except Exception as exc:
            if not is_error_retryable(request, exc):
                raise
            await notify(request.registry, BeforeRetry(request, exc))
        finally:
            request_context.end()
            del environ['retry.attempt']
            del environ['retry.attempts']
    raise AssertionError('unreachable: the last attempt returns or raises')
