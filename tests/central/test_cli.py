"""`kiosk-central` argument mistakes end in `kiosk-central: error: …` and exit 2, never a traceback."""

from __future__ import annotations

from server_sync.cli import main


def test_ingest_argument_mistakes_are_clear_errors(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    empty = tmp_path / "empty.pass"
    empty.write_text("\n")
    for argv, msg in [(["--password-file", str(tmp_path / "nope")], "cannot read --password-file"),
                      (["--password-file", str(empty)], "is empty"),
                      (["--prefix", "acme"], "--prefix must end with '/'"),
                      (["--no-tls", "--ca-file", "ca.crt"], "contradict"),
                      (["--broker-port", "70000"], "--broker-port must be 1-65535"),
                      (["--max-bytes", "10"], "--max-bytes must be at least 1024"),
                      (["--client-id", "bad id!"], "--client-id must be")]:
        assert main(["ingest", *argv, *db]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("kiosk-central: error: ") and msg in err and "Traceback" not in err, err
    assert main(["ingest", "--db", "mysql://x/y"]) == 2
    assert "scheme must be sqlite or postgresql" in capsys.readouterr().err
