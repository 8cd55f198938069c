"""`reseller backup FILE` and `reseller restore FILE`."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from reseller import backup, dbserver
from reseller.cli import common
from reseller.config import DatabaseConfig


def register(commands: Any) -> None:
    make = commands.add_parser(
        "backup", help="write the whole database to FILE (pg_dump custom format, mode 0600)"
    )
    make.add_argument("file", type=Path, metavar="FILE")
    make.set_defaults(command=_backup)

    load = commands.add_parser(
        "restore", help="load a backup into an empty database, then migrate it"
    )
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument(
        "--force",
        action="store_true",
        help="replace everything a non-empty database holds (in one transaction)",
    )
    load.add_argument("--reason", type=common.nonempty, help="why, for the audit trail")
    load.set_defaults(command=_restore)


def _backup(args: argparse.Namespace) -> int:
    config = common.load_config(args)
    backup.require_embedded_cluster(config.database)
    with dbserver.database_dsn(config.database) as dsn:
        made = asyncio.run(backup.backup(dsn, args.file))
    print(
        f"backed up {_where(config.database)} (PostgreSQL {made.server_version}) to"
        f" {args.file}: {made.size} bytes in {made.seconds:.2f} s, with {made.tool}"
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    # A command that writes: on the defaults by mistake, it would fill the wrong database.
    config = common.load_config(args, writes="restore")
    archive = backup.read_archive(args.file)  # before a database is started or touched
    with dbserver.database_dsn(config.database) as dsn:
        restored = asyncio.run(
            backup.restore(dsn, archive, replace=args.force, actor=common.actor(args))
        )
    replaced = f", replacing its {len(restored.replaced)} tables" if restored.replaced else ""
    print(
        f"restored {args.file} (made {archive.created} of PostgreSQL {archive.source_version})"
        f" into {_where(config.database)}{replaced}, in {restored.seconds:.2f} s"
        f" with {restored.tool}"
    )
    print("\n".join(f"applied {name}" for name in restored.applied) or "database is up to date")
    return 0


def _where(config: DatabaseConfig) -> str:
    """Which database, never its DSN (it may hold a password)."""
    if config.dsn() is None:
        return f"the embedded database in {config.embedded_dir()}"
    return f"the database in ${config.dsn_env}"
