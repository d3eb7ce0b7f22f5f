"""`cloudops console`: its credential helpers, and the clear errors it gives instead of starting a console nobody
could use. (Serving on waitress is what the browser test runs against.)"""

from __future__ import annotations

import json
from pathlib import Path as FsPath

from click.testing import CliRunner
from werkzeug.security import check_password_hash

from cloudops.cli import cli
from console.identity import hash_token


def _run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin, env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_help_names_the_defaults_and_the_helpers() -> None:
    code, out = _run("console", "--help")
    assert code == 0 and "default: 8090" in out and "hash-password" in out and "new-token" in out


def test_hash_password_prints_a_salted_hash_the_console_accepts() -> None:
    code, out = _run("console", "hash-password", "--password-stdin", stdin="correct horse\n")
    digest = out.strip()
    assert code == 0 and digest.startswith("scrypt:") and check_password_hash(digest, "correct horse")
    code, out = _run("console", "hash-password", stdin="pw\npw\n")
    assert code == 0 and check_password_hash(out.strip().splitlines()[-1], "pw")
    code, out = _run("console", "hash-password", "--password-stdin", stdin="\n")
    assert code == 1 and "the password is empty" in out


def test_new_token_prints_the_token_once_and_the_digest_to_configure() -> None:
    code, out = _run("console", "new-token", "--name", "ci", "--role", "editor", "--json")
    made = json.loads(out)
    assert code == 0 and (made["name"], made["role"]) == ("ci", "editor")
    assert made["sha256"] == hash_token(made["token"]) and len(made["token"]) > 40
    code, out = _run("console", "new-token", "--name", "grafana")
    assert code == 0 and "grafana: {role: viewer, sha256: " in out


def test_the_console_refuses_to_start_when_nobody_could_sign_in(tmp_path: FsPath) -> None:
    env = {"CLOUDOPS_STATE_DIR": str(tmp_path)}
    code, out = _run("console", "--db", f"sqlite:///{tmp_path / 'c.db'}", env=env)
    assert code == 1 and "nobody could sign in" in out and "cloudops console hash-password" in out
    assert (tmp_path / "console-secret-key").exists()  # the embedded default keeps a generated key, with a warning


def test_a_bad_configuration_file_is_a_clear_error(tmp_path: FsPath) -> None:
    config = tmp_path / "console.yaml"
    config.write_text("console:\n  users:\n    alice: {role: editor, password_hash: hunter2}\n")
    code, out = _run("console", "--config", str(config), env={"CLOUDOPS_STATE_DIR": str(tmp_path)})
    assert code == 1 and "plaintext password" in out and "Traceback" not in out
