"""deploy/storage-init.sh, the createbucket service's script, run against a stand-in `mc`.

MinIO's client cannot run here (no engine, no image), so a small `mc` on PATH records each
call and answers `admin user info` from what it was told before. This checks the script's
own logic: the calls, the policy it writes, and that running it twice is harmless."""

import json
import os
import subprocess

import pytest

from tests.support import REPOSITORY

STAND_IN_MC = """#!/bin/sh
echo "$*" >> "$MC_LOG"
case "$*" in
    "admin policy create "*) cp "$6" "$MC_STATE/policy.json" ;;
    "admin policy attach "*) echo "$5" > "$MC_STATE/attached" ;;
    "admin user info "*)
        echo "AccessKey: $5"
        echo "PolicyName: $(cat "$MC_STATE/attached" 2>/dev/null)" ;;
esac
"""


@pytest.fixture
def run_script(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mc").write_text(STAND_IN_MC)
    (bin_dir / "mc").chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    log = tmp_path / "mc.log"

    def run() -> list[str]:
        log.write_text("")
        result = subprocess.run(
            ["/bin/sh", str(REPOSITORY / "deploy/storage-init.sh")],
            env={
                "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
                "TMPDIR": str(tmp_path),
                "MC_LOG": str(log),
                "MC_STATE": str(state),
                "MINIO_ROOT_USER": "root-user",
                "MINIO_ROOT_PASSWORD": "root-password",
                "AWS_STORAGE_BUCKET_NAME": "media-bucket",
                "AWS_ACCESS_KEY_ID": "app-key",
                "AWS_SECRET_ACCESS_KEY": "app-secret",
            },
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return log.read_text().splitlines()

    run.policy = lambda: json.loads((state / "policy.json").read_text())
    return run


def test_first_run_makes_a_private_bucket_and_the_applications_key(run_script):
    calls = run_script()
    assert calls == [
        "alias set store http://storage:9000 root-user root-password",
        "mb --ignore-existing store/media-bucket",
        "anonymous set none store/media-bucket",
        calls[3],  # the policy file's path is the script's own temporary file
        "admin user add store app-key app-secret",
        "admin user info store app-key",
        "admin policy attach store labelplatform-media-readwrite --user app-key",
    ]
    assert calls[3].startswith("admin policy create store labelplatform-media-readwrite ")


def test_the_applications_key_reaches_only_its_bucket(run_script):
    run_script()
    resources = {r for s in run_script.policy()["Statement"] for r in s["Resource"]}
    assert resources == {"arn:aws:s3:::media-bucket", "arn:aws:s3:::media-bucket/*"}
    actions = {a for s in run_script.policy()["Statement"] for a in s["Action"]}
    assert not any(a.startswith("s3:PutBucket") or a == "s3:*" for a in actions)


def test_a_second_run_does_not_attach_the_policy_again(run_script):
    run_script()
    calls = run_script()
    assert not any(call.startswith("admin policy attach") for call in calls)
    assert "mb --ignore-existing store/media-bucket" in calls
