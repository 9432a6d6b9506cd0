"""`python -m gateway store import|export`: move an auth-dir into the shared store and back.

Import reads CLIProxyAPI-format credential files (any `*.json` with a `type` and an `email`, unknown
keys kept) and the usage statistics file, and puts them into the store `gateway.store` names. An
account the store already holds is left alone unless --replace: the hosts may have refreshed it since
the file was written, and an older refresh token would log the account out. Export writes the store's
accounts as files (mode 0600), e.g. to go back to one box or to hand them to CLIProxyAPI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from gateway.atomic_file import write_json_atomic
from gateway.config import load_settings
from gateway.store import Store, StoreUnavailable, open_store
from gateway.store.files import USAGE_FILE, read_json


def credential_files(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(folder.glob("*.json")):
        data = read_json(path)
        if isinstance(data, dict) and data.get("type") and data.get("email"):
            out[path.name] = data
    return out


async def import_dir(source: Path, store: Store, *, replace: bool = False) -> tuple[list[str], list[str]]:
    """(imported, kept) file names; usage statistics are added to the store's totals once."""
    await store.pull()
    imported, kept = [], []
    for name, data in credential_files(source).items():
        if store.read_credential(name) is not None and not replace:
            kept.append(name)
            continue
        await store.put_credential(name, data)
        imported.append(name)
    usage = read_json(source / USAGE_FILE)
    marker = source / (USAGE_FILE + ".imported")
    if isinstance(usage, dict) and not marker.exists():
        await store.add_usage(usage)
        marker.write_text(json.dumps({"into": store.where}) + "\n")  # a second import does not count it twice
    await store.settle()
    return imported, kept


async def export_dir(store: Store, target: Path) -> list[str]:
    await store.pull()
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for name in sorted(store.credential_stamps()):
        data = store.read_credential(name)
        if data is not None:
            write_json_atomic(target / name, data)
            written.append(name)
    return written


def main(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.store:
        print("subgate: gateway.store is not set: accounts already live in auth-dir files. Set gateway.store: "
              "redis://host:port/db (or SUBGATE_STORE) first.")
        return 2
    store = open_store(settings.store, settings.auth_path)

    async def run() -> int:
        try:
            health = await store.health()
            if not health.reachable:
                raise StoreUnavailable(health.detail)
            if args.action == "import":
                source = Path(args.source).expanduser() if args.source else settings.auth_path
                imported, kept = await import_dir(source, store, replace=args.replace)
                for name in imported:
                    print(f"imported {name}")
                for name in kept:
                    print(f"kept {name}: the store already holds it (--replace to overwrite)")
                print(f"{len(imported)} account(s) imported from {source} into {store.where}")
                return 0
            target = Path(args.target).expanduser() if args.target else settings.auth_path
            written = await export_dir(store, target)
            print(f"{len(written)} account(s) exported from {store.where} into {target}")
            return 0
        except StoreUnavailable as exc:
            print(f"subgate: {exc}. Nothing was changed; start Redis or correct gateway.store.")
            return 1
        finally:
            await store.aclose()

    return asyncio.run(run())

