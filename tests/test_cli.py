"""The ``langos`` command, run as a separate process against the fake Ashby on loopback."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from connectors.ashby.fake import create_fake_ashby
from tests.conftest import ASHBY_KEY, langos_env
from tests.live import bind_loopback, serve

KEY = re.compile(r"Langos API key \(shown once\): (lgs_ats_\S+)")


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}

    async def __call__(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "core.cli", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env,
        )
        out, err = await process.communicate(stdin.encode())
        return process.returncode, out.decode(), err.decode()


async def test_cli_scripts_the_settings_page(tmp_path: Path) -> None:
    sock = bind_loopback()
    async with serve(create_fake_ashby(), sock) as ashby_url:
        cli = Cli(langos_env(tmp_path, LANGOS_ASHBY_API_URL=ashby_url, LANGOS_PUBLIC_URL="https://langos.example"))

        code, out, err = await cli("workspace", "acme", "--name", "Acme Inc", "--demo-assessments")
        assert code == 0, err
        assert "created workspace acme" in out

        code, out, err = await cli("admin", "--workspace", "acme", "--email", "ops@acme.example", stdin="long-enough-password\n")
        assert code == 0, err

        code, out, err = await cli("connect", "--workspace", "acme", stdin="wrong-key\n")
        assert code == 2
        assert "invalid or was deactivated" in err

        code, out, err = await cli("connect", "--workspace", "acme", stdin=ASHBY_KEY + "\n")
        assert code == 0, err
        first = KEY.search(out).group(1)
        assert "https://langos.example/api/ats/webhook" in out
        assert ASHBY_KEY not in out + err

        code, out, err = await cli("issue-key", "--workspace", "acme", "--rotate", "--overlap-hours", "0")
        assert code == 0, err
        second = KEY.search(out).group(1)
        assert second != first

        code, out, err = await cli("keys", "--workspace", "acme")
        assert code == 0, err
        assert out.count("active") == 1
        assert out.count("expired") == 1
        assert first not in out

        key_id = next(line.split()[0] for line in out.splitlines() if "active" in line)
        code, out, err = await cli("revoke-key", "--workspace", "acme", key_id)
        assert code == 0, err

        code, out, err = await cli("integrations", "--workspace", "acme", "--json")
        assert code == 0, err
        assert '"status": "connected"' in out
        assert '"active_keys": []' in out

        code, out, err = await cli("disconnect", "--workspace", "acme")
        assert code == 0, err

    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'langos.db'}")
    with engine.connect() as connection:
        actions = [row[0] for row in connection.execute(text("SELECT action FROM audit_events ORDER BY at"))]
    engine.dispose()
    assert actions == ["connect", "key_rotated", "key_revoked", "disconnect"]


async def test_cli_unknown_workspace_says_what_to_do(tmp_path: Path) -> None:
    code, out, err = await Cli(langos_env(tmp_path))("integrations", "--workspace", "nope")
    assert code == 2
    assert "no workspace 'nope' in sqlite+aiosqlite:///" in err
    assert "set LANGOS_DATA_DIR (or LANGOS_DATABASE_URL) to the data of the Langos that has it" in err
    assert "or create it with `langos workspace nope`" in err


async def test_cli_unsupported_database_url_names_scheme(tmp_path: Path) -> None:
    env = {**langos_env(tmp_path), "LANGOS_DATABASE_URL": "mysql://langos:secret-password@127.0.0.1/langos"}
    code, out, err = await Cli(env)("migrate")
    assert code == 2
    assert "LANGOS_DATABASE_URL starts with 'mysql://', which Langos does not support" in err
    assert "secret-password" not in err
    assert "Traceback" not in err


async def test_cli_missing_postgres_database_is_one_line(tmp_path: Path, postgres_url: str) -> None:
    # A plain postgresql:// URL gets the asyncpg driver.
    missing = make_url(postgres_url).set(drivername="postgresql", database="langos_no_such_database")
    env = {**langos_env(tmp_path), "LANGOS_DATABASE_URL": missing.render_as_string(hide_password=False)}
    for command in ("migrate", "serve"):
        code, out, err = await Cli(env)(command)
        assert code == 2, err
        assert f'langos {command}: the database failed: database "langos_no_such_database" does not exist' in err
        assert "Traceback" not in err


async def test_cli_unreachable_database_is_one_line(tmp_path: Path) -> None:
    # A bound socket that never listens: connections to its port are refused.
    sock = bind_loopback()
    port = sock.getsockname()[1]
    env = {**langos_env(tmp_path), "LANGOS_DATABASE_URL": f"postgresql://langos@127.0.0.1:{port}/langos"}
    try:
        code, out, err = await Cli(env)("migrate")
    finally:
        sock.close()
    assert code == 2
    assert f"langos migrate: cannot reach the database server at 127.0.0.1:{port}" in err
    assert "Check LANGOS_DATABASE_URL and that the database server is running." in err


async def test_cli_short_password_is_rejected(tmp_path: Path) -> None:
    cli = Cli(langos_env(tmp_path))
    await cli("workspace", "acme")
    code, out, err = await cli("admin", "--workspace", "acme", "--email", "a@acme.example", stdin="short\n")
    assert code == 2
    assert "at least 10 characters" in err


async def test_cli_rotates_encryption_key(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import create_engine, text

    sock = bind_loopback()
    async with serve(create_fake_ashby(), sock) as ashby_url:
        old = Fernet.generate_key().decode()
        new = Fernet.generate_key().decode()
        cli = Cli(langos_env(tmp_path, LANGOS_ASHBY_API_URL=ashby_url, LANGOS_ENCRYPTION_KEYS=old))
        await cli("workspace", "acme")
        code, out, err = await cli("connect", "--workspace", "acme", stdin=ASHBY_KEY + "\n")
        assert code == 0, err

        rotated = Cli(langos_env(tmp_path, LANGOS_ASHBY_API_URL=ashby_url, LANGOS_ENCRYPTION_KEYS=f"{new},{old}"))
        code, out, err = await rotated("rotate-encryption-key")
        assert code == 0, err
        assert "re-encrypted 1 credential(s)" in out

    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'langos.db'}")
    with engine.connect() as connection:
        token = connection.execute(text("SELECT credential_encrypted FROM integrations")).scalar_one()
    engine.dispose()
    assert Fernet(new.encode()).decrypt(token.encode()).decode() == ASHBY_KEY
