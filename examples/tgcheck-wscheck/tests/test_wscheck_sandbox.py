"""The platform's sandbox speaks its protocol: raw HTTP, no tgcheck in between."""

import io
import zipfile

import httpx
import pytest
from tgcheck_wscheck import WsSandbox
from tgcheck_wscheck.sandbox import COLUMNS, simulated_row

from conftest import numbers


def create(sb, task_type, nums, key=None):
    return httpx.post(f"{sb.url}/v1/tasks", headers={"X-API-Key": key or sb.api_key},
                      data={"task_type": task_type},
                      files={"file": ("n.txt", "\n".join(nums).encode(), "text/plain")})


def status(sb, task_id):
    return httpx.post(f"{sb.url}/v1/gettasks", headers={"X-API-Key": sb.api_key},
                      files={"task_id": (None, task_id)})


@pytest.mark.parametrize("task_type", sorted(COLUMNS))
def test_a_task_runs_to_a_zip_of_its_columns(platform, task_type):
    nums = numbers(1000)
    reply = create(platform, task_type, nums)
    assert reply.status_code == 202
    task = reply.json()
    assert task["status"] == "pending"
    assert task["estimated_amount"] == {"amount": "2.0000", "currency": "USD"}
    words = [status(platform, task["task_id"]).json() for _ in range(2)]
    assert [w["status"] for w in words] == ["processing", "exported"]
    assert words[1]["actual_amount"]["amount"] == "2.0000"
    data = httpx.get(words[1]["result_url"]).content
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        [name] = z.namelist()
        lines = z.read(name).decode().splitlines()
    assert lines[0].split(",") == ["number", *COLUMNS[task_type]]
    assert len(lines) == 1001
    assert platform.billed == {"create": 1, "status": 2}


@pytest.mark.parametrize(("task_type", "least"), [("ws", 500), ("ws_active", 1000),
                                                  ("ws_avatar", 500)])
def test_fewer_rows_than_the_task_types_minimum_is_a_free_400(platform, task_type, least):
    reply = create(platform, task_type, numbers(least - 1))
    assert reply.status_code == 400
    assert f"row count {least - 1}" in reply.json()["message"]
    assert create(platform, task_type, numbers(least)).status_code == 202
    assert platform.creates == 1


def test_the_platforms_refusals():
    with WsSandbox(balance="1", max_rows=800) as sb:
        assert create(sb, "ws", numbers(500), key="wrong").status_code == 401
        assert create(sb, "tg", numbers(500)).status_code == 400  # not this platform's
        assert create(sb, "ws", numbers(900)).status_code == 413
        assert create(sb, "ws", numbers(600)).status_code == 402  # 1.20 USD > 1 USD
        assert status(sb, "nosuchtask").status_code == 404
        balance = httpx.get(f"{sb.url}/v1/balance", headers={"X-API-Key": sb.api_key})
        assert balance.json() == {"balance": 1.0}
        assert sb.billed == {}


def test_answers_are_a_function_of_the_number():
    row = simulated_row("+41790000001", "ws_active")
    assert row == simulated_row("+41790000001", "ws_active")
    assert set(row) == {"number", *COLUMNS["ws_active"]}
    assert row["activated"] in ("yes", "no")
    assert (row["activedays"] == "N/A") == (row["activated"] == "no")


def test_tasks_outlive_the_server_in_its_state_folder(tmp_path):
    with WsSandbox(state_dir=tmp_path) as first:
        task_id = create(first, "ws", numbers(500)).json()["task_id"]
        status(first, task_id)
    with WsSandbox(state_dir=tmp_path) as second:
        assert status(second, task_id).json()["status"] == "exported"


def test_faults_on_demand_for_tests(platform):
    task_id = create(platform, "ws", numbers(500)).json()["task_id"]
    platform.fail_next("status", 429)
    limited = status(platform, task_id)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "0.05")
    platform.fail_next("status", "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        status(platform, task_id)
    platform.fail_next("status", "truncated")  # a 200 cut short: charged all the same
    with pytest.raises(httpx.RemoteProtocolError):
        status(platform, task_id)
    platform.slow_seconds = 0.5
    platform.fail_next("status", "slow")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{platform.url}/v1/gettasks", headers={"X-API-Key": platform.api_key},
                   files={"task_id": (None, task_id)}, timeout=0.1)
    assert platform.billed == {"create": 1, "status": 1}  # the truncated 200
    assert status(platform, task_id).status_code == 200
