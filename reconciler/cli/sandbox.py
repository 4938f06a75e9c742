"""``reconciler sandbox``: serve, reset, seed, knob, drift for the embedded carrier simulators.

The carriers are the registry's (``carriers``) that have a simulator; none is named here.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import click

from ..errors import ConfigError
from .errors import handle_errors
from .options import CarrierChoice, sandbox_db_option
from .running import run


def _first_simulator() -> str:
    from ..sandbox import SIMULATORS

    return next(iter(SIMULATORS))


@click.group()
def sandbox() -> None:
    """The embedded carrier simulators ('sandbox serve' lists each one's base URL and key)."""


@sandbox.command("serve")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only.")
@sandbox_db_option
@handle_errors
def sandbox_serve(port: int, host: str, sandbox_db: Path | None) -> None:
    """Serve the sandbox on loopback for any HTTP client or official SDK."""
    from ..sandbox import SIMULATORS, Sandbox
    from ..sandbox.serve import serve

    if not host.startswith("127.") and host not in ("localhost", "::1"):
        raise ConfigError(f"--host {host}: the sandbox serves on loopback only")
    sb = Sandbox.open(sandbox_db)
    base = f"http://{host}:{port}"
    click.echo(f"Sandbox state: {sb.store.path}")
    for name, sim in SIMULATORS.items():
        click.echo(f"  {name:<7} base_url {base}{sim.MOUNT}   key {sim.DEFAULT_KEY}")
    click.echo("Ctrl-C to stop.")
    serve(sb, port=port, host=host)


@sandbox.command("reset")
@sandbox_db_option
@handle_errors
def sandbox_reset(sandbox_db: Path | None) -> None:
    """Re-seed the sandbox with its documented deterministic state."""
    from ..sandbox import Sandbox

    sb = Sandbox.open(sandbox_db)
    sb.reset()
    click.echo(f"Sandbox re-seeded: {sb.store.path}")
    sb.close()


@sandbox.command("seed")
@click.option("--numbers", type=int, required=True, help="How many numbers (1M is fine).")
@click.option(
    "--carrier",
    type=CarrierChoice(simulated=True),
    default=lambda: _first_simulator(),
    show_default="the sandbox's first simulator",
    help="Which carrier's sandbox account.",
)
@click.option("--profiles", type=int, default=5, show_default=True, help="Prefix profiles.")
@click.option(
    "--overrides",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of numbers with an exact entry overriding one field.",
)
@click.option(
    "--drift",
    type=float,
    default=0.3,
    show_default=True,
    help="Share of numbers whose live state differs from the YAML.",
)
@click.option("--seed", "seed_", type=int, default=1, show_default=True, help="Random seed.")
@click.option(
    "--config-out",
    type=click.Path(path_type=Path),
    required=True,
    metavar="DIR",
    help="Where to write the matching YAML (providers, profiles, numbers).",
)
@sandbox_db_option
@handle_errors
def sandbox_seed(
    numbers: int,
    carrier: str,
    profiles: int,
    overrides: float,
    drift: float,
    seed_: int,
    config_out: Path,
    sandbox_db: Path | None,
) -> None:
    """Replace a carrier's sandbox account with N synthetic numbers; write the YAML for it."""
    from ..sandbox import Sandbox
    from ..sandbox.synthetic import SyntheticAccount, seed

    account = SyntheticAccount(carrier, numbers, profiles, overrides, drift, seed_)
    sb = Sandbox.open(sandbox_db)
    try:
        db_option = f" --sandbox-db {sandbox_db}" if sandbox_db is not None else ""
        for line in seed(sb.store, account, config_out, db_option=db_option):
            click.echo(line)
    finally:
        sb.close()


@sandbox.command("knob")
@click.argument("name", required=False)
@click.argument("value", required=False)
@sandbox_db_option
@handle_errors
def sandbox_knob(name: str | None, value: str | None, sandbox_db: Path | None) -> None:
    """List the knobs, show one, or set one (VALUE is JSON; 'null' removes it), e.g. latency_ms 100.

    A served sandbox sees the change at its next request."""
    from ..sandbox import Sandbox, knobs

    known = knobs.registry()
    if name is not None:
        knobs.lookup(name, known)  # unknown name: refused before anything is opened
        checked = knobs.check(name, knobs.parse(value)) if value is not None else None
    sb = Sandbox.open(sandbox_db)
    try:
        if name is None:
            click.echo("\n".join(knobs.describe(known.values(), sb.store.knobs())))
            return
        if value is not None:
            sb.store.set_knob(name, checked)
        current = sb.store.knob(name, known[name].default)
        shown = "(set; not shown)" if known[name].secret and current else json.dumps(current)
        click.echo(f"{name} = {shown}")
    finally:
        sb.close()


@sandbox.command("drift")
@click.option("--numbers", type=click.IntRange(1), required=True, help="How many numbers to edit.")
@click.option("--seed", "seed_", type=int, help="Random seed (default: a new one, printed).")
@click.option(
    "--carrier",
    "carrier",
    type=CarrierChoice(simulated=True, extra=("all",)),
    default="all",
    show_default=True,
)
@click.option(
    "--config",
    "config",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Edit only numbers and fields this config manages (so drift sees every edit).",
)
@sandbox_db_option
@handle_errors
def sandbox_drift(
    numbers: int, seed_: int | None, carrier: str, config: Path | None, sandbox_db: Path | None
) -> None:
    """Change N numbers behind the tool's back (like an edit in the carrier's portal)."""
    from ..loader import load
    from ..sandbox import Sandbox
    from ..sandbox.drift import candidates, choose, make_drift, managed_by

    names = CarrierChoice(simulated=True).choices if carrier == "all" else (carrier,)
    managed = managed_by(load(config)) if config is not None else None
    sb = Sandbox.open(sandbox_db)
    try:
        seed_ = seed_ if seed_ is not None else random.SystemRandom().randrange(1_000_000)
        rng = random.Random(seed_)
        chosen = choose(candidates(sb, names, managed), numbers, rng)
        edits = run(make_drift(sb, chosen, rng))
    finally:
        sb.close()
    for e in edits:
        click.echo(
            f"  {e.carrier:<7} {e.e164}  {e.field}: {json.dumps(e.old)} → {json.dumps(e.new)}"
        )
    click.echo(
        f"Changed {len(edits)} number(s) out of band (--seed {seed_} repeats this choice). "
        "Next: reconciler drift PATH"
    )
