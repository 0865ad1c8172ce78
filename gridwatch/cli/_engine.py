"""``--engine dask [--scheduler ADDRESS] [--workers N]``: where a command does its work."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

from gridwatch.distributed.cluster import ENGINES

__all__ = ["ask", "engine_client", "engine_options", "store_source"]

_F = TypeVar("_F", bound=Callable[..., Any])


def engine_options(func: _F) -> _F:
    """Add ``--engine``, ``--scheduler`` and ``--workers`` to a command."""
    func = click.option(
        "--workers", type=click.IntRange(min=1), default=None,
        help="With --engine dask and no --scheduler: worker processes of the local cluster "
             "(default: one per CPU).")(func)
    func = click.option(
        "--scheduler", metavar="ADDRESS", default=None,
        help="With --engine dask: the address of a running Dask scheduler "
             "(tcp://host:8786); default: a local cluster of worker processes.")(func)
    func = click.option(
        "--engine", type=click.Choice(ENGINES), default="local", show_default=True,
        help="local: this process; dask: a Dask cluster (see docs/scale.md).")(func)
    return func


@contextlib.contextmanager
def engine_client(engine: str, scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """The Dask client of ``--engine dask`` (``None`` for the local engine), closed at the
    end; ``--scheduler``/``--workers`` without ``--engine dask`` are refused."""
    from gridwatch.errors import ConfigError

    if engine != "dask":
        if scheduler or workers:
            raise ConfigError("--scheduler and --workers need --engine dask")
        yield None
        return
    if scheduler and workers:
        raise ConfigError("--workers starts a local cluster; with --scheduler the cluster "
                          "has the workers it has")
    from gridwatch.distributed.cluster import open_client

    with open_client(scheduler, workers=workers) as client:
        yield client


def store_source(ctx: Any, db_url: str) -> Any:
    """How the workers open the store the context was read from."""
    from gridwatch.distributed.questions import StoreSource

    return StoreSource(config=ctx.config, db_url=db_url, run_id=ctx.run_id, scope=ctx.scope)


def ask(engine: tuple[str, str | None, int | None], ctx: Any, db_url: str, question: str,
        /, *args: Any, **kwargs: Any) -> Any:
    """``ctx.<question>(*args, **kwargs)`` on this machine, or with ``--engine dask``
    :mod:`gridwatch.distributed.questions`'s ``<question>_dask`` on the cluster (the same
    answer).

    Parameters
    ----------
    engine
        ``(--engine, --scheduler, --workers)`` of the command.
    ctx
        The supervision context asked.
    db_url
        The URL of the store ``ctx`` was read from (the workers open it).
    question
        The context's method: ``status``, ``league``, ``review`` or ``hotspots``.
    """
    with engine_client(*engine) as client:
        if client is None:
            return getattr(ctx, question)(*args, **kwargs)
        from gridwatch.distributed import questions

        answer = getattr(questions, f"{question}_dask")
        return answer(ctx, *args, client=client, source=store_source(ctx, db_url), **kwargs)
